/**
 * `connect(url, { http2 })` against real peers: Node's http2 server
 * (tests/peers/h2_ws_echo.mjs) over h2c with prior knowledge and over TLS
 * with ALPN, HTTP/1.1-only TLS servers for the `"auto"` fallback. Every API
 * face runs over the HTTP/2 stream; WebSockets to one origin share one
 * connection. Needs `--allow-run=node`; skips with one line without it.
 */
import assert from "node:assert/strict";
import {
  connect,
  type ConnectOptions,
  perform,
  WebSocket,
  WebSocketStream,
  WS,
} from "../mod.ts";
import { H2Code, Http2Error } from "../src/h2/errors.ts";
import { closeHttp2Connections, http2Pool } from "../src/io/h2_pool.ts";
import {
  assertSameBytes,
  DENO,
  expectReject,
  runChild,
  within,
} from "./helpers.ts";
import { nodeMissing, withPeer } from "./peers/node_h2.ts";
import { testCerts } from "./servers/certs.ts";
import { startDenoEchoServer, startWsEchoServer } from "./servers/echo.ts";
import { startConnectProxy } from "./servers/proxy.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const MOD = new URL("../mod.ts", import.meta.url).href;
const POOL = new URL("../src/io/h2_pool.ts", import.meta.url).href;
const TLS = ["tls", FIXTURES + "server.pem", FIXTURES + "server-key.pem"];

const missing = nodeMissing();
if (missing) {
  console.log(
    `h2_connect_test: skipped, ${missing} (Node's http2 is the peer)`,
  );
}

/** connect() over h2c to the node peer on `port`, bounded. */
function h2c(port: number, path: string, options: ConnectOptions = {}) {
  return within(
    5000,
    `connect ${path}`,
    connect(`ws://127.0.0.1:${port}${path}`, {
      http2: "prior-knowledge",
      ...options,
    }),
  );
}

/** A test against the node peer; pooled connections are closed at the end. */
function h2Test(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name: `h2 connect: ${name}`,
    ignore: missing !== null,
    fn: async () => {
      try {
        await fn();
      } finally {
        await closeHttp2Connections();
      }
    },
  });
}

h2Test(
  "h2c prior knowledge: recv/send, messages, subprotocol, clean close with END_STREAM",
  () =>
    withPeer([], async ({ port }) => {
      const conn = await h2c(port, "/chat?x=1", {
        protocols: ["chat", "other"],
        headers: { "x-test": "1" },
      });
      assert.equal(conn.protocol, "chat");
      assert.equal(conn.response.status, 200);
      assert.equal(conn.response.httpVersion, "2");
      assert.equal(conn.response.headers.get("x-version-seen"), "13");
      await conn.send("hello over h2");
      const buf = new Uint8Array(64);
      const { n, meta } = await within(5000, "recv", conn.recv(buf));
      assert.ok(meta.flags & WS.TEXT);
      assert.equal(
        new TextDecoder().decode(buf.subarray(0, n)),
        "hello over h2",
      );
      await conn.send(new Uint8Array([1, 2, 3]));
      await conn.send("two");
      assert.deepEqual(
        await within(5000, "message", conn.receive()),
        new Uint8Array([1, 2, 3]),
      );
      assert.equal(await within(5000, "message", conn.receive()), "two");
      await within(5000, "close", conn.close(1000, "done"));
      const info = await conn.closed;
      assert.equal(info.code, 1000);
      assert.equal(info.wasClean, true);
    }),
);

h2Test(
  "TLS with ALPN h2: 1 MiB echo each way, and the message iterator",
  () =>
    withPeer(TLS, async ({ port }) => {
      const conn = await within(
        5000,
        "connect",
        connect(`wss://localhost:${port}/big`, {
          http2: true,
          caCerts: [testCerts().ca],
        }),
      );
      const big = new Uint8Array(1 << 20);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
      const sending = conn.send(big);
      let got: Uint8Array | undefined;
      for await (const m of conn) {
        got = m as Uint8Array;
        break;
      }
      await within(10000, "send", sending);
      assert.ok(got instanceof Uint8Array);
      assertSameBytes(got, big, "1 MiB echo");
      await within(5000, "close", conn.close());
    }),
);

