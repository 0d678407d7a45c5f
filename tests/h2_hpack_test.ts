/**
 * HPACK (RFC 7541): the Appendix C examples byte for byte in both
 * directions, the Appendix B Huffman code, and the decoder's refusals.
 */
import assert from "node:assert/strict";
import { Http2Error } from "../src/h2/errors.ts";
import {
  decodeInteger,
  encodeInteger,
  type HeaderField,
  HpackDecoder,
  HpackEncoder,
} from "../src/h2/hpack.ts";
import {
  HUFFMAN_CODES,
  HUFFMAN_LENGTHS,
  huffmanDecode,
  huffmanEncode,
} from "../src/h2/huffman.ts";

const hex = (b: Uint8Array) =>
  [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
const bytes = (h: string) =>
  new Uint8Array(
    h.replace(/\s+/g, "").match(/../g)!.map((x) => parseInt(x, 16)),
  );
const text = (s: string) => new TextEncoder().encode(s);

function assertCompressionError(f: () => unknown, what: string): void {
  assert.throws(f, (e) => {
    assert.ok(e instanceof Http2Error, `${what}: ${e}`);
    assert.equal(e.http2Code, 0x9, `${what}: ${e.message}`);
    assert.equal(e.streamId, 0);
    return true;
  });
}

Deno.test("hpack: C.1 integer representation", () => {
  assert.equal(hex(encodeInteger(10, 5)), "0a");
  assert.equal(hex(encodeInteger(1337, 5)), "1f9a0a");
  assert.equal(hex(encodeInteger(42, 8)), "2a");
  assert.deepEqual(decodeInteger(bytes("1f9a0a"), 0, 5), [1337, 3]);
  assert.deepEqual(decodeInteger(bytes("ea"), 0, 5), [10, 1]); // high bits ignored
  assert.deepEqual(decodeInteger(bytes("1f00"), 0, 5), [31, 2]);
  for (const v of [0, 30, 31, 127, 128, 255, 16383, 16384, 2 ** 31 - 1]) {
    for (const prefix of [4, 5, 6, 7, 8]) {
      assert.deepEqual(
        decodeInteger(encodeInteger(v, prefix), 0, prefix)[0],
        v,
        `${v}/${prefix}`,
      );
    }
  }
  assertCompressionError(() => decodeInteger(bytes("1f9a"), 0, 5), "truncated");
  assertCompressionError(
    () => decodeInteger(bytes("1fffffffff0f"), 0, 5),
    "above 2^31-1",
  );
  assertCompressionError(
    () => decodeInteger(bytes("1f" + "80".repeat(50)), 0, 5),
    "endless continuation",
  );
});

Deno.test("hpack: C.2 field representations decode, with the table after each", () => {
  const cases: Array<[string, HeaderField[], number]> = [
    [
      "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
      [["custom-key", "custom-header"]],
      55,
    ],
    ["040c 2f73 616d 706c 652f 7061 7468", [[":path", "/sample/path"]], 0],
    [
      "1008 7061 7373 776f 7264 0673 6563 7265 74",
      [["password", "secret"]],
      0,
    ],
    ["82", [[":method", "GET"]], 0],
  ];
  for (const [block, want, size] of cases) {
    const d = new HpackDecoder();
    assert.deepEqual(d.decode(bytes(block)), want);
    assert.equal(d.table.size, size, block);
    assert.deepEqual(d.table.entries(), size ? want : []);
  }
  // The encoder never indexes secrets: authorization goes out as C.2.3 does.
  const e = new HpackEncoder({ huffman: false });
  const block = e.encode([["authorization", "secret"]]);
  assert.equal(hex(block), "1f0806736563726574"); // never indexed, name index 23
  assert.equal(e.table.length, 0);
});

interface Step {
  fields: HeaderField[];
  plain: string;
  huffman: string;
  table: HeaderField[];
  size: number;
}

const requests: Step[] = [
  {
    fields: [[":method", "GET"], [":scheme", "http"], [":path", "/"], [
      ":authority",
      "www.example.com",
    ]],
    plain: "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
    huffman: "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
    table: [[":authority", "www.example.com"]],
    size: 57,
  },
  {
    fields: [
      [":method", "GET"],
      [":scheme", "http"],
      [":path", "/"],
      [":authority", "www.example.com"],
      ["cache-control", "no-cache"],
    ],
    plain: "8286 84be 5808 6e6f 2d63 6163 6865",
    huffman: "8286 84be 5886 a8eb 1064 9cbf",
    table: [["cache-control", "no-cache"], [":authority", "www.example.com"]],
    size: 110,
  },
  {
    fields: [
      [":method", "GET"],
      [":scheme", "https"],
      [":path", "/index.html"],
      [":authority", "www.example.com"],
      ["custom-key", "custom-value"],
    ],
    plain:
      "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
    huffman: "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
    table: [
      ["custom-key", "custom-value"],
      ["cache-control", "no-cache"],
      [":authority", "www.example.com"],
    ],
    size: 164,
  },
];

const cookie = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
const responses: Step[] = [
  {
    fields: [
      [":status", "302"],
      ["cache-control", "private"],
      ["date", "Mon, 21 Oct 2013 20:13:21 GMT"],
      ["location", "https://www.example.com"],
    ],
    plain: "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 " +
      "4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 " +
      "7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
    huffman: "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 " +
      "9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 " +
      "e9ae 82ae 43d3",
    table: [
      ["location", "https://www.example.com"],
      ["date", "Mon, 21 Oct 2013 20:13:21 GMT"],
      ["cache-control", "private"],
      [":status", "302"],
    ],
    size: 222,
  },
  {
    fields: [
      [":status", "307"],
      ["cache-control", "private"],
      ["date", "Mon, 21 Oct 2013 20:13:21 GMT"],
      ["location", "https://www.example.com"],
    ],
    plain: "4803 3330 37c1 c0bf",
    huffman: "4883 640e ffc1 c0bf",
    table: [
      [":status", "307"],
      ["location", "https://www.example.com"],
      ["date", "Mon, 21 Oct 2013 20:13:21 GMT"],
      ["cache-control", "private"],
    ],
    size: 222,
  },
  {
    fields: [
      [":status", "200"],
      ["cache-control", "private"],
      ["date", "Mon, 21 Oct 2013 20:13:22 GMT"],
      ["location", "https://www.example.com"],
      ["content-encoding", "gzip"],
      ["set-cookie", cookie],
    ],
    plain: "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a " +
      "3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 " +
      "444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 " +
      "553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
    huffman: "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d " +
      "1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b " +
      "3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed " +
      "4ee5 b106 3d50 07",
    table: [
      ["set-cookie", cookie],
      ["content-encoding", "gzip"],
      ["date", "Mon, 21 Oct 2013 20:13:22 GMT"],
    ],
    size: 215,
  },
];

function runSteps(name: string, steps: Step[], tableSize: number): void {
  for (const huffman of [false, true]) {
    const section = `${name}.${
      huffman ? name === "C.3" ? "C.4" : "C.6" : name
    }`;
    const enc = new HpackEncoder({ tableSize, huffman });
    const dec = new HpackDecoder({ maxTableSize: tableSize });
    steps.forEach((step, i) => {
      const want = huffman ? step.huffman : step.plain;
      const what = `${section} step ${i + 1}`;
      assert.equal(
        hex(enc.encode(step.fields)),
        hex(bytes(want)),
        `${what}: encoder`,
      );
      assert.deepEqual(
        dec.decode(bytes(want)),
        step.fields,
        `${what}: decoder`,
      );
      for (const t of [enc.table, dec.table]) {
        assert.deepEqual(t.entries(), step.table, `${what}: table`);
        assert.equal(t.size, step.size, `${what}: table size`);
      }
    });
  }
}

Deno.test("hpack: C.3 and C.4 requests, plain and Huffman, byte for byte", () => {
  runSteps("C.3", requests, 4096);
});

Deno.test("hpack: C.5 and C.6 responses with a 256-byte table and eviction, byte for byte", () => {
  runSteps("C.5", responses, 256);
});

Deno.test("hpack: Huffman codes are RFC 7541 Appendix B's (a sample of its hex column)", () => {
  // [symbol, code as hex, length] typed from Appendix B.
  const rows: Array<[number, number, number]> = [
    [0, 0x1ff8, 13],
    [1, 0x7fffd8, 23],
    [2, 0xfffffe2, 28],
    [9, 0xffffea, 24],
    [10, 0x3ffffffc, 30],
    [13, 0x3ffffffd, 30],
    [22, 0x3ffffffe, 30],
    [31, 0xffffffb, 28],
    [32, 0x14, 6],
    [36, 0x1ff9, 13],
    [48, 0x0, 5],
    [58, 0x5c, 7],
    [60, 0x7ffc, 15],
    [92, 0x7fff0, 19],
    [97, 0x3, 5],
    [122, 0x7b, 7],
    [127, 0xffffffc, 28],
    [128, 0xfffe6, 20],
    [153, 0x1fffdc, 21],
    [199, 0x1ffffec, 25],
    [203, 0x7ffffde, 27],
    [220, 0xffffffd, 28],
    [254, 0x7fffff0, 27],
    [255, 0x3ffffee, 26],
    [256, 0x3fffffff, 30],
  ];
  for (const [sym, code, len] of rows) {
    assert.equal(HUFFMAN_CODES[sym], code, `code of ${sym}`);
    assert.equal(HUFFMAN_LENGTHS[sym], len, `length of ${sym}`);
  }
  // A prefix code: Kraft's sum over all 257 symbols is exactly 1.
  let kraft = 0;
  for (const len of HUFFMAN_LENGTHS) kraft += 2 ** -len;
  assert.equal(kraft, 1);
});

Deno.test("hpack: Huffman round trips every byte value and random strings", () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.equal(hex(huffmanDecode(huffmanEncode(all))), hex(all));
  let seed = 7;
  const rnd = () =>
    (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let i = 0; i < 500; i++) {
    const s = Uint8Array.from(
      { length: Math.floor(rnd() * 64) },
      () => rnd() < 0.8 ? 32 + Math.floor(rnd() * 95) : Math.floor(rnd() * 256),
    );
    assert.equal(hex(huffmanDecode(huffmanEncode(s))), hex(s), `case ${i}`);
  }
  assert.equal(hex(huffmanEncode(new Uint8Array(0))), "");
  assert.equal(
    new TextDecoder().decode(huffmanDecode(bytes("f1e3c2e5f23a6ba0ab90f4ff"))),
    "www.example.com",
  );
});

