/**
 * What the web faces hand to a connection's `send()`: WHATWG payload types
 * turned into bytes, in call order even when a `Blob` must be read first,
 * and the byte count that `bufferedAmount` reports.
 *
 * @module
 */

import { WS } from "../flags.ts";
import type { WebSocketConnection } from "../connection.ts";

/** What `WebSocket.send()` accepts. */
export type WebSocketData = string | ArrayBufferLike | ArrayBufferView | Blob;

const encoder = new TextEncoder();

/** A payload as bytes we own (the standard copies at send()) and its frame type. */
export function toFrame(
  data: string | ArrayBufferLike | ArrayBufferView,
): { bytes: Uint8Array; flags: number } {
  if (typeof data === "string") {
    return { bytes: encoder.encode(data), flags: WS.TEXT };
  }
  if (ArrayBuffer.isView(data)) {
    const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return { bytes: view.slice(), flags: WS.BINARY };
  }
  return { bytes: new Uint8Array(data).slice(), flags: WS.BINARY };
}

/** The size of a payload in bytes, as `bufferedAmount` counts it. */
export function byteSize(data: WebSocketData): number {
  if (typeof data === "string") return encoder.encode(data).length;
  if (data instanceof Blob) return data.size;
  return data.byteLength;
}

/**
 * Sends payloads in order. Bytes go to `conn.send()` at once; a `Blob` is
 * read first, and what follows it waits its turn. Send failures are left to
 * the connection's reader, which reports how the connection ended.
 */
export class Outgoing {
  #conn: WebSocketConnection;
  /** Bytes not yet handed to the connection (Blobs being read, sends behind them). */
  #waiting = 0;
  #tail: Promise<void> | null = null;
  /** Payload bytes handed to the connection since its queue was last empty. */
  #handed = 0;

  constructor(conn: WebSocketConnection) {
    this.#conn = conn;
  }

  /**
   * Bytes handed to send() not yet written to the socket. The connection
   * counts frame headers too, so its count is capped by the payload bytes
   * we handed it.
   */
  get bufferedAmount(): number {
    const inConnection = this.#conn.bufferedAmount;
    if (inConnection === 0) this.#handed = 0;
    return this.#waiting + Math.min(inConnection, this.#handed);
  }

  /** Queues `data` behind everything sent before. */
  send(data: WebSocketData): void {
    if (this.#tail === null && !(data instanceof Blob)) {
      this.#hand(toFrame(data));
      return;
    }
    const size = byteSize(data);
    this.#waiting += size;
    const bytes = data instanceof Blob ? data.arrayBuffer() : toFrame(data);
    const previous = this.#tail ?? Promise.resolve();
    const tail = this.#tail = previous.then(async () => {
      const frame = bytes instanceof Promise ? toFrame(await bytes) : bytes;
      this.#waiting -= size;
      this.#hand(frame);
    }).catch(() => {
      this.#waiting -= size; // the Blob could not be read: nothing is sent
    }).finally(() => {
      if (this.#tail === tail) this.#tail = null;
    });
  }

  #hand(frame: { bytes: Uint8Array; flags: number }): void {
    if (this.#conn.bufferedAmount === 0) this.#handed = 0;
    this.#handed += frame.bytes.length;
    this.#conn.send(frame.bytes, frame.flags).catch(() => {});
  }
}

/**
 * Sends our close frame, without a body when there is no code (the close
 * frame goes out first; close() then only waits for the answer).
 */
export function closeConnection(
  conn: WebSocketConnection,
  code: number | undefined,
  reason: string,
): void {
  if (code === undefined) {
    conn.send(new Uint8Array(0), WS.CLOSE).catch(() => {});
    conn.close().catch(() => {});
  } else conn.close(code, reason).catch(() => {});
}
