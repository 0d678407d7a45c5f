/**
 * Seeded, reproducible fuzz and property tests of the frame decoder
 * (src/frame.ts) and the protocol state machine (src/protocol.ts).
 *
 * Properties:
 * 1. Round trip: frames written by `writeHeader` / `encodeFrame` decode to
 *    the same frames under any chunking and any piece size.
 * 2. Robustness: random and mutated byte streams never make the decoder or
 *    the state machine throw anything but a WebSocketError, and never hang
 *    (every loop is bounded by the bytes fed).
 * 3. Differential: structured server streams with injected faults are
 *    judged by an independent model of RFC 6455's rules; the state machine
 *    must deliver the same messages and fail with the same close code, and
 *    the close frame it queues must carry that code.
 * 4. Encoder → decoder: messages a client-role Protocol encodes (fragmented,
 *    with pings between fragments) are received unchanged by a server-role
 *    Protocol under random chunking.
 *
 * Scale and seed: `deno test … tests/fuzz_test.ts -- --long` (scale 20), or
 * `-- --fuzz-scale=20 --fuzz-seed=7`, or the env vars WSNC_FUZZ_SCALE / WSNC_FUZZ_SEED when the
 * test may read them (`--allow-env=WSNC_FUZZ_SCALE,WSNC_FUZZ_SEED`). Scale 1
 * (CI) runs a few hundred thousand frames. A failure prints the seed and the
 * case number that reproduce it.
 *
 * @module
 */

import { Rng } from "./rng.ts";
import assert from "node:assert/strict";
import { WebSocketError } from "../src/errors.ts";
import { WS } from "../src/flags.ts";
import {
  DecodeResult,
  encodeFrame,
  FrameDecoder,
  writeHeader,
} from "../src/frame.ts";
import { Protocol } from "../src/protocol.ts";
import {
  FrameReader,
  isValidCloseCode,
  utf8FailIndex,
} from "./conformance/lib/wire.ts";

// ------------------------------------------------------------ configuration

function setting(name: string, env: string, fallback: number): number {
  const arg = Deno.args.find((a) => a.startsWith(`--${name}=`));
  if (arg) return Number(arg.slice(name.length + 3));
  if (
    Deno.permissions.querySync({ name: "env", variable: env }).state ===
      "granted"
  ) {
    const v = Deno.env.get(env);
    if (v) return Number(v);
  }
  return fallback;
}

/** `--long`: the longer run, 20 times the CI scale. */
const LONG_SCALE = 20;
const SCALE = setting(
  "fuzz-scale",
  "WSNC_FUZZ_SCALE",
  Deno.args.includes("--long") ? LONG_SCALE : 1,
);
const SEED = setting("fuzz-seed", "WSNC_FUZZ_SEED", 0x5eed);

/** The shared PRNG with this file's byte generators. */
class FuzzRng extends Rng {
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const w = (this.next() * 4294967296) >>> 0;
      out[i] = w;
      if (i + 1 < n) out[i + 1] = w >>> 8;
      if (i + 2 < n) out[i + 2] = w >>> 16;
      if (i + 3 < n) out[i + 3] = w >>> 24;
    }
    return out;
  }
  /** A payload length: mostly small, sometimes around the 126 / 65536 boundaries. */
  length(): number {
    const r = this.next();
    if (r < 0.6) return this.int(40);
    if (r < 0.8) return this.int(126);
    if (r < 0.9) return 120 + this.int(20);
    if (r < 0.995) return 126 + this.int(1000);
    return 65530 + this.int(12);
  }
}

