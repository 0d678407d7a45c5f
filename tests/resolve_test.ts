/**
 * curl's `--resolve` and `--connect-to` as `resolve` / `connectTo` (issue
 * 14): the TCP connection goes where the entry says, while the Host header,
 * TLS SNI and the certificate check keep the URL's name (the fixture
 * certificate names `wsnc.test`, which resolves nowhere). Several addresses
 * are raced (happy eyeballs, RFC 8305): the first one here never answers.
 */

import assert from "node:assert/strict";
import { connect, type ConnectOptions } from "../mod.ts";
import {
  applyConnectTo,
  parseConnectTo,
  parseResolve,
  parseRoutes,
  resolvedAddresses,
} from "../src/io/resolve.ts";
import { interleaveFamilies } from "../src/io/happy_eyeballs.ts";
import { expectReject, within } from "./helpers.ts";
import { testCerts } from "./servers/certs.ts";
import { type EchoServer, startWsEchoServer } from "./servers/echo.ts";
import { startConnectProxy } from "./servers/proxy.ts";
import { peerMissing, PYTHON, startBlackhole } from "./servers/peers.ts";

const PYTHON_MISSING = peerMissing(PYTHON, ["-c", "import socket"]);
if (PYTHON_MISSING) {
  console.log(`skipping the happy-eyeballs test: ${PYTHON_MISSING}`);
}

/** Connects, echoes once, closes cleanly; returns what the server saw. */
async function echoOnce(
  server: EchoServer,
  url: string,
  options: ConnectOptions,
): Promise<{ host: string | null; sni?: string }> {
  const conn = await within(10000, `connect ${url}`, connect(url, options));
  await conn.send("mapped");
  assert.equal(await within(5000, "echo", conn.receive()), "mapped");
  await within(5000, "close", conn.close());
  assert.equal((await conn.closed).wasClean, true);
  return {
    host: server.lastRequestHeaders?.get("host") ?? null,
    sni: server.lastServerName,
  };
}

