/**
 * Seeded fuzzing of the HTTP/2 core. Properties:
 * 1. Random and mutated server byte streams never make the session throw,
 *    its output stays bounded, and after a failure it ends with one
 *    `closed` event and ignores the rest.
 * 2. Any chunking of a valid server script gives the same events and output.
 * 3. Random bytes into the frame parsers, the HPACK decoder and the Huffman
 *    decoder only ever raise Http2Error; HPACK and Huffman round-trip random
 *    input, with table size changes along the way.
 *
 * `-- --fuzz-seed=N --fuzz-scale=K` to reproduce or run longer; a failure
 * names the seed and case.
 */
import { Rng } from "./rng.ts";
import assert from "node:assert/strict";
import { concat } from "../src/bytes.ts";
import { Http2Error } from "../src/h2/errors.ts";
import {
  encodeFrame,
  encodeGoaway,
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
import {
  type HeaderField,
  HpackDecoder,
  HpackEncoder,
} from "../src/h2/hpack.ts";
import { huffmanDecode, huffmanEncode } from "../src/h2/huffman.ts";
import { Http2ClientSession, type Http2Event } from "../src/h2/session.ts";

function arg(name: string, fallback: number): number {
  const a = Deno.args.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : fallback;
}
const SEED = arg("fuzz-seed", 0x4832);
const SCALE = arg("fuzz-scale", 1);

/** The shared PRNG with this file's byte generators. */
class FuzzRng extends Rng {
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(256));
  }
}

const CONNECT: HeaderField[] = [
  [":method", "CONNECT"],
  [":protocol", "websocket"],
  [":scheme", "http"],
  [":path", "/"],
  [":authority", "a"],
];

/** A plausible server frame for streams 1..7, sometimes slightly wrong. */
function serverFrame(r: FuzzRng, enc: HpackEncoder): Uint8Array {
  const stream = r.pick([1, 3, 5, 7, 2, 9, 0]);
  switch (r.int(12)) {
    case 0:
      return encodeSettings(
        Array.from(
          { length: r.int(4) },
          () => [
            r.int(10),
            r.pick([0, 1, 100, 16384, 65535, 2 ** 31 - 1, r.int(2 ** 32)]),
          ],
        ),
      );
    case 1:
      return encodeFrame(FrameType.SETTINGS, Flag.ACK, 0);
    case 2: {
      const fields: HeaderField[] = [[
        ":status",
        r.pick(["200", "404", "100", "101", "abc"]),
      ]];
      for (let i = r.int(4); i > 0; i--) {
        fields.push([
          r.pick(["x-a", "server", "X-Up", "te", "date"]),
          String(r.int(1e6)),
        ]);
      }
      const block = enc.encode(fields);
      return encodeFrame(
        FrameType.HEADERS,
        Flag.END_HEADERS | (r.int(4) === 0 ? Flag.END_STREAM : 0),
        stream,
        block,
      );
    }
    case 3:
      return encodeFrame(
        FrameType.DATA,
        r.int(5) === 0 ? Flag.END_STREAM : 0,
        stream,
        r.bytes(r.int(300)),
        r.int(3) === 0 ? r.int(20) : undefined,
      );
    case 4:
      return encodePing(r.bytes(8), r.int(2) === 0);
    case 5:
      return encodeWindowUpdate(stream, r.pick([1, 100, 65535, 2 ** 31 - 1]));
    case 6:
      return encodeRstStream(stream, r.int(14));
    case 7:
      return encodeGoaway(
        r.pick([0, 1, 3, 2 ** 31 - 1]),
        r.int(14),
        r.bytes(r.int(10)),
      );
    case 8:
      return encodeFrame(
        FrameType.PRIORITY,
        0,
        stream,
        r.bytes(r.pick([5, 5, 4])),
      );
    case 9:
      return encodeFrame(
        FrameType.CONTINUATION,
        r.int(2) ? Flag.END_HEADERS : 0,
        stream,
        r.bytes(r.int(10)),
      );
    case 10:
      return encodeFrame(
        FrameType.HEADERS,
        0,
        stream,
        enc.encode([[":status", "200"]]),
      );
    default:
      return encodeFrame(
        10 + r.int(240),
        r.int(256),
        stream,
        r.bytes(r.int(20)),
      );
  }
}