/** Splits `bytes` into random chunks (sometimes 1-byte, sometimes whole). */
function chunks(rng: FuzzRng, bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  // 1-byte chops only for small streams: they cost a decoder round per byte.
  const mode = bytes.length > 4096 ? 2 + rng.int(2) : rng.int(4);
  for (let o = 0; o < bytes.length;) {
    const n = mode === 0
      ? 1
      : mode === 1
      ? 1 + rng.int(8)
      : mode === 2
      ? 1 + rng.int(300)
      : bytes.length;
    out.push(bytes.slice(o, o + n));
    o += n;
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Runs `body(rng, i)` for `n` cases; a failure names the seed and case. */
function forCases(
  label: string,
  n: number,
  body: (rng: FuzzRng, i: number) => void,
): void {
  for (let i = 0; i < n; i++) {
    const rng = new FuzzRng(SEED * 1000003 + i * 7919 + label.length);
    try {
      body(rng, i);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new Error(
        `${label}: case ${i} with --fuzz-seed=${SEED} failed: ${msg}`,
        { cause: e },
      );
    }
  }
}

// ------------------------------------------------------- 1. codec round trip

interface Frame {
  fin: boolean;
  rsv: number;
  opcode: number;
  key: Uint8Array | null;
  payload: Uint8Array;
}

/** Decodes with the library's FrameDecoder; payloads unmasked here. */
function decodeAll(rng: FuzzRng, stream: Uint8Array[]): Frame[] {
  const dec = new FrameDecoder();
  const frames: Frame[] = [];
  let current: { f: Frame; parts: Uint8Array[] } | null = null;
  const flush = () => {
    if (!current) return;
    const payload = concat(current.parts);
    if (current.f.key) {
      for (let i = 0; i < payload.length; i++) {
        payload[i] ^= current.f.key[i & 3];
      }
    }
    frames.push({ ...current.f, payload });
    current = null;
  };
  for (const chunk of stream) {
    dec.feed(chunk);
    let guard = 2 * chunk.length + 16;
    for (let r; (r = dec.next(1 + rng.int(200))) !== DecodeResult.NEED_MORE;) {
      assert.ok(guard-- > 0, "decoder loops without consuming input");
      if (r === DecodeResult.HEADER) {
        flush();
        const h = dec.header;
        current = {
          f: {
            fin: h.fin,
            rsv: h.rsv,
            opcode: h.opcode,
            key: h.maskKey?.slice() ?? null,
            payload: new Uint8Array(0),
          },
          parts: [],
        };
        if (h.length === 0) flush();
      } else {
        assert.ok(current, "payload before a header");
        assert.equal(
          dec.pieceOffset,
          (current as { parts: Uint8Array[] }).parts.reduce(
            (a, p) => a + p.length,
            0,
          ),
        );
        (current as { parts: Uint8Array[] }).parts.push(dec.piece.slice());
        if (dec.remaining === 0) flush();
      }
    }
  }
  assert.ok(dec.atFrameBoundary, "decoder not at a frame boundary at the end");
  return frames;
}

Deno.test("fuzz: writeHeader/encodeFrame output decodes to the same frames under any chunking", () => {
  let total = 0;
  forCases("round trip", 2000 * SCALE, (rng) => {
    const frames: Frame[] = [];
    const wire: Uint8Array[] = [];
    const n = 1 + rng.int(60);
    for (let k = 0; k < n; k++) {
      const payload = rng.bytes(rng.length());
      const key = rng.chance(0.5) ? rng.bytes(4) : null;
      const f: Frame = {
        fin: rng.chance(0.7),
        rsv: rng.int(8),
        opcode: rng.int(16),
        key,
        payload,
      };
      frames.push(f);
      if (rng.chance(0.5)) {
        wire.push(
          encodeFrame({
            fin: f.fin,
            rsv: f.rsv,
            opcode: f.opcode,
            payload,
            maskKey: key,
          }),
        );
      } else {
        // writeHeader into a larger buffer at an offset, then the (masked) payload.
        const out = new Uint8Array(14 + payload.length + 3);
        const h = writeHeader(
          out,
          3,
          f.fin,
          f.rsv,
          f.opcode,
          payload.length,
          key,
        );
        out.set(payload, 3 + h);
        if (key) {
          for (let i = 0; i < payload.length; i++) {
            out[3 + h + i] ^= key[i & 3];
          }
        }
        wire.push(out.subarray(3, 3 + h + payload.length));
      }
    }
    total += n;
    const got = decodeAll(rng, chunks(rng, concat(wire)));
    assert.equal(got.length, frames.length);
    for (let k = 0; k < frames.length; k++) {
      const a = frames[k], b = got[k];
      assert.deepEqual(
        [b.fin, b.rsv, b.opcode, b.key ? [...b.key] : null, b.payload.length],
        [a.fin, a.rsv, a.opcode, a.key ? [...a.key] : null, a.payload.length],
        `frame ${k} header`,
      );
      assert.ok(equalBytes(a.payload, b.payload), `frame ${k} payload`);
    }
  });
  assert.ok(total >= 50_000 * SCALE, `${total} frames`);
});

// ----------------------------------------------------------- 2. robustness

/** Feeds a stream to a client-role Protocol; only WebSocketError may escape. */
function drive(
  rng: FuzzRng,
  p: Protocol,
  stream: Uint8Array[],
): WebSocketError | null {
  for (const chunk of stream) {
    p.feed(chunk);
    let guard = 2 * chunk.length + 300;
    try {
      while (p.read(1 + rng.int(300)) !== null) {
        assert.ok(guard-- > 0, "read() loops without consuming input");
      }
    } catch (e) {
      if (e instanceof WebSocketError) return e;
      throw e;
    }
  }
  return null;
}

/** A plausible server stream (unmasked frames, mostly valid) to mutate. */
function plausibleStream(rng: FuzzRng, frames: number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let k = 0; k < frames; k++) {
    const opcode = rng.pick([0, 1, 2, 1, 2, 8, 9, 10, 3, 11]);
    parts.push(
      encodeFrame({
        opcode,
        fin: rng.chance(0.8),
        payload: rng.bytes(rng.length() % 300),
      }),
    );
  }
  return concat(parts);
}

Deno.test("fuzz: random and mutated streams only ever raise WebSocketError, and never hang", () => {
  let bytesFed = 0;
  forCases("robustness", 3000 * SCALE, (rng) => {
    let stream: Uint8Array;
    if (rng.chance(0.3)) {
      stream = rng.bytes(1 + rng.int(400));
    } else {
      stream = plausibleStream(rng, 1 + rng.int(40));
      const flips = 1 + rng.int(6);
      for (let k = 0; k < flips; k++) {
        const at = rng.int(stream.length);
        if (rng.chance(0.5)) stream[at] ^= 1 << rng.int(8);
        else stream[at] = rng.int(256);
      }
      if (rng.chance(0.2)) {
        stream = stream.subarray(0, rng.int(stream.length + 1));
      }
    }
    bytesFed += stream.length;
    // The bare decoder: only WebSocketError, bounded loops.
    const dec = new FrameDecoder();
    try {
      for (const c of chunks(rng, stream)) {
        dec.feed(c);
        let guard = 2 * c.length + 16;
        while (dec.next(1 + rng.int(100)) !== DecodeResult.NEED_MORE) {
          assert.ok(guard-- > 0, "decoder loops");
        }
      }
    } catch (e) {
      if (!(e instanceof WebSocketError)) throw e;
    }
    // The state machine, in both roles' receive paths (client here).
    const p = new Protocol({ role: "client" });
    const err = drive(rng, p, chunks(rng, stream));
    if (err) {
      // After failing, further input is ignored without throwing.
      p.feed(rng.bytes(20));
      assert.equal(p.read(64), null);
    }
    p.takeOutput();
  });
  assert.ok(bytesFed > 0);
});

// ---------------------------------------------------- 3. differential model

type Fault =
  | "none"
  | "rsv"
  | "opcode"
  | "masked"
  | "fragmented-control"
  | "long-control"
  | "nonminimal16"
  | "nonminimal64"
  | "msb64";

interface ScriptFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  payload: Uint8Array;
  masked: boolean;
  lengthForm: "minimal" | "nonminimal16" | "nonminimal64" | "msb64";
}