async function withTlsServer(fn: (server: EchoServer) => Promise<void>) {
  const server = await startWsEchoServer({ tls: true });
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

// ---------------------------------------------------------------- parsing

Deno.test("resolve/connectTo: curl's syntax parses; matching is by host and port", () => {
  assert.deepEqual(parseResolve("WSNC.test:443:127.0.0.1,[::1],::2"), {
    host: "wsnc.test",
    port: 443,
    addresses: ["127.0.0.1", "::1", "::2"],
  });
  assert.deepEqual(parseResolve("*:*:10.0.0.1"), {
    host: "*",
    port: "*",
    addresses: ["10.0.0.1"],
  });
  assert.deepEqual(parseResolve("[::1]:80:127.0.0.1").host, "::1");
  assert.deepEqual(parseConnectTo("wsnc.test:443:127.0.0.1:8443"), {
    fromHost: "wsnc.test",
    fromPort: 443,
    toHost: "127.0.0.1",
    toPort: 8443,
  });
  assert.deepEqual(parseConnectTo("::[::1]:"), {
    fromHost: "",
    fromPort: undefined,
    toHost: "::1",
    toPort: undefined,
  });
  const table = parseRoutes(
    ["a.test:443:127.0.0.2", "*:80:127.0.0.3"],
    ["b.test::a.test:", ":8080::9090"],
  );
  assert.deepEqual(applyConnectTo(table, "B.test", 443), {
    host: "a.test",
    port: 443,
  });
  assert.deepEqual(applyConnectTo(table, "c.test", 8080), {
    host: "c.test",
    port: 9090,
  });
  assert.deepEqual(applyConnectTo(table, "c.test", 443), {
    host: "c.test",
    port: 443,
  });
  assert.deepEqual(resolvedAddresses(table, "a.test", 443), ["127.0.0.2"]);
  assert.equal(resolvedAddresses(table, "a.test", 8443), undefined);
  assert.deepEqual(resolvedAddresses(table, "x.test", 80), ["127.0.0.3"]);
  assert.deepEqual(
    interleaveFamilies(["::1", "::2", "127.0.0.1", "127.0.0.2", "::3"]),
    ["::1", "127.0.0.1", "::2", "127.0.0.2", "::3"],
  );
});

Deno.test("resolve/connectTo: malformed entries are INVALID_ARGUMENT before any connection", async () => {
  const cases: [ConnectOptions, RegExp][] = [
    [{ resolve: ["wsnc.test:443"] }, /resolve "wsnc\.test:443": expected/],
    [{ resolve: ["wsnc.test:443:example.com"] }, /is not an IP address/],
    [{ resolve: ["wsnc.test:99999:127.0.0.1"] }, /is not a port/],
    [{ resolve: [":443:127.0.0.1"] }, /expected HOST:PORT/],
    [{ connectTo: ["a:1:b"] }, /connectTo "a:1:b": expected/],
    [{ connectTo: ["a:x:b:1"] }, /expected HOST1:PORT1:HOST2:PORT2/],
  ];
  for (const [options, message] of cases) {
    const err = await expectReject(
      connect("ws://127.0.0.1:9/", options),
      "INVALID_ARGUMENT",
    );
    assert.match(err.message, message);
  }
});

// ------------------------------------------------------------ connections

Deno.test("resolve: wsnc.test -> 127.0.0.1 keeps Host, SNI and the certificate check on wsnc.test", async () => {
  const { ca } = testCerts();
  await withTlsServer(async (server) => {
    const port = server.port;
    const seen = await echoOnce(server, `wss://wsnc.test:${port}/r`, {
      caCerts: [ca],
      resolve: [`wsnc.test:${port}:127.0.0.1`],
    });
    assert.deepEqual(seen, { host: `wsnc.test:${port}`, sni: "wsnc.test" });
    // The check is on the name, not the address: 127.0.0.1 is in the
    // certificate, other.test is not.
    const err = await expectReject(
      connect(`wss://other.test:${port}/`, {
        caCerts: [ca],
        resolve: [`other.test:${port}:127.0.0.1`],
      }),
      "TLS_ERROR",
    );
    assert.match(err.message, /TLS with other\.test/);
    // An entry for another port does not apply: wsnc.test resolves nowhere.
    await expectReject(
      connect(`wss://wsnc.test:${port}/`, {
        caCerts: [ca],
        resolve: [`wsnc.test:${port + 1}:127.0.0.1`],
      }),
      "PERMISSION_DENIED", // the name is not in --allow-net: it was not mapped
    );
  });
});

Deno.test("connectTo: wsnc.test:443 -> 127.0.0.1:port keeps Host (no port), SNI and the check on wsnc.test", async () => {
  const { ca } = testCerts();
  await withTlsServer(async (server) => {
    const seen = await echoOnce(server, "wss://wsnc.test/c", {
      caCerts: [ca],
      connectTo: [`wsnc.test:443:127.0.0.1:${server.port}`],
    });
    assert.deepEqual(seen, { host: "wsnc.test", sni: "wsnc.test" });
    // connectTo to a name, then resolve for that name (curl applies both).
    const both = await echoOnce(server, "wss://wsnc.test/both", {
      caCerts: [ca],
      connectTo: [`wsnc.test:443:backend.test:${server.port}`],
      resolve: [`backend.test:${server.port}:127.0.0.1`],
    });
    assert.deepEqual(both, { host: "wsnc.test", sni: "wsnc.test" });
  });
});

Deno.test("connectTo and resolve with a proxy: CONNECT goes to the mapped target, resolve maps the proxy's name", async () => {
  const { ca } = testCerts();
  const proxy = startConnectProxy();
  try {
    await withTlsServer(async (server) => {
      const seen = await echoOnce(server, "wss://wsnc.test/p", {
        caCerts: [ca],
        proxy: `http://proxy.test:${proxy.port}`,
        resolve: [`proxy.test:${proxy.port}:127.0.0.1`],
        connectTo: [`wsnc.test:443:127.0.0.1:${server.port}`],
      });
      assert.deepEqual(seen, { host: "wsnc.test", sni: "wsnc.test" });
      assert.deepEqual(proxy.requests.map((r) => r.target), [
        `127.0.0.1:${server.port}`,
      ]);
    });
  } finally {
    await proxy.close();
  }
});

Deno.test("resolve/connectTo: every address refused is CONNECT_FAILED naming each (and the connect-to target); an address outside --allow-net is PERMISSION_DENIED", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const err = await expectReject(
    connect(`ws://wsnc.test:${port}/`, {
      resolve: [`wsnc.test:${port}:127.0.0.1,[::1]`],
    }),
    "CONNECT_FAILED",
  );
  assert.match(err.message, /127\.0\.0\.1: .*refused.*; ::1: .*refused/i);
  const moved = await expectReject(
    connect("ws://wsnc.test/", {
      connectTo: [`wsnc.test:80:127.0.0.1:${port}`],
    }),
    "CONNECT_FAILED",
  );
  assert.match(
    moved.message,
    new RegExp(
      `^connect to wsnc\\.test \\(connect-to 127\\.0\\.0\\.1:${port}\\): `,
    ),
  );
  const denied = await expectReject(
    connect("ws://wsnc.test:9/", { resolve: ["wsnc.test:9:127.0.0.2"] }),
    "PERMISSION_DENIED",
  );
  assert.match(denied.message, /--allow-net=127\.0\.0\.2:9/);
});

Deno.test({
  name:
    "happy eyeballs: with resolve to [never-answering ::1, 127.0.0.1], the second attempt wins within connectTimeout",
  ignore: PYTHON_MISSING !== "",
  fn: async () => {
    const server = await startWsEchoServer();
    // [::1]:port accepts nothing; 127.0.0.1:port is the echo server.
    const dead = await startBlackhole("::1", server.port);
    try {
      for (let i = 0; i < 2; i++) {
        // Waiting for ::1 would take the kernel's SYN retries (minutes);
        // connectTimeout fails the test well before that.
        const seen = await echoOnce(server, `ws://wsnc.test:${server.port}/`, {
          resolve: [`wsnc.test:${server.port}:[::1],127.0.0.1`],
          connectTimeout: 5000,
        });
        assert.equal(seen.host, `wsnc.test:${server.port}`);
      }
      assert.equal(server.connections, 2);
    } finally {
      await dead.close();
      await server.close();
    }
  },
});
