/**
 * Codec micro-benchmarks: masking, frame header encode/decode and UTF-8
 * validation. Run with `deno task bench` (or `deno bench bench/codec_bench.ts`);
 * `deno run bench/codec_gbps.ts` runs them and converts time/iter into GB/s.
 *
 * Bench names carry the bytes (or items) one iteration handles, e.g.
 * "mask 64 KiB" or "writeHeader x1000", which codec_gbps.ts parses.
 *
 * @module
 */

import { mask } from "../src/mask.ts";
import { DecodeResult, FrameDecoder, writeHeader } from "../src/frame.ts";
import { Utf8Validator } from "../src/utf8.ts";

const KEY = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

/** Deterministic filler so that runs are comparable. */
function patterned(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + 7) & 0xff;
  return out;
}

// --- masking ---------------------------------------------------------------

const MASK_SIZES: [string, number][] = [
  ["16 B", 16],
  ["1 KiB", 1024],
  ["64 KiB", 64 * 1024],
  ["1 MiB", 1024 * 1024],
];

for (const [label, size] of MASK_SIZES) {
  const data = patterned(size);
  Deno.bench({
    name: `mask ${label}`,
    group: `mask ${label}`,
    baseline: true,
    fn() {
      // Masking twice restores the data, so every iteration sees the same bytes.
      mask(data, KEY, 0);
    },
  });
  // A view that starts off a 4-byte boundary, with a non-zero phase: the path
  // taken when a frame's payload is unmasked in pieces as reads arrive.
  const unaligned = patterned(size + 1).subarray(1);
  Deno.bench({
    name: `mask unaligned phase=3 ${label}`,
    group: `mask ${label}`,
    fn() {
      mask(unaligned, KEY, 3);
    },
  });
}

// --- frame headers -----------------------------------------------------------

const HEADERS_PER_ITER = 1000;
const headerOut = new Uint8Array(14 * HEADERS_PER_ITER);

/** Payload lengths that exercise the 7-bit, 16-bit and 64-bit length forms. */
const HEADER_LENGTHS: [string, number][] = [
  ["len 100", 100],
  ["len 16 KiB", 16 * 1024],
  ["len 1 MiB", 1024 * 1024],
];

for (const [label, length] of HEADER_LENGTHS) {
  Deno.bench({
    name: `writeHeader masked ${label} x${HEADERS_PER_ITER}`,
    group: "writeHeader",
    fn() {
      let o = 0;
      for (let i = 0; i < HEADERS_PER_ITER; i++) {
        o += writeHeader(headerOut, o, true, 0, 0x2, length, KEY);
      }
    },
  });
}

/**
 * A buffer of `count` unmasked binary frames with `payload`-byte payloads, as
 * a server sends them to a client.
 */
function frameStream(count: number, payload: number): Uint8Array {
  const head = new Uint8Array(14);
  const headLen = writeHeader(head, 0, true, 0, 0x2, payload, null);
  const frame = headLen + payload;
  const out = new Uint8Array(frame * count);
  for (let i = 0; i < count; i++) out.set(head.subarray(0, headLen), i * frame);
  return out;
}

const DECODE_CASES: [string, number][] = [
  ["payload 16 B", 16],
  ["payload 1 KiB", 1024],
];

for (const [label, payload] of DECODE_CASES) {
  const stream = frameStream(HEADERS_PER_ITER, payload);
  const decoder = new FrameDecoder();
  Deno.bench({
    name: `FrameDecoder ${label} x${HEADERS_PER_ITER}`,
    group: "FrameDecoder",
    fn() {
      decoder.feed(stream);
      let frames = 0;
      for (let r; (r = decoder.next(1 << 20)) !== DecodeResult.NEED_MORE;) {
        if (r === DecodeResult.HEADER) frames++;
      }
      if (frames !== HEADERS_PER_ITER) throw new Error(`decoded ${frames}`);
    },
  });
}

// --- UTF-8 validation ----------------------------------------------------------

const MIB = 1024 * 1024;

/** 1 MiB of `unit` repeated (cut at a code point boundary, then padded with ASCII). */
function textOfMiB(unit: string): Uint8Array {
  const piece = new TextEncoder().encode(unit);
  const out = new Uint8Array(MIB).fill(0x61); // 'a'
  let o = 0;
  while (o + piece.length <= MIB) {
    out.set(piece, o);
    o += piece.length;
  }
  return out;
}

const TEXTS: [string, Uint8Array][] = [
  ["ASCII 1 MiB", textOfMiB("The quick brown fox jumps over the lazy dog. ")],
  // 1-, 2-, 3- and 4-byte sequences mixed: mostly non-ASCII bytes.
  ["multi-byte 1 MiB", textOfMiB("héllo wörld – 日本語のテキスト 😀🚀 ")],
];

const fatalDecoder = new TextDecoder("utf-8", { fatal: true });

for (const [label, bytes] of TEXTS) {
  Deno.bench({
    name: `Utf8Validator.push ${label}`,
    group: `utf8 ${label}`,
    baseline: true,
    fn() {
      const v = new Utf8Validator();
      if (v.push(bytes) !== -1 || !v.complete) throw new Error("invalid");
    },
  });
  Deno.bench({
    name: `Utf8Validator.push 16 KiB pieces ${label}`,
    group: `utf8 ${label}`,
    fn() {
      const v = new Utf8Validator();
      for (let o = 0; o < bytes.length; o += 16384) {
        if (v.push(bytes.subarray(o, o + 16384)) !== -1) {
          throw new Error("invalid");
        }
      }
    },
  });
  Deno.bench({
    name: `TextDecoder fatal decode (reference) ${label}`,
    group: `utf8 ${label}`,
    fn() {
      // Also builds a string, so it does more than validate: a reference point.
      fatalDecoder.decode(bytes);
    },
  });
}
