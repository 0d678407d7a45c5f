/**
 * Streaming UTF-8 validation that fails fast: an invalid byte is reported in
 * the very chunk where the text stops being a prefix of valid UTF-8, even
 * when a code point is split across frames or reads.
 *
 * @module
 */

/** Below this many bytes a plain byte loop is cheaper than a word view. */
const WORD_SCAN_MIN = 64;

/**
 * Incremental UTF-8 validator (RFC 3629, as required by RFC 6455 §8.1).
 *
 * @example Validate text that arrives in pieces
 * ```ts
 * import assert from "node:assert/strict";
 * import { Utf8Validator } from "./utf8.ts";
 * const v = new Utf8Validator();
 * const euro = new Uint8Array([0xe2, 0x82, 0xac]);
 * assert.equal(v.push(euro.subarray(0, 1)), -1); // still a valid prefix
 * assert.equal(v.complete, false);
 * assert.equal(v.push(euro.subarray(1)), -1);
 * assert.equal(v.complete, true);
 * assert.equal(new Utf8Validator().push(new Uint8Array([0xc0, 0x80])), 0); // overlong: bad at byte 0
 * ```
 */
export class Utf8Validator {
  /** Continuation bytes still owed by the current code point. */
  #need = 0;
  /** Allowed range of the next continuation byte. */
  #lower = 0x80;
  #upper = 0xbf;

  /** True when no code point is left unfinished. */
  get complete(): boolean {
    return this.#need === 0;
  }

  /** Forgets any unfinished code point, for the next message. */
  reset(): void {
    this.#need = 0;
  }

  /**
   * Validates the next chunk. Returns -1 while the text so far is a prefix of
   * valid UTF-8, or the index in `bytes` of the first invalid byte.
   */
  push(bytes: Uint8Array): number {
    const end = bytes.length;
    let i = 0;
    if (this.#need !== 0) {
      // Finish the code point left open by the previous chunk.
      i = this.#resume(bytes, end);
      if (i < 0) return ~i;
      if (this.#need !== 0) return -1;
    }
    while (i < end) {
      let b = bytes[i];
      if (b < 0x80) {
        // ASCII runs are the common case; skip them a word at a time.
        if (end - i >= WORD_SCAN_MIN) {
          i = skipAscii(bytes, i, end);
          if (i >= end) break;
          b = bytes[i];
        } else {
          i++;
          continue;
        }
      }
      // A whole sequence inside this chunk is checked inline, the hot path
      // of non-Latin text; one cut by the chunk's end goes to the slow path.
      if (b >= 0xc2 && b <= 0xdf) {
        if (i + 1 >= end) break;
        if ((bytes[i + 1] & 0xc0) !== 0x80) return i + 1;
        i += 2;
      } else if (b >= 0xe0 && b <= 0xef) {
        if (i + 2 >= end) break;
        const c1 = bytes[i + 1];
        // No overlongs after E0, no surrogates after ED.
        if (
          c1 < (b === 0xe0 ? 0xa0 : 0x80) || c1 > (b === 0xed ? 0x9f : 0xbf)
        ) return i + 1;
        if ((bytes[i + 2] & 0xc0) !== 0x80) return i + 2;
        i += 3;
      } else if (b >= 0xf0 && b <= 0xf4) {
        if (i + 3 >= end) break;
        const c1 = bytes[i + 1];
        // No overlongs after F0, nothing above U+10FFFF after F4.
        if (
          c1 < (b === 0xf0 ? 0x90 : 0x80) || c1 > (b === 0xf4 ? 0x8f : 0xbf)
        ) return i + 1;
        if ((bytes[i + 2] & 0xc0) !== 0x80) return i + 2;
        if ((bytes[i + 3] & 0xc0) !== 0x80) return i + 3;
        i += 4;
      } else {
        return i;
      }
    }
    if (i < end) {
      // A sequence cut by the end of the chunk: validate what is here.
      const r = this.#resume(bytes, end, i);
      if (r < 0) return ~r;
    }
    return -1;
  }

  /**
   * Byte-at-a-time validation from `i` (continuing an open code point, or
   * starting one that the chunk cuts). Returns the index where it stopped,
   * or the bitwise NOT of the index of an invalid byte.
   */
  #resume(bytes: Uint8Array, end: number, i = 0): number {
    let need = this.#need, lower = this.#lower, upper = this.#upper;
    for (; i < end; i++) {
      const b = bytes[i];
      if (need === 0) {
        if (b < 0x80) {
          this.#need = 0;
          return i;
        }
        if (b >= 0xc2 && b <= 0xdf) {
          need = 1;
          lower = 0x80;
          upper = 0xbf;
        } else if (b >= 0xe0 && b <= 0xef) {
          need = 2;
          lower = b === 0xe0 ? 0xa0 : 0x80;
          upper = b === 0xed ? 0x9f : 0xbf;
        } else if (b >= 0xf0 && b <= 0xf4) {
          need = 3;
          lower = b === 0xf0 ? 0x90 : 0x80;
          upper = b === 0xf4 ? 0x8f : 0xbf;
        } else {
          this.#need = 0;
          return ~i;
        }
      } else {
        if (b < lower || b > upper) {
          this.#need = 0;
          return ~i;
        }
        need--;
        lower = 0x80;
        upper = 0xbf;
        if (need === 0) {
          this.#need = 0;
          return i + 1;
        }
      }
    }
    this.#need = need;
    this.#lower = lower;
    this.#upper = upper;
    return i;
  }
}

/** Returns the index of the first non-ASCII byte at or after `i`, or `end`. */
function skipAscii(bytes: Uint8Array, i: number, end: number): number {
  while (i < end && ((bytes.byteOffset + i) & 3) !== 0) {
    if (bytes[i] >= 0x80) return i;
    i++;
  }
  const words = (end - i) >>> 2;
  if (words > 0) {
    const view = new Uint32Array(bytes.buffer, bytes.byteOffset + i, words);
    let w = 0;
    for (; w + 1 < words; w += 2) {
      if (((view[w] | view[w + 1]) & 0x80808080) !== 0) break;
    }
    for (; w < words; w++) {
      if ((view[w] & 0x80808080) !== 0) break;
    }
    i += w << 2;
  }
  while (i < end && bytes[i] < 0x80) i++;
  return i;
}

/**
 * Returns true when `bytes` is complete, valid UTF-8.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isValidUtf8 } from "./utf8.ts";
 * assert.equal(isValidUtf8(new Uint8Array([0xed, 0xa0, 0x80])), false); // a surrogate
 * assert.equal(isValidUtf8(new TextEncoder().encode("€")), true);
 * ```
 */
export function isValidUtf8(bytes: Uint8Array): boolean {
  const v = new Utf8Validator();
  return v.push(bytes) === -1 && v.complete;
}
