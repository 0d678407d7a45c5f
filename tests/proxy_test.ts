/**
 * Proxies against real peers (issue 14): tinyproxy (HTTP CONNECT, Basic
 * auth), socat terminating TLS in front of tinyproxy (an HTTPS proxy, so
 * `wss://` runs TLS inside TLS), microsocks (SOCKS5, RFC 1929 login); and a
 * scripted SOCKS5 server for every reply code and what socks5:// and
 * socks5h:// send. The origin (npm:ws) records each request head: proxy
 * credentials never reach it.
 */

import assert from "node:assert/strict";
import { connect, type ConnectOptions } from "../mod.ts";
import { SOCKS5_REPLIES } from "../src/io/socks.ts";
import { readExactly, writeAll } from "../src/io/stream.ts";
import { expectReject, within } from "./helpers.ts";
import { nodeMissing, withPeer } from "./peers/node_h2.ts";
import { closeHttp2Connections } from "../src/io/h2_pool.ts";
import { testCerts } from "./servers/certs.ts";
import { type EchoServer, startWsEchoServer } from "./servers/echo.ts";
import {
  peerMissing,
  startMicrosocks,
  startTinyproxy,
  startTlsFront,
} from "./servers/peers.ts";

const TINYPROXY = peerMissing("tinyproxy", ["-v"]);
const SOCAT = peerMissing("socat", ["-V"]);
const MICROSOCKS = peerMissing("microsocks", ["-h"]);
for (const why of [TINYPROXY, SOCAT, MICROSOCKS]) {
  if (why) console.log(`skipping the tests that need it: ${why}`);
}

/** Credentials; the colon must survive URL encoding and RFC 1929. */
const AUTH = { username: "alice", password: "s3cr:et" };
/** tinyproxy's config grammar takes no ":" or "@" in a BasicAuth password. */
const TINY_AUTH = { username: "alice", password: "s3cr.et" };

/** Connects, echoes one message, closes cleanly; returns what the origin saw. */
async function echoVia(
  origin: EchoServer,
  path: string,
  options: ConnectOptions,
): Promise<Headers> {
  const url = origin.url + path;
  const conn = await within(10000, `connect ${url}`, connect(url, options));
  await conn.send("through the proxy");
  assert.equal(await within(5000, "echo", conn.receive()), "through the proxy");
  await within(5000, "close", conn.close());
  assert.equal((await conn.closed).wasClean, true);
  return origin.lastRequestHeaders!;
}

/** Asserts that no proxy credential reached the origin. */
function assertNoProxyCredentials(seen: Headers) {
  assert.equal(seen.get("proxy-authorization"), null);
  assert.equal(seen.get("authorization"), null);
}

/** Runs `fn` with plain and TLS ws echo origins (localhost certificate). */
async function withOrigins(
  fn: (plain: EchoServer, secure: EchoServer) => Promise<void>,
) {
  const plain = await startWsEchoServer();
  const secure = await startWsEchoServer({ tls: true, hostname: "localhost" });
  try {
    await fn(plain, secure);
  } finally {
    await secure.close();
    await plain.close();
  }
}

async function using<T extends { close(): Promise<void> }>(
  peers: T[],
  fn: () => Promise<void>,
) {
  try {
    await fn();
  } finally {
    for (const p of peers.reverse()) await p.close();
  }
}

// -------------------------------------------------------------- tinyproxy