function mutate(r: FuzzRng, b: Uint8Array): Uint8Array {
  const out = [...b];
  for (let i = r.int(4); i > 0 && out.length > 0; i--) {
    const at = r.int(out.length);
    switch (r.int(4)) {
      case 0:
        out[at] ^= 1 << r.int(8);
        break;
      case 1:
        out[at] = r.int(256);
        break;
      case 2:
        out.splice(at, r.int(8));
        break;
      default:
        out.splice(at, 0, ...r.bytes(r.int(8)));
    }
  }
  return Uint8Array.from(out);
}

/** Feeds `input` in random chunks; returns events and output, asserting the bounds. */
function drive(
  session: Http2ClientSession,
  input: Uint8Array,
  r: FuzzRng,
  what: string,
) {
  const events: Http2Event[] = [];
  let output = 0;
  for (let i = 0; i < input.length;) {
    const n = 1 + r.int(r.int(2) ? 40 : 4000);
    let got: Http2Event[];
    try {
      got = session.receive(input.subarray(i, i + n));
    } catch (e) {
      throw new Error(`${what}: receive threw ${e}`, { cause: e });
    }
    const out = session.takeOutput().length;
    // Output is ACKs, window updates, RST/GOAWAY: never much more than input.
    assert.ok(
      out <= 64 + 4 * Math.min(n, input.length - i) + 200,
      `${what}: ${out} output bytes for ${n} input`,
    );
    output += out;
    events.push(...got);
    i += n;
  }
  return { events, output };
}

function openStreams(
  session: Http2ClientSession,
  r: FuzzRng,
  enc: HpackEncoder,
): Uint8Array[] {
  const script = [encodeSettings([[SettingId.ENABLE_CONNECT_PROTOCOL, 1]])];
  session.receive(script[0]);
  for (let i = 0; i < 4; i++) {
    const id = session.openStream(CONNECT);
    if (r.int(2)) {
      script.push(
        encodeFrame(
          FrameType.HEADERS,
          Flag.END_HEADERS,
          id,
          enc.encode([[":status", "200"]]),
        ),
      );
    }
  }
  session.takeOutput();
  return script;
}

Deno.test("h2 fuzz: random and mutated server streams never crash the session and stay bounded", () => {
  const cases = 3000 * SCALE;
  for (let c = 0; c < cases; c++) {
    const r = new FuzzRng(SEED + c);
    const what = `seed ${SEED} case ${c}`;
    const session = new Http2ClientSession({
      streamWindow: 1 + r.int(70000),
      maxHeaderListSize: 1000 + r.int(2000),
    });
    const enc = new HpackEncoder();
    openStreams(session, r, enc);
    const frames = Array.from(
      { length: 1 + r.int(30) },
      () => serverFrame(r, enc),
    );
    let input = concat(frames);
    if (r.int(2)) input = mutate(r, input);
    if (r.int(10) === 0) input = r.bytes(r.int(2000));
    const { events } = drive(session, input, r, what);
    const closed = events.filter((e) => e.type === "closed");
    assert.ok(closed.length <= 1, `${what}: ${closed.length} closed events`);
    if (closed.length === 1) {
      assert.ok(
        closed[0].type === "closed" && closed[0].error instanceof Http2Error,
        what,
      );
      assert.equal(
        events[events.length - 1].type,
        "closed",
        `${what}: events after closed`,
      );
      assert.deepEqual(session.receive(serverFrame(r, enc)), [], what);
    }
    for (const e of events) {
      if (e.type === "reset") assert.ok(e.error instanceof Http2Error, what);
    }
    // Whatever happened, the session still answers the API without crashing.
    session.transportClosed();
    assert.equal(session.closed, true);
  }
});

/** A fresh session with open streams and a valid server script for them. */
function scenario(
  c: number,
): { session: Http2ClientSession; bytes: Uint8Array } {
  const session = new Http2ClientSession({ streamWindow: 2000 });
  const enc = new HpackEncoder();
  const r = new FuzzRng(c);
  openStreams(session, r, enc);
  const frames: Uint8Array[] = [];
  for (const id of [1, 3, 5, 7]) {
    frames.push(
      encodeFrame(
        FrameType.HEADERS,
        Flag.END_HEADERS,
        id,
        enc.encode([[":status", "200"], ["x-n", String(c)]]),
      ),
    );
  }
  for (let i = 0; i < 30; i++) {
    const id = r.pick([1, 3, 5, 7]);
    frames.push(
      r.int(3)
        ? encodeFrame(
          FrameType.DATA,
          0,
          id,
          r.bytes(r.int(200)),
          r.int(2) ? r.int(9) : undefined,
        )
        : encodePing(r.bytes(8)),
    );
  }
  frames.push(
    encodeGoaway(5, 0),
    encodeFrame(FrameType.DATA, Flag.END_STREAM, 1),
  );
  return { session, bytes: concat(frames) };
}

