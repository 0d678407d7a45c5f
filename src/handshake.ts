/**
 * The HTTP/1.1 upgrade handshake (RFC 6455 §4): request building, response
 * parsing and validation for the client, and the mirror image for servers.
 * Bytes and strings only; no I/O.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { WebSocketError } from "./errors.ts";

/** The GUID of RFC 6455 §1.3 that turns a key into an accept value. */
const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Upper bound on the size of an HTTP head we are willing to buffer. */
export const MAX_HEAD_BYTES = 64 * 1024;

/**
 * Returns a fresh `Sec-WebSocket-Key`: 16 random bytes in base64.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateKey } from "./handshake.ts";
 * assert.equal(generateKey().length, 24); // 16 random bytes in base64
 * ```
 */
export function generateKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes));
}

/**
 * Computes `Sec-WebSocket-Accept` for a key: base64(SHA-1(key + GUID)).
 *
 * @example RFC 6455 §1.3
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeAccept } from "./handshake.ts";
 * assert.equal(computeAccept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
 * ```
 */
export function computeAccept(key: string): string {
  // Synchronous: crypto.subtle.digest costs a promise and a thread hop per
  // handshake, which showed in the time to open thousands of connections.
  return createHash("sha1").update(key + WS_GUID).digest("base64");
}

/** What goes into a client's upgrade request. */
export interface UpgradeRequest {
  /** Target URL (`ws:`/`wss:`; `http:`/`https:` are accepted too). */
  url: URL;
  /** The `Sec-WebSocket-Key`. */
  key: string;
  /** Subprotocols to offer, in order of preference. */
  protocols?: string[];
  /** `Origin` header value. */
  origin?: string;
  /** `Sec-WebSocket-Extensions` offer. */
  extensions?: string;
  /** Extra headers as name/value pairs (written in the given case); they cannot replace the ones the handshake owns. */
  headers?: Iterable<[string, string]>;
}

/** Headers the handshake sets itself; callers may not override them. */
const RESERVED_REQUEST_HEADERS = new Set([
  "host",
  "upgrade",
  "connection",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-extensions",
  "content-length",
  "transfer-encoding",
]);

