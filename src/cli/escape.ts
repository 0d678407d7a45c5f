/**
 * Peer-controlled text made safe for a terminal: control characters (which
 * can retitle a window, move the cursor or rewrite what was shown) and
 * bidirectional overrides are written as visible escapes.
 *
 * @module
 */

/**
 * C0 controls but tab and newline, DEL, C1 controls (U+0080-U+009F; U+009B
 * is a CSI for some terminals), line/paragraph separators and the bidi
 * embedding, override and isolate characters.
 */
const UNSAFE =
  // deno-lint-ignore no-control-regex
  /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const UNSAFE_IN_LINE =
  // deno-lint-ignore no-control-regex
  /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function visible(c: string): string {
  const code = c.charCodeAt(0);
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u{${code.toString(16)}}`;
}

/**
 * `text` with every control character escaped (`\x1b`, `\u{202e}`); tabs
 * and newlines are kept unless `oneLine`.
 *
 * @example
 * ```ts
 * import { escapeControls } from "./escape.ts";
 * console.log(escapeControls("403 Forbidden\x1b]0;PWNED\x07")); // 403 Forbidden\x1b]0;PWNED\x07
 * ```
 */
export function escapeControls(text: string, oneLine = false): string {
  return text.replace(oneLine ? UNSAFE_IN_LINE : UNSAFE, visible);
}
