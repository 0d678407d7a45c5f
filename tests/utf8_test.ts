import assert from "node:assert/strict";
import { isValidUtf8, Utf8Validator } from "../src/utf8.ts";

const bytes = (...b: number[]) => new Uint8Array(b);

Deno.test("utf8: valid text of every length class passes, also byte by byte", () => {
  const text = "aé€😀 plain ASCII " + "x".repeat(200) +
    "中文 \u{10FFFF} \uFFFE \uFFFF";
  const enc = new TextEncoder().encode(text);
  assert.ok(isValidUtf8(enc));
  const v = new Utf8Validator();
  for (const b of enc) assert.equal(v.push(bytes(b)), -1);
  assert.ok(v.complete);
});

Deno.test("utf8: incomplete sequence at the end is a valid prefix but not complete", () => {
  const v = new Utf8Validator();
  assert.equal(v.push(bytes(0x61, 0xf0, 0x9f)), -1);
  assert.equal(v.complete, false);
  assert.equal(v.push(bytes(0x98, 0x80)), -1);
  assert.equal(v.complete, true);
  assert.equal(isValidUtf8(bytes(0xe2, 0x82)), false);
});

Deno.test("utf8: invalid sequences fail at the first byte that makes them invalid", () => {
  const cases: [number[], number][] = [
    [[0x80], 0], // lone continuation
    [[0xc0, 0x80], 0], // overlong lead C0
    [[0xc1, 0xbf], 0], // overlong lead C1
    [[0xe0, 0x80, 0x80], 1], // overlong 3-byte
    [[0xe0, 0x9f, 0xbf], 1], // overlong 3-byte
    [[0xed, 0xa0, 0x80], 1], // surrogate D800
    [[0xed, 0xbf, 0xbf], 1], // surrogate DFFF
    [[0xf0, 0x80, 0x80, 0x80], 1], // overlong 4-byte
    [[0xf0, 0x8f, 0xbf, 0xbf], 1],
    [[0xf4, 0x90, 0x80, 0x80], 1], // above U+10FFFF
    [[0xf5, 0x80, 0x80, 0x80], 0], // lead above F4
    [[0xf8, 0x88, 0x80, 0x80, 0x80], 0], // 5-byte form
    [[0xfc, 0x84, 0x80, 0x80, 0x80, 0x80], 0], // 6-byte form
    [[0xfe], 0],
    [[0xff], 0],
    [[0x61, 0xc2, 0x41], 2], // missing continuation
    [[
      0xce,
      0xba,
      0xe1,
      0xbd,
      0xb9,
      0xcf,
      0x83,
      0xce,
      0xbc,
      0xce,
      0xb5,
      0xed,
      0xa0,
      0x80,
      0x65,
      0x64,
      0x69,
      0x74,
      0x65,
      0x64,
    ], 12], // Autobahn 6.4.x
  ];
  for (const [seq, at] of cases) {
    assert.equal(
      new Utf8Validator().push(new Uint8Array(seq)),
      at,
      seq.map((b) => b.toString(16)).join(" "),
    );
  }
});

Deno.test("utf8: failure is detected in the chunk where it happens (fail fast)", () => {
  // "κόσμε" then a surrogate split across chunks: the error shows in the chunk with 0xa0.
  const v = new Utf8Validator();
  assert.equal(v.push(bytes(0xce, 0xba, 0xed)), -1);
  assert.equal(v.push(bytes(0xa0, 0x80)), 0);
});

Deno.test("utf8: ASCII fast path agrees with TextDecoder on random input", () => {
  const fatal = new TextDecoder("utf-8", { fatal: true });
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
  for (let round = 0; round < 2000; round++) {
    const len = rnd() % 300;
    const buf = new Uint8Array(len);
    for (let i = 0; i < len; i++) {
      // mostly ASCII with occasional high bytes
      buf[i] = rnd() % 20 === 0 ? 0x80 + (rnd() % 128) : rnd() % 128;
    }
    let ok = true;
    try {
      fatal.decode(buf);
    } catch {
      ok = false;
    }
    const start = rnd() % 4;
    const shifted = new Uint8Array(len + 4).subarray(start, start + len);
    shifted.set(buf);
    assert.equal(isValidUtf8(shifted), ok, `round ${round}`);
  }
});

Deno.test("utf8: mutated multi-byte text under random chunking agrees with TextDecoder", () => {
  const fatal = new TextDecoder("utf-8", { fatal: true });
  let seed = 987654;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
  const alphabet = [
    "a",
    "é",
    "ж",
    "€",
    "中",
    "😀",
    "\u{10FFFF}",
    "\uFFFF",
    " ",
  ];
  for (let round = 0; round < 3000; round++) {
    let text = "";
    const n = rnd() % 40;
    for (let i = 0; i < n; i++) text += alphabet[rnd() % alphabet.length];
    const buf = new TextEncoder().encode(text);
    if (buf.length > 0 && rnd() % 3 !== 0) {
      buf[rnd() % buf.length] = rnd() & 0xff;
    }
    let ok = true;
    try {
      fatal.decode(buf);
    } catch {
      ok = false;
    }
    const v = new Utf8Validator();
    let valid = true;
    for (let i = 0; i < buf.length && valid;) {
      const len = 1 + rnd() % 7;
      if (v.push(buf.subarray(i, i + len)) !== -1) valid = false;
      i += len;
    }
    assert.equal(
      valid && v.complete,
      ok,
      `round ${round}: ${[...buf].map((b) => b.toString(16)).join(" ")}`,
    );
  }
});

Deno.test("utf8: large chunks (native bulk check) report the same first bad byte as byte-by-byte", () => {
  const text = new TextEncoder().encode(
    "héllo wörld – 日本語のテキスト 😀🚀 ".repeat(300),
  );
  let seed = 4242;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
  const byteByByte = (buf: Uint8Array): number => {
    const v = new Utf8Validator();
    for (let i = 0; i < buf.length; i++) {
      if (v.push(buf.subarray(i, i + 1)) !== -1) return i;
    }
    return v.complete ? -1 : -2;
  };
  for (let round = 0; round < 300; round++) {
    const buf = text.slice(0, text.length - (round % 7));
    if (round % 5 !== 0) buf[rnd() % buf.length] = rnd() & 0xff;
    const v = new Utf8Validator();
    const bulk = v.push(buf);
    const expected = byteByByte(buf);
    assert.equal(
      bulk === -1 && !v.complete ? -2 : bulk,
      expected,
      `round ${round}`,
    );
  }
});
