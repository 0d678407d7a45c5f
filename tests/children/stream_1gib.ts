/**
 * Child process of memory_test.ts: streams a 1 GiB message (two frames)
 * from a scripted server through recv() with a 64 KiB buffer and prints one
 * JSON line with the bytes received and the peak resident memory. It runs in
 * a fresh process so that no other test's heap inflates the measurement.
 */
import { connect, WS } from "../../mod.ts";
import { OP, startScriptedServer } from "../servers/scripted.ts";

const size = 1024 * 1024 * 1024;
const server = startScriptedServer(async (peer) => {
  await peer.accept();
  const half = size / 2;
  const chunk = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
  for (const [opcode, fin] of [[OP.BINARY, false], [OP.CONT, true]] as const) {
    await peer.sendFrame({ opcode, fin, length: half });
    for (let sent = 0; sent < half; sent += chunk.length) {
      await peer.writeRaw(chunk);
    }
  }
  await peer.echoUntilClose(20000);
});
const conn = await connect(server.url);
const buf = new Uint8Array(64 * 1024);
let total = 0, peak = 0, frames = 0, badAt = -1;
for (let i = 0;; i++) {
  const { n, meta } = await conn.recv(buf);
  if (n > 0 && badAt < 0 && buf[0] !== (meta.offset & 0xff)) badAt = total;
  total += n;
  if (i % 256 === 0) peak = Math.max(peak, Deno.memoryUsage().rss);
  if (meta.bytesleft === 0) {
    frames++;
    if (!(meta.flags & WS.CONT)) break;
  }
}
peak = Math.max(peak, Deno.memoryUsage().rss);
await conn.close();
const { wasClean } = await conn.closed;
await server.close();
console.log(JSON.stringify({ total, frames, peak, badAt, wasClean }));
