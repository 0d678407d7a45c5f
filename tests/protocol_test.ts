import assert from "node:assert/strict";
import { Protocol } from "../src/protocol.ts";
import { DecodeResult, encodeFrame, FrameDecoder } from "../src/frame.ts";
import { WS } from "../src/flags.ts";
import { WebSocketError } from "../src/errors.ts";
import type { FrameMeta } from "../src/flags.ts";
import type { Extension } from "../src/extension.ts";

const te = new TextEncoder();
const f = (
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(0),
  opts: { fin?: boolean; rsv?: number; mask?: boolean } = {},
) =>
  encodeFrame({
    opcode,
    fin: opts.fin,
    rsv: opts.rsv,
    payload: typeof payload === "string" ? te.encode(payload) : payload,
    maskKey: opts.mask ? new Uint8Array([1, 2, 3, 4]) : null,
  });

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

interface Got {
  data: number[];
  meta: FrameMeta;
}

/** Feeds `bytes` in chunks of `chunk`, reading pieces of at most `max`. */
function run(
  p: Protocol,
  bytes: Uint8Array,
  chunk = bytes.length || 1,
  max = 1 << 20,
): Got[] {
  const out: Got[] = [];
  for (let i = 0; i < bytes.length; i += chunk) {
    p.feed(bytes.slice(i, i + chunk));
    for (let piece; (piece = p.read(max));) {
      out.push({ data: [...piece.data], meta: { ...piece.meta } });
    }
  }
  return out;
}

/** Decodes frames the protocol wants to send (client role: masked). */
function sent(
  bytes: Uint8Array | null,
): { opcode: number; fin: boolean; payload: number[] }[] {
  if (!bytes) return [];
  const dec = new FrameDecoder();
  dec.feed(bytes);
  const out: { opcode: number; fin: boolean; payload: number[] }[] = [];
  for (let r; (r = dec.next(1 << 20)) !== DecodeResult.NEED_MORE;) {
    if (r === DecodeResult.HEADER) {
      out.push({ opcode: dec.header.opcode, fin: dec.header.fin, payload: [] });
    } else {
      const k = dec.header.maskKey;
      const d = [...dec.piece].map((b, i) =>
        k ? b ^ k[(dec.pieceOffset + i) & 3] : b
      );
      out.at(-1)!.payload.push(...d);
    }
  }
  return out;
}

function expectFail(
  bytes: Uint8Array,
  code: string,
  closeCode: number,
  role: "client" | "server" = "client",
  chunk?: number,
) {
  const p = new Protocol({ role });
  assert.throws(() => run(p, bytes, chunk), (e) => {
    assert.ok(e instanceof WebSocketError, String(e));
    assert.equal(e.code, code, e.message);
    assert.equal(e.closeCode, closeCode);
    return true;
  });
  const out = sent(p.takeOutput());
  assert.equal(out.length, 1, "exactly one close frame is queued");
  assert.equal(out[0].opcode, 8);
  assert.equal((out[0].payload[0] << 8) | out[0].payload[1], closeCode);
  // Nothing more is processed afterwards.
  p.feed(f(1, "late"));
  assert.equal(p.read(100), null);
}

Deno.test("protocol: text, binary and empty frames with curl metadata", () => {
  const p = new Protocol({ role: "client" });
  const got = run(
    p,
    cat(f(1, "hi"), f(2, new Uint8Array([1, 2])), f(1, ""), f(2)),
  );
  assert.deepEqual(
    got.map((
      g,
    ) => [
      g.data.length,
      g.meta.flags,
      g.meta.offset,
      g.meta.bytesleft,
      g.meta.len,
    ]),
    [
      [2, WS.TEXT, 0, 0, 2],
      [2, WS.BINARY, 0, 0, 2],
      [0, WS.TEXT, 0, 0, 0],
      [0, WS.BINARY, 0, 0, 0],
    ],
  );
});

