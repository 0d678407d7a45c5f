/**
 * Child process of hostile_test.ts: one message sent as a flood of tiny or
 * empty fragments, into a whole-message reader, on either side.
 *
 *   deno run … fragment_flood.ts client|server FRAGMENTS FRAGMENT_BYTES MAX_MESSAGE [deflate]
 *
 * `client`: a scripted server sends the flood to `connect()` +
 * `for await (const m of conn)`. `server`: a raw client sends it, masked, to
 * the README's `acceptWebSocket` echo server. Prints one JSON line: the
 * length of the message that came through (or -1), the close code the
 * attacker saw (client side: the code our client sent back), and the peak
 * resident memory of this process, which holds both ends; with `deflate`
 * the message is compressed (RSV1 on its first frame, permessage-deflate
 * agreed), its fragments empty and the deflate data in the last one; the
 * attacking end only ever holds one reused 64 KiB batch.
 */
import { acceptWebSocket, connect, WebSocketError } from "../../mod.ts";
import {
  frameBytes,
  OP,
  parseClosePayload,
  parseFrameHeader,
} from "../servers/wire.ts";
import { startScriptedServer } from "../servers/scripted.ts";
import { ConnReader } from "../servers/reader.ts";
import { constants as zlibConstants, deflateRawSync } from "node:zlib";

const [side, countArg, sizeArg, maxArg, deflateArg] = Deno.args;
const deflate = deflateArg === "deflate";
const count = Number(countArg), size = Number(sizeArg);
const maxMessageSize = Number(maxArg);
const masked = side === "server";

/** Writes the opening frame, `count` continuation frames and the final one. */
async function flood(write: (b: Uint8Array) => Promise<unknown>) {
  const piece = new Uint8Array(size).fill(0x61);
  // Compressed: RSV1 and empty payloads up to the last frame, which holds
  // the whole deflate stream.
  const middle = deflate ? new Uint8Array(0) : piece;
  await write(frameBytes({
    opcode: OP.BINARY,
    fin: false,
    rsv: deflate ? 4 : 0,
    payload: middle,
    mask: masked,
  }));
  const one = frameBytes({
    opcode: OP.CONT,
    fin: false,
    payload: middle,
    mask: masked,
    maskKey: new Uint8Array(4),
  });
  const perBatch = Math.max(1, Math.floor(65536 / one.length));
  const batch = new Uint8Array(one.length * perBatch);
  for (let i = 0; i < perBatch; i++) batch.set(one, i * one.length);
  let sent = 0;
  while (sent < count) {
    const n = Math.min(perBatch, count - sent);
    await write(batch.subarray(0, n * one.length));
    sent += n;
  }
  await write(frameBytes({
    opcode: OP.CONT,
    fin: true,
    payload: deflate ? compressed(piece) : piece,
    mask: masked,
  }));
}

/** A permessage-deflate payload: raw deflate, sync flush, tail removed. */
function compressed(data: Uint8Array): Uint8Array {
  const out = deflateRawSync(data, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  return new Uint8Array(out.subarray(0, out.length - 4));
}

// Sampled every 5 ms and at the end: the heap an attack grows is held, so
// the last samples see it even when the attacked loop kept the timer away.
let peak = 0;
const sample = () => peak = Math.max(peak, Deno.memoryUsage().rss);
const sampler = setInterval(sample, 5);

let length = -1, closeCode = -1;
if (side === "client") {
  const server = startScriptedServer(async (peer) => {
    await peer.accept(
      deflate ? { extensions: "permessage-deflate" } : {},
    );
    await flood((b) => peer.writeRaw(b)).catch(() => {});
    const close = await peer.expectClose(20000).catch(() => null);
    closeCode = close?.code ?? -1;
    if (close) await peer.sendClose(close.code).catch(() => {});
  });
  const conn = await connect(server.url, {
    maxMessageSize,
    compression: deflate,
  });
  try {
    for await (const m of conn) {
      length = m.length;
      await conn.close(1000);
    }
  } catch (e) {
    if (!(e instanceof WebSocketError)) throw e;
  }
  await conn.closed;
  await server.settled();
  await server.close();
} else {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const tcp = await listener.accept();
    const conn = await acceptWebSocket(tcp, {
      maxMessageSize,
      compression: deflate,
    });
    try {
      for await (const message of conn) await conn.send(message);
    } catch (e) {
      if (!(e instanceof WebSocketError)) throw e;
    }
    await conn.closed;
  })();
  const { port } = listener.addr as Deno.NetAddr;
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  const write = async (b: Uint8Array) => {
    for (let o = 0; o < b.length;) o += await tcp.write(b.subarray(o));
  };
  await write(new TextEncoder().encode(
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" +
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
      "Sec-WebSocket-Version: 13\r\n" +
      (deflate ? "Sec-WebSocket-Extensions: permessage-deflate\r\n" : "") +
      "\r\n",
  ));
  const reader = new ConnReader(tcp);
  await reader.readHead(10000);
  await flood(write).catch(() => {});
  // The echo (a binary frame), or straight away the server's close.
  for (;;) {
    while (parseFrameHeader(reader.buffered) === null) {
      if (!await reader.fill(Date.now() + 20000, "a frame", 20000)) break;
    }
    const header = parseFrameHeader(reader.buffered);
    if (header === null) break;
    const payload = (await reader.readExactly(
      header.headerLen + header.length,
      20000,
      "a frame",
    ))!.subarray(header.headerLen);
    const frame = { opcode: header.opcode, payload };
    if (frame.opcode === OP.BINARY) {
      length = frame.payload.length;
      await write(
        frameBytes({
          opcode: OP.CLOSE,
          payload: new Uint8Array([3, 232]),
          mask: true,
        }),
      );
    } else if (frame.opcode === OP.CLOSE) {
      closeCode = parseClosePayload(frame.payload).code ?? -1;
      break;
    }
  }
  tcp.close();
  await served;
  listener.close();
}
sample();
clearInterval(sampler);
console.log(JSON.stringify({ length, closeCode, peak }));
