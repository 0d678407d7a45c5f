/**
 * ChunkQueue: received bytes come out in order and whole under any chunk
 * sizes and read sizes, and small chunks never cost an object each.
 */
import assert from "node:assert/strict";
import { ChunkQueue } from "../src/io/chunk_queue.ts";
import { assertSameBytes } from "./helpers.ts";
import { Rng } from "./rng.ts";

Deno.test("chunk queue: random pushes and takes return every byte in order (seeded)", () => {
  for (let seed = 1; seed <= 40; seed++) {
    const rng = new Rng(seed);
    const q = new ChunkQueue();
    const sent: number[] = [];
    const got: number[] = [];
    let next = 0;
    for (let step = 0; step < 400; step++) {
      if (rng.chance(0.6)) {
        // Mostly small chunks, some at and above the 1 KiB threshold.
        const size = rng.pick([0, 1, 2, 7, 100, 1023, 1024, 1025, 5000]);
        const chunk = new Uint8Array(size);
        for (let i = 0; i < size; i++) chunk[i] = (next + i) & 0xff;
        next += size;
        for (const b of chunk) sent.push(b);
        q.push(chunk);
      } else {
        const into = new Uint8Array(rng.pick([1, 3, 512, 4096, 20000]));
        const n = q.take(into);
        for (const b of into.subarray(0, n)) got.push(b);
      }
      assert.equal(q.bytes, sent.length - got.length, `seed ${seed}`);
      // Every pushed chunk has a buffer of its own size here, so the bound
      // is twice the bytes held, plus the open run and a partly read head.
      assert.ok(
        q.footprint <= 2 * q.bytes + 16384 + 5000,
        `seed ${seed}: footprint ${q.footprint} for ${q.bytes} bytes`,
      );
    }
    const rest = new Uint8Array(q.bytes);
    assert.equal(q.take(rest), rest.length);
    for (const b of rest) got.push(b);
    assertSameBytes(
      new Uint8Array(got),
      new Uint8Array(sent),
      `seed ${seed}`,
    );
    assert.equal(q.bytes, 0);
  }
});

Deno.test("chunk queue: 100,000 one-byte chunks are held in a few shared runs", () => {
  const q = new ChunkQueue();
  for (let i = 0; i < 100_000; i++) q.push(new Uint8Array([i & 0xff]));
  assert.equal(q.bytes, 100_000);
  assert.ok(q.chunkCount <= 7, `${q.chunkCount} chunks for 100,000 bytes`);
  const all = new Uint8Array(100_000);
  assert.equal(q.take(all), 100_000);
  for (let i = 0; i < all.length; i += 9973) assert.equal(all[i], i & 0xff);
});

Deno.test("chunk queue: one byte between large chunks is copied out of its run, not kept with 16 KiB", () => {
  const q = new ChunkQueue();
  for (let i = 0; i < 50; i++) {
    q.push(new Uint8Array(1));
    q.push(new Uint8Array(2048));
  }
  assert.equal(q.chunkCount, 100);
  // Each lone byte is copied out of its 16 KiB run: 50 × (1 + 2048).
  assert.equal(q.footprint, 50 * 2049);
  const held = new Uint8Array(q.bytes);
  assert.equal(q.take(held), 50 * 2049);
});
