/**
 * A deliberately lenient raw echo client, used to test the suite itself:
 * it masks its frames and echoes every data frame as it comes, answers
 * pings and echoes close payloads, but checks nothing (no UTF-8, RSV,
 * opcode or length validation). The suite must grade it FAILED wherever a
 * real client has to fail the connection.
 *
 * @module
 */

import { caseUrl, parseDriverArgs } from "./args.ts";
import { encodeFrame, FrameReader, OP } from "../lib/wire.ts";
import { writeAll } from "../lib/handshake.ts";

const args = parseDriverArgs(Deno.args);

async function runCase(url: URL): Promise<void> {
  const conn = await Deno.connect({
    hostname: url.hostname,
    port: Number(url.port),
  });
  const key = btoa(
    String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))),
  );
  await writeAll(
    conn,
    new TextEncoder().encode(
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ),
  );
  const reader = new FrameReader();
  const buf = new Uint8Array(65536);
  let head = "";
  const send = (opcode: number, payload: Uint8Array, fin = true) =>
    writeAll(
      conn,
      encodeFrame({
        opcode,
        payload,
        fin,
        maskKey: crypto.getRandomValues(new Uint8Array(4)),
      }),
    );
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      let bytes = buf.subarray(0, n);
      if (!head.includes("\r\n\r\n")) {
        head += new TextDecoder("latin1").decode(bytes);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) continue;
        bytes = bytes.subarray(bytes.length - (head.length - end - 4));
      }
      for (const f of reader.push(bytes)) {
        if (f.opcode === OP.PING) await send(OP.PONG, f.payload);
        else if (f.opcode === OP.CLOSE) {
          await send(OP.CLOSE, f.payload);
          conn.close();
          return;
        } else if (f.opcode !== OP.PONG) await send(f.opcode, f.payload, f.fin);
      }
    }
  } catch { /* the server hung up */ }
  try {
    conn.close();
  } catch { /* closed */ }
}

for (let i = args.from; i <= args.to; i++) {
  await runCase(new URL(caseUrl(args, i)));
}
