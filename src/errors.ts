/**
 * The single error type of the library.
 *
 * @module
 */

/**
 * Why an operation failed. Protocol failures carry the close code that was
 * sent to the peer in {@linkcode WebSocketError.closeCode}.
 */
export type WebSocketErrorCode =
  /** The server answered the upgrade with a status other than 101. */
  | "HTTP_RETURNED_ERROR"
  /** The 101 response was malformed or did not match the request. */
  | "BAD_HANDSHAKE"
  /** The peer broke RFC 6455 framing rules (close code 1002). */
  | "PROTOCOL_ERROR"
  /** Text or a close reason was not valid UTF-8, or inflating failed (1007). */
  | "INVALID_PAYLOAD"
  /** A frame or message exceeded a configured limit (1009). */
  | "MESSAGE_TOO_BIG"
  /** The connection is closed; nothing more can be received or sent. */
  | "CLOSED"
  /** The transport ended without a close handshake. */
  | "CONNECTION_LOST"
  /** TCP connect failed (refused, unreachable, DNS). */
  | "CONNECT_FAILED"
  /** TLS negotiation or certificate verification failed. */
  | "TLS_ERROR"
  /** A timeout elapsed. */
  | "TIMEOUT"
  /** The caller's AbortSignal fired. */
  | "ABORTED"
  /** A Deno permission is missing; the message names the flag to add. */
  | "PERMISSION_DENIED"
  /** The caller used the API wrongly (bad URL, bad flags, send after close). */
  | "INVALID_ARGUMENT";

/** Extra fields of a {@linkcode WebSocketError}. */
export interface WebSocketErrorInit {
  /** HTTP status of a refused upgrade. */
  status?: number;
  /** HTTP reason phrase of a refused upgrade. */
  statusText?: string;
  /** Response headers of a refused or malformed upgrade. */
  headers?: Headers;
  /** First bytes of the response body of a refused upgrade. */
  body?: Uint8Array;
  /** The close code this side sent (or received) when the error happened. */
  closeCode?: number;
  /** The underlying error. */
  cause?: unknown;
}

/**
 * Error thrown by every operation of the library.
 *
 * @example Tell a refused upgrade from other failures
 * ```ts
 * import assert from "node:assert/strict";
 * import { WebSocketError } from "./errors.ts";
 * const err = new WebSocketError("HTTP_RETURNED_ERROR", "HTTP 403 Forbidden", { status: 403 });
 * assert.equal(err.code, "HTTP_RETURNED_ERROR");
 * assert.equal(err.status, 403);
 * ```
 */
export class WebSocketError extends Error {
  /** Machine-readable reason. */
  readonly code: WebSocketErrorCode;
  /** HTTP status, for `HTTP_RETURNED_ERROR` and some `BAD_HANDSHAKE` errors. */
  readonly status?: number;
  /** HTTP reason phrase, for `HTTP_RETURNED_ERROR`. */
  readonly statusText?: string;
  /** Response headers, when a response was received. */
  readonly headers?: Headers;
  /** First bytes of the response body, for `HTTP_RETURNED_ERROR`. */
  readonly body?: Uint8Array;
  /** Close code sent to (or received from) the peer. */
  readonly closeCode?: number;

  /** Creates an error with a code, a message and optional details. */
  constructor(
    code: WebSocketErrorCode,
    message: string,
    init: WebSocketErrorInit = {},
  ) {
    super(
      message,
      init.cause === undefined ? undefined : { cause: init.cause },
    );
    this.name = "WebSocketError";
    this.code = code;
    this.status = init.status;
    this.statusText = init.statusText;
    this.headers = init.headers;
    this.body = init.body;
    this.closeCode = init.closeCode;
  }
}

/** The error of a call on a connection that has ended. */
export function closedError(): WebSocketError {
  return new WebSocketError("CLOSED", "the connection is closed");
}
