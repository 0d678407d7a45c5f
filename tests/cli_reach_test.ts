/**
 * The CLI's reach flags (issue 14) run as a subprocess with scoped
 * permissions: --cert/--key against a server that requires a client
 * certificate (Python ssl + websockets), --resolve and --connect-to for a
 * name that resolves nowhere (the child may connect to 127.0.0.1 only),
 * --proxy-user, and --proxy-cacert for an https:// proxy (socat in front of
 * our CONNECT proxy).
 */

import assert from "node:assert/strict";
import { type CliRun, feed, finish, spawnCliExactly } from "./cli_helpers.ts";
import { startDenoEchoServer } from "./servers/echo.ts";
import { startConnectProxy } from "./servers/proxy.ts";
import {
  peerMissing,
  PYTHON,
  startMtlsServer,
  startTlsFront,
} from "./servers/peers.ts";

const FIXTURES = "tests/fixtures/";
const READ_FIXTURES = `--allow-read=${FIXTURES}`;

const PYTHON_MISSING = peerMissing(PYTHON, ["-c", "import ssl, websockets"]);
const SOCAT = peerMissing("socat", ["-V"]);
for (const why of [PYTHON_MISSING, SOCAT]) {
  if (why) console.log(`skipping the CLI tests that need it: ${why}`);
}

/** Runs the CLI with exactly `perms`, `input` on stdin (killed after 20 s). */
async function runCli(
  args: string[],
  perms: string[],
  input = "",
): Promise<CliRun> {
  const child = spawnCliExactly(args, perms);
  const [, result] = await Promise.all([feed(child, input), finish(child)]);
  return result;
}

Deno.test("cli reach: --help lists every reach flag", async () => {
  const { code, out } = await runCli(["--help"], []);
  assert.equal(code, 0);
  for (
    const flag of [
      "--cert FILE",
      "--key FILE",
      "--proxy-user USER:PASS",
      "--proxy-cacert FILE",
      "--resolve HOST:PORT:ADDR[,ADDR]",
      "--connect-to H1:P1:H2:P2",
      "socks5h://",
      "default 30",
    ]
  ) assert.ok(out.includes(flag), `--help mentions ${flag}`);
});

Deno.test({
  name:
    "cli reach: --cert/--key against a server that requires a client certificate; without them exit 4 (TLS)",
  ignore: PYTHON_MISSING !== "",
  fn: async () => {
    const server = await startMtlsServer();
    try {
      const url = `wss://localhost:${server.port}/`;
      const tls = ["--cacert", `${FIXTURES}ca.pem`];
      const net = "--allow-net=localhost";
      const ok = await runCli(
        [
          ...tls,
          "--cert",
          `${FIXTURES}client.pem`,
          "--key",
          `${FIXTURES}client-key.pem`,
          url,
        ],
        [net, READ_FIXTURES],
        "hi\n",
      );
      assert.equal(ok.code, 0, ok.err);
      assert.equal(ok.out, "client wsnc test client\nhi\n");
      const none = await runCli([...tls, url], [net, READ_FIXTURES]);
      assert.equal(none.code, 4, none.err);
      assert.match(none.err, /requires a client certificate/);
    } finally {
      await server.close();
    }
  },
});

Deno.test("cli reach: --cert without --key, an unreadable --cert and a mismatched key fail before connecting", async () => {
  const url = "wss://127.0.0.1:9/";
  const lone = await runCli(["--cert", `${FIXTURES}client.pem`, url], []);
  assert.equal(lone.code, 2);
  assert.match(lone.err, /--cert and --key go together/);
  const missing = await runCli(
    [
      "--cert",
      `${FIXTURES}nope.pem`,
      "--key",
      `${FIXTURES}client-key.pem`,
      url,
    ],
    [READ_FIXTURES],
  );
  assert.equal(missing.code, 2);
  assert.match(missing.err, /cannot read --cert tests\/fixtures\/nope\.pem/);
  const denied = await runCli(
    [
      "--cert",
      `${FIXTURES}client.pem`,
      "--key",
      `${FIXTURES}client-key.pem`,
      url,
    ],
    [],
  );
  assert.equal(denied.code, 1);
  assert.match(denied.err, /--allow-read=tests\/fixtures\/client\.pem/);
  const mismatch = await runCli([
    "--cert",
    `${FIXTURES}client.pem`,
    "--key",
    `${FIXTURES}untrusted-key.pem`,
    url,
  ], [READ_FIXTURES]);
  assert.equal(mismatch.code, 2);
  assert.match(mismatch.err, /key does not match the client certificate/);
});