h2Test(
  "perform() over HTTP/2 delivers frames and ends with the close",
  () =>
    withPeer([], async ({ port }) => {
      const seen: string[] = [];
      const info = await within(
        5000,
        "perform",
        perform(`ws://127.0.0.1:${port}/p`, {
          http2: "prior-knowledge",
          onOpen: async (conn) => {
            await conn.send("a");
            await conn.send("b");
          },
          onFrame: async (data, meta, conn) => {
            if (!(meta.flags & WS.TEXT)) return;
            seen.push(new TextDecoder().decode(data));
            if (seen.length === 2) await conn.close(1000);
          },
        }),
      );
      assert.deepEqual(seen, ["a", "b"]);
      assert.equal(info.code, 1000);
    }),
);

h2Test(
  "WebSockets to one origin share one HTTP/2 connection, and it outlives them for the idle time",
  () =>
    withPeer([], async ({ port }) => {
      const url = `ws://127.0.0.1:${port}/m`;
      const conns = await within(
        5000,
        "connect x5",
        Promise.all(
          [1, 2, 3, 4, 5].map(() => connect(url, { http2: "prior-knowledge" })),
        ),
      );
      const sessions = new Set(
        conns.map((c) => c.response.headers.get("x-session")),
      );
      assert.deepEqual([...sessions], ["1"]);
      assert.equal(http2Pool.connections, 1);
      await Promise.all(conns.map(async (c, i) => {
        await c.send(`n${i}`);
        assert.equal(await within(5000, "echo", c.receive()), `n${i}`);
      }));
      await Promise.all(conns.map((c) => c.close()));
      // The idle connection carries the next WebSocket.
      const again = await within(
        5000,
        "connect",
        connect(url, { http2: "prior-knowledge" }),
      );
      assert.equal(again.response.headers.get("x-session"), "1");
      await again.close();
      assert.equal(http2Pool.connections, 1);
    }),
);

h2Test(
  "SETTINGS_MAX_CONCURRENT_STREAMS is respected: a second connection when the first is full",
  () =>
    withPeer(["max-streams=2"], async ({ port }) => {
      const url = `ws://127.0.0.1:${port}/full`;
      const conns = await within(
        5000,
        "connect x5",
        Promise.all(
          [1, 2, 3, 4, 5].map(() => connect(url, { http2: "prior-knowledge" })),
        ),
      );
      const bySession = new Map<string, number>();
      for (const c of conns) {
        const s = c.response.headers.get("x-session")!;
        bySession.set(s, (bySession.get(s) ?? 0) + 1);
      }
      assert.deepEqual([...bySession.values()].sort(), [1, 2, 2]);
      for (const c of conns) {
        await c.send("x");
        assert.equal(await within(5000, "echo", c.receive()), "x");
      }
      await Promise.all(conns.map((c) => c.close()));
    }),
);

