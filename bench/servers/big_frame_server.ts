/**
 * A minimal hand-written WebSocket server for the memory benchmark: after the
 * opening handshake it sends ONE unmasked binary frame of `--size` bytes,
 * generated in 64 KiB chunks so that the server itself stays small, then
 * answers the client's close frame and hangs up.
 *
 * Written by hand because neither npm:ws nor Deno's server can send a single
 * frame larger than the message they hold in memory.
 *
 * Usage: deno run --allow-net=127.0.0.1 bench/servers/big_frame_server.ts --size BYTES
 *
 * @module
 */

import { announceAndWaitForStdinEof } from "./ready.ts";

const CHUNK = 64 * 1024;
const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

const sizeAt = Deno.args.indexOf("--size");
const frameSize = sizeAt >= 0 ? Number(Deno.args[sizeAt + 1]) : 1 << 30;
if (!Number.isSafeInteger(frameSize) || frameSize < 65536) {
  throw new Error("--size must be an integer >= 65536");
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let o = 0; o < bytes.length;) o += await conn.write(bytes.subarray(o));
}

/** Reads the HTTP upgrade request and returns its Sec-WebSocket-Key. */
async function readUpgradeKey(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(8192);
  let len = 0;
  while (true) {
    const n = await conn.read(buf.subarray(len));
    if (n === null) throw new Error("client closed during handshake");
    len += n;
    const text = new TextDecoder().decode(buf.subarray(0, len));
    if (text.includes("\r\n\r\n")) {
      const key = text.match(/^sec-websocket-key:\s*(\S+)\s*$/im)?.[1];
      if (!key) throw new Error("no Sec-WebSocket-Key in request");
      return key;
    }
    if (len === buf.length) throw new Error("handshake request too large");
  }
}

async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(key + WS_GUID),
  );
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/** Header of an unmasked, final binary frame with a 64-bit length. */
function binaryFrameHeader(length: number): Uint8Array {
  const head = new Uint8Array(10);
  head[0] = 0x82;
  head[1] = 127;
  new DataView(head.buffer).setBigUint64(2, BigInt(length));
  return head;
}

async function serve(conn: Deno.Conn): Promise<void> {
  try {
    const key = await readUpgradeKey(conn);
    await writeAll(
      conn,
      new TextEncoder().encode(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
          `Connection: Upgrade\r\nSec-WebSocket-Accept: ${await acceptKey(
            key,
          )}\r\n\r\n`,
      ),
    );
    await writeAll(conn, binaryFrameHeader(frameSize));
    const chunk = new Uint8Array(CHUNK);
    for (let i = 0; i < CHUNK; i++) chunk[i] = i & 0xff;
    for (let left = frameSize; left > 0; left -= CHUNK) {
      await writeAll(conn, left >= CHUNK ? chunk : chunk.subarray(0, left));
    }
    // Wait for anything from the client (its close frame), answer with a
    // normal close, and hang up.
    const scratch = new Uint8Array(1024);
    if ((await conn.read(scratch)) !== null) {
      await writeAll(conn, new Uint8Array([0x88, 0x02, 0x03, 0xe8]));
    }
  } catch (err) {
    console.error(`big frame server: ${(err as Error).message}`);
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
(async () => {
  for await (const conn of listener) serve(conn);
})().catch(() => {/* listener closed */});

await announceAndWaitForStdinEof((listener.addr as Deno.NetAddr).port);
listener.close();
