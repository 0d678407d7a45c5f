/**
 * Close codes and close frame payloads (RFC 6455 §5.5.1, §7.4).
 *
 * @module
 */

import { WebSocketError } from "./errors.ts";
import { Utf8Validator } from "./utf8.ts";

/** Named close codes of RFC 6455 §7.4.1 and the IANA registry. */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  NO_STATUS: 1005,
  ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  MANDATORY_EXTENSION: 1010,
  INTERNAL_ERROR: 1011,
} as const;

/** Longest close reason in bytes: 125 payload bytes minus the 2-byte code. */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * True when `code` may appear in a close frame on the wire: 1000-1003,
 * 1007-1014 and 3000-4999. 1004, 1005, 1006 and 1015 are reserved and never
 * sent; everything below 1000 and in 1016-2999 is unassigned.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isValidCloseCode } from "./close.ts";
 * assert.equal(isValidCloseCode(1000), true);
 * assert.equal(isValidCloseCode(1005), false); // never sent on the wire
 * assert.equal(isValidCloseCode(4000), true);
 * ```
 */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}

/**
 * Builds a close payload. Throws `INVALID_ARGUMENT` for a code that may not
 * be sent or a reason longer than 123 bytes of UTF-8.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeClosePayload } from "./close.ts";
 * assert.deepEqual(encodeClosePayload(1000, "bye"), new Uint8Array([3, 232, 98, 121, 101]));
 * ```
 */
export function encodeClosePayload(code?: number, reason = ""): Uint8Array {
  if (code === undefined) {
    if (reason !== "") {
      throw new WebSocketError(
        "INVALID_ARGUMENT",
        "a close reason needs a close code",
      );
    }
    return new Uint8Array(0);
  }
  if (!Number.isInteger(code) || !isValidCloseCode(code)) {
    throw new WebSocketError(
      "INVALID_ARGUMENT",
      `close code ${code} may not be sent (use 1000-1003, 1007-1014 or 3000-4999)`,
    );
  }
  const text = new TextEncoder().encode(reason);
  if (text.length > MAX_CLOSE_REASON_BYTES) {
    throw new WebSocketError(
      "INVALID_ARGUMENT",
      `close reason is ${text.length} bytes; at most ${MAX_CLOSE_REASON_BYTES} fit`,
    );
  }
  const out = new Uint8Array(2 + text.length);
  out[0] = code >>> 8;
  out[1] = code & 0xff;
  out.set(text, 2);
  return out;
}

/** A parsed close frame payload. */
export interface ClosePayload {
  /** The close code, or 1005 when the payload was empty. */
  code: number;
  /** The reason text (empty when none). */
  reason: string;
}

/**
 * Parses and checks a received close payload: a 1-byte payload or a code that
 * may not be sent is `PROTOCOL_ERROR` (1002); a reason that is not UTF-8 is
 * `INVALID_PAYLOAD` (1007).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseClosePayload } from "./close.ts";
 * const close = parseClosePayload(new Uint8Array([0x03, 0xe8, 0x6f, 0x6b]));
 * assert.equal(close.code, 1000);
 * assert.equal(close.reason, "ok");
 * ```
 */
export function parseClosePayload(payload: Uint8Array): ClosePayload {
  if (payload.length === 0) return { code: CloseCode.NO_STATUS, reason: "" };
  if (payload.length === 1) {
    throw new WebSocketError(
      "PROTOCOL_ERROR",
      "close frame with a 1-byte payload",
      { closeCode: CloseCode.PROTOCOL_ERROR },
    );
  }
  const code = (payload[0] << 8) | payload[1];
  if (!isValidCloseCode(code)) {
    throw new WebSocketError(
      "PROTOCOL_ERROR",
      `peer sent invalid close code ${code}`,
      { closeCode: CloseCode.PROTOCOL_ERROR },
    );
  }
  const reasonBytes = payload.subarray(2);
  const v = new Utf8Validator();
  if (v.push(reasonBytes) !== -1 || !v.complete) {
    throw new WebSocketError(
      "INVALID_PAYLOAD",
      "close reason is not valid UTF-8",
      { closeCode: CloseCode.INVALID_PAYLOAD },
    );
  }
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  return { code, reason: decoder.decode(reasonBytes) };
}