Deno.test({
  name:
    "tinyproxy: ws:// and wss:// through CONNECT; Basic auth from the URL or proxyAuth; a 407 without or with wrong credentials",
  ignore: TINYPROXY !== "",
  fn: async () => {
    const { ca } = testCerts();
    const open = await startTinyproxy();
    const guarded = await startTinyproxy(TINY_AUTH);
    await using([open, guarded], () =>
      withOrigins(async (plain, secure) => {
        const openUrl = `http://127.0.0.1:${open.port}`;
        await echoVia(plain, "/plain", { proxy: openUrl });
        await echoVia(secure, "/tls", { proxy: openUrl, caCerts: [ca] });
        assert.match(open.log(), /CONNECT 127\.0\.0\.1:\d+ HTTP\/1\.1/);
        assert.match(open.log(), /CONNECT localhost:\d+ HTTP\/1\.1/);

        const guardedUrl = `http://127.0.0.1:${guarded.port}`;
        const inUrl = `http://alice:s3cr.et@127.0.0.1:${guarded.port}`;
        assertNoProxyCredentials(
          await echoVia(plain, "/url-auth", { proxy: inUrl }),
        );
        assertNoProxyCredentials(
          await echoVia(secure, "/option-auth", {
            proxy: guardedUrl,
            proxyAuth: TINY_AUTH,
            caCerts: [ca],
          }),
        );
        const before = plain.connections;
        const none = await expectReject(
          connect(plain.url, { proxy: guardedUrl }),
          "CONNECT_FAILED",
        );
        assert.equal(none.status, 407);
        assert.match(none.message, /HTTP 407.*wants credentials/);
        const wrong = await expectReject(
          connect(plain.url, {
            proxy: guardedUrl,
            proxyAuth: { username: "alice", password: "nope" },
          }),
          "CONNECT_FAILED",
        );
        // tinyproxy answers wrong credentials with 401 (and none with 407).
        assert.equal(wrong.status, 401);
        assert.match(wrong.message, /HTTP 401.*refused our credentials/);
        assert.equal(plain.connections, before, "no 407 reached the origin");
      }));
  },
});

// --------------------------------------------- HTTPS proxy: socat + tinyproxy

Deno.test({
  name:
    "https proxy: TLS to the proxy (proxyCaCerts), CONNECT inside, and TLS inside that TLS for wss://",
  ignore: TINYPROXY !== "" || SOCAT !== "",
  fn: async () => {
    const { ca } = testCerts();
    const tiny = await startTinyproxy(TINY_AUTH);
    const front = await startTlsFront(tiny.port);
    await using([tiny, front], () =>
      withOrigins(async (plain, secure) => {
        const proxy = `https://alice:s3cr.et@localhost:${front.port}`;
        assertNoProxyCredentials(
          await echoVia(plain, "/ws-in-tls", { proxy, proxyCaCerts: [ca] }),
        );
        // TLS in TLS: the server's certificate is checked inside the tunnel.
        assertNoProxyCredentials(
          await echoVia(secure, "/wss-in-tls", {
            proxy,
            proxyCaCerts: [ca],
            caCerts: [ca],
          }),
        );
        assert.match(tiny.log(), /CONNECT localhost:\d+ HTTP\/1\.1/);
        // The proxy's CA is its own option: caCerts does not vouch for it,
        // and without proxyCaCerts the proxy's certificate is untrusted.
        for (const options of [{ caCerts: [ca] }, {}]) {
          const err = await expectReject(
            connect(secure.url, { proxy, ...options }),
            "TLS_ERROR",
          );
          assert.match(err.message, /TLS with proxy localhost:\d+/);
        }
        // The inner check still applies: the server's CA is needed too.
        const inner = await expectReject(
          connect(secure.url, { proxy, proxyCaCerts: [ca] }),
          "TLS_ERROR",
        );
        assert.match(inner.message, /TLS with localhost:\d+/);
      }));
  },
});

// ------------------------------------------------------------- microsocks

Deno.test({
  name:
    "microsocks: socks5:// and socks5h:// for ws:// and wss://, a refused target maps to its reply",
  ignore: MICROSOCKS !== "",
  fn: async () => {
    const { ca } = testCerts();
    const socks = await startMicrosocks();
    await using([socks], () =>
      withOrigins(async (plain, secure) => {
        for (const scheme of ["socks5", "socks5h"]) {
          const proxy = `${scheme}://127.0.0.1:${socks.port}`;
          await echoVia(plain, `/${scheme}`, { proxy });
          await echoVia(secure, `/${scheme}-tls`, { proxy, caCerts: [ca] });
        }
        const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const port = (closed.addr as Deno.NetAddr).port;
        closed.close();
        const err = await expectReject(
          connect(`ws://127.0.0.1:${port}/`, {
            proxy: `socks5://127.0.0.1:${socks.port}`,
          }),
          "CONNECT_FAILED",
        );
        assert.match(
          err.message,
          new RegExp(
            `could not connect to 127\\.0\\.0\\.1:${port}: .*\\(reply \\d\\)`,
          ),
        );
      }));
  },
});

