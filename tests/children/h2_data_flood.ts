/**
 * Child process of hostile_test.ts: an HTTP/2 server (raw frames, written
 * here) opens a WebSocket over RFC 8441 and then sends one binary message
 * as COUNT DATA frames of one byte each, while our client reads nothing.
 * Every byte stays within the stream window, so the client must hold them;
 * what it must not do is pay an object per frame for them.
 *
 *   deno run --v8-flags=--expose-gc --allow-net=127.0.0.1 --allow-read=. h2_data_flood.ts COUNT
 *
 * Prints one JSON line: the JS heap and external (ArrayBuffer) memory the
 * held bytes added (after a GC), and the length of the message once it is
 * read.
 */
import { clientFrames, rawH2Frame } from "../peers/h2_raw.ts";
import { connect } from "../../mod.ts";

const count = Number(Deno.args[0]);
const gc = (globalThis as { gc?: () => void }).gc!;

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const port = (listener.addr as Deno.NetAddr).port;
let flooded!: () => void;
const floodDone = new Promise<void>((r) => flooded = r);

const serving = (async () => {
  const conn = await listener.accept();
  // SETTINGS: ENABLE_CONNECT_PROTOCOL (0x8) = 1; and an ACK of the client's.
  await conn.write(rawH2Frame(4, 0, 0, [0, 8, 0, 0, 0, 1]));
  await conn.write(rawH2Frame(4, 1, 0, []));
  // Up to the client's HEADERS (its extended CONNECT).
  for await (const f of clientFrames(conn)) if (f.type === 1) break;
  // :status 200 (HPACK static index 8), END_HEADERS.
  await conn.write(rawH2Frame(1, 4, 1, [0x88]));
  // A binary WebSocket frame of count - 10 bytes, one byte per DATA frame.
  const body = count - 10;
  const head = [0x82, 127, 0, 0, 0, 0, 0, 0, 0, 0];
  head[6] = (body >>> 24) & 0xff;
  head[7] = (body >> 16) & 0xff;
  head[8] = (body >> 8) & 0xff;
  head[9] = body & 0xff;
  const perBatch = 4096;
  const batch = new Uint8Array(perBatch * 10);
  for (let i = 0; i < count; i += perBatch) {
    const n = Math.min(perBatch, count - i);
    for (let j = 0; j < n; j++) {
      batch.set(rawH2Frame(0, 0, 1, [i + j < 10 ? head[i + j] : 0x61]), j * 10);
    }
    await conn.write(batch.subarray(0, n * 10));
  }
  flooded();
  // Keep the connection up until the client is done; drain what it sends.
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) break;
  }
  conn.close();
})();

gc();
const used = () => {
  const m = Deno.memoryUsage();
  return m.heapUsed + m.external;
};
const before = used();
const ws = await connect(`ws://127.0.0.1:${port}/flood`, {
  http2: "prior-knowledge",
  http2IdleTimeout: 0,
});
await floodDone;
await new Promise((r) => setTimeout(r, 500)); // let the last frames arrive
gc();
const held = used() - before;
const message = await ws.receive();
const length = message instanceof Uint8Array ? message.length : -1;
await ws.close();
listener.close();
await serving;
console.log(JSON.stringify({ held, length }));