Deno.test("h2 fuzz: any chunking of a valid server script gives the same events and output", () => {
  for (let c = 0; c < 300 * SCALE; c++) {
    const r = new FuzzRng(SEED * 7 + c);
    const a = scenario(c);
    const want = a.session.receive(a.bytes);
    const wantOut = a.session.takeOutput();
    const b = scenario(c);
    const got: Http2Event[] = [];
    for (let i = 0; i < b.bytes.length;) {
      const n = 1 + r.int(50);
      got.push(...b.session.receive(b.bytes.subarray(i, i + n)));
      i += n;
    }
    assert.ok(
      want.some((e) => e.type === "goaway"),
      `case ${c}: the script ran to its end`,
    );
    assert.deepEqual(got, want, `case ${c}`);
    assert.deepEqual(b.session.takeOutput(), wantOut, `case ${c}: output`);
  }
});

Deno.test("h2 fuzz: frame parsers, HPACK and Huffman raise only Http2Error on random bytes", () => {
  const parsers: Array<(f: RawFrame) => unknown> = [
    parseData,
    parseHeaders,
    parseContinuation,
    parsePriority,
    parseRstStream,
    parseSettings,
    parsePing,
    parseGoaway,
    parseWindowUpdate,
  ];
  const r = new FuzzRng(SEED ^ 0xbeef);
  const onlyH2 = (f: () => unknown, what: string) => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof Http2Error)) {
        throw new Error(`${what}: ${e}`, { cause: e });
      }
    }
  };
  for (let c = 0; c < 5000 * SCALE; c++) {
    const what = `seed ${SEED ^ 0xbeef} case ${c}`;
    const bytes = r.bytes(r.int(64));
    const frame: RawFrame = {
      type: r.int(parsers.length),
      flags: r.int(256),
      streamId: r.int(4),
      payload: bytes,
    };
    onlyH2(() => parsers[frame.type](frame), what);
    const reader = new FrameReader(16384);
    reader.push(bytes);
    onlyH2(() => {
      while (reader.next() !== null) { /* drain */ }
    }, what);
    const dec = new HpackDecoder({ maxTableSize: r.pick([0, 64, 4096]) });
    onlyH2(() => dec.decode(bytes), what);
    assert.ok(dec.table.size <= dec.table.maxSize, what);
    onlyH2(() => huffmanDecode(bytes), what);
  }
});

Deno.test("h2 fuzz: HPACK and Huffman round-trip random header lists across table size changes", () => {
  const r = new FuzzRng(SEED + 99);
  const names = [
    "x-a",
    "x-b",
    ":path",
    "content-type",
    "authorization",
    "x-" + "n".repeat(40),
  ];
  for (let c = 0; c < 200 * SCALE; c++) {
    const enc = new HpackEncoder({ huffman: r.int(2) === 0 });
    const dec = new HpackDecoder();
    for (let block = 0; block < 20; block++) {
      if (r.int(5) === 0) {
        enc.setMaxTableSize(r.pick([0, 50, 256, 4096, 10000]));
      }
      const fields: HeaderField[] = Array.from({ length: r.int(8) }, () => [
        r.pick(names),
        String.fromCharCode(...r.bytes(r.int(60))),
      ]);
      assert.deepEqual(
        dec.decode(enc.encode(fields)),
        fields,
        `case ${c} block ${block}`,
      );
      assert.deepEqual(
        dec.table.entries(),
        enc.table.entries(),
        `case ${c} block ${block}: tables`,
      );
    }
    const raw = r.bytes(r.int(200));
    assert.deepEqual(
      huffmanDecode(huffmanEncode(raw)),
      raw,
      `case ${c}: Huffman`,
    );
  }
});
