/**
 * The argument checks the WHATWG WebSockets standard makes before anything
 * touches the network, shared by `WebSocket` and `WebSocketStream`: the URL,
 * the subprotocol list and `close()`'s code and reason. Each failure is the
 * `DOMException` the standard names.
 *
 * @module
 */

/** `Sec-WebSocket-Protocol` elements are HTTP tokens (RFC 6455 §4.1, RFC 7230 §3.2.6). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The longest close reason that fits a control frame (125 - 2 bytes of code). */
const MAX_REASON_BYTES = 123;

/**
 * "Get a URL record": parse against the document's URL when there is one,
 * map http(s) to ws(s), refuse other schemes and fragments (SyntaxError).
 */
export function webSocketUrl(url: string | URL): URL {
  const base = (globalThis as { location?: { href: string } }).location?.href;
  let parsed: URL;
  try {
    parsed = new URL(String(url), base);
  } catch {
    throw new DOMException(`invalid URL: ${url}`, "SyntaxError");
  }
  if (parsed.protocol === "http:") parsed.protocol = "ws:";
  else if (parsed.protocol === "https:") parsed.protocol = "wss:";
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new DOMException(
      `the URL's scheme must be ws or wss, not ${parsed.protocol}`,
      "SyntaxError",
    );
  }
  // `hash` is "" both for no fragment and for an empty one ("…/#").
  if (parsed.href.includes("#")) {
    throw new DOMException("a WebSocket URL has no fragment", "SyntaxError");
  }
  return parsed;
}

/**
 * The subprotocols to offer: each a token, none repeated (compared without
 * case, as the web-platform-tests require), else SyntaxError.
 */
export function subprotocols(protocols?: string | string[]): string[] {
  if (protocols === undefined) return [];
  const list = typeof protocols === "string" ? [protocols] : [...protocols];
  const seen = new Set<string>();
  for (const p of list.map(String)) {
    if (!TOKEN.test(p)) {
      throw new DOMException(
        `invalid subprotocol ${JSON.stringify(p)}`,
        "SyntaxError",
      );
    }
    const key = p.toLowerCase();
    if (seen.has(key)) {
      throw new DOMException(`subprotocol ${p} is repeated`, "SyntaxError");
    }
    seen.add(key);
  }
  return list.map(String);
}

/** A close code and reason that passed the standard's checks. */
export interface CloseArgs {
  /** Undefined: send a close frame without a body. */
  code?: number;
  reason: string;
}

/**
 * `close(code, reason)`'s checks: the code is converted like WebIDL's
 * `[Clamp] unsigned short` and must be 1000 or 3000-4999
 * (InvalidAccessError); the reason, as a USVString, must fit 123 UTF-8
 * bytes (SyntaxError). A reason without a code means 1000.
 */
export function closeArgs(code?: unknown, reason?: unknown): CloseArgs {
  let n: number | undefined;
  if (code !== undefined) {
    n = clampUnsignedShort(code);
    if (n !== 1000 && !(n >= 3000 && n <= 4999)) {
      throw new DOMException(
        `close code must be 1000 or 3000-4999, not ${n}`,
        "InvalidAccessError",
      );
    }
  }
  const text = reason === undefined ? "" : toUSVString(String(reason));
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > MAX_REASON_BYTES) {
    throw new DOMException(
      `close reason is ${bytes} bytes; at most ${MAX_REASON_BYTES} fit`,
      "SyntaxError",
    );
  }
  if (n === undefined && text !== "") n = 1000;
  return { code: n, reason: text };
}

/** WebIDL `[Clamp] unsigned short`: NaN is 0, clamp, round half to even. */
function clampUnsignedShort(value: unknown): number {
  const x = Number(value);
  if (Number.isNaN(x)) return 0;
  const clamped = Math.min(Math.max(x, 0), 65535);
  const floor = Math.floor(clamped);
  const frac = clamped - floor;
  if (frac > 0.5 || (frac === 0.5 && floor % 2 === 1)) return floor + 1;
  return floor;
}

/** Unpaired surrogates become U+FFFD, as WebIDL's USVString conversion does. */
export function toUSVString(s: string): string {
  return s.toWellFormed();
}
