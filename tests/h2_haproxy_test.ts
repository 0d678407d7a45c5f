/**
 * WebSocket over HTTP/2 through HAProxy (2.4+ accepts RFC 8441 on its h2
 * front and speaks an HTTP/1.1 upgrade to the backend): TLS with ALPN h2 and
 * cleartext h2 (prior knowledge) fronts, and our `acceptWebSocket` echo as
 * the backend, with permessage-deflate agreed end to end. HAProxy runs in
 * the foreground with its configuration on stdin. Skips with one line when
 * haproxy is missing or `--allow-run` does not cover it.
 */
import assert from "node:assert/strict";
import { acceptWebSocket, connect, type ConnectOptions } from "../mod.ts";
import { closeHttp2Connections, http2Pool } from "../src/io/h2_pool.ts";
import { assertSameBytes, within } from "./helpers.ts";
import { testCerts } from "./servers/certs.ts";
import { haproxyMissing, startHaproxy } from "./peers/haproxy.ts";

const missing = haproxyMissing();
if (missing) console.log(`h2_haproxy_test: skipped, ${missing}`);

/** Our HTTP/1.1 echo backend; counts the TCP connections HAProxy opened. */
function startBackend() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let connections = 0;
  const sessions: Promise<void>[] = [];
  const loop = (async () => {
    for await (const tcp of listener) {
      connections++;
      sessions.push(
        acceptWebSocket(tcp, { compression: true }).then(async (conn) => {
          for await (const m of conn) await conn.send(m);
        }).catch(() => {}),
      );
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    get connections() {
      return connections;
    },
    async close() {
      listener.close();
      await loop;
      await within(5000, "backend sessions", Promise.all(sessions));
    },
  };
}

Deno.test({
  name:
    "h2 haproxy: RFC 8441 through HAProxy's h2 fronts (TLS ALPN and h2c) to an HTTP/1.1 backend, deflate agreed, one HTTP/2 connection for three WebSockets",
  ignore: missing !== null,
  fn: async () => {
    const backend = startBackend();
    const haproxy = await startHaproxy(backend.port);
    try {
      const url = `wss://localhost:${haproxy.tls}/echo`;
      const options: ConnectOptions = {
        http2: true,
        caCerts: [testCerts().ca],
        compression: true,
      };
      const conns = await within(
        10000,
        "connect x3",
        Promise.all([1, 2, 3].map(() => connect(url, options))),
      );
      assert.equal(http2Pool.connections, 1, "one HTTP/2 connection");
      assert.equal(backend.connections, 3, "three backend upgrades");
      for (const c of conns) {
        assert.equal(c.response.status, 200);
        assert.match(c.extensions, /permessage-deflate/);
      }
      const big = new Uint8Array(256 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = (i % 251) ^ (i >> 9);
      await Promise.all(conns.map(async (c, i) => {
        await c.send(`hello ${i}`);
        assert.equal(await within(5000, "echo", c.receive()), `hello ${i}`);
        await c.send(big);
        const got = await within(10000, "big echo", c.receive());
        assertSameBytes(got as Uint8Array, big, "256 KiB echo");
      }));
      await Promise.all(conns.map((c) => within(5000, "close", c.close())));
      for (const c of conns) assert.equal((await c.closed).wasClean, true);

      const plain = await within(
        10000,
        "connect h2c",
        connect(`ws://127.0.0.1:${haproxy.h2c}/echo`, {
          http2: "prior-knowledge",
        }),
      );
      await plain.send("over h2c");
      assert.equal(await within(5000, "echo", plain.receive()), "over h2c");
      await within(5000, "close", plain.close());
    } catch (e) {
      await closeHttp2Connections();
      const log = await haproxy.stop();
      await backend.close();
      if (log) console.error(`haproxy stderr:\n${log}`);
      throw e;
    }
    await closeHttp2Connections();
    await haproxy.stop();
    await backend.close();
  },
});