Deno.test("protocol: partial frames report offset and bytesleft; any chunking gives the same pieces' bytes", () => {
  const payload = new Uint8Array(1000).map((_, i) => i & 0xff);
  for (const chunk of [1, 3, 100, 5000]) {
    const p = new Protocol({ role: "client" });
    const got = run(p, f(2, payload), chunk, 64);
    let expectOffset = 0;
    for (const g of got) {
      assert.equal(g.meta.offset, expectOffset);
      assert.ok(g.meta.len <= 64);
      expectOffset += g.meta.len;
      assert.equal(g.meta.bytesleft, 1000 - expectOffset);
      assert.equal(g.meta.flags, WS.BINARY);
    }
    assert.deepEqual(got.flatMap((g) => g.data), [...payload]);
  }
});

Deno.test("protocol: fragmented message flags follow curl (type on all, CONT on all but last)", () => {
  const p = new Protocol({ role: "client" });
  const got = run(
    p,
    cat(
      f(1, "Hel", { fin: false }),
      f(9, "p"),
      f(0, "", { fin: false }),
      f(0, "lo"),
    ),
    1,
  );
  const TC = WS.TEXT | WS.CONT;
  assert.deepEqual(got.map((g) => g.meta.flags), [
    TC,
    TC,
    TC,
    WS.PING,
    TC,
    WS.TEXT,
    WS.TEXT,
  ]);
  // Reassemble: data pieces in order spell Hello, and the ping was answered with its payload.
  const text = got.filter((g) => g.meta.flags & WS.TEXT).flatMap((g) => g.data);
  assert.equal(new TextDecoder().decode(new Uint8Array(text)), "Hello");
  const last = got.at(-1)!;
  assert.equal(last.meta.flags, WS.TEXT);
  assert.deepEqual(sent(p.takeOutput()), [{
    opcode: 0xa,
    fin: true,
    payload: [...te.encode("p")],
  }]);
});

Deno.test("protocol: pings are answered with their payload (0 and 125 bytes), pongs are reported", () => {
  for (const size of [0, 125]) {
    const p = new Protocol({ role: "client" });
    const payload = new Uint8Array(size).fill(0x5a);
    const got = run(p, cat(f(9, payload), f(0xa, "unsolicited")));
    assert.equal(got[0].meta.flags, WS.PING);
    assert.deepEqual(got[0].data, [...payload]);
    assert.equal(got.at(-1)!.meta.flags, WS.PONG);
    assert.deepEqual(sent(p.takeOutput()), [{
      opcode: 0xa,
      fin: true,
      payload: [...payload],
    }]);
  }
});

Deno.test("protocol: autoPong off reports pings without answering", () => {
  const p = new Protocol({ role: "client", autoPong: false });
  const got = run(p, f(9, "x"));
  assert.equal(got[0].meta.flags, WS.PING);
  assert.equal(p.takeOutput(), null);
});

Deno.test("protocol: a ping flood queues only the latest pong", () => {
  const p = new Protocol({ role: "client" });
  const pings = [];
  for (let i = 0; i < 1000; i++) pings.push(f(9, String(i)));
  run(p, cat(...pings));
  assert.deepEqual(sent(p.takeOutput()), [{
    opcode: 0xa,
    fin: true,
    payload: [...te.encode("999")],
  }]);
});

Deno.test("protocol: peer close is reported, echoed, and ends processing", () => {
  const p = new Protocol({ role: "client" });
  const close = new Uint8Array([0x0f, 0xa0, ...te.encode("bye")]); // 4000
  const got = run(p, cat(f(8, close), f(1, "ignored")));
  assert.equal(got.length, 1);
  assert.equal(got[0].meta.flags, WS.CLOSE);
  assert.deepEqual(got[0].data, [...close]);
  assert.deepEqual(p.peerClose, { code: 4000, reason: "bye" });
  assert.deepEqual(sent(p.takeOutput()), [{
    opcode: 8,
    fin: true,
    payload: [0x0f, 0xa0],
  }]);
  assert.ok(p.closeSent);
  // An empty close is echoed empty.
  const q = new Protocol({ role: "client" });
  run(q, f(8));
  assert.deepEqual(sent(q.takeOutput()), [{
    opcode: 8,
    fin: true,
    payload: [],
  }]);
  assert.deepEqual(q.peerClose, { code: 1005, reason: "" });
});

