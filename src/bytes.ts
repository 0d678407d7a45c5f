/**
 * Byte-array helpers shared by the modules.
 *
 * @module
 */

/**
 * Joins byte arrays into one new array. `size` is the total length when the
 * caller already knows it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { concat } from "./bytes.ts";
 * assert.deepEqual(concat([new Uint8Array([1]), new Uint8Array([2, 3])]), new Uint8Array([1, 2, 3]));
 * ```
 */
export function concat(parts: Uint8Array[], size?: number): Uint8Array {
  if (size === undefined) {
    size = 0;
    for (const p of parts) size += p.length;
  }
  const out = new Uint8Array(size);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
