import assert from "node:assert/strict";
import { mask, maskInto, MaskKeySource } from "../src/mask.ts";

function byteMask(
  data: Uint8Array,
  key: Uint8Array,
  phase: number,
): Uint8Array {
  return data.map((b, i) => b ^ key[(phase + i) & 3]);
}

Deno.test("mask: RFC 6455 §5.7 example 'Hello'", () => {
  const data = new TextEncoder().encode("Hello");
  mask(data, new Uint8Array([0x37, 0xfa, 0x21, 0x3d]));
  assert.deepEqual([...data], [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
});

Deno.test("mask: word path equals byte reference at every alignment, length and phase", () => {
  const key = new Uint8Array([0x12, 0x34, 0x56, 0x78]);
  const backing = new Uint8Array(300);
  for (let i = 0; i < backing.length; i++) backing[i] = (i * 31 + 7) & 0xff;
  for (let start = 0; start < 4; start++) {
    for (const len of [0, 1, 3, 31, 32, 33, 64, 100, 257]) {
      for (let phase = 0; phase < 4; phase++) {
        const copy = backing.slice();
        const view = copy.subarray(start, start + len);
        const expected = byteMask(view, key, phase);
        mask(view, key, phase);
        assert.deepEqual(
          view,
          expected,
          `start=${start} len=${len} phase=${phase}`,
        );
        // bytes outside the view are untouched
        assert.deepEqual(copy.subarray(0, start), backing.subarray(0, start));
        assert.deepEqual(
          copy.subarray(start + len),
          backing.subarray(start + len),
        );
      }
    }
  }
});

Deno.test("mask: masking in pieces equals masking whole, and is its own inverse", () => {
  const key = crypto.getRandomValues(new Uint8Array(4));
  const original = crypto.getRandomValues(new Uint8Array(1000));
  const whole = original.slice();
  mask(whole, key);
  const pieces = original.slice();
  for (const [a, b] of [[0, 1], [1, 38], [38, 500], [500, 999], [999, 1000]]) {
    mask(pieces.subarray(a, b), key, a);
  }
  assert.deepEqual(pieces, whole);
  mask(whole, key);
  assert.deepEqual(whole, original);
});

Deno.test("maskInto: copies masked bytes, leaves the source alone", () => {
  const key = new Uint8Array([1, 2, 3, 4]);
  for (const len of [5, 100]) {
    const src = crypto.getRandomValues(new Uint8Array(len));
    const before = src.slice();
    const dst = new Uint8Array(len + 3);
    maskInto(dst, 3, src, key, 2);
    assert.deepEqual(src, before);
    assert.deepEqual(dst.subarray(3), byteMask(src, key, 2));
    assert.deepEqual([...dst.subarray(0, 3)], [0, 0, 0]);
  }
});

Deno.test("MaskKeySource: keys are 4 bytes and not all the same", () => {
  const src = new MaskKeySource();
  const seen = new Set<string>();
  for (let i = 0; i < 3000; i++) {
    const k = src.next();
    assert.equal(k.length, 4);
    seen.add(k.join(","));
  }
  assert.ok(seen.size > 2900, `only ${seen.size} distinct keys of 3000`);
});