/** Server-side encoder that can also write the wrong length forms. */
function encodeScript(f: ScriptFrame): Uint8Array {
  const len = f.payload.length;
  const head: number[] = [(f.fin ? 0x80 : 0) | (f.rsv << 4) | f.opcode];
  const m = f.masked ? 0x80 : 0;
  const form = f.lengthForm;
  if (
    form === "nonminimal16" || (form === "minimal" && len >= 126 && len < 65536)
  ) {
    head.push(m | 126, len >> 8, len & 0xff);
  } else if (
    form === "nonminimal64" || form === "msb64" ||
    (form === "minimal" && len >= 65536)
  ) {
    head.push(
      m | 127,
      form === "msb64" ? 0x80 : 0,
      0,
      0,
      0,
      (len >>> 24) & 0xff,
      (len >> 16) & 0xff,
      (len >> 8) & 0xff,
      len & 0xff,
    );
  } else head.push(m | len);
  const key = [0x12, 0x34, 0x56, 0x78];
  if (f.masked) head.push(...key);
  const out = new Uint8Array(head.length + len);
  out.set(head);
  for (let i = 0; i < len; i++) {
    out[head.length + i] = f.masked ? f.payload[i] ^ key[i & 3] : f.payload[i];
  }
  return out;
}

const BAD_UTF8 = [
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0x80],
  [0xfe],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xe0, 0x80, 0xaf],
  [0xce], // incomplete when last
];
const GOOD_TEXT = [
  "",
  "hello",
  "κόσμε",
  "𝄞 music",
  "€uro",
  "日本語",
  "\u{10ffff}",
];