Deno.test({
  name:
    "microsocks: username/password from the URL or proxyAuth; wrong or missing credentials are CONNECT_FAILED",
  ignore: MICROSOCKS !== "",
  fn: async () => {
    const socks = await startMicrosocks(AUTH);
    await using([socks], () =>
      withOrigins(async (plain) => {
        const bare = `socks5h://127.0.0.1:${socks.port}`;
        assertNoProxyCredentials(
          await echoVia(plain, "/url", {
            proxy: `socks5h://alice:s3cr%3Aet@127.0.0.1:${socks.port}`,
          }),
        );
        await echoVia(plain, "/option", { proxy: bare, proxyAuth: AUTH });
        const wrong = await expectReject(
          connect(plain.url, {
            proxy: bare,
            proxyAuth: { username: "alice", password: "x" },
          }),
          "CONNECT_FAILED",
        );
        assert.match(wrong.message, /rejected the username and password/);
        const none = await expectReject(
          connect(plain.url, { proxy: bare }),
          "CONNECT_FAILED",
        );
        assert.match(none.message, /wants authentication/);
      }));
  },
});

// ---------------------------------------------------- scripted SOCKS5 server

interface SocksSeen {
  methods: number[];
  login?: [string, string];
  atyp: number;
  address: string;
  port: number;
}

/**
 * A SOCKS5 server that records each request and answers with `reply`
 * (0: success, then it echoes the tunnel's bytes back).
 */
