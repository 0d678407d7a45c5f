/**
 * Frame flags and metadata, modelled on libcurl's `CURLWS_*` bits and
 * `struct curl_ws_frame`.
 *
 * @module
 */

/**
 * Frame flag bits, with the same values as libcurl's `CURLWS_*` constants.
 *
 * - `TEXT` / `BINARY`: the message type; set on every fragment of a message.
 * - `CONT`: more fragments of this message follow (set on all but the last).
 * - `CLOSE`, `PING`, `PONG`: control frames.
 * - `OFFSET`: (send only) this call sends part of a frame; see
 *   {@linkcode WebSocketConnection.send}.
 *
 * @example Check what a received piece is
 * ```ts
 * import assert from "node:assert/strict";
 * import { WS } from "./flags.ts";
 * const flags = WS.TEXT | WS.CONT;
 * assert.ok(flags & WS.TEXT);
 * assert.ok(flags & WS.CONT);
 * assert.equal(flags & WS.BINARY, 0);
 * ```
 */
export const WS = {
  TEXT: 1,
  BINARY: 2,
  CONT: 4,
  CLOSE: 8,
  PING: 16,
  OFFSET: 32,
  PONG: 64,
} as const;

/** WebSocket opcodes (RFC 6455 §5.2). */
export const Opcode = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

/**
 * Metadata of one received piece of a frame, like libcurl's
 * `struct curl_ws_frame`.
 *
 * @example Detect the end of a message
 * ```ts
 * import assert from "node:assert/strict";
 * import { type FrameMeta, WS } from "./flags.ts";
 * function isMessageEnd(meta: FrameMeta): boolean {
 *   return meta.bytesleft === 0 && (meta.flags & WS.CONT) === 0;
 * }
 * assert.ok(isMessageEnd({ age: 0, flags: WS.TEXT, offset: 0, bytesleft: 0, len: 5 }));
 * assert.ok(!isMessageEnd({ age: 0, flags: WS.TEXT | WS.CONT, offset: 0, bytesleft: 0, len: 5 }));
 * ```
 */
export interface FrameMeta {
  /** Always 0; kept for parity with libcurl's struct. */
  age: number;
  /** A combination of {@linkcode WS} bits describing the frame. */
  flags: number;
  /** Position of this piece's first byte within the frame's payload. */
  offset: number;
  /** Payload bytes of the frame that follow this piece. */
  bytesleft: number;
  /** Length of this piece in bytes. */
  len: number;
}

/** Human-readable names of the flags set in `flags`, in bit order. */
export function flagNames(flags: number): string[] {
  const names: string[] = [];
  for (const [name, bit] of Object.entries(WS)) {
    if (flags & bit) names.push(name);
  }
  return names;
}
