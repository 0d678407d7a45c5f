/**
 * The two halves every bridge is made of: received WebSocket data to a
 * byte sink, and a byte source to WebSocket messages. Both move one bounded
 * piece at a time and wait for the other side to take it, so a slow side
 * slows the other instead of filling memory.
 *
 * @module
 */

import { type WebSocketConnection, WebSocketError, WS } from "../../../mod.ts";

/**
 * Bytes per read and per WebSocket piece. 256 KiB moved 100 MiB through a
 * tunnel at ~240 MB/s here, 64 KiB at ~100 and 1 MiB at ~190 (bench/tunnel.ts).
 */
export const PIECE_SIZE = 256 * 1024;
const CONTROL = WS.PING | WS.PONG | WS.CLOSE;

/** Where received data goes. */
export interface ByteSink {
  /** Takes `bytes` (valid only until the promise settles). */
  write(bytes: Uint8Array): Promise<void>;
  /** Called after the last piece of each message. */
  endMessage?(): Promise<void>;
}

/** How the receiving half ended. */
export type ReceiveEnd =
  /** The peer's close frame arrived (or the close handshake finished). */
  | { kind: "closed" }
  /** The connection failed: lost without a close, protocol error, abort. */
  | { kind: "failed"; error: unknown }
  /** The sink failed (its side is gone). */
  | { kind: "sink"; error: unknown };

/**
 * Copies every received data piece to `sink` until the connection closes.
 * Uses `recv()`: the socket is read only when the sink has taken the last
 * piece, so memory stays at one read buffer whatever the peer sends.
 */
export async function receiveInto(
  conn: WebSocketConnection,
  sink: ByteSink,
): Promise<ReceiveEnd> {
  const buf = new Uint8Array(PIECE_SIZE);
  for (;;) {
    let n: number, flags: number, bytesleft: number;
    try {
      ({ n, meta: { flags, bytesleft } } = await conn.recv(buf));
    } catch (error) {
      if (error instanceof WebSocketError && error.code === "CLOSED") {
        return { kind: "closed" };
      }
      return { kind: "failed", error };
    }
    if (flags & CONTROL) {
      if (flags & WS.CLOSE && bytesleft === 0) return { kind: "closed" };
      continue;
    }
    try {
      if (n > 0) await sink.write(buf.subarray(0, n));
      if (bytesleft === 0 && !(flags & WS.CONT)) await sink.endMessage?.();
    } catch (error) {
      return { kind: "sink", error };
    }
  }
}

/** Writes all of `bytes` to a `Deno.Conn` (a write may take part of them). */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  for (let off = 0; off < bytes.length;) {
    off += await conn.write(bytes.subarray(off));
  }
}