Deno.test("hpack: Huffman decoding refuses EOS and bad padding", () => {
  // EOS is 30 ones: four 0xff bytes hold it.
  assertCompressionError(() => huffmanDecode(bytes("ffffffff")), "EOS");
  // 'a' (00011) then 3 zero bits of padding: not a prefix of EOS.
  assertCompressionError(() => huffmanDecode(bytes("18")), "zero padding");
  // 'a' then 8+3 one bits: padding longer than 7 bits.
  assertCompressionError(() => huffmanDecode(bytes("1fff")), "long padding");
  assert.equal(new TextDecoder().decode(huffmanDecode(bytes("1f"))), "a"); // 'a' + 111
});

Deno.test("hpack: the decoder refuses bad indices, misplaced or oversized table updates, truncation", () => {
  assertCompressionError(
    () => new HpackDecoder().decode(bytes("80")),
    "index 0",
  );
  assertCompressionError(
    () => new HpackDecoder().decode(bytes("be")),
    "index 62 of an empty table",
  );
  assertCompressionError(
    () => new HpackDecoder().decode(bytes("7f00")),
    "literal name index 63",
  );
  assertCompressionError(
    () => new HpackDecoder().decode(bytes("8220")),
    "size update after a field",
  );
  // 3fe11f = size update to 4096: fine; 3fe21f = 4097: above our limit.
  assert.deepEqual(new HpackDecoder().decode(bytes("3fe11f82")), [[
    ":method",
    "GET",
  ]]);
  assertCompressionError(
    () => new HpackDecoder().decode(bytes("3fe21f")),
    "size update above limit",
  );
  assertCompressionError(
    () => new HpackDecoder().decode(bytes("400a6375")),
    "truncated name",
  );
  assertCompressionError(
    () => new HpackDecoder().decode(bytes("04")),
    "missing value",
  );
  // A size update to 0 evicts everything.
  const d = new HpackDecoder();
  d.decode(
    bytes("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"),
  );
  assert.equal(d.table.length, 1);
  assert.deepEqual(d.decode(bytes("20 82")), [[":method", "GET"]]);
  assert.equal(d.table.length, 0);
  assert.equal(d.table.size, 0);
});