Deno.test("protocol: violations close with 1002", () => {
  for (const rsv of [1, 2, 4]) {
    expectFail(f(1, "x", { rsv }), "PROTOCOL_ERROR", 1002);
  }
  for (const op of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    expectFail(f(op, "x"), "PROTOCOL_ERROR", 1002);
  }
  expectFail(f(1, "x", { mask: true }), "PROTOCOL_ERROR", 1002); // masked from server
  expectFail(f(1, "x"), "PROTOCOL_ERROR", 1002, "server"); // unmasked from client
  expectFail(f(9, new Uint8Array(126)), "PROTOCOL_ERROR", 1002); // control > 125
  expectFail(f(9, "x", { fin: false }), "PROTOCOL_ERROR", 1002); // fragmented control
  expectFail(f(0xa, "x", { fin: false }), "PROTOCOL_ERROR", 1002);
  expectFail(
    f(8, new Uint8Array([3, 232]), { fin: false }),
    "PROTOCOL_ERROR",
    1002,
  );
  expectFail(f(0, "x"), "PROTOCOL_ERROR", 1002); // CONT without start
  expectFail(cat(f(1, "a", { fin: false }), f(1, "b")), "PROTOCOL_ERROR", 1002); // new message inside one
  expectFail(cat(f(2, "a", { fin: false }), f(2, "b")), "PROTOCOL_ERROR", 1002);
  expectFail(f(8, new Uint8Array([3])), "PROTOCOL_ERROR", 1002); // 1-byte close
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999]) {
    expectFail(
      f(8, new Uint8Array([code >> 8, code & 0xff])),
      "PROTOCOL_ERROR",
      1002,
    );
  }
  // RSV1 on a continuation frame even where RSV1 is allowed on first frames.
  const p = new Protocol({ role: "client", allowedRsv: 4 });
  assert.throws(
    () => run(p, cat(f(1, "a", { fin: false, rsv: 4 }), f(0, "b", { rsv: 4 }))),
    WebSocketError,
  );
});

Deno.test("protocol: invalid UTF-8 closes with 1007, failing fast in the bad chunk", () => {
  expectFail(
    f(1, new Uint8Array([0xce, 0xba, 0xed, 0xa0, 0x80])),
    "INVALID_PAYLOAD",
    1007,
  );
  expectFail(f(8, new Uint8Array([3, 232, 0xff])), "INVALID_PAYLOAD", 1007); // close reason
  // Text ending inside a code point at message end.
  expectFail(
    cat(
      f(1, new Uint8Array([0x61, 0xe2]), { fin: false }),
      f(0, new Uint8Array([0x82])),
    ),
    "INVALID_PAYLOAD",
    1007,
  );
  // Fail fast: the error is raised on the chunk holding the bad byte, before the frame is complete.
  const p = new Protocol({ role: "client" });
  const frame = f(
    1,
    new Uint8Array([0x61, 0x62, 0xc0, 0x63, 0x64, 0x65, 0x66]),
  );
  p.feed(frame.subarray(0, 3)); // header + 'a'
  assert.equal(p.read(100)!.data.length, 1);
  p.feed(frame.subarray(3, 5)); // 'b', 0xc0
  assert.throws(
    () => p.read(100),
    (e) => e instanceof WebSocketError && e.closeCode === 1007,
  );
  // Split code points across frames are fine.
  const q = new Protocol({ role: "client" });
  const euro = te.encode("€");
  const got = run(
    q,
    cat(
      f(1, euro.subarray(0, 1), { fin: false }),
      f(0, euro.subarray(1, 2), { fin: false }),
      f(0, euro.subarray(2)),
    ),
    1,
  );
  assert.equal(got.length, 3);
});