h2Test(
  "http2IdleTimeout 0 closes the connection with its last WebSocket",
  () =>
    withPeer([], async ({ port }) => {
      const conn = await h2c(port, "/idle", { http2IdleTimeout: 0 });
      assert.equal(http2Pool.connections, 1);
      await conn.close();
      for (let i = 0; i < 100 && http2Pool.connections > 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(http2Pool.connections, 0);
    }),
);

h2Test(
  "connectTimeout bounds the wait for the CONNECT answer; the stream is cancelled, the connection stays usable",
  () =>
    withPeer([], async ({ port }) => {
      const err = await expectReject(
        h2c(port, "/hang", { connectTimeout: 300 }),
        "TIMEOUT",
      );
      assert.match(err.message, /timed out/);
      const ok = await h2c(port, "/fine");
      assert.equal(ok.response.headers.get("x-session"), "1");
      await ok.close();
    }),
);

h2Test(
  "RST_STREAM NO_ERROR after the server's full answer ends a send waiting for window instead of hanging it",
  () =>
    withPeer([], async ({ port }) => {
      const conn = await h2c(port, "/stop");
      const big = new Uint8Array(1 << 20); // beyond the 64 KiB stream window
      const sent = conn.send(big).then(() => "sent", (e) => e.code);
      const outcome = await within(5000, "send settles", sent);
      assert.ok(
        outcome === "CONNECTION_LOST" || outcome === "CLOSED",
        `send: ${outcome}`,
      );
      // A failed write is fatal to the connection (1006) unless a reader
      // took the server's close frame first; either way it ends.
      const info = await within(5000, "closed", conn.closed);
      assert.ok(info.code === 1000 || info.code === 1006, `${info.code}`);
    }),
);

h2Test(
  "GOAWAY: the refused stream is CONNECTION_LOST, older streams keep working, the next WebSocket gets a new connection",
  () =>
    withPeer([], async ({ port }) => {
      const old = await h2c(port, "/old");
      const refused = await expectReject(
        h2c(port, "/goaway"),
        "CONNECTION_LOST",
      );
      assert.match(refused.message, /GOAWAY/);
      await old.send("still here");
      assert.equal(await within(5000, "echo", old.receive()), "still here");
      const fresh = await h2c(port, "/fresh");
      assert.equal(fresh.response.headers.get("x-session"), "2");
      assert.equal(old.response.headers.get("x-session"), "1");
      await Promise.all([old.close(), fresh.close()]);
    }),
);

h2Test(
  "a 404 answer is HTTP_RETURNED_ERROR with status and headers",
  () =>
    withPeer([], async ({ port }) => {
      const err = await expectReject(
        h2c(port, "/missing"),
        "HTTP_RETURNED_ERROR",
      );
      assert.equal(err.status, 404);
      assert.equal(err.headers?.get("x-reason"), "no such socket");
    }),
);

h2Test(
  "RST_STREAM before the answer, and after the first DATA, is CONNECTION_LOST with the HTTP/2 code",
  () =>
    withPeer([], async ({ port }) => {
      const before = await expectReject(
        h2c(port, "/reset"),
        "CONNECTION_LOST",
      );
      assert.ok(before instanceof Http2Error);
      assert.equal(before.http2Code, H2Code.CANCEL);
      const conn = await h2c(port, "/reset-after-data");
      await conn.send("boom");
      const after = await expectReject(
        within(5000, "receive", conn.receive()),
        "CONNECTION_LOST",
      );
      assert.match(after.message, /INTERNAL_ERROR/);
      const cause = after.cause;
      assert.ok(cause instanceof Http2Error);
      assert.equal(cause.http2Code, H2Code.INTERNAL_ERROR);
      await conn.closed;
      // The connection itself survives a stream reset.
      const ok = await h2c(port, "/fine");
      assert.equal(ok.response.headers.get("x-session"), "1");
      await ok.close();
    }),
);

Deno.test('h2 connect: "auto" falls back to HTTP/1.1 when ALPN picks http/1.1 or the server does not enable extended CONNECT; true refuses', async () => {
  const caCerts = [testCerts().ca];
  // node's https server: no ALPN h2.
  const ws = await startWsEchoServer({ tls: true });
  // Deno.serve over TLS speaks h2 but without SETTINGS_ENABLE_CONNECT_PROTOCOL.
  const deno = await startDenoEchoServer({ tls: true, hostname: "localhost" });
  try {
    for (const server of [ws, deno]) {
      const conn = await within(
        5000,
        "connect",
        connect(server.url + "/fallback", { http2: "auto", caCerts }),
      );
      assert.equal(conn.response.status, 101, "an HTTP/1.1 upgrade");
      assert.equal(conn.response.httpVersion, "1.1");
      await conn.send("via 1.1");
      assert.equal(await within(5000, "echo", conn.receive()), "via 1.1");
      await conn.close();
    }
    const refused = await expectReject(
      within(5000, "connect", connect(ws.url, { http2: true, caCerts })),
      "BAD_HANDSHAKE",
    );
    assert.match(refused.message, /ALPN/);
    const noConnect = await expectReject(
      within(5000, "connect", connect(deno.url, { http2: true, caCerts })),
      "BAD_HANDSHAKE",
    );
    assert.match(noConnect.message, /ENABLE_CONNECT_PROTOCOL/);
  } finally {
    await closeHttp2Connections();
    await ws.close();
    await deno.close();
  }
});

Deno.test('h2 connect: an http2 value that is not false, true, "auto" or "prior-knowledge" is INVALID_ARGUMENT', async () => {
  const err = await expectReject(
    connect("ws://127.0.0.1:9/", { http2: "yes" as unknown as true }),
    "INVALID_ARGUMENT",
  );
  assert.match(err.message, /http2 must be/);
});

/** Opens one WebSocket over HTTP/2, echoes once, closes; returns the 200's headers. */
async function echoOverH2(url: string, options: ConnectOptions) {
  const conn = await within(10000, `connect ${url}`, connect(url, options));
  try {
    assert.equal(conn.response.status, 200, "an RFC 8441 answer");
    await conn.send("reached");
    assert.equal(await within(5000, "echo", conn.receive()), "reached");
  } finally {
    await within(5000, "close", conn.close());
  }
  return conn.response.headers;
}

h2Test(
  "through an HTTP CONNECT proxy: TLS with ALPN h2 inside the tunnel, the proxy sees one CONNECT for two WebSockets",
  () =>
    withPeer(TLS, async ({ port }) => {
      const proxy = startConnectProxy();
      try {
        const options: ConnectOptions = {
          http2: true,
          proxy: proxy.url,
          caCerts: [testCerts().ca],
        };
        const url = `wss://localhost:${port}/via-proxy`;
        const seen: string[] = [];
        const first = await echoOverH2(url, {
          ...options,
          onHttp2Settings: (settings, at) =>
            seen.push(
              `${at.pathname} ${settings.maxConcurrentStreams} ${settings.enableConnectProtocol}`,
            ),
        });
        // Node sends no SETTINGS_MAX_CONCURRENT_STREAMS by default: no limit.
        assert.deepEqual(seen, ["/via-proxy Infinity true"]);
        const second = await echoOverH2(url, { ...options, http2: "auto" });
        assert.equal(first.get("x-session"), second.get("x-session"));
        assert.deepEqual(
          proxy.requests.map((r) => `${r.method} ${r.target} ${r.status}`),
          [`CONNECT localhost:${port} 200`],
        );
        // Without the proxy the origin is another pool entry: a new connection.
        const direct = await echoOverH2(url, {
          http2: true,
          caCerts: [testCerts().ca],
        });
        assert.notEqual(direct.get("x-session"), first.get("x-session"));
      } finally {
        await closeHttp2Connections();
        await proxy.close();
      }
    }),
);

h2Test(
  "resolve and connectTo reach the server while SNI and the certificate check keep the URL's name",
  () =>
    withPeer(TLS, async ({ port }) => {
      const caCerts = [testCerts().ca];
      await echoOverH2(`wss://wsnc.test:${port}/resolved`, {
        http2: true,
        caCerts,
        resolve: [`wsnc.test:${port}:127.0.0.1`],
      });
      await echoOverH2(`wss://wsnc.test:4443/moved`, {
        http2: true,
        caCerts,
        connectTo: [`wsnc.test:4443:127.0.0.1:${port}`],
      });
      // The certificate has no name "other.test": the check used the URL's name.
      await expectReject(
        connect(`wss://other.test:${port}/`, {
          http2: true,
          caCerts,
          resolve: [`other.test:${port}:127.0.0.1`],
        }),
        "TLS_ERROR",
      );
    }),
);

h2Test(
  "a client certificate (mutual TLS) over HTTP/2: accepted when signed by the server's CA, TLS_ERROR without one",
  () => {
    const { ca, clientCert, clientKey } = testCerts();
    return withPeer(
      [...TLS, `client-ca=${FIXTURES}client-ca.pem`],
      async ({ port }) => {
        const url = `wss://localhost:${port}/mtls`;
        const headers = await echoOverH2(url, {
          http2: true,
          caCerts: [ca],
          cert: clientCert,
          key: clientKey,
        });
        assert.equal(headers.get("x-client-cert"), "wsnc test client");
        await expectReject(
          connect(url, { http2: true, caCerts: [ca] }),
          "TLS_ERROR",
        );
      },
    );
  },
);

h2Test(
  "over a Unix socket with prior knowledge (h2c): two WebSockets share one HTTP/2 connection",
  () =>
    withPeer([], async ({ port }) => {
      // Deno 2.9 wants --allow-read, --allow-write and --allow-net=unix:PATH
      // for a Unix socket: a child with exactly those flags runs a relay from
      // the socket to the node peer, and the client.
      const path = `/tmp/wsnc-h2-${crypto.randomUUID()}.sock`;
      const script = `
import { connect } from ${JSON.stringify(MOD)};
import { closeHttp2Connections } from ${JSON.stringify(POOL)};
const path = ${JSON.stringify(path)};
const listener = Deno.listen({ transport: "unix", path });
let accepted = 0;
const pipes = [];
const relay = (async () => {
  for await (const conn of listener) {
    accepted++;
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port: ${port} });
    pipes.push(Promise.allSettled([
      conn.readable.pipeTo(tcp.writable),
      tcp.readable.pipeTo(conn.writable),
    ]));
  }
})().catch(() => {});
const out = { replies: [], sessions: [] };
try {
  for (const n of [1, 2]) {
    const conn = await connect("ws://h2.local/unix" + n, { http2: "prior-knowledge", unixSocket: path });
    await conn.send("over unix " + n);
    out.replies.push(await conn.receive());
    out.sessions.push(conn.response.status + " " + conn.response.headers.get("x-session"));
    await conn.close();
  }
  await closeHttp2Connections();
} finally {
  listener.close();
  await relay;
  await Promise.all(pipes);
  try {
    Deno.removeSync(path);
  } catch { /* removed on close */ }
}
out.accepted = accepted;
console.log(JSON.stringify(out));
`;
      const out = await runChild(script, [
        `--allow-read=${path}`,
        `--allow-write=${path}`,
        `--allow-net=unix:${path},127.0.0.1:${port}`,
      ]);
      assert.deepEqual(out.replies, ["over unix 1", "over unix 2"]);
      assert.equal(out.sessions[0], out.sessions[1], "one HTTP/2 connection");
      assert.match(out.sessions[0], /^200 \d+$/);
      assert.equal(out.accepted, 1);
    }),
);

h2Test(
  "the web faces over HTTP/2: WebSocket events and WebSocketStream streams on RFC 8441 streams of one connection",
  () =>
    withPeer([], async ({ port }) => {
      const url = `ws://127.0.0.1:${port}/web`;
      const ws = new WebSocket(url, ["chat"], { http2: "prior-knowledge" });
      const events: string[] = [];
      const done = new Promise<void>((resolve) => {
        ws.onopen = () => {
          events.push(`open ${ws.protocol}`);
          ws.send("over h2");
        };
        ws.onmessage = (e) => {
          events.push(`message ${e.data}`);
          ws.close(1000, "bye");
        };
        ws.onclose = (e) => {
          events.push(`close ${e.code} ${e.wasClean}`);
          resolve();
        };
      });
      const wss = new WebSocketStream(url, { http2: "prior-knowledge" });
      const { readable, writable } = await within(5000, "opened", wss.opened);
      const writer = writable.getWriter();
      await writer.write(new Uint8Array([1, 2, 3]));
      const reader = readable.getReader();
      const { value } = await within(5000, "stream echo", reader.read());
      assert.deepEqual(value, new Uint8Array([1, 2, 3]));
      reader.releaseLock();
      writer.releaseLock();
      wss.close({ closeCode: 1000 });
      assert.equal((await within(5000, "closed", wss.closed)).closeCode, 1000);
      await within(5000, "WebSocket events", done);
      assert.deepEqual(events, [
        "open chat",
        "message over h2",
        "close 1000 true",
      ]);
      assert.equal(http2Pool.connections, 1, "both on one HTTP/2 connection");
    }),
);

h2Test(
  "cli: -v labels the answer with its own HTTP version: an HTTP/2 302 to an HTTP/1.1 server's 404",
  () =>
    withPeer(TLS, async ({ port }) => {
      // The redirect target: TLS without ALPN h2, so --http2 falls back to
      // HTTP/1.1 there; it answers every request head with 404.
      const { cert, key } = testCerts();
      const target = Deno.listenTls({
        hostname: "127.0.0.1",
        port: 0,
        cert,
        key,
      });
      const answering = (async () => {
        for await (const conn of target) {
          const buf = new Uint8Array(4096);
          try {
            await conn.read(buf);
            await conn.write(
              new TextEncoder().encode(
                "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
              ),
            );
          } catch { /* the client went away */ }
          conn.close();
        }
      })().catch(() => {});
      const targetPort = (target.addr as Deno.NetAddr).port;
      try {
        const out = await within(
          20000,
          "cli",
          new Deno.Command(DENO, {
            args: [
              "run",
              "--no-prompt",
              "--allow-net=localhost,127.0.0.1",
              `--allow-read=${FIXTURES}ca.pem`,
              new URL("../cli.ts", import.meta.url).pathname,
              "-v",
              "--http2",
              "--location",
              "--cacert",
              `${FIXTURES}ca.pem`,
              "-H",
              `x-redirect-to: wss://localhost:${targetPort}/b`,
              `wss://localhost:${port}/redirect`,
            ],
            stdin: "null",
            stdout: "piped",
            stderr: "piped",
          }).output(),
        );
        const stderr = new TextDecoder().decode(out.stderr);
        assert.notEqual(out.code, 0, "a 404 is an error");
        // The redirect went over HTTP/2; the answer shown came over HTTP/1.1.
        assert.match(stderr, /:protocol: websocket/);
        assert.match(stderr, /^> GET \/b HTTP\/1\.1$/m);
        assert.match(stderr, /^< HTTP\/1\.1 404 Not Found$/m);
      } finally {
        target.close();
        await answering;
      }
    }),
);

h2Test(
  "a server that allows no stream is CONNECT_FAILED, and the message names none of the options (the client key, CA certificates)",
  () =>
    withPeer([...TLS, "max-streams=0"], async ({ port }) => {
      const { ca, clientCert, clientKey } = testCerts();
      const err = await expectReject(
        within(
          10000,
          "connect",
          connect(`wss://localhost:${port}/none`, {
            http2: true,
            caCerts: [ca],
            cert: clientCert,
            key: clientKey,
          }),
        ),
        "CONNECT_FAILED",
      );
      assert.match(err.message, /allows no HTTP\/2 stream/);
      assert.doesNotMatch(err.message, /PRIVATE KEY|CERTIFICATE/);
    }),
);

h2Test(
  'ws:// with http2 true or "prior-knowledge", and TLS options that do not apply, share one cleartext HTTP/2 connection',
  () =>
    withPeer([], async ({ port }) => {
      const url = `ws://127.0.0.1:${port}/share`;
      const conns = [
        await h2c(port, "/share"),
        await within(5000, "true", connect(url, { http2: true })),
        await within(
          5000,
          "caCerts",
          connect(url, { http2: true, caCerts: [testCerts().ca] }),
        ),
      ];
      const sessions = conns.map((c) => c.response.headers.get("x-session"));
      assert.deepEqual(sessions, [sessions[0], sessions[0], sessions[0]]);
      await Promise.all(conns.map((c) => within(5000, "close", c.close())));
    }),
);

h2Test(
  "cli: --http2-prior-knowledge sends stdin lines over an RFC 8441 stream; -v shows the server's SETTINGS, the pseudo-headers and HTTP/2 200",
  () =>
    withPeer(["max-streams=7"], async ({ port }) => {
      const child = new Deno.Command(DENO, {
        args: [
          "run",
          "--no-prompt",
          "--allow-net=127.0.0.1",
          new URL("../cli.ts", import.meta.url).pathname,
          "--http2-prior-knowledge",
          "-v",
          `ws://127.0.0.1:${port}/cli`,
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode("hi over h2\n"));
      await w.close();
      try {
        const out = await within(20000, "cli", child.output());
        const stdout = new TextDecoder().decode(out.stdout);
        const stderr = new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 0, stderr);
        assert.equal(stdout, "hi over h2\n");
        assert.match(stderr, /:protocol: websocket/);
        // The peer's max-streams=7, and its extended CONNECT enabled.
        assert.match(
          stderr,
          /\* HTTP\/2 server SETTINGS: .*MAX_CONCURRENT_STREAMS=7 .*ENABLE_CONNECT_PROTOCOL=1/,
        );
        assert.match(stderr, /^< HTTP\/2 200$/m);
        assert.ok(
          stderr.indexOf("SETTINGS") < stderr.indexOf(":protocol"),
          "the settings come before the request",
        );
      } catch (e) {
        try {
          child.kill();
        } catch { /* exited */ }
        await child.status;
        throw e;
      }
    }),
);