Deno.test("cli reach: --resolve and --connect-to reach wsnc.test with only --allow-net=127.0.0.1", async () => {
  const server = await startDenoEchoServer({ tls: true });
  try {
    const perms = ["--allow-net=127.0.0.1", READ_FIXTURES];
    const tls = ["--cacert", `${FIXTURES}ca.pem`];
    const resolved = await runCli(
      [
        ...tls,
        "--resolve",
        `wsnc.test:${server.port}:127.0.0.1`,
        `wss://wsnc.test:${server.port}/`,
      ],
      perms,
      "resolved\n",
    );
    assert.equal(resolved.code, 0, resolved.err);
    assert.equal(resolved.out, "resolved\n");
    const moved = await runCli(
      [
        ...tls,
        "--connect-to",
        "wsnc.test:443:127.0.0.1:" + server.port,
        "wss://wsnc.test/",
      ],
      perms,
      "moved\n",
    );
    assert.equal(moved.code, 0, moved.err);
    assert.equal(moved.out, "moved\n");
    const bad = await runCli(
      ["--resolve", "wsnc.test:443", "wss://wsnc.test/"],
      perms,
    );
    assert.equal(bad.code, 2);
    assert.match(bad.err, /resolve "wsnc\.test:443": expected/);
  } finally {
    await server.close();
  }
});

Deno.test("cli reach: --proxy-user authenticates to the proxy; a 407 without it exits 3", async () => {
  const proxy = startConnectProxy({ auth: { username: "u", password: "p:w" } });
  const server = await startDenoEchoServer();
  try {
    const perms = ["--allow-net=127.0.0.1"];
    const ok = await runCli(
      ["--proxy", proxy.url, "--proxy-user", "u:p:w", server.url],
      perms,
      "via proxy\n",
    );
    assert.equal(ok.code, 0, ok.err);
    assert.equal(ok.out, "via proxy\n");
    const refused = await runCli(["--proxy", proxy.url, server.url], perms);
    assert.equal(refused.code, 3);
    assert.match(refused.err, /HTTP 407/);
    assert.deepEqual(proxy.requests.map((r) => r.status), [200, 407]);
  } finally {
    await server.close();
    await proxy.close();
  }
});

Deno.test({
  name:
    "cli reach: --proxy-cacert trusts an https:// proxy (socat terminating TLS)",
  ignore: SOCAT !== "",
  fn: async () => {
    const proxy = startConnectProxy();
    const front = await startTlsFront(proxy.port);
    const server = await startDenoEchoServer({ tls: true });
    try {
      const args = [
        "--proxy",
        `https://localhost:${front.port}`,
        "--cacert",
        `${FIXTURES}ca.pem`,
        server.url.replace("127.0.0.1", "localhost"),
      ];
      const perms = ["--allow-net=localhost", READ_FIXTURES];
      const ok = await runCli(
        ["--proxy-cacert", `${FIXTURES}ca.pem`, ...args],
        perms,
        "tls in tls\n",
      );
      assert.equal(ok.code, 0, ok.err);
      assert.equal(ok.out, "tls in tls\n");
      const untrusted = await runCli(args, perms);
      assert.equal(untrusted.code, 4);
      assert.match(untrusted.err, /TLS with proxy localhost/);
    } finally {
      await server.close();
      await front.close();
      await proxy.close();
    }
  },
});