Deno.test("protocol: maxFrameSize closes with 1009", () => {
  const p = new Protocol({ role: "client", maxFrameSize: 10 });
  assert.throws(
    () => run(p, f(2, new Uint8Array(11))),
    (e) =>
      e instanceof WebSocketError && e.code === "MESSAGE_TOO_BIG" &&
      e.closeCode === 1009,
  );
  const q = new Protocol({ role: "client", maxFrameSize: 10 });
  assert.equal(run(q, f(2, new Uint8Array(10))).length, 1);
});

Deno.test("protocol: control pieces respect a small read buffer", () => {
  const p = new Protocol({ role: "client" });
  const got = run(p, f(9, "abcdefgh"), undefined, 3);
  assert.deepEqual(
    got.map((g) => [g.meta.offset, g.meta.len, g.meta.bytesleft]),
    [[0, 3, 5], [3, 3, 2], [6, 2, 0]],
  );
});

Deno.test("protocol: server role unmasks client frames", () => {
  const p = new Protocol({ role: "server" });
  const got = run(p, f(1, "Hello", { mask: true }), 2);
  assert.equal(
    new TextDecoder().decode(new Uint8Array(got.flatMap((g) => g.data))),
    "Hello",
  );
});

Deno.test("protocol encode: client frames are masked with fresh keys, server frames are not", () => {
  const c = new Protocol({ role: "client" });
  const a = c.encode(te.encode("Hello"), WS.TEXT);
  const b = c.encode(te.encode("Hello"), WS.TEXT);
  assert.equal(a[1] & 0x80, 0x80);
  assert.notDeepEqual(a.subarray(2, 6), b.subarray(2, 6));
  assert.deepEqual(sent(a), [{
    opcode: 1,
    fin: true,
    payload: [...te.encode("Hello")],
  }]);
  const s = new Protocol({ role: "server" });
  assert.deepEqual([...s.encode(te.encode("Hello"), WS.TEXT)], [
    0x81,
    5,
    ...te.encode("Hello"),
  ]);
});

Deno.test("protocol encode: curl fragment convention and partial frames", () => {
  const c = new Protocol({ role: "client" });
  const bytes = cat(
    c.encode(te.encode("Hel"), WS.TEXT | WS.CONT),
    c.encode(te.encode("p"), WS.PING),
    c.encode(te.encode("lo"), WS.TEXT),
  );
  assert.deepEqual(sent(bytes), [
    { opcode: 1, fin: false, payload: [...te.encode("Hel")] },
    { opcode: 9, fin: true, payload: [...te.encode("p")] },
    { opcode: 0, fin: true, payload: [...te.encode("lo")] },
  ]);
  // A 10-byte frame in three calls.
  const parts = [
    c.encode(new Uint8Array([1, 2, 3]), WS.BINARY | WS.OFFSET, 10),
    c.encode(new Uint8Array([4, 5, 6, 7]), WS.BINARY | WS.OFFSET),
  ];
  assert.ok(c.inPartialFrame);
  assert.throws(() => c.encode(new Uint8Array(1), WS.BINARY), WebSocketError); // without OFFSET
  assert.throws(
    () => c.encode(new Uint8Array(4), WS.BINARY | WS.OFFSET),
    WebSocketError,
  ); // past the end
  parts.push(c.encode(new Uint8Array([8, 9, 10]), WS.BINARY | WS.OFFSET));
  assert.ok(!c.inPartialFrame);
  assert.deepEqual(sent(cat(...parts)), [{
    opcode: 2,
    fin: true,
    payload: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  }]);
});

Deno.test("protocol encode: pongs wait for a partial frame to finish", () => {
  const c = new Protocol({ role: "client" });
  const first = c.encode(new Uint8Array([1]), WS.BINARY | WS.OFFSET, 2);
  run(c, f(9, "x"));
  assert.equal(c.takeOutput(), null, "no pong inside the partial frame");
  const second = c.encode(new Uint8Array([2]), WS.BINARY | WS.OFFSET);
  assert.deepEqual(sent(cat(first, second, c.takeOutput()!)), [
    { opcode: 2, fin: true, payload: [1, 2] },
    { opcode: 0xa, fin: true, payload: [...te.encode("x")] },
  ]);
});

