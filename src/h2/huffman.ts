/**
 * The HPACK Huffman code (RFC 7541 §5.2 and Appendix B): encoding, and
 * decoding that rejects the EOS symbol and padding that is not a prefix of
 * EOS or is longer than 7 bits.
 *
 * @module
 */

import { connectionError, H2Code } from "./errors.ts";

/**
 * Code length in bits of each symbol 0..255 and EOS (256), the `len` column
 * of RFC 7541 Appendix B. The code is canonical: within a length, codes are
 * consecutive in symbol order, and each length starts where the shorter
 * ones end, so the lengths alone determine every code (checked against the
 * RFC's hex column in tests/h2_hpack_test.ts).
 */
// deno-fmt-ignore
const CODE_LENGTHS: readonly number[] = [
  //  0   1   2   3   4   5   6   7   8   9   a   b   c   d   e   f
     13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0x00
     28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 0x10
      6, 10, 10, 12, 13,  6,  8, 11, 10, 10,  8, 11,  8,  6,  6,  6, // 0x20 ' '..'/'
      5,  5,  5,  6,  6,  6,  6,  6,  6,  6,  7,  8, 15,  6, 12, 10, // 0x30 '0'..'?'
     13,  6,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7, // 0x40 '@'..'O'
      7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  8, 13, 19, 13, 14,  6, // 0x50 'P'..'_'
     15,  5,  6,  5,  6,  5,  6,  6,  6,  5,  7,  7,  6,  6,  6,  5, // 0x60 '`'..'o'
      6,  7,  6,  5,  5,  6,  7,  7,  7,  7,  7, 15, 11, 14, 13, 28, // 0x70 'p'..DEL
     20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 0x80
     24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 0x90
     22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 0xa0
     21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 0xb0
     26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 0xc0
     19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 0xd0
     20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 0xe0
     26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 0xf0
     30,                                                             // EOS
];

/** The EOS symbol; it must never appear in an encoded string. */
const EOS = 256;

/** `HUFFMAN_CODES[sym]`: the code of `sym`, right-aligned (the RFC's hex column). */
export const HUFFMAN_CODES: Uint32Array = new Uint32Array(257);
/** `HUFFMAN_LENGTHS[sym]`: the code length of `sym` in bits. */
export const HUFFMAN_LENGTHS: Uint8Array = Uint8Array.from(CODE_LENGTHS);

/**
 * Decoding tree: node n has children at 2n (bit 0) and 2n+1 (bit 1); a value
 * v > 0 is the next node, v <= 0 is the leaf of symbol -v.
 */
const TREE = new Int32Array(2 * 257);

(function buildCode() {
  const order = [...CODE_LENGTHS.keys()].sort((a, b) =>
    CODE_LENGTHS[a] - CODE_LENGTHS[b] || a - b
  );
  let code = 0, len = CODE_LENGTHS[order[0]];
  for (const sym of order) {
    code *= 2 ** (CODE_LENGTHS[sym] - len);
    len = CODE_LENGTHS[sym];
    HUFFMAN_CODES[sym] = code++;
  }
  let nodes = 1;
  for (let sym = 0; sym <= EOS; sym++) {
    let node = 0;
    for (let bit = HUFFMAN_LENGTHS[sym] - 1; bit >= 0; bit--) {
      const slot = 2 * node + ((HUFFMAN_CODES[sym] >>> bit) & 1);
      if (bit === 0) TREE[slot] = -sym;
      else node = TREE[slot] > 0 ? TREE[slot] : (TREE[slot] = nodes++);
    }
  }
})();

/** Length in bytes of the Huffman encoding of `data`. */
export function huffmanEncodedLength(data: Uint8Array): number {
  let bits = 0;
  for (let i = 0; i < data.length; i++) bits += HUFFMAN_LENGTHS[data[i]];
  return Math.ceil(bits / 8);
}

/**
 * Huffman-encodes `data`, padding the last byte with the most significant
 * bits of EOS (all ones).
 *
 * @example RFC 7541 C.4.1
 * ```ts
 * import assert from "node:assert/strict";
 * import { huffmanEncode } from "./huffman.ts";
 * assert.deepEqual(
 *   huffmanEncode(new TextEncoder().encode("www.example.com")),
 *   new Uint8Array([0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff]),
 * ); // RFC 7541 C.4.1
 * ```
 */
export function huffmanEncode(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(huffmanEncodedLength(data));
  // acc holds at most 7 pending bits plus one code of up to 30 bits: exact in
  // a double, and kept as a number so no BigInt is needed.
  let acc = 0, bits = 0, o = 0;
  for (let i = 0; i < data.length; i++) {
    const len = HUFFMAN_LENGTHS[data[i]];
    acc = acc * (1 << len) + HUFFMAN_CODES[data[i]];
    bits += len;
    while (bits >= 8) {
      bits -= 8;
      const scale = 2 ** bits;
      const byte = Math.floor(acc / scale);
      out[o++] = byte;
      acc -= byte * scale;
    }
  }
  if (bits > 0) out[o] = (acc << (8 - bits)) | ((1 << (8 - bits)) - 1);
  return out;
}

/**
 * Decodes a Huffman-encoded string. Throws a COMPRESSION_ERROR connection
 * error on EOS, on padding of 8 bits or more, and on padding that is not all
 * ones (RFC 7541 §5.2).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { huffmanDecode } from "./huffman.ts";
 * const bytes = new Uint8Array([0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf]);
 * assert.equal(new TextDecoder().decode(huffmanDecode(bytes)), "no-cache");
 * ```
 */
export function huffmanDecode(data: Uint8Array): Uint8Array {
  // The shortest code is 5 bits, so n bytes decode to at most 8n/5 symbols.
  const out = new Uint8Array(Math.floor(data.length * 8 / 5));
  let o = 0, node = 0, depth = 0, ones = true;
  for (let i = 0; i < data.length; i++) {
    const byte = data[i];
    for (let bit = 7; bit >= 0; bit--) {
      const b = (byte >>> bit) & 1;
      const next = TREE[2 * node + b];
      if (next > 0) {
        node = next;
        depth++;
        ones &&= b === 1;
        continue;
      }
      if (next === -EOS) {
        throw connectionError(
          H2Code.COMPRESSION_ERROR,
          "Huffman string contains EOS",
        );
      }
      out[o++] = -next;
      node = 0;
      depth = 0;
      ones = true;
    }
  }
  if (depth > 7) {
    throw connectionError(
      H2Code.COMPRESSION_ERROR,
      "Huffman padding longer than 7 bits",
    );
  }
  if (!ones) {
    throw connectionError(
      H2Code.COMPRESSION_ERROR,
      "Huffman padding is not a prefix of EOS",
    );
  }
  return out.subarray(0, o);
}