function textBytes(rng: FuzzRng, bad: boolean): Uint8Array {
  const parts: number[] = [];
  const n = rng.int(4);
  for (let k = 0; k < n; k++) {
    parts.push(...new TextEncoder().encode(rng.pick(GOOD_TEXT)));
  }
  if (bad) parts.splice(rng.int(parts.length + 1), 0, ...rng.pick(BAD_UTF8));
  return new Uint8Array(parts);
}

function closeBody(rng: FuzzRng): Uint8Array {
  const r = rng.int(10);
  if (r === 0) return new Uint8Array(0);
  if (r === 1) return new Uint8Array([0x03]);
  const code = r === 2
    ? rng.pick([0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000])
    : rng.pick([1000, 1001, 1011, 3000, 4999]);
  const reason = r === 3
    ? new Uint8Array([0xed, 0xa0, 0x80])
    : new TextEncoder().encode(rng.pick(GOOD_TEXT));
  return new Uint8Array([code >> 8, code & 0xff, ...reason]);
}

/** A script of frames: message flows with pings between fragments and occasional faults. */
function script(rng: FuzzRng, faultRate: number): ScriptFrame[] {
  const out: ScriptFrame[] = [];
  const frame = (
    opcode: number,
    payload: Uint8Array,
    fin = true,
  ): ScriptFrame => ({
    fin,
    rsv: 0,
    opcode,
    payload,
    masked: false,
    lengthForm: "minimal",
  });
  const n = 3 + rng.int(25);
  for (let m = 0; m < n; m++) {
    const kind = rng.int(10);
    if (kind < 6) {
      // A data message in 1..4 fragments, text split anywhere (also inside code points).
      const text = rng.chance(0.6);
      const payload = text
        ? textBytes(rng, rng.chance(faultRate))
        : rng.bytes(rng.length() % 400);
      const pieces = 1 + rng.int(4);
      const cuts = [
        ...new Set(
          Array.from({ length: pieces - 1 }, () => rng.int(payload.length + 1)),
        ),
      ].sort((a, b) => a - b);
      const edges = [0, ...cuts, payload.length];
      for (let k = 0; k + 1 < edges.length; k++) {
        out.push(
          frame(
            k === 0 ? (text ? 1 : 2) : 0,
            payload.subarray(edges[k], edges[k + 1]),
            k + 2 === edges.length,
          ),
        );
        if (rng.chance(0.15)) {
          out.push(frame(rng.pick([9, 10]), rng.bytes(rng.int(20))));
        }
      }
    } else if (kind < 8) {
      out.push(frame(rng.pick([9, 10]), rng.bytes(rng.int(126))));
    } else if (kind === 8 && rng.chance(0.3)) {
      out.push(frame(8, closeBody(rng)));
    } else if (rng.chance(faultRate)) {
      out.push(frame(0, rng.bytes(rng.int(10)), rng.chance(0.5))); // orphan continuation
    }
  }
  // Header faults on random frames.
  for (const f of out) {
    if (!rng.chance(faultRate / 4)) continue;
    const fault: Fault = rng.pick(
      [
        "rsv",
        "opcode",
        "masked",
        "fragmented-control",
        "long-control",
        "nonminimal16",
        "nonminimal64",
        "msb64",
      ] as const,
    );
    if (fault === "rsv") f.rsv = 1 + rng.int(7);
    else if (fault === "opcode") {
      f.opcode = rng.pick([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]);
    } else if (fault === "masked") f.masked = true;
    else if (fault === "fragmented-control" && f.opcode >= 8) f.fin = false;
    else if (fault === "long-control" && f.opcode >= 8) {
      f.payload = rng.bytes(126 + rng.int(10));
    } else if (fault === "nonminimal16" && f.payload.length < 126) {
      f.lengthForm = "nonminimal16";
    } else if (fault === "nonminimal64" && f.payload.length < 65536) {
      f.lengthForm = "nonminimal64";
    } else if (fault === "msb64") f.lengthForm = "msb64";
  }
  return out;
}