Deno.test("protocol encode: argument errors", () => {
  const c = new Protocol({ role: "client" });
  const bad = (data: Uint8Array, flags: number) =>
    assert.throws(
      () => c.encode(data, flags),
      (e) => e instanceof WebSocketError && e.code === "INVALID_ARGUMENT",
    );
  bad(new Uint8Array(126), WS.PING);
  bad(new Uint8Array(1), WS.PING | WS.CONT);
  bad(new Uint8Array(1), WS.TEXT | WS.BINARY);
  bad(new Uint8Array(1), WS.PING | WS.PONG);
  bad(new Uint8Array(1), 0);
  c.encode(new Uint8Array(1), WS.TEXT | WS.CONT);
  bad(new Uint8Array(1), WS.BINARY); // type differs from the message in progress
  c.encode(new Uint8Array(0), WS.TEXT);
  assert.ok(c.queueClose(1000, "bye"));
  assert.throws(
    () => c.encode(new Uint8Array(1), WS.TEXT),
    (e) => e instanceof WebSocketError && e.code === "CLOSED",
  );
  assert.equal(c.queueClose(1000), false);
});

Deno.test("protocol: continueUnmasked passes a server's partial-frame bytes through uncopied, within the frame", () => {
  const s = new Protocol({ role: "server" });
  const header = s.encode(new Uint8Array(0), WS.BINARY | WS.OFFSET, 6);
  assert.deepEqual([...header], [0x82, 6]);
  assert.equal(s.partialFrameLeft, 6);
  const piece = new Uint8Array([1, 2, 3, 4]);
  assert.equal(s.continueUnmasked(piece), piece); // the same view, no copy
  assert.equal(s.partialFrameLeft, 2);
  assert.throws(() => s.continueUnmasked(new Uint8Array(3)), WebSocketError);
  assert.equal(s.partialFrameLeft, 2); // a rejected piece changes nothing
  s.continueUnmasked(new Uint8Array([5, 6]));
  assert.ok(!s.inPartialFrame);
  // A client must mask: no pass-through.
  const c = new Protocol({ role: "client" });
  c.encode(new Uint8Array(0), WS.BINARY | WS.OFFSET, 4);
  assert.throws(() => c.continueUnmasked(new Uint8Array(4)), WebSocketError);
});

Deno.test("protocol: state is open, then closing after our close, closed after the peer's; read-only", () => {
  const p = new Protocol({ role: "client" });
  assert.equal(p.state, "open");
  assert.ok(p.queueClose(1000));
  assert.equal(p.state, "closing");
  // Data still arrives while we wait for the peer's close.
  assert.deepEqual(run(p, f(1, "late")).map((g) => g.data), [[
    ...te.encode("late"),
  ]]);
  run(p, f(8, new Uint8Array([0x03, 0xe8])));
  assert.equal(p.state, "closed");
  assert.throws(() => {
    // @ts-expect-error: only the protocol changes its state
    p.state = "open";
  }, TypeError);
  // The peer closing first, and a violation, both end in "closed".
  const q = new Protocol({ role: "client" });
  run(q, f(8));
  assert.equal(q.state, "closed");
  const r = new Protocol({ role: "client" });
  assert.throws(() => run(r, f(3)), WebSocketError);
  assert.equal(r.state, "closed");
});

/**
 * A toy extension on RSV2: every payload byte of a message it marked stands
 * for `n` copies of itself, handed out at most 64 bytes at a time.
 */
class Repeat implements Extension {
  readonly name = "x-repeat";
  readonly rsv = 2;
  messageEnded = true;
  readonly #n: number;
  #input = new Uint8Array(0);
  #pos = 0;
  #last = false;
  #byte = 0;
  #left = 0;
  #out = new Uint8Array(64);

  constructor(n: number) {
    this.#n = n;
  }

