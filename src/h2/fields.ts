/**
 * The HTTP/2 rules for a response's field section (RFC 9113 §8.2 and §8.3):
 * a section that breaks them is malformed, a stream error PROTOCOL_ERROR.
 *
 * @module
 */

import { H2Code, type Http2Error, streamError } from "./errors.ts";
import type { HeaderField } from "./hpack_table.ts";

/** Fields that belong to HTTP/1.1 connections and are malformed in HTTP/2 (§8.2.2). */
const CONNECTION_SPECIFIC = new Set([
  "connection",
  "proxy-connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
]);

/** A name is lowercase token characters; `:` starts a pseudo-header only. */
const NAME_RE = /^:?[!#$%&'*+\-.^_`|~0-9a-z]+$/;
/** No NUL, CR or LF anywhere, no whitespace at either end (§8.2.1). */
const BAD_VALUE_RE = /[\0\r\n]|^[ \t]|[ \t]$/;

/**
 * Why a field cannot be sent or accepted in HTTP/2 (§8.2.1), or null when
 * it is well-formed.
 */
export function fieldSyntaxError(name: string, value: string): string | null {
  if (!NAME_RE.test(name)) {
    return `field name ${
      JSON.stringify(name.slice(0, 40))
    } is not lowercase token characters`;
  }
  if (BAD_VALUE_RE.test(value)) {
    return `field ${name} has a forbidden character or surrounding whitespace`;
  }
  return null;
}

/**
 * Checks a response field section and returns its `:status` (null for
 * trailers). Throws a stream error PROTOCOL_ERROR when it is malformed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkResponseFields } from "./fields.ts";
 * assert.equal(checkResponseFields(1, [[":status", "200"], ["server", "x"]], false), 200);
 * ```
 */
export function checkResponseFields(
  streamId: number,
  fields: readonly HeaderField[],
  trailers: boolean,
): number | null {
  const bad = (why: string): Http2Error =>
    streamError(streamId, H2Code.PROTOCOL_ERROR, `malformed response: ${why}`);
  let status: number | null = null;
  let regularSeen = false;
  for (const [name, value] of fields) {
    const syntax = fieldSyntaxError(name, value);
    if (syntax !== null) throw bad(syntax);
    if (name[0] === ":") {
      if (trailers) throw bad(`pseudo-header ${name} in trailers`);
      if (name !== ":status") throw bad(`pseudo-header ${name} in a response`);
      if (regularSeen) throw bad(":status after regular fields");
      if (status !== null) throw bad("two :status fields");
      if (!/^[1-9][0-9][0-9]$/.test(value)) {
        throw bad(`:status ${JSON.stringify(value)}`);
      }
      status = Number(value);
      if (status === 101) throw bad("101 does not exist in HTTP/2 (§8.6)");
      continue;
    }
    regularSeen = true;
    if (
      CONNECTION_SPECIFIC.has(name) || (name === "te" && value !== "trailers")
    ) {
      throw bad(`connection-specific field ${name}`);
    }
  }
  if (!trailers && status === null) throw bad("no :status");
  return status;
}