interface Verdict {
  messages: Array<{ text: boolean; payload: Uint8Array }>;
  /** Close codes the client may fail with, or null if the stream is valid. */
  failCodes: number[] | null;
  /** The peer's valid close frame, if the stream ends with one. */
  close: { code: number } | null;
}

/** RFC 6455 §5-8 as seen by a client with no extensions: an independent model. */
function model(frames: ScriptFrame[]): Verdict {
  const messages: Verdict["messages"] = [];
  let open: { text: boolean; parts: Uint8Array[] } | null = null;
  for (const f of frames) {
    const fail = (codes: number[]): Verdict => ({
      messages,
      failCodes: codes,
      close: null,
    });
    const control = f.opcode >= 8;
    if (f.lengthForm !== "minimal") return fail([1002]);
    if (![0, 1, 2, 8, 9, 10].includes(f.opcode) || f.masked || f.rsv !== 0) {
      return fail([1002]);
    }
    if (control && (!f.fin || f.payload.length > 125)) return fail([1002]);
    if (f.opcode === 0 && !open) return fail([1002]);
    if ((f.opcode === 1 || f.opcode === 2) && open) return fail([1002]);
    if (f.opcode === 1 || f.opcode === 2) {
      open = { text: f.opcode === 1, parts: [] };
    }
    if (!control) {
      open!.parts.push(f.payload);
      const all = concat(open!.parts);
      if (open!.text) {
        const bad = utf8FailIndex(all);
        if (bad !== -1 && (bad < all.length || f.fin)) return fail([1007]);
      }
      if (f.fin) {
        messages.push({ text: open!.text, payload: all });
        open = null;
      }
    } else if (f.opcode === 8) {
      const p = f.payload;
      if (p.length === 1) return fail([1002]);
      if (p.length >= 2) {
        const code = (p[0] << 8) | p[1];
        const reasonOk = utf8FailIndex(p.subarray(2)) === -1;
        if (!isValidCloseCode(code)) {
          return fail(reasonOk ? [1002] : [1002, 1007]);
        }
        if (!reasonOk) return fail([1007]);
        return { messages, failCodes: null, close: { code } };
      }
      return { messages, failCodes: null, close: { code: 1005 } };
    }
  }
  return { messages, failCodes: null, close: null };
}

Deno.test("fuzz: the state machine agrees with an RFC 6455 model on faulty server streams", () => {
  let frames = 0, failures = 0, closes = 0;
  forCases("differential", 8000 * SCALE, (rng) => {
    const frameList = script(rng, rng.pick([0, 0.05, 0.2]));
    frames += frameList.length;
    const want = model(frameList);
    const p = new Protocol({ role: "client" });
    const got: Verdict["messages"] = [];
    let open: { text: boolean; parts: Uint8Array[] } | null = null;
    let error: WebSocketError | null = null;
    outer: for (
      const chunk of chunks(rng, concat(frameList.map(encodeScript)))
    ) {
      p.feed(chunk);
      let guard = 2 * chunk.length + 300;
      for (;;) {
        let piece;
        try {
          piece = p.read(1 + rng.int(300));
        } catch (e) {
          if (!(e instanceof WebSocketError)) throw e;
          error = e;
          break outer;
        }
        if (!piece) break;
        assert.ok(guard-- > 0, "read() loops");
        const { flags, bytesleft, len, offset } = piece.meta;
        assert.equal(len, piece.data.length);
        assert.ok(offset >= 0 && bytesleft >= 0);
        if (flags & (WS.TEXT | WS.BINARY)) {
          open ??= { text: (flags & WS.TEXT) !== 0, parts: [] };
          assert.equal(
            open.text,
            (flags & WS.TEXT) !== 0,
            "message type changed mid-message",
          );
          open.parts.push(piece.data.slice());
          if (bytesleft === 0 && !(flags & WS.CONT)) {
            got.push({ text: open.text, payload: concat(open.parts) });
            open = null;
          }
        }
      }
    }
    assert.equal(
      got.length,
      want.messages.length,
      `messages delivered (error: ${error?.message})`,
    );
    for (let k = 0; k < got.length; k++) {
      assert.equal(got[k].text, want.messages[k].text);
      assert.ok(
        equalBytes(got[k].payload, want.messages[k].payload),
        `message ${k} payload`,
      );
    }
    if (want.failCodes) {
      failures++;
      assert.ok(error, `expected a failure with ${want.failCodes}, got none`);
      assert.ok(
        want.failCodes.includes(error.closeCode ?? -1),
        `failed with ${error.closeCode} (${error.message}), expected ${want.failCodes}`,
      );
      // The queued close frame is a masked client close carrying that code.
      const out = p.takeOutput();
      assert.ok(out, "no close frame queued after a failure");
      const sent = new FrameReader().push(out);
      const close = sent.find((f) => f.opcode === 8);
      assert.ok(
        close && close.masked,
        "queued close frame is missing or unmasked",
      );
      assert.equal((close.payload[0] << 8) | close.payload[1], error.closeCode);
    } else {
      assert.equal(error, null, `unexpected failure: ${error?.message}`);
      if (want.close) {
        closes++;
        assert.equal(p.peerClose?.code, want.close.code);
      }
    }
  });
  assert.ok(
    failures > 0 && closes > 0,
    "the generator produced both failures and closes",
  );
  assert.ok(frames >= 60_000 * SCALE, `${frames} frames`);
});

