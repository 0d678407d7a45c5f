/**
 * Child process of compression_test.ts and bench/inflate_cost.ts: one
 * compressed-receive workload from a scripted server in this process, then
 * one JSON line with what arrived, the process's CPU seconds and its peak
 * resident memory. A fresh process keeps other tests' heaps out of the
 * measurement. The peak is `Deno.memoryUsage().rss` polled as the data
 * arrives: getrusage()'s ru_maxrss would count the parent's memory (Linux
 * carries the high-water mark across exec), and Deno reads /proc/self only
 * with --allow-all.
 *
 *     deno run --allow-net=127.0.0.1 --allow-read=. inflate_cost.ts WORKLOAD N
 *
 * Workloads (the server answers `permessage-deflate`, context takeover on
 * unless the name says `reset`):
 * - `bomb N`: one message of N zero bytes compressed (~N/1030 bytes on the
 *   wire), read through recv() with a 64 KiB buffer, maxMessageSize
 *   unlimited.
 * - `bfinal N`: N empty messages whose payload is `03 00`, an empty fixed
 *   Huffman block with BFINAL set (what zlib's Z_FINISH makes of nothing),
 *   read with receive(). `bfinal-reset N`: the same with
 *   server_no_context_takeover.
 * - `bfinal-hello N`: N messages "Hello" as RFC 7692 §7.2.3.4 shows them
 *   (a BFINAL block, then 0x00).
 * - `sync N`: N empty messages whose payload is `00` (the RFC's empty
 *   message), the baseline for the `bfinal` rows.
 *
 * Every message workload starts with one 40 KB text message, so the 32 KiB
 * window a BFINAL block makes us restore is full from the start.
 *
 * @module
 */
import { connect, WS } from "../../mod.ts";
import { startScriptedServer } from "../servers/scripted.ts";
import { deflateRawSync } from "node:zlib";
import process from "node:process";

const [workload, countArg] = Deno.args;
const count = Number(countArg);
if (!Number.isSafeInteger(count) || count < 1) {
  throw new Error("usage: inflate_cost.ts WORKLOAD N");
}

/** An unmasked server frame: FIN, RSV1, `opcode`, `payload` (< 64 KiB). */
function compressedFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const long = payload.length > 125;
  const head = long
    ? [0xc0 | opcode, 126, payload.length >> 8, payload.length & 0xff]
    : [0xc0 | opcode, payload.length];
  const frame = new Uint8Array(head.length + payload.length);
  frame.set(head);
  frame.set(payload, head.length);
  return frame;
}

/** `count` copies of `frame` in one buffer. */
function repeated(frame: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(frame.length * count);
  for (let i = 0; i < count; i++) out.set(frame, i * frame.length);
  return out;
}

/** One message of `size` zeros: 1 MiB runs sync-flushed back to back. */
function zeroBomb(size: number): Uint8Array {
  const run = deflateRawSync(new Uint8Array(1 << 20), { finishFlush: 2 });
  const runs = Math.ceil(size / (1 << 20));
  const body = repeated(run, runs).subarray(0, runs * run.length - 4);
  const len = body.length;
  const head = [0xc2, 127, 0, 0, 0, 0, len >>> 24, (len >>> 16) & 0xff];
  head.push((len >>> 8) & 0xff, len & 0xff);
  const frame = new Uint8Array(head.length + len);
  frame.set(head);
  frame.set(body, head.length);
  return frame;
}

const TEXT = 0x1;
const EMPTY_FINAL = Uint8Array.of(0x03, 0x00);
const HELLO_FINAL = Uint8Array.of(
  0xf3,
  0x48,
  0xcd,
  0xc9,
  0xc9,
  0x07,
  0x00,
  0x00,
);

/** The message that fills the window, compressed as a sync-flushed stream. */
const FIRST = "wsnc ".repeat(8000);
const firstFrame = (() => {
  const packed = deflateRawSync(new TextEncoder().encode(FIRST), {
    finishFlush: 2,
  });
  return compressedFrame(TEXT, packed.subarray(0, packed.length - 4));
})();

let answer = "permessage-deflate";
let wire: Uint8Array;
let expected: number;
switch (workload) {
  case "bomb":
    wire = zeroBomb(count);
    expected = Math.ceil(count / (1 << 20)) * (1 << 20);
    break;
  case "bfinal":
  case "bfinal-reset":
    if (workload === "bfinal-reset") answer += "; server_no_context_takeover";
    wire = repeated(compressedFrame(TEXT, EMPTY_FINAL), count);
    expected = 0;
    break;
  case "bfinal-hello":
    wire = repeated(compressedFrame(TEXT, HELLO_FINAL), count);
    expected = 5 * count;
    break;
  case "sync":
    wire = repeated(compressedFrame(TEXT, Uint8Array.of(0x00)), count);
    expected = 0;
    break;
  default:
    throw new Error(`unknown workload ${workload}`);
}

let peak = 0;
function poll(): void {
  peak = Math.max(peak, Deno.memoryUsage().rss);
}

/** User + system CPU seconds of this process so far. */
function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

const server = startScriptedServer(async (peer) => {
  await peer.accept({ extensions: answer });
  if (workload !== "bomb") await peer.writeRaw(firstFrame);
  await peer.writeRaw(wire);
  await peer.echoUntilClose(20000);
});
const conn = await connect(server.url, {
  compression: true,
  maxMessageSize: Infinity,
});
const cpuBefore = cpuSeconds();
let bytes = 0, messages = 0, badAt = -1;
if (workload === "bomb") {
  const buf = new Uint8Array(64 * 1024);
  for (let pieces = 0; pieces < expected; pieces++) { // ends far sooner
    const { n, meta } = await conn.recv(buf);
    for (let j = 0; j < n && badAt < 0; j += 4096) {
      if (buf[j] !== 0) badAt = bytes + j;
    }
    bytes += n;
    poll();
    if (meta.bytesleft === 0 && !(meta.flags & WS.CONT)) break;
  }
  messages = 1;
} else {
  const hello = workload === "bfinal-hello" ? "Hello" : "";
  if (await conn.receive() !== FIRST) badAt = 0;
  while (messages < count) {
    const m = await conn.receive();
    if (m !== hello) {
      badAt = messages;
      break;
    }
    bytes += m.length;
    if (++messages % 256 === 0) poll();
  }
}
const cpu = cpuSeconds() - cpuBefore;
poll();
await conn.close();
const { wasClean } = await conn.closed;
await server.close();
console.log(JSON.stringify({
  workload,
  count,
  messages,
  bytes,
  expected,
  badAt,
  wasClean,
  cpu,
  peak,
}));