  encode(payload: Uint8Array, first: boolean): Uint8Array | null {
    if (first && payload.length < 2) return null; // short: send as it is
    return payload.filter((_, i) => i % this.#n === 0);
  }

  decode(data: Uint8Array, last: boolean): void {
    this.messageEnded = false;
    this.#input = data.slice(); // the view is valid only until pull() is null
    this.#pos = 0;
    this.#last = last;
  }

  pull(max: number): Uint8Array | null {
    if (this.#left === 0) {
      if (this.#pos === this.#input.length) {
        if (!this.#last || this.messageEnded) return null;
        this.messageEnded = true;
        return new Uint8Array(0);
      }
      this.#byte = this.#input[this.#pos++];
      if (this.#byte === 0x21) { // "!" is our corrupt data
        throw new WebSocketError("INVALID_PAYLOAD", "bang", {
          closeCode: 1007,
        });
      }
      this.#left = this.#n;
    }
    const n = Math.min(max, this.#out.length, this.#left);
    this.#out.fill(this.#byte, 0, n);
    this.#left -= n;
    this.messageEnded = this.#last && this.#left === 0 &&
      this.#pos === this.#input.length;
    return this.#out.subarray(0, n);
  }
}

Deno.test("protocol: an extension decodes marked messages in bounded pieces and encodes outgoing ones", () => {
  const p = new Protocol({ role: "client", extension: new Repeat(100) });
  const got = run(
    p,
    cat(
      f(1, "ab", { rsv: 2, fin: false }),
      f(9, "mid"),
      f(0, "c"),
      f(2, "xyz"), // no RSV2: passes through as it is
      f(1, "", { rsv: 2 }), // empty
    ),
    3,
    50,
  );
  const text = got.filter((g) => g.meta.flags & WS.TEXT);
  assert.equal(
    new TextDecoder().decode(new Uint8Array(text.flatMap((g) => g.data))),
    "a".repeat(100) + "b".repeat(100) + "c".repeat(100),
  );
  assert.ok(text.every((g) => g.data.length <= 50), "pieces within max");
  const ends = text.filter((g) => !(g.meta.flags & WS.CONT));
  assert.deepEqual(ends.map((g) => g.data.length), [50, 0]);
  assert.ok(text.every((g) => g.meta.offset === 0 && g.meta.bytesleft === 0));
  assert.ok(got.some((g) => g.meta.flags === WS.PING), "the ping in between");
  const binary = got.filter((g) => g.meta.flags & WS.BINARY);
  assert.equal(td(new Uint8Array(binary.flatMap((g) => g.data))), "xyz");
  // Decoded text is UTF-8 checked; the extension's errors close the
  // connection with its close code.
  for (const [payload, closeCode] of [["\xff", 1007], ["a!", 1007]] as const) {
    const q = new Protocol({ role: "client", extension: new Repeat(3) });
    const bytes = new Uint8Array([...payload].map((c) => c.charCodeAt(0)));
    assert.throws(() => run(q, f(1, bytes, { rsv: 2 })), (e) => {
      assert.ok(e instanceof WebSocketError);
      return e.closeCode === closeCode;
    });
    const close = sent(q.takeOutput());
    assert.deepEqual(close[0].payload, [closeCode >> 8, closeCode & 0xff]);
  }
  // Sending: RSV2 on the first frame of an encoded message only.
  const s = new Protocol({ role: "server", extension: new Repeat(2) });
  const frames = ([["aabb", WS.TEXT | WS.CONT], ["cc", WS.TEXT], [
    "d",
    WS.TEXT, // too short for the extension: as it is
  ]] as const).map(([data, flags]) => {
    const { payload, rsv } = s.compress(te.encode(data), flags);
    const frame = s.encode(payload, flags, 0, undefined, rsv);
    return [frame[0].toString(16), td(frame.subarray(2))];
  });
  assert.deepEqual(frames, [["21", "ab"], ["80", "c"], ["81", "d"]]);
});

function td(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}