// ----------------------------------------- 4. encoder → decoder, both roles

Deno.test("fuzz: messages encoded by a client Protocol are received unchanged by a server Protocol", () => {
  let frames = 0;
  forCases("encode round trip", 1500 * SCALE, (rng) => {
    const client = new Protocol({ role: "client" });
    const server = new Protocol({ role: "server" });
    const sent: Array<{ text: boolean; payload: Uint8Array }> = [];
    const pings: Uint8Array[] = [];
    const wire: Uint8Array[] = [];
    const n = 1 + rng.int(12);
    for (let m = 0; m < n; m++) {
      const text = rng.chance(0.5);
      const payload = text
        ? textBytes(rng, false)
        : rng.bytes(rng.length() % 3000);
      sent.push({ text, payload });
      const type = text ? WS.TEXT : WS.BINARY;
      const pieces = 1 + rng.int(4);
      let o = 0;
      for (let k = 0; k < pieces; k++) {
        const end = k === pieces - 1
          ? payload.length
          : o + rng.int(payload.length - o + 1);
        const last = k === pieces - 1;
        wire.push(
          client.encode(payload.subarray(o, end), last ? type : type | WS.CONT),
        );
        frames++;
        o = end;
        if (!last && rng.chance(0.2)) {
          const ping = rng.bytes(rng.int(126));
          pings.push(ping);
          wire.push(client.encode(ping, WS.PING));
          frames++;
        }
      }
    }
    const got: Array<{ text: boolean; payload: Uint8Array }> = [];
    const gotPings: Uint8Array[] = [];
    let open: { text: boolean; parts: Uint8Array[] } | null = null;
    let ctrl: Uint8Array[] = [];
    for (const chunk of chunks(rng, concat(wire))) {
      server.feed(chunk);
      for (let piece; (piece = server.read(1 + rng.int(500))) !== null;) {
        const f = piece.meta.flags;
        if (f & WS.PING) {
          ctrl.push(piece.data.slice());
          if (piece.meta.bytesleft === 0) {
            gotPings.push(concat(ctrl));
            ctrl = [];
          }
          continue;
        }
        open ??= { text: (f & WS.TEXT) !== 0, parts: [] };
        open.parts.push(piece.data.slice());
        if (piece.meta.bytesleft === 0 && !(f & WS.CONT)) {
          got.push({ text: open.text, payload: concat(open.parts) });
          open = null;
        }
      }
    }
    assert.equal(got.length, sent.length);
    for (let k = 0; k < sent.length; k++) {
      assert.equal(got[k].text, sent[k].text);
      assert.ok(equalBytes(got[k].payload, sent[k].payload), `message ${k}`);
    }
    assert.equal(gotPings.length, pings.length);
    pings.forEach((p, k) => assert.ok(equalBytes(p, gotPings[k]), `ping ${k}`));
  });
  assert.ok(frames >= 10_000 * SCALE, `${frames} frames`);
});
