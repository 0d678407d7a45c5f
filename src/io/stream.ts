/**
 * Helpers over a connected byte stream (`Deno.Conn` or anything with the same
 * `read`/`write`): write everything, read exactly n bytes, read an HTTP head,
 * and race a wait against an abort signal.
 *
 * @module
 */

import { WebSocketError } from "../errors.ts";
import { findHeadEnd } from "../handshake.ts";
import type { ByteStream } from "./byte_stream.ts";

/** The part of a byte stream these helpers use. */
export type ReadWriter = Pick<ByteStream, "read" | "write">;

/** Writes all of `bytes`. */
export async function writeAll(
  conn: ReadWriter,
  bytes: Uint8Array,
): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/**
 * Reads exactly `n` bytes. Never reads past them, so the bytes that follow
 * stay in the stream for the next layer. `onEof` makes the error when the
 * stream ends first.
 */
export async function readExactly(
  conn: ReadWriter,
  n: number,
  onEof: () => Error,
): Promise<Uint8Array> {
  const buf = new Uint8Array(n);
  let len = 0;
  while (len < n) {
    const got = await conn.read(buf.subarray(len));
    if (got === null) throw onEof();
    len += got;
  }
  return buf;
}

/**
 * Reads an HTTP head (through the blank line) from `conn`. Returns the head's
 * bytes and whatever arrived after it in the same reads, which belongs to
 * the next layer (the first frame bytes after a 101). `peer` names the other
 * side in the error when the stream ends first.
 */
export async function readHttpHead(
  conn: ReadWriter,
  peer: string,
): Promise<{ head: Uint8Array; rest: Uint8Array }> {
  let buf = new Uint8Array(4096);
  let len = 0;
  for (;;) {
    if (len === buf.length) {
      const bigger = new Uint8Array(buf.length * 2);
      bigger.set(buf);
      buf = bigger;
    }
    const n = await conn.read(buf.subarray(len));
    if (n === null) {
      throw new WebSocketError(
        len === 0 ? "CONNECTION_LOST" : "BAD_HANDSHAKE",
        len === 0
          ? `${peer} closed the connection without answering`
          : `${peer} closed the connection inside the HTTP head`,
      );
    }
    const from = len;
    len += n;
    const end = findHeadEnd(buf.subarray(0, len), from);
    if (end !== -1) {
      return { head: buf.subarray(0, end), rest: buf.slice(end, len) };
    }
  }
}

/**
 * Awaits `promise`, but rejects as soon as `signal` aborts (calling
 * `onAbort`, which should release what the promise waits on).
 */
export function withAbort<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  onAbort: () => void,
): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    onAbort();
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      try {
        onAbort();
      } catch { /* ignore */ }
      promise.catch(() => {});
      reject(signal.reason);
    };
    signal.addEventListener("abort", abort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", abort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", abort);
        reject(e);
      },
    );
  });
}

/** Closes `conn`, ignoring an error from one that is already closed. */
export function closeQuietly(conn: { close(): void } | undefined): void {
  try {
    conn?.close();
  } catch { /* already closed */ }
}