Deno.test("hpack: a header list over the limit is dropped but the table stays in step", () => {
  const enc = new HpackEncoder();
  const dec = new HpackDecoder({ maxHeaderListSize: 100 });
  const big: HeaderField[] = [["x-a", "a".repeat(40)], ["x-b", "b".repeat(40)]];
  assert.equal(dec.decode(enc.encode(big)), null);
  assert.equal(dec.table.length, 2, "both entries were still added");
  // The next block refers to the entries by index and decodes.
  const again = enc.encode([["x-a", "a".repeat(40)]]);
  assert.equal(again.length, 1);
  assert.deepEqual(dec.decode(again), [["x-a", "a".repeat(40)]]);
});

Deno.test("hpack: the encoder follows the peer's table size with size updates", () => {
  const enc = new HpackEncoder();
  const dec = new HpackDecoder();
  enc.encode([["x-one", "1"]]);
  dec.decode(new HpackEncoder().encode([["x-one", "1"]]));
  enc.setMaxTableSize(0);
  enc.setMaxTableSize(100);
  const block = enc.encode([["x-two", "2"]]);
  // Smallest size then final size (RFC 7541 §4.2), then the literal.
  assert.equal(hex(block.subarray(0, 3)), "203f45");
  assert.deepEqual(dec.decode(block), [["x-two", "2"]]);
  assert.deepEqual(dec.table.entries(), [["x-two", "2"]]);
  enc.setMaxTableSize(8192); // capped at our own 4096
  assert.equal(hex(enc.encode([]).subarray(0, 3)), "3fe11f");
  assert.throws(() => enc.encode([["x", "\u0100"]]), /not Latin-1/);
  assert.ok(text("x").length === 1);
});