const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Builds a `Basic` authorization value (RFC 7617, UTF-8 credentials).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { basicAuth } from "./handshake.ts";
 * assert.equal(basicAuth("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
 * ```
 */
export function basicAuth(username: string, password: string): string {
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return `Basic ${btoa(s)}`;
}

/** The `Host` header value for a URL: port only when it is not the default. */
export function hostHeader(url: URL): string {
  return url.host; // URL already drops default ports and brackets IPv6.
}

/**
 * Builds the upgrade request head.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildRequest } from "./handshake.ts";
 * const head = buildRequest({ url: new URL("ws://example.com:8080/chat?x=1"), key: "dGhlIHNhbXBsZSBub25jZQ==" });
 * assert.equal(head.split("\r\n")[0], "GET /chat?x=1 HTTP/1.1");
 * ```
 */
export function buildRequest(req: UpgradeRequest): string {
  const url = req.url;
  const target = (url.pathname || "/") + url.search;
  const lines = [
    `GET ${target} HTTP/1.1`,
    `Host: ${hostHeader(url)}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${req.key}`,
    "Sec-WebSocket-Version: 13",
  ];
  if (req.protocols && req.protocols.length > 0) {
    for (const p of req.protocols) {
      if (!TOKEN_RE.test(p)) {
        throw new WebSocketError(
          "INVALID_ARGUMENT",
          `subprotocol ${JSON.stringify(p)} is not a valid token`,
        );
      }
    }
    if (new Set(req.protocols).size !== req.protocols.length) {
      throw new WebSocketError("INVALID_ARGUMENT", "duplicate subprotocol");
    }
    lines.push(`Sec-WebSocket-Protocol: ${req.protocols.join(", ")}`);
  }
  if (req.origin !== undefined) lines.push(`Origin: ${req.origin}`);
  if (req.extensions) lines.push(`Sec-WebSocket-Extensions: ${req.extensions}`);
  if (req.headers) {
    for (const [name, value] of req.headers) {
      const lower = name.toLowerCase();
      if (RESERVED_REQUEST_HEADERS.has(lower)) {
        throw new WebSocketError(
          "INVALID_ARGUMENT",
          `header ${name} is set by the handshake and cannot be given`,
        );
      }
      if (lower === "origin" && req.origin !== undefined) continue;
      if (lower === "sec-websocket-protocol" && req.protocols?.length) continue;
      lines.push(`${name}: ${value}`);
    }
  }
  return lines.join("\r\n") + "\r\n\r\n";
}

/** A parsed HTTP response head. */
export interface ResponseHead {
  /** HTTP version, e.g. "HTTP/1.1". */
  version: string;
  /** Status code. */
  status: number;
  /** Reason phrase. */
  statusText: string;
  /** Header fields. */
  headers: Headers;
  /** Size of the head in bytes including the blank line. */
  headLength: number;
}

/** A parsed HTTP request head. */
export interface RequestHead {
  /** Method, e.g. "GET". */
  method: string;
  /** Request target, e.g. "/chat?x=1". */
  target: string;
  /** HTTP version, e.g. "HTTP/1.1". */
  version: string;
  /** Header fields. */
  headers: Headers;
  /** Size of the head in bytes including the blank line. */
  headLength: number;
}

/**
 * Peer-sent HTTP text made safe for a terminal: control characters (C0,
 * DEL, C1, so no escape sequence survives) become `\xNN`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { printable } from "./handshake.ts";
 * assert.equal(printable("OK\x1b[2J"), "OK\\x1b[2J"); // ESC shown, not sent to the terminal
 * ```
 */
export function printable(text: string): string {
  return text.replace(
    // deno-lint-ignore no-control-regex
    /[\x00-\x1f\x7f-\x9f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/** The HTTP head grew past {@linkcode MAX_HEAD_BYTES} (a server answers 431). */
export class HeadTooLargeError extends WebSocketError {
  constructor() {
    super("BAD_HANDSHAKE", `HTTP head larger than ${MAX_HEAD_BYTES} bytes`);
  }
}

/**
 * Finds the end of an HTTP head (`\r\n\r\n`) in `buf`; returns the index just
 * past it, or -1. Throws a {@linkcode HeadTooLargeError} (`BAD_HANDSHAKE`)
 * when the head grows past {@linkcode MAX_HEAD_BYTES}.
 */
export function findHeadEnd(buf: Uint8Array, from = 0): number {
  const start = from > 3 ? from - 3 : 0;
  for (let i = start; i + 3 < buf.length; i++) {
    if (
      buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 &&
      buf[i + 3] === 10
    ) {
      if (i + 4 > MAX_HEAD_BYTES) break;
      return i + 4;
    }
  }
  if (buf.length > MAX_HEAD_BYTES) throw new HeadTooLargeError();
  return -1;
}

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    s += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return s;
}

function parseHeaderLines(lines: string[]): Headers {
  const headers = new Headers();
  for (const line of lines) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0 || line[0] === " " || line[0] === "\t") {
      throw new WebSocketError(
        "BAD_HANDSHAKE",
        `malformed header line ${JSON.stringify(line.slice(0, 80))}`,
      );
    }
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    try {
      headers.append(name, value);
    } catch {
      throw new WebSocketError(
        "BAD_HANDSHAKE",
        `invalid header ${JSON.stringify(name.slice(0, 80))}`,
      );
    }
  }
  return headers;
}

/**
 * Parses an HTTP response head from `buf` (which must hold the whole head,
 * see {@linkcode findHeadEnd}). Throws `BAD_HANDSHAKE` when malformed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseResponseHead } from "./handshake.ts";
 * const raw = new TextEncoder().encode("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
 * const head = parseResponseHead(raw, raw.length);
 * assert.equal(head.status, 403);
 * assert.equal(head.statusText, "Forbidden");
 * ```
 */
export function parseResponseHead(
  buf: Uint8Array,
  headLength: number,
): ResponseHead {
  const text = latin1(buf.subarray(0, headLength - 4));
  const lines = text.split("\r\n");
  const m = /^(HTTP\/\d(?:\.\d)?) (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!m) {
    throw new WebSocketError(
      "BAD_HANDSHAKE",
      `not an HTTP response: ${JSON.stringify(lines[0].slice(0, 80))}`,
    );
  }
  return {
    version: m[1],
    status: Number(m[2]),
    statusText: m[3] ?? "",
    headers: parseHeaderLines(lines.slice(1)),
    headLength,
  };
}

/**
 * Parses an HTTP request head from `buf`. Throws `BAD_HANDSHAKE` when
 * malformed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRequestHead } from "./handshake.ts";
 * const raw = new TextEncoder().encode("GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
 * assert.equal(parseRequestHead(raw, raw.length).target, "/x");
 * ```
 */
export function parseRequestHead(
  buf: Uint8Array,
  headLength: number,
): RequestHead {
  const text = latin1(buf.subarray(0, headLength - 4));
  const lines = text.split("\r\n");
  const m = /^([A-Z]+) (\S+) (HTTP\/\d\.\d)$/.exec(lines[0]);
  if (!m) {
    throw new WebSocketError(
      "BAD_HANDSHAKE",
      `not an HTTP request: ${JSON.stringify(lines[0].slice(0, 80))}`,
    );
  }
  return {
    method: m[1],
    target: m[2],
    version: m[3],
    headers: parseHeaderLines(lines.slice(1)),
    headLength,
  };
}

/** True when a comma-separated header value lists `token` (case-insensitive). */
export function headerHasToken(value: string | null, token: string): boolean {
  if (value === null) return false;
  const want = token.toLowerCase();
  return value.split(",").some((t) => t.trim().toLowerCase() === want);
}

/** What {@linkcode validateResponse} checks the response against. */
export interface ExpectedResponse {
  /** The accept value computed from our key. */
  accept: string;
  /** The subprotocols we offered. */
  protocols?: string[];
  /** Whether we offered any extension. */
  offeredExtensions: boolean;
}

/** What a valid 101 response agreed on. */
export interface AgreedUpgrade {
  /** Selected subprotocol, or "". */
  protocol: string;
  /** The `Sec-WebSocket-Extensions` answer, or "". */
  extensions: string;
}

/**
 * Validates a response head against the request. A status other than 101
 * throws `HTTP_RETURNED_ERROR` with the status; a 101 that does not match the
 * request throws `BAD_HANDSHAKE`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateResponse, type ResponseHead } from "./handshake.ts";
 * const head: ResponseHead = {
 *   version: "HTTP/1.1", status: 101, statusText: "Switching Protocols", headLength: 0,
 *   headers: new Headers({
 *     upgrade: "websocket", connection: "Upgrade",
 *     "sec-websocket-accept": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
 *   }),
 * };
 * const agreed = validateResponse(head, { accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", offeredExtensions: false });
 * assert.deepEqual(agreed, { protocol: "", extensions: "" }); // no subprotocol, no extension
 * ```
 */
export function validateResponse(
  head: ResponseHead,
  expected: ExpectedResponse,
): AgreedUpgrade {
  const h = head.headers;
  if (head.status !== 101) {
    throw new WebSocketError(
      "HTTP_RETURNED_ERROR",
      `HTTP ${head.status}${
        head.statusText ? " " + printable(head.statusText) : ""
      }`,
      { status: head.status, statusText: head.statusText, headers: h },
    );
  }
  const bad = (why: string) =>
    new WebSocketError("BAD_HANDSHAKE", why, {
      status: 101,
      statusText: head.statusText,
      headers: h,
    });
  if (head.version !== "HTTP/1.1") throw bad(`101 response in ${head.version}`);
  // RFC 6455 §4.1: the value is `websocket`, nothing else. Headers joins
  // repeated fields with ", ", so a second Upgrade line fails here too.
  const upgrade = h.get("upgrade");
  if (upgrade?.toLowerCase() !== "websocket") {
    throw bad(
      upgrade === null
        ? "101 response without Upgrade: websocket"
        : `101 response with Upgrade: ${
          printable(JSON.stringify(upgrade.slice(0, 80)))
        } (must be exactly "websocket")`,
    );
  }
  if (!headerHasToken(h.get("connection"), "upgrade")) {
    throw bad("101 response without Connection: Upgrade");
  }
  const accept = h.get("sec-websocket-accept");
  if (accept === null) throw bad("101 response without Sec-WebSocket-Accept");
  if (accept !== expected.accept) {
    throw bad("Sec-WebSocket-Accept does not match the key we sent");
  }
  return checkAgreement(h, expected, bad);
}

/**
 * The subprotocol and extensions a server's answer agreed on, over HTTP/1.1
 * and HTTP/2 alike: each must be one we offered (RFC 6455 §4.1), else
 * `bad(why)` is thrown.
 */
export function checkAgreement(
  h: Headers,
  offered: { protocols?: string[]; offeredExtensions: boolean },
  bad: (why: string) => WebSocketError,
): { protocol: string; extensions: string } {
  const protocol = h.get("sec-websocket-protocol") ?? "";
  if (protocol !== "" && !offered.protocols?.includes(protocol)) {
    throw bad(
      `server chose subprotocol ${
        JSON.stringify(protocol)
      } that was not offered`,
    );
  }
  const extensions = h.get("sec-websocket-extensions") ?? "";
  if (extensions !== "" && !offered.offeredExtensions) {
    throw bad(
      `server chose extensions ${
        JSON.stringify(extensions)
      } that were not offered`,
    );
  }
  return { protocol, extensions };
}

/** A validated upgrade request, server side. */
export interface ClientUpgrade {
  /** The client's `Sec-WebSocket-Key`. */
  key: string;
  /** Subprotocols the client offered. */
  protocols: string[];
  /** The client's `Sec-WebSocket-Extensions` offer, or "". */
  extensions: string;
}

/**
 * Checks a client's upgrade request (server role). Throws `BAD_HANDSHAKE`
 * with `status` set to the HTTP status to answer with (400, 405 or 426).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateRequest, type RequestHead } from "./handshake.ts";
 * const head: RequestHead = {
 *   method: "GET", target: "/", version: "HTTP/1.1", headLength: 0,
 *   headers: new Headers({
 *     host: "a", upgrade: "websocket", connection: "Upgrade",
 *     "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13",
 *   }),
 * };
 * assert.equal(validateRequest(head).key, "dGhlIHNhbXBsZSBub25jZQ==");
 * ```
 */
export function validateRequest(head: RequestHead): ClientUpgrade {
  const h = head.headers;
  const bad = (status: number, why: string) =>
    new WebSocketError("BAD_HANDSHAKE", why, { status, headers: h });
  if (head.method !== "GET") throw bad(405, `method ${head.method} is not GET`);
  if (head.version !== "HTTP/1.1") throw bad(400, `request in ${head.version}`);
  if (!h.has("host")) throw bad(400, "request without Host");
  if (!headerHasToken(h.get("upgrade"), "websocket")) {
    throw bad(426, "request without Upgrade: websocket");
  }
  if (!headerHasToken(h.get("connection"), "upgrade")) {
    throw bad(400, "request without Connection: Upgrade");
  }
  if (h.get("sec-websocket-version") !== "13") {
    throw bad(426, "Sec-WebSocket-Version is not 13");
  }
  const key = h.get("sec-websocket-key") ?? "";
  let raw = "";
  try {
    raw = atob(key);
  } catch { /* reported below */ }
  if (raw.length !== 16) {
    throw bad(400, "Sec-WebSocket-Key is not 16 bytes in base64");
  }
  const protocols = (h.get("sec-websocket-protocol") ?? "")
    .split(",").map((p) => p.trim()).filter((p) => p !== "");
  return {
    key,
    protocols,
    extensions: h.get("sec-websocket-extensions") ?? "",
  };
}

/**
 * Builds a 101 response head (server role).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildAcceptResponse } from "./handshake.ts";
 * const head = buildAcceptResponse("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
 * assert.equal(head.split("\r\n")[0], "HTTP/1.1 101 Switching Protocols");
 * ```
 */
export function buildAcceptResponse(
  accept: string,
  protocol = "",
  extensions = "",
  headers?: Headers,
): string {
  const lines = [
    "HTTP/1.1 101 Switching Protocols",
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Accept: ${accept}`,
  ];
  if (protocol) lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
  if (extensions) lines.push(`Sec-WebSocket-Extensions: ${extensions}`);
  if (headers) { for (const [k, v] of headers) lines.push(`${k}: ${v}`); }
  return lines.join("\r\n") + "\r\n\r\n";
}

/**
 * Builds a plain error response (server role) for a refused upgrade.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildErrorResponse } from "./handshake.ts";
 * assert.ok(buildErrorResponse(400, "Bad Request", "no key").startsWith("HTTP/1.1 400 Bad Request\r\n"));
 * ```
 */
export function buildErrorResponse(
  status: number,
  statusText: string,
  body = "",
): string {
  const bytes = new TextEncoder().encode(body);
  const extra = status === 426 ? "Sec-WebSocket-Version: 13\r\n" : "";
  return `HTTP/1.1 ${status} ${statusText}\r\n${extra}Content-Type: text/plain\r\n` +
    `Content-Length: ${bytes.length}\r\nConnection: close\r\n\r\n${body}`;
}
