/**
 * WebSocket extensions (RFC 6455 §9): the `Sec-WebSocket-Extensions` syntax
 * they are negotiated with, and the hooks a negotiated extension plugs into
 * a {@linkcode Protocol} with. The protocol keeps the framing rules; an
 * extension only transforms data payloads, the way Python `websockets` has
 * `Extension.encode()`/`decode()`, but streaming: a message of any size goes
 * through in bounded pieces.
 *
 * @module
 */

/**
 * A negotiated extension that transforms the payloads of data messages and
 * marks the messages it transformed with RSV bits on their first frame.
 *
 * Sending: the protocol calls {@linkcode Extension.encode} for a message's
 * first frame; when that returns a payload, the frame gets the extension's
 * RSV bits and every continuation of the message goes through `encode` too.
 *
 * Receiving: for a message whose first frame carries the RSV bits, the
 * protocol pushes each piece of payload into {@linkcode Extension.decode},
 * then pulls the decoded bytes with {@linkcode Extension.pull} until it
 * returns null (more input needed) or {@linkcode Extension.messageEnded}.
 * Errors are {@linkcode WebSocketError}s whose `closeCode` the protocol
 * closes with.
 */
export interface Extension {
  /** The registered name, e.g. `permessage-deflate`. */
  readonly name: string;
  /** The RSV bits it sets on a transformed message's first frame (RSV1 = 4). */
  readonly rsv: number;

  /**
   * Transforms the payload of one outgoing data frame.
   *
   * @param first the frame starts a message; return null to send that
   *   message as it is (its continuations then skip the extension)
   * @param fin the frame ends the message
   * @returns the payload to send, or null (first frames only) for "as is"
   */
  encode(payload: Uint8Array, first: boolean, fin: boolean): Uint8Array | null;

  /**
   * Takes the next payload bytes of a transformed incoming message. `data`
   * is a view the extension may read until {@linkcode Extension.pull}
   * returns null or the message has ended; `last` marks the message's final
   * bytes (possibly none).
   */
  decode(data: Uint8Array, last: boolean): void;

  /**
   * The next decoded bytes, at most `max` (a view valid until the next call
   * of either method), or null when the input given so far is used up. The
   * piece that completes the message, possibly empty, is the one after
   * which {@linkcode Extension.messageEnded} is true.
   */
  pull(max: number): Uint8Array | null;

  /** True from the message's last decoded piece until the next decode(). */
  readonly messageEnded: boolean;
}

/** One element of a `Sec-WebSocket-Extensions` list. */
export interface ExtensionElement {
  /** Extension token, lower-cased. */
  name: string;
  /** Parameters in order; names lower-cased, `null` for a parameter without value. */
  params: [name: string, value: string | null][];
}

const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Parses a `Sec-WebSocket-Extensions` value (several header lines joined with
 * ", " are fine). Quoted parameter values are unquoted; they must still be
 * tokens. Returns `null` when the value is malformed.
 */
export function parseExtensions(value: string): ExtensionElement[] | null {
  const s = value;
  let i = 0;
  const skipSpace = () => {
    while (i < s.length && (s[i] === " " || s[i] === "\t")) i++;
  };
  const token = (): string | null => {
    const start = i;
    while (i < s.length && TCHAR.test(s[i])) i++;
    return i > start ? s.slice(start, i) : null;
  };
  const quoted = (): string | null => {
    i++; // opening quote
    let out = "";
    while (i < s.length) {
      const c = s[i++];
      if (c === '"') return out;
      if (c === "\\") {
        if (i >= s.length) return null;
        out += s[i++];
      } else {
        out += c;
      }
    }
    return null; // unterminated
  };

  const result: ExtensionElement[] = [];
  for (;;) {
    skipSpace();
    if (i >= s.length) break;
    if (s[i] === ",") { // empty list element, allowed by the #rule
      i++;
      continue;
    }
    const name = token();
    if (name === null) return null;
    const params: [string, string | null][] = [];
    skipSpace();
    while (s[i] === ";") {
      i++;
      skipSpace();
      const paramName = token();
      if (paramName === null) return null;
      skipSpace();
      let paramValue: string | null = null;
      if (s[i] === "=") {
        i++;
        skipSpace();
        paramValue = s[i] === '"' ? quoted() : token();
        if (paramValue === null || !TOKEN.test(paramValue)) return null;
        skipSpace();
      }
      params.push([paramName.toLowerCase(), paramValue]);
    }
    if (i < s.length && s[i] !== ",") return null;
    result.push({ name: name.toLowerCase(), params });
  }
  return result;
}
