/** HTTP/2 framing (RFC 9113 §4, §6): bytes in, frames or typed errors out. */
import assert from "node:assert/strict";
import { Http2Error } from "../src/h2/errors.ts";
import {
  CLIENT_PREFACE,
  encodeFrame,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeWindowUpdate,
  Flag,
  FrameReader,
  FrameType,
  parseContinuation,
  parseData,
  parseGoaway,
  parseHeaders,
  parsePing,
  parsePriority,
  parseRstStream,
  parseSettings,
  parseWindowUpdate,
  type RawFrame,
  SettingId,
} from "../src/h2/frames.ts";

const hex = (b: Uint8Array) =>
  [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");
const bytes = (...b: number[]) => new Uint8Array(b);

function readAll(input: Uint8Array, chunk: number, max = 16384): RawFrame[] {
  const r = new FrameReader(max);
  const out: RawFrame[] = [];
  for (let i = 0; i < input.length; i += chunk) {
    r.push(input.subarray(i, i + chunk));
    for (let f; (f = r.next()) !== null;) {
      out.push({ ...f, payload: f.payload.slice() });
    }
  }
  assert.equal(r.buffered, 0);
  return out;
}

function frame(
  type: number,
  flags: number,
  streamId: number,
  payload: number[] = [],
): RawFrame {
  return { type, flags, streamId, payload: new Uint8Array(payload) };
}

/** Asserts an Http2Error with this HTTP/2 code, on this stream (0 = connection). */
function rejects(
  f: () => unknown,
  h2code: number,
  streamId: number,
  what: string,
): void {
  assert.throws(f, (e) => {
    assert.ok(e instanceof Http2Error, `${what}: ${e}`);
    assert.equal(e.http2Code, h2code, `${what}: ${e.message}`);
    assert.equal(e.streamId, streamId, `${what}: stream`);
    assert.equal(e.code, "PROTOCOL_ERROR");
    return true;
  });
}

Deno.test("h2 frames: the preface and each encoder's bytes", () => {
  assert.equal(
    new TextDecoder().decode(CLIENT_PREFACE),
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
  );
  assert.equal(
    hex(encodeFrame(FrameType.SETTINGS, Flag.ACK, 0)),
    "00 00 00 04 01 00 00 00 00",
  );
  assert.equal(
    hex(
      encodeSettings([[SettingId.ENABLE_PUSH, 0], [
        SettingId.INITIAL_WINDOW_SIZE,
        0x40000,
      ]]),
    ),
    "00 00 0c 04 00 00 00 00 00 00 02 00 00 00 00 00 04 00 04 00 00",
  );
  assert.equal(
    hex(encodePing(bytes(1, 2, 3, 4, 5, 6, 7, 8), true)),
    "00 00 08 06 01 00 00 00 00 01 02 03 04 05 06 07 08",
  );
  assert.equal(
    hex(encodeGoaway(5, 0xb, bytes(0x68, 0x69))),
    "00 00 0a 07 00 00 00 00 00 00 00 00 05 00 00 00 0b 68 69",
  );
  assert.equal(
    hex(encodeRstStream(3, 8)),
    "00 00 04 03 00 00 00 00 03 00 00 00 08",
  );
  assert.equal(
    hex(encodeWindowUpdate(0, 0x7fffffff)),
    "00 00 04 08 00 00 00 00 00 7f ff ff ff",
  );
  assert.equal(
    hex(encodeFrame(FrameType.DATA, Flag.END_STREAM, 1, bytes(0xaa), 2)),
    "00 00 04 00 09 00 00 00 01 02 aa 00 00",
  );
  // The reserved bit of a stream id is never sent.
  assert.equal(
    hex(encodeRstStream(0xffffffff, 0).subarray(5, 9)),
    "7f ff ff ff",
  );
});

Deno.test("h2 frames: the reader yields the same frames under any chunking", () => {
  const stream = new Uint8Array([
    ...encodeSettings([[SettingId.MAX_FRAME_SIZE, 16384]]),
    ...encodeFrame(FrameType.DATA, 0, 1, new Uint8Array(16384).fill(7)),
    ...encodePing(new Uint8Array(8)),
    ...encodeFrame(FrameType.DATA, Flag.END_STREAM, 1),
    ...encodeFrame(0xfa, 0xff, 0x80000003, bytes(1, 2, 3)), // unknown type, reserved bit set
  ]);
  const want = readAll(stream, stream.length);
  assert.deepEqual(
    want.map((f) => [f.type, f.flags, f.streamId, f.payload.length]),
    [
      [4, 0, 0, 6],
      [0, 0, 1, 16384],
      [6, 0, 0, 8],
      [0, 1, 1, 0],
      [0xfa, 0xff, 3, 3],
    ],
  );
  for (const chunk of [1, 2, 8, 9, 10, 4096, 16392, 16393]) {
    assert.deepEqual(readAll(stream, chunk), want, `chunk ${chunk}`);
  }
});

Deno.test("h2 frames: a frame above SETTINGS_MAX_FRAME_SIZE is FRAME_SIZE_ERROR as soon as its header is read", () => {
  const r = new FrameReader(16384);
  r.push(
    encodeFrame(FrameType.DATA, 0, 1, new Uint8Array(16385)).subarray(0, 9),
  );
  rejects(() => r.next(), 0x6, 0, "16385");
  const big = new FrameReader(20000);
  big.push(encodeFrame(FrameType.DATA, 0, 1, new Uint8Array(20000)));
  assert.equal(big.next()?.payload.length, 20000);
});

Deno.test("h2 frames: DATA and HEADERS padding is removed; padding as long as the payload is PROTOCOL_ERROR", () => {
  const d = parseData(
    readAll(encodeFrame(FrameType.DATA, 0, 1, bytes(1, 2, 3), 4), 64)[0],
  );
  assert.deepEqual([...d.data], [1, 2, 3]);
  assert.equal(
    d.flowLength,
    8,
    "flow control counts padding and its length byte",
  );
  assert.equal(
    parseData(frame(FrameType.DATA, Flag.PADDED, 1, [0])).data.length,
    0,
  );
  rejects(
    () => parseData(frame(FrameType.DATA, Flag.PADDED, 1, [1])),
    0x1,
    0,
    "pad 1 of 0",
  );
  rejects(
    () => parseData(frame(FrameType.DATA, Flag.PADDED, 1, [])),
    0x1,
    0,
    "no pad length",
  );
  rejects(
    () => parseData(frame(FrameType.DATA, 0, 0, [])),
    0x1,
    0,
    "DATA on stream 0",
  );
  // HEADERS with padding and priority: both stripped.
  const h = parseHeaders(
    frame(
      FrameType.HEADERS,
      Flag.PADDED | Flag.PRIORITY | Flag.END_HEADERS | Flag.END_STREAM,
      3,
      [
        2,
        0x80,
        0,
        0,
        1,
        16,
        0x82,
        0,
        0,
      ],
    ),
  );
  assert.deepEqual([[...h.fragment], h.endHeaders, h.endStream], [
    [0x82],
    true,
    true,
  ]);
  rejects(
    () =>
      parseHeaders(
        frame(FrameType.HEADERS, Flag.PRIORITY, 3, [0, 0, 0, 3, 16]),
      ),
    0x1,
    3,
    "depends on itself",
  );
  rejects(
    () => parseHeaders(frame(FrameType.HEADERS, Flag.PRIORITY, 3, [0, 0])),
    0x6,
    0,
    "short priority",
  );
  rejects(
    () => parseHeaders(frame(FrameType.HEADERS, 0, 0, [])),
    0x1,
    0,
    "HEADERS on 0",
  );
  assert.equal(
    parseContinuation(frame(FrameType.CONTINUATION, Flag.END_HEADERS, 3, [1]))
      .endHeaders,
    true,
  );
  rejects(
    () => parseContinuation(frame(FrameType.CONTINUATION, 0, 0, [])),
    0x1,
    0,
    "CONTINUATION on 0",
  );
});

Deno.test("h2 frames: SETTINGS checks length, ACK, stream and each value's range", () => {
  assert.equal(parseSettings(frame(FrameType.SETTINGS, Flag.ACK, 0)), null);
  assert.deepEqual(
    parseSettings(
      frame(FrameType.SETTINGS, 0, 0, [
        0,
        8,
        0,
        0,
        0,
        1,
        0xff,
        0xff,
        1,
        2,
        3,
        4,
      ]),
    ),
    [
      [8, 1],
      [0xffff, 0x01020304],
    ],
  );
  const one = (id: number, v: number) =>
    frame(FrameType.SETTINGS, 0, 0, [
      0,
      id,
      v >>> 24,
      (v >>> 16) & 255,
      (v >>> 8) & 255,
      v & 255,
    ]);
  rejects(
    () =>
      parseSettings(frame(FrameType.SETTINGS, Flag.ACK, 0, [0, 0, 0, 0, 0, 0])),
    0x6,
    0,
    "ACK+payload",
  );
  rejects(
    () => parseSettings(frame(FrameType.SETTINGS, 0, 0, [0, 1, 0, 0, 0])),
    0x6,
    0,
    "5 bytes",
  );
  rejects(
    () => parseSettings(frame(FrameType.SETTINGS, 0, 1, [])),
    0x1,
    0,
    "on stream 1",
  );
  rejects(() => parseSettings(one(SettingId.ENABLE_PUSH, 2)), 0x1, 0, "push 2");
  rejects(
    () => parseSettings(one(SettingId.ENABLE_CONNECT_PROTOCOL, 2)),
    0x1,
    0,
    "connect 2",
  );
  rejects(
    () => parseSettings(one(SettingId.INITIAL_WINDOW_SIZE, 0x80000000)),
    0x3,
    0,
    "window 2^31",
  );
  rejects(
    () => parseSettings(one(SettingId.MAX_FRAME_SIZE, 16383)),
    0x1,
    0,
    "frame 16383",
  );
  rejects(
    () => parseSettings(one(SettingId.MAX_FRAME_SIZE, 0x1000000)),
    0x1,
    0,
    "frame 2^24",
  );
  assert.deepEqual(
    parseSettings(one(SettingId.INITIAL_WINDOW_SIZE, 0x7fffffff)),
    [[4, 0x7fffffff]],
  );
  assert.deepEqual(parseSettings(one(SettingId.MAX_FRAME_SIZE, 0xffffff)), [[
    5,
    0xffffff,
  ]]);
});

Deno.test("h2 frames: PING, GOAWAY, RST_STREAM, WINDOW_UPDATE, PRIORITY lengths and streams", () => {
  const p = parsePing(
    frame(FrameType.PING, Flag.ACK, 0, [1, 2, 3, 4, 5, 6, 7, 8]),
  );
  assert.deepEqual([p.ack, [...p.data]], [true, [1, 2, 3, 4, 5, 6, 7, 8]]);
  rejects(
    () => parsePing(frame(FrameType.PING, 0, 0, [1, 2, 3, 4, 5, 6, 7])),
    0x6,
    0,
    "PING 7",
  );
  rejects(
    () => parsePing(frame(FrameType.PING, 0, 1, [0, 0, 0, 0, 0, 0, 0, 0])),
    0x1,
    0,
    "PING on 1",
  );
  const g = parseGoaway(
    frame(FrameType.GOAWAY, 0, 0, [0x80, 0, 0, 7, 0, 0, 0, 2, 0x41]),
  );
  assert.deepEqual([g.lastStreamId, g.code, [...g.debug]], [7, 2, [0x41]]);
  rejects(
    () => parseGoaway(frame(FrameType.GOAWAY, 0, 0, [0, 0, 0, 0, 0, 0, 0])),
    0x6,
    0,
    "GOAWAY 7",
  );
  rejects(
    () => parseGoaway(frame(FrameType.GOAWAY, 0, 3, [0, 0, 0, 0, 0, 0, 0, 0])),
    0x1,
    0,
    "GOAWAY on 3",
  );
  assert.equal(
    parseRstStream(frame(FrameType.RST_STREAM, 0, 1, [0, 0, 0, 8])),
    8,
  );
  rejects(
    () => parseRstStream(frame(FrameType.RST_STREAM, 0, 1, [0, 0, 8])),
    0x6,
    0,
    "RST 3",
  );
  rejects(
    () => parseRstStream(frame(FrameType.RST_STREAM, 0, 0, [0, 0, 0, 8])),
    0x1,
    0,
    "RST on 0",
  );
  assert.equal(
    parseWindowUpdate(frame(FrameType.WINDOW_UPDATE, 0, 0, [0xff, 0, 0, 1])),
    0x7f000001,
  );
  rejects(
    () => parseWindowUpdate(frame(FrameType.WINDOW_UPDATE, 0, 0, [0, 0, 0, 0])),
    0x1,
    0,
    "conn +0",
  );
  rejects(
    () =>
      parseWindowUpdate(frame(FrameType.WINDOW_UPDATE, 0, 5, [0x80, 0, 0, 0])),
    0x1,
    5,
    "stream +0",
  );
  rejects(
    () => parseWindowUpdate(frame(FrameType.WINDOW_UPDATE, 0, 5, [0, 0, 1])),
    0x6,
    0,
    "WU 3",
  );
  parsePriority(frame(FrameType.PRIORITY, 0, 5, [0, 0, 0, 1, 16]));
  rejects(
    () => parsePriority(frame(FrameType.PRIORITY, 0, 5, [0, 0, 0, 1])),
    0x6,
    5,
    "PRIORITY 4",
  );
  rejects(
    () => parsePriority(frame(FrameType.PRIORITY, 0, 5, [0, 0, 0, 5, 16])),
    0x1,
    5,
    "self",
  );
  rejects(
    () => parsePriority(frame(FrameType.PRIORITY, 0, 0, [0, 0, 0, 1, 16])),
    0x1,
    0,
    "PRIORITY on 0",
  );
});

Deno.test("h2 frames: a header block is split into HEADERS + CONTINUATION at the frame size", () => {
  const block = Uint8Array.from({ length: 40000 }, (_, i) => i & 0xff);
  const frames = readAll(encodeHeaders(7, block, true, 16384), 1000);
  assert.deepEqual(
    frames.map((f) => [f.type, f.flags, f.streamId, f.payload.length]),
    [
      [FrameType.HEADERS, Flag.END_STREAM, 7, 16384],
      [FrameType.CONTINUATION, 0, 7, 16384],
      [FrameType.CONTINUATION, Flag.END_HEADERS, 7, 7232],
    ],
  );
  assert.deepEqual(
    new Uint8Array(frames.flatMap((f) => [...f.payload])),
    block,
  );
  const empty = readAll(encodeHeaders(1, new Uint8Array(0), false, 16384), 9);
  assert.deepEqual(empty.map((f) => [f.type, f.flags, f.payload.length]), [[
    1,
    Flag.END_HEADERS,
    0,
  ]]);
});
