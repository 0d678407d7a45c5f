/**
 * WebSocket over HTTP/2 (RFC 8441): the extended CONNECT request and the
 * checks on its response. After a 200 the stream's DATA carries ordinary
 * RFC 6455 frames; there is no key or accept value in this handshake.
 *
 * @module
 */

import { WebSocketError } from "../errors.ts";
import { checkAgreement, type UpgradeRequest } from "../handshake.ts";
import { fieldSyntaxError } from "./fields.ts";
import type { HeaderField } from "./hpack_table.ts";

/**
 * What goes into an extended CONNECT request: the HTTP/1.1 upgrade request
 * without the key (RFC 8441 has no key/accept exchange). Header names are
 * lowercased, as HTTP/2 requires.
 */
export type Http2UpgradeRequest = Omit<UpgradeRequest, "key">;

/** Headers the handshake owns, or that HTTP/2 forbids (RFC 9113 §8.2.2). */
const RESERVED = new Set([
  "host",
  "upgrade",
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "transfer-encoding",
  "content-length",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-extensions",
]);

const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Builds the header list of an RFC 8441 §4 extended CONNECT: `:method
 * CONNECT`, `:protocol websocket`, `:scheme`, `:path`, `:authority`, then
 * `sec-websocket-version: 13`, the subprotocol and extension offers, origin
 * and the caller's headers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildConnectRequest } from "./websocket.ts";
 * const fields = buildConnectRequest({ url: new URL("wss://example.com/chat?x=1"), protocols: ["chat"] });
 * assert.deepEqual(fields.slice(0, 5), [
 *   [":method", "CONNECT"], [":protocol", "websocket"], [":scheme", "https"],
 *   [":path", "/chat?x=1"], [":authority", "example.com"],
 * ]);
 * ```
 */
export function buildConnectRequest(req: Http2UpgradeRequest): HeaderField[] {
  const url = req.url;
  const secure = url.protocol === "wss:" || url.protocol === "https:";
  if (!secure && url.protocol !== "ws:" && url.protocol !== "http:") {
    throw new WebSocketError(
      "INVALID_ARGUMENT",
      `unsupported URL scheme ${url.protocol}`,
    );
  }
  const fields: HeaderField[] = [
    [":method", "CONNECT"],
    [":protocol", "websocket"],
    [":scheme", secure ? "https" : "http"],
    [":path", (url.pathname || "/") + url.search],
    [":authority", url.host],
    ["sec-websocket-version", "13"],
  ];
  const protocols = req.protocols ?? [];
  for (const p of protocols) {
    if (!TOKEN_RE.test(p)) {
      throw new WebSocketError(
        "INVALID_ARGUMENT",
        `subprotocol ${JSON.stringify(p)} is not a valid token`,
      );
    }
  }
  if (new Set(protocols).size !== protocols.length) {
    throw new WebSocketError("INVALID_ARGUMENT", "duplicate subprotocol");
  }
  if (protocols.length > 0) {
    fields.push(["sec-websocket-protocol", protocols.join(", ")]);
  }
  if (req.extensions) fields.push(["sec-websocket-extensions", req.extensions]);
  if (req.origin !== undefined) fields.push(["origin", req.origin]);
  for (const [rawName, value] of req.headers ?? []) {
    const name = rawName.toLowerCase();
    if (RESERVED.has(name) || name.startsWith(":")) {
      throw new WebSocketError(
        "INVALID_ARGUMENT",
        `header ${rawName} is set by the handshake and cannot be given`,
      );
    }
    if (name === "origin" && req.origin !== undefined) continue;
    if (name === "sec-websocket-protocol" && protocols.length > 0) continue;
    const why = fieldSyntaxError(name, value);
    if (why) throw new WebSocketError("INVALID_ARGUMENT", why);
    fields.push([name, value]);
  }
  return fields;
}

/** What {@linkcode checkConnectResponse} checks the response against. */
export interface ExpectedConnectResponse {
  /** The subprotocols we offered. */
  protocols?: string[];
  /** Whether we offered any extension. */
  offeredExtensions: boolean;
}

/** What a 200 response agreed on. */
export interface AgreedConnect {
  /** Selected subprotocol, or "". */
  protocol: string;
  /** The `sec-websocket-extensions` answer, or "". */
  extensions: string;
  /** The response headers (pseudo-headers left out). */
  headers: Headers;
}

/**
 * The response's regular fields as `Headers` (for errors and callers);
 * pseudo-headers are left out.
 */
export function responseHeaders(fields: readonly HeaderField[]): Headers {
  const h = new Headers();
  for (const [name, value] of fields) {
    if (name[0] === ":") continue;
    try {
      h.append(name, value);
    } catch { /* a value Headers refuses: left out of the report */ }
  }
  return h;
}

/**
 * Checks the final (non-1xx) response to an extended CONNECT (RFC 8441 §5):
 * a status other than 200 is `HTTP_RETURNED_ERROR` with the status and headers (as for
 * HTTP/1.1); a 200 that ends the stream, picks a subprotocol we did not offer
 * or answers extensions we did not offer is `BAD_HANDSHAKE`. `fields` must
 * have passed the session's checks (one valid `:status`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkConnectResponse } from "./websocket.ts";
 * const agreed = checkConnectResponse([[":status", "200"], ["sec-websocket-protocol", "chat"]], false, {
 *   protocols: ["chat"], offeredExtensions: false,
 * });
 * assert.equal(agreed.protocol, "chat");
 * ```
 */
export function checkConnectResponse(
  fields: readonly HeaderField[],
  endStream: boolean,
  expected: ExpectedConnectResponse,
): AgreedConnect {
  const status = Number(fields.find(([n]) => n === ":status")?.[1] ?? 0);
  const headers = responseHeaders(fields);
  // Issue 16: 200 opens the WebSocket; anything else is refused, as a
  // non-101 is over HTTP/1.1.
  if (status !== 200) {
    throw new WebSocketError("HTTP_RETURNED_ERROR", `HTTP ${status}`, {
      status,
      headers,
    });
  }
  const bad = (why: string) =>
    new WebSocketError("BAD_HANDSHAKE", why, { status, headers });
  if (endStream) {
    throw bad(`${status} response to extended CONNECT ended the stream`);
  }
  return { ...checkAgreement(headers, expected, bad), headers };
}
