import assert from "node:assert/strict";
import {
  DecodeResult,
  encodeFrame,
  FrameDecoder,
  headerSize,
  writeHeader,
} from "../src/frame.ts";
import { WebSocketError } from "../src/errors.ts";

const hex = (b: Uint8Array) =>
  [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");

Deno.test("frame: RFC 6455 §5.7 examples encode byte-exact", () => {
  const hello = new TextEncoder().encode("Hello");
  assert.equal(
    hex(encodeFrame({ opcode: 1, payload: hello })),
    "81 05 48 65 6c 6c 6f",
  );
  assert.equal(
    hex(
      encodeFrame({
        opcode: 1,
        payload: hello,
        maskKey: new Uint8Array([0x37, 0xfa, 0x21, 0x3d]),
      }),
    ),
    "81 85 37 fa 21 3d 7f 9f 4d 51 58",
  );
  assert.equal(
    hex(
      encodeFrame({
        opcode: 1,
        fin: false,
        payload: new TextEncoder().encode("Hel"),
      }),
    ),
    "01 03 48 65 6c",
  );
  assert.equal(
    hex(encodeFrame({ opcode: 0, payload: new TextEncoder().encode("lo") })),
    "80 02 6c 6f",
  );
  assert.equal(
    hex(encodeFrame({ opcode: 9, payload: hello })),
    "89 05 48 65 6c 6c 6f",
  );
  // 256 bytes binary: 16-bit length
  assert.equal(
    hex(
      encodeFrame({ opcode: 2, payload: new Uint8Array(256) }).subarray(0, 4),
    ),
    "82 7e 01 00",
  );
  // 64 KiB binary: 64-bit length
  assert.equal(
    hex(
      encodeFrame({ opcode: 2, payload: new Uint8Array(65536) }).subarray(
        0,
        10,
      ),
    ),
    "82 7f 00 00 00 00 00 01 00 00",
  );
});

Deno.test("frame: length encodings at the boundaries, and 2^53-1", () => {
  const cases: [number, string][] = [
    [0, "82 00"],
    [125, "82 7d"],
    [126, "82 7e 00 7e"],
    [127, "82 7e 00 7f"],
    [65535, "82 7e ff ff"],
    [65536, "82 7f 00 00 00 00 00 01 00 00"],
    [2 ** 32, "82 7f 00 00 00 01 00 00 00 00"],
    [Number.MAX_SAFE_INTEGER, "82 7f 00 1f ff ff ff ff ff ff"],
  ];
  for (const [len, want] of cases) {
    const dst = new Uint8Array(10);
    const n = writeHeader(dst, 0, true, 0, 2, len, null);
    assert.equal(n, headerSize(len, false));
    assert.equal(hex(dst.subarray(0, n)), want, `length ${len}`);
    const dec = new FrameDecoder();
    dec.feed(dst.subarray(0, n));
    assert.equal(dec.next(10), DecodeResult.HEADER);
    assert.equal(dec.header.length, len);
  }
  assert.throws(
    () => writeHeader(new Uint8Array(10), 0, true, 0, 2, 2 ** 53, null),
    WebSocketError,
  );
  assert.throws(
    () => writeHeader(new Uint8Array(10), 0, true, 0, 2, -1, null),
    WebSocketError,
  );
});

Deno.test("frame: decoder rejects lengths above 2^53-1, MSB set, and non-minimal encodings", () => {
  const expect = (bytes: number[], code: string) => {
    const dec = new FrameDecoder();
    dec.feed(new Uint8Array(bytes));
    assert.throws(
      () => dec.next(100),
      (e) => e instanceof WebSocketError && e.code === code,
      bytes.join(","),
    );
  };
  expect([0x82, 0x7f, 0x00, 0x20, 0, 0, 0, 0, 0, 0], "MESSAGE_TOO_BIG");
  expect([0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0], "PROTOCOL_ERROR");
  expect([0x82, 0x7e, 0x00, 0x05], "PROTOCOL_ERROR");
  expect([0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff], "PROTOCOL_ERROR");
});

Deno.test("frame: decoder yields headers and payload views under any chunking", () => {
  const key = new Uint8Array([9, 8, 7, 6]);
  const frames = [
    encodeFrame({
      opcode: 1,
      fin: false,
      payload: new TextEncoder().encode("Hel"),
    }),
    encodeFrame({ opcode: 9, payload: new Uint8Array(0) }),
    encodeFrame({ opcode: 0, payload: new TextEncoder().encode("lo") }),
    encodeFrame({
      opcode: 2,
      rsv: 4,
      payload: new Uint8Array(70000).fill(3),
      maskKey: key,
    }),
    encodeFrame({ opcode: 8, payload: new Uint8Array([3, 232]) }),
  ];
  const stream = new Uint8Array(frames.reduce((s, f) => s + f.length, 0));
  let o = 0;
  for (const f of frames) {
    stream.set(f, o);
    o += f.length;
  }
  for (const chunk of [1, 2, 3, 7, 13, 1000, stream.length]) {
    const dec = new FrameDecoder();
    const got: {
      opcode: number;
      fin: boolean;
      rsv: number;
      masked: boolean;
      len: number;
      bytes: number;
    }[] = [];
    for (let i = 0; i < stream.length; i += chunk) {
      dec.feed(stream.subarray(i, i + chunk));
      for (let r; (r = dec.next(4096)) !== DecodeResult.NEED_MORE;) {
        if (r === DecodeResult.HEADER) {
          const h = dec.header;
          got.push({
            opcode: h.opcode,
            fin: h.fin,
            rsv: h.rsv,
            masked: h.maskKey !== null,
            len: h.length,
            bytes: 0,
          });
        } else {
          assert.ok(dec.piece.length <= 4096);
          assert.equal(dec.pieceOffset, got.at(-1)!.bytes);
          got.at(-1)!.bytes += dec.piece.length;
        }
      }
      assert.equal(dec.buffered, 0);
    }
    assert.deepEqual(got, [
      { opcode: 1, fin: false, rsv: 0, masked: false, len: 3, bytes: 3 },
      { opcode: 9, fin: true, rsv: 0, masked: false, len: 0, bytes: 0 },
      { opcode: 0, fin: true, rsv: 0, masked: false, len: 2, bytes: 2 },
      { opcode: 2, fin: true, rsv: 4, masked: true, len: 70000, bytes: 70000 },
      { opcode: 8, fin: true, rsv: 0, masked: false, len: 2, bytes: 2 },
    ], `chunk ${chunk}`);
    assert.ok(dec.atFrameBoundary);
  }
});

Deno.test("frame: decoder hands out views of the input, never copies", () => {
  const frame = encodeFrame({
    opcode: 2,
    payload: new Uint8Array([1, 2, 3, 4]),
  });
  const dec = new FrameDecoder();
  dec.feed(frame);
  assert.equal(dec.next(100), DecodeResult.HEADER);
  assert.equal(dec.next(100), DecodeResult.DATA);
  assert.equal(dec.piece.buffer, frame.buffer);
  assert.equal(dec.piece.byteOffset, 2);
});