function scriptedSocks(reply: (seen: SocksSeen) => number[]) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: SocksSeen[] = [];
  const eof = () => new Error("client went away");
  const serve = async (c: Deno.Conn) => {
    const [, n] = await readExactly(c, 2, eof);
    const methods = [...await readExactly(c, n, eof)];
    const wantsLogin = methods.includes(2);
    await writeAll(c, Uint8Array.of(5, wantsLogin ? 2 : 0));
    let login: [string, string] | undefined;
    if (wantsLogin) {
      const dec = new TextDecoder();
      const [, ulen] = await readExactly(c, 2, eof);
      const user = dec.decode(await readExactly(c, ulen, eof));
      const [plen] = await readExactly(c, 1, eof);
      login = [user, dec.decode(await readExactly(c, plen, eof))];
      await writeAll(c, Uint8Array.of(1, 0));
    }
    const [, , , atyp] = await readExactly(c, 4, eof);
    let address: string;
    if (atyp === 1) address = [...await readExactly(c, 4, eof)].join(".");
    else if (atyp === 4) {
      const b = await readExactly(c, 16, eof);
      address = Array.from(
        { length: 8 },
        (_, i) => ((b[2 * i] << 8) | b[2 * i + 1]).toString(16),
      ).join(":");
    } else {
      const [len] = await readExactly(c, 1, eof);
      address = new TextDecoder().decode(await readExactly(c, len, eof));
    }
    const p = await readExactly(c, 2, eof);
    const record = { methods, login, atyp, address, port: (p[0] << 8) | p[1] };
    seen.push(record);
    await writeAll(c, Uint8Array.from(reply(record)));
  };
  const accepting = (async () => {
    for await (const c of listener) {
      await serve(c).catch(() => {});
      c.close();
    }
  })();
  return {
    url: `socks5://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    seen,
    async close() {
      listener.close();
      await accepting;
    },
  };
}

Deno.test("socks5: every reply code becomes CONNECT_FAILED with its meaning", async () => {
  let code = 0;
  const socks = scriptedSocks(() => [5, code, 0, 1, 0, 0, 0, 0, 0, 0]);
  try {
    for (code = 1; code <= 9; code++) {
      const err = await expectReject(
        within(
          5000,
          "connect",
          connect("ws://wsnc.test:8080/", {
            proxy: socks.url.replace("socks5:", "socks5h:"),
          }),
        ),
        "CONNECT_FAILED",
      );
      const meaning = SOCKS5_REPLIES[code] ?? "unassigned reply code 0x09";
      assert.equal(
        err.message.replace(/^.*?SOCKS5/, "SOCKS5"),
        `SOCKS5 proxy ${
          socks.url.slice(9)
        } could not connect to wsnc.test:8080: ${meaning} (reply ${code})`,
      );
    }
    assert.equal(socks.seen.length, 9);
  } finally {
    await socks.close();
  }
});

Deno.test("socks5: socks5:// sends an address resolved here (or by resolve), socks5h:// the name; credentials as RFC 1929", async () => {
  // Success replies with a domain-type bound address, to read its length.
  const socks = scriptedSocks(
    () => [5, 0, 0, 3, 4, 0x61, 0x62, 0x63, 0x64, 0, 80],
  );
  const h = socks.url.replace("socks5:", "socks5h:");
  try {
    const attempts: [string, ConnectOptions][] = [
      ["ws://localhost:1234/", { proxy: socks.url }],
      ["ws://localhost:1234/", { proxy: h }],
      ["ws://wsnc.test:1234/", {
        proxy: socks.url,
        resolve: ["wsnc.test:1234:127.0.0.7"],
      }],
      ["ws://[::1]:1234/", {
        proxy: h,
        proxyAuth: { username: "ü", password: "p" },
      }],
    ];
    for (const [url, options] of attempts) {
      // The scripted server closes after its reply: the upgrade then fails.
      await expectReject(
        within(5000, "connect", connect(url, options)),
        "CONNECTION_LOST",
      );
    }
    assert.deepEqual(
      socks.seen.map((s) => [s.atyp, s.address, s.port, s.methods, s.login]),
      [
        [1, "127.0.0.1", 1234, [0], undefined],
        [3, "localhost", 1234, [0], undefined],
        [1, "127.0.0.7", 1234, [0], undefined],
        [4, "0:0:0:0:0:0:0:1", 1234, [0, 2], ["ü", "p"]],
      ],
    );
  } finally {
    await socks.close();
  }
});

// ------------------------------------------------- WebSocket over HTTP/2

const NODE = nodeMissing();

Deno.test({
  name:
    "http2 through real proxies: TLS with ALPN h2 inside an HTTPS proxy's TLS (socat + tinyproxy) and through microsocks (socks5h), one HTTP/2 connection per proxy",
  ignore: TINYPROXY !== "" || SOCAT !== "" || MICROSOCKS !== "" ||
    NODE !== null,
  fn: async () => {
    const { ca } = testCerts();
    const tiny = await startTinyproxy();
    const front = await startTlsFront(tiny.port);
    const socks = await startMicrosocks();
    const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
    await using([tiny, front, socks], () =>
      withPeer(
        ["tls", FIXTURES + "server.pem", FIXTURES + "server-key.pem"],
        async ({ port }) => {
          const url = `wss://localhost:${port}/via`;
          for (
            const proxy of [
              `https://localhost:${front.port}`,
              `socks5h://127.0.0.1:${socks.port}`,
            ]
          ) {
            const sessions: (string | null)[] = [];
            for (let i = 0; i < 2; i++) {
              const conn = await within(
                10000,
                `connect via ${proxy}`,
                connect(url, {
                  http2: true,
                  proxy,
                  proxyCaCerts: [ca],
                  caCerts: [ca],
                }),
              );
              assert.equal(conn.response.httpVersion, "2");
              sessions.push(conn.response.headers.get("x-session"));
              await conn.send(`over h2 via ${proxy}`);
              assert.equal(
                await within(5000, "echo", conn.receive()),
                `over h2 via ${proxy}`,
              );
              await within(5000, "close", conn.close());
            }
            assert.equal(sessions[0], sessions[1], "one HTTP/2 connection");
          }
          await closeHttp2Connections();
          // One CONNECT through tinyproxy for both WebSockets.
          assert.equal(
            tiny.log().match(/CONNECT localhost:\d+ HTTP\/1\.1/g)?.length,
            1,
          );
        },
      ));
  },
});
