/**
 * The HTTP/2 pool and transport against a raw HTTP/2 server written here
 * (frames by hand): a dial shared by two connects is not failed by the
 * first caller's abort, a connection error on an idle pooled connection
 * still sends GOAWAY before the socket closes, and our END_STREAM is not
 * followed by RST_STREAM while the server is still ending its side.
 */
import { clientFrames, rawH2Frame } from "./peers/h2_raw.ts";
import assert from "node:assert/strict";
import { connect } from "../mod.ts";
import { closeHttp2Connections } from "../src/io/h2_pool.ts";
import { expectReject, within } from "./helpers.ts";

const GOAWAY = 7, HEADERS = 1, RST_STREAM = 3, SETTINGS = 4;

interface RawServerOptions {
  /** ms before the server's SETTINGS (ENABLE_CONNECT_PROTOCOL = 1). */
  settingsDelay?: number;
  /** Called with each client frame's type and stream; returns frames to send. */
  onFrame(type: number, id: number, flags: number): Uint8Array[];
}

/** A raw HTTP/2 server; records the frame types each connection's client sent. */
function rawServer(o: RawServerOptions) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const seen: number[][] = [];
  const sessions: Promise<void>[] = [];
  const serve = async (c: Deno.Conn, types: number[]) => {
    await new Promise((r) => setTimeout(r, o.settingsDelay ?? 0));
    await c.write(rawH2Frame(SETTINGS, 0, 0, [0, 8, 0, 0, 0, 1])).catch(
      () => {},
    );
    for await (const f of clientFrames(c)) {
      types.push(f.type);
      for (const out of o.onFrame(f.type, f.id, f.flags)) {
        await c.write(out).catch(() => {});
      }
    }
    try {
      c.close();
    } catch { /* closed */ }
  };
  const loop = (async () => {
    for await (const c of listener) {
      conns.push(c);
      const types: number[] = [];
      seen.push(types);
      sessions.push(serve(c, types));
    }
  })().catch(() => {});
  return {
    url: `ws://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`,
    seen,
    async close() {
      listener.close();
      await loop;
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await within(5000, "raw server sessions", Promise.all(sessions));
    },
  };
}

/** HEADERS :status 200 (HPACK static index 8), END_HEADERS. */
const ok200 = (id: number, endStream = false) =>
  rawH2Frame(HEADERS, endStream ? 5 : 4, id, [0x88]);

Deno.test("h2 pool: one connect's abort does not fail another connect waiting on the same dial", async () => {
  const server = rawServer({
    settingsDelay: 500,
    onFrame: (type, id) => type === HEADERS ? [ok200(id)] : [],
  });
  try {
    const abortA = new AbortController();
    const timer = setTimeout(() => abortA.abort(), 100);
    const a = connect(server.url, {
      http2: "prior-knowledge",
      signal: abortA.signal,
    });
    const b = connect(server.url, {
      http2: "prior-knowledge",
      connectTimeout: 5000,
    });
    await expectReject(a, "ABORTED");
    clearTimeout(timer);
    const conn = await within(5000, "B opens", b);
    assert.equal(conn.response.status, 200);
    assert.equal(server.seen.length, 2, "B dialled again under its own signal");
    await closeHttp2Connections();
  } finally {
    await closeHttp2Connections();
    await server.close();
  }
});

Deno.test("h2 pool: a connection error on an idle pooled connection sends GOAWAY before the socket closes", async () => {
  const server = rawServer({
    onFrame: (type, id) =>
      type === HEADERS
        // 200 that ends the stream: the handshake fails, the stream is released.
        ? [ok200(id, true)]
        : type === RST_STREAM
        // Idle now: a PING of 7 bytes is a connection error (RFC 9113 §6.7).
        ? [rawH2Frame(6, 0, 0, [1, 2, 3, 4, 5, 6, 7])]
        : [],
  });
  try {
    await expectReject(
      connect(server.url, { http2: "prior-knowledge" }),
      "BAD_HANDSHAKE",
    );
    for (let i = 0; i < 100 && !server.seen[0]?.includes(GOAWAY); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(
      server.seen[0].includes(GOAWAY),
      `frames from the client: ${server.seen[0].join(" ")}`,
    );
  } finally {
    await closeHttp2Connections();
    await server.close();
  }
});

Deno.test("h2 stream: after our END_STREAM the server gets time to end its side; RST_STREAM NO_ERROR only if it does not", async () => {
  const DATA = 0, END_STREAM = 1;
  for (const serverEnds of [true, false]) {
    const server = rawServer({
      onFrame: (type, id, flags) => {
        if (type === HEADERS) return [ok200(id)];
        // The client ended its side: answer END_STREAM (an empty DATA).
        if (serverEnds && type === DATA && flags & END_STREAM) {
          return [rawH2Frame(DATA, END_STREAM, id, [])];
        }
        return [];
      },
    });
    try {
      const conn = await within(
        5000,
        "connect",
        connect(server.url, { http2: "prior-knowledge", closeTimeout: 100 }),
      );
      const closedAt = performance.now();
      // The raw server never answers our close frame: closeTimeout ends it.
      await within(5000, "close", conn.close());
      for (let i = 0; i < 150; i++) {
        if (server.seen[0].includes(RST_STREAM)) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      const waited = performance.now() - closedAt;
      if (serverEnds) {
        assert.ok(
          !server.seen[0].includes(RST_STREAM),
          `a reset after the server ended its side: ${
            server.seen[0].join(" ")
          }`,
        );
      } else {
        assert.ok(server.seen[0].includes(RST_STREAM), "RST_STREAM at last");
        assert.ok(waited >= 900, `RST_STREAM after ${waited.toFixed(0)} ms`);
      }
    } finally {
      await closeHttp2Connections();
      await server.close();
    }
  }
});
