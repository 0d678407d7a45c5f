/**
 * HTTP/2 error codes (RFC 9113 §7) and the error type the HTTP/2 core
 * throws and reports: a {@linkcode WebSocketError} that also carries the
 * HTTP/2 code and the stream it concerns (0 for a connection error).
 *
 * @module
 */

import { WebSocketError, type WebSocketErrorCode } from "../errors.ts";

/** HTTP/2 error codes (RFC 9113 §7). */
export const H2Code = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

const NAMES: string[] = Object.keys(H2Code);

/** The name of an HTTP/2 error code with its number, e.g. `CANCEL (0x8)`. */
export function h2CodeName(code: number): string {
  const hex = "0x" + code.toString(16);
  return code >= 0 && code < NAMES.length
    ? `${NAMES[code]} (${hex})`
    : `unknown error code (${hex})`;
}

/**
 * A failure of the HTTP/2 layer. `streamId` 0 means the whole connection
 * failed (a GOAWAY was or will be sent); otherwise only that stream did.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { H2Code, Http2Error } from "./errors.ts";
 * const e = new Http2Error("PROTOCOL_ERROR", "bad frame", H2Code.FRAME_SIZE_ERROR, 0);
 * assert.ok(e instanceof Error);
 * assert.equal(e.http2Code, 6);
 * assert.equal(e.streamId, 0); // 0: the whole connection
 * ```
 */
export class Http2Error extends WebSocketError {
  /** The HTTP/2 error code sent or received (RFC 9113 §7). */
  readonly http2Code: number;
  /** The stream concerned, or 0 for the connection. */
  readonly streamId: number;

  /** Creates an error; `message` should say what the peer did. */
  constructor(
    code: WebSocketErrorCode,
    message: string,
    http2Code: number,
    streamId: number,
    cause?: unknown,
  ) {
    super(code, message, cause === undefined ? {} : { cause });
    this.http2Code = http2Code;
    this.streamId = streamId;
  }
}

/** A connection error caused by the peer: the session answers with GOAWAY(`h2code`). */
export function connectionError(
  h2code: number,
  message: string,
  code: WebSocketErrorCode = "PROTOCOL_ERROR",
): Http2Error {
  return new Http2Error(
    code,
    `HTTP/2 connection error ${h2CodeName(h2code)}: ${message}`,
    h2code,
    0,
  );
}

/** A stream error caused by the peer: the session answers with RST_STREAM(`h2code`). */
export function streamError(
  streamId: number,
  h2code: number,
  message: string,
  code: WebSocketErrorCode = "PROTOCOL_ERROR",
): Http2Error {
  return new Http2Error(
    code,
    `HTTP/2 stream ${streamId} error ${h2CodeName(h2code)}: ${message}`,
    h2code,
    streamId,
  );
}

/** A stream the server reset (RST_STREAM) or refused (GOAWAY): CONNECTION_LOST with its code. */
export function lostStream(
  streamId: number,
  h2code: number,
  how: "reset by the server:" | "refused by GOAWAY",
): Http2Error {
  return new Http2Error(
    "CONNECTION_LOST",
    `HTTP/2 stream ${streamId} ${how} ${h2CodeName(h2code)}`,
    h2code,
    streamId,
  );
}
