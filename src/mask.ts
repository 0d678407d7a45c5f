/**
 * Payload masking (RFC 6455 §5.3), a 32-bit word at a time.
 *
 * @module
 */

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Below this length a byte loop beats building a word view. */
const WORD_THRESHOLD = 32;

/**
 * XORs `data` in place with the 4-byte masking `key`. `phase` is the position
 * of `data[0]` within the frame payload, so a payload can be masked in pieces:
 * masking is its own inverse, so this also unmasks.
 *
 * @example Mask and unmask a payload in two pieces
 * ```ts
 * import assert from "node:assert/strict";
 * import { mask } from "./mask.ts";
 * const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
 * const data = new TextEncoder().encode("Hello");
 * mask(data, key);
 * assert.deepEqual(data, new Uint8Array([0x7f, 0x9f, 0x4d, 0x51, 0x58]));
 * mask(data.subarray(0, 2), key, 0);
 * mask(data.subarray(2), key, 2);
 * assert.equal(new TextDecoder().decode(data), "Hello"); // masking twice unmasks
 * ```
 */
export function mask(data: Uint8Array, key: Uint8Array, phase = 0): void {
  const len = data.length;
  let i = 0;
  if (len >= WORD_THRESHOLD) {
    // Bytes until the view is 4-byte aligned in its buffer.
    const lead = (4 - ((data.byteOffset) & 3)) & 3;
    for (; i < lead; i++) data[i] ^= key[(phase + i) & 3];
    const p = (phase + i) & 3;
    const k0 = key[p], k1 = key[(p + 1) & 3];
    const k2 = key[(p + 2) & 3], k3 = key[(p + 3) & 3];
    const word = LITTLE_ENDIAN
      ? (k0 | (k1 << 8) | (k2 << 16) | (k3 << 24))
      : ((k0 << 24) | (k1 << 16) | (k2 << 8) | k3);
    const words = (len - i) >>> 2;
    const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
    // Unrolled by four: the loop body is the hot spot of large transfers.
    let w = 0;
    const unrolled = words & ~3;
    for (; w < unrolled; w += 4) {
      view[w] ^= word;
      view[w + 1] ^= word;
      view[w + 2] ^= word;
      view[w + 3] ^= word;
    }
    for (; w < words; w++) view[w] ^= word;
    i += words << 2;
  }
  for (; i < len; i++) data[i] ^= key[(phase + i) & 3];
}

/**
 * Copies `src` into `dst` at `dstOffset`, masking it on the way with `key`
 * starting at payload position `phase`. `src` is left unchanged.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { maskInto } from "./mask.ts";
 * const out = new Uint8Array(7);
 * maskInto(out, 2, new Uint8Array([1, 2, 3]), new Uint8Array([1, 1, 1, 1]), 0);
 * assert.deepEqual(out, new Uint8Array([0, 0, 0, 3, 2, 0, 0]));
 * ```
 */
export function maskInto(
  dst: Uint8Array,
  dstOffset: number,
  src: Uint8Array,
  key: Uint8Array,
  phase = 0,
): void {
  const len = src.length;
  if (len < WORD_THRESHOLD) {
    for (let i = 0; i < len; i++) {
      dst[dstOffset + i] = src[i] ^ key[(phase + i) & 3];
    }
    return;
  }
  dst.set(src, dstOffset);
  mask(dst.subarray(dstOffset, dstOffset + len), key, phase);
}

/**
 * Hands out fresh 4-byte masking keys from `crypto.getRandomValues`, fetched
 * in blocks so that a small frame does not pay for a call of its own. The
 * block is shared by every connection of the process (each key is still
 * used once), so a connection costs no 4 KiB of its own.
 */
export class MaskKeySource {
  static #pool = new Uint8Array(4096);
  static #pos = 4096;

  /** Returns a new random key: a view to use (or copy) at once, before the next key is taken. */
  next(): Uint8Array {
    if (MaskKeySource.#pos >= MaskKeySource.#pool.length) {
      crypto.getRandomValues(MaskKeySource.#pool);
      MaskKeySource.#pos = 0;
    }
    const pos = MaskKeySource.#pos;
    MaskKeySource.#pos += 4;
    return MaskKeySource.#pool.subarray(pos, pos + 4);
  }
}
