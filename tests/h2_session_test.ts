/**
 * The sans-I/O HTTP/2 client session: scripted server frames in, client
 * frames and events out (RFC 9113 §5, §6, RFC 8441 §3).
 */
import assert from "node:assert/strict";
import { WebSocketError } from "../src/errors.ts";
import { H2Code } from "../src/h2/errors.ts";
import {
  encodeFrame,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeWindowUpdate,
  Flag,
  FrameType,
  SettingId,
} from "../src/h2/frames.ts";
import {
  type HeaderField,
  Http2ClientSession,
  type Http2Event,
  type Http2SessionOptions,
} from "../src/h2/session.ts";
import { ScriptedPeer, type SentFrame, u32 } from "./peers/h2_peer.ts";

const CONNECT: HeaderField[] = [
  [":method", "CONNECT"],
  [":protocol", "websocket"],
  [":scheme", "https"],
  [":path", "/chat"],
  [":authority", "example.com"],
  ["sec-websocket-version", "13"],
];
const OK: HeaderField[] = [[":status", "200"]];

function setup(
  options: Http2SessionOptions = {},
  settings?: Array<[number, number]>,
) {
  const peer = new ScriptedPeer(new Http2ClientSession(options));
  peer.sent(); // preface, SETTINGS, WINDOW_UPDATE
  peer.handshake(settings);
  return { peer, session: peer.session };
}

/** Opens a stream and answers 200. */
function openOk(peer: ScriptedPeer): number {
  const id = peer.session.openStream(CONNECT);
  peer.sent();
  const events = peer.send(peer.headers(id, OK));
  assert.equal(events[0]?.type, "headers");
  return id;
}

function ofType<T extends Http2Event["type"]>(events: Http2Event[], type: T) {
  return events.filter((e) => e.type === type) as Extract<
    Http2Event,
    { type: T }
  >[];
}

function goawayCode(frames: SentFrame[]): number | undefined {
  const g = frames.find((f) => f.type === FrameType.GOAWAY);
  return g ? u32(g.payload, 4) : undefined;
}

function rstCodes(frames: SentFrame[]): Array<[number, number]> {
  return frames.filter((f) => f.type === FrameType.RST_STREAM).map((
    f,
  ) => [f.streamId, u32(f.payload)]);
}

function windowUpdates(frames: SentFrame[]): Array<[number, number]> {
  return frames.filter((f) => f.type === FrameType.WINDOW_UPDATE).map((
    f,
  ) => [f.streamId, u32(f.payload)]);
}

function dataFrames(frames: SentFrame[]): Array<[number, number, boolean]> {
  return frames.filter((f) => f.type === FrameType.DATA).map((
    f,
  ) => [f.streamId, f.payload.length, (f.flags & Flag.END_STREAM) !== 0]);
}

/** Feeds `frames` and asserts the connection failed with GOAWAY(code). */
function expectGoaway(
  peer: ScriptedPeer,
  code: number,
  ...frames: Uint8Array[]
): Http2Event[] {
  const events = peer.send(...frames);
  const closed = ofType(events, "closed");
  assert.equal(
    closed.length,
    1,
    `closed event for ${code}: ${JSON.stringify(events.map((e) => e.type))}`,
  );
  assert.equal(
    closed[0].error?.http2Code,
    code,
    closed[0].error?.message ?? "",
  );
  assert.ok(closed[0].error instanceof WebSocketError);
  assert.equal(goawayCode(peer.sent()), code);
  assert.equal(peer.session.closed, true);
  assert.deepEqual(
    peer.send(encodePing(new Uint8Array(8))),
    [],
    "nothing after the end",
  );
  return events;
}

Deno.test("h2 session: preface, our SETTINGS and the connection window go out first", () => {
  const peer = new ScriptedPeer(
    new Http2ClientSession({ streamWindow: 100000, connectionWindow: 1 << 20 }),
  );
  const frames = peer.sent();
  assert.equal(frames[0].type, FrameType.SETTINGS);
  const p = frames[0].payload;
  const settings = new Map<number, number>();
  for (let i = 0; i < p.length; i += 6) {
    settings.set((p[i] << 8) | p[i + 1], u32(p, i + 2));
  }
  assert.equal(settings.get(SettingId.ENABLE_PUSH), 0);
  assert.equal(settings.get(SettingId.INITIAL_WINDOW_SIZE), 100000);
  assert.deepEqual(windowUpdates(frames), [[0, (1 << 20) - 65535]]);
  assert.throws(
    () => new Http2ClientSession({ maxFrameSize: 100 }),
    /maxFrameSize/,
  );
});

Deno.test("h2 session: SETTINGS are acknowledged both ways; an unexpected ACK is PROTOCOL_ERROR", () => {
  const peer = new ScriptedPeer(new Http2ClientSession());
  peer.sent();
  const events = peer.send(
    peer.settings([[SettingId.MAX_CONCURRENT_STREAMS, 7]]),
  );
  assert.equal(ofType(events, "settings")[0].settings.maxConcurrentStreams, 7);
  assert.deepEqual(peer.sent().map((f) => [f.type, f.flags]), [[
    FrameType.SETTINGS,
    Flag.ACK,
  ]]);
  assert.equal(peer.session.availableStreams, 7);
  assert.equal(
    ofType(
      peer.send(encodeFrame(FrameType.SETTINGS, Flag.ACK, 0)),
      "settingsAck",
    ).length,
    1,
  );
  expectGoaway(
    peer,
    H2Code.PROTOCOL_ERROR,
    encodeFrame(FrameType.SETTINGS, Flag.ACK, 0),
  );
});

Deno.test("h2 session: the server's first frame must be SETTINGS", () => {
  const peer = new ScriptedPeer(new Http2ClientSession());
  peer.sent();
  expectGoaway(peer, H2Code.PROTOCOL_ERROR, encodePing(new Uint8Array(8)));
});

Deno.test("h2 session: extended CONNECT waits for SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3)", () => {
  const early = new ScriptedPeer(new Http2ClientSession());
  assert.throws(() => early.session.openStream(CONNECT), {
    code: "INVALID_ARGUMENT",
  });
  const { session: off } = setup({}, [[SettingId.ENABLE_CONNECT_PROTOCOL, 0]]);
  assert.throws(() => off.openStream(CONNECT), { code: "BAD_HANDSHAKE" });
  // A plain request needs no extended CONNECT.
  assert.equal(
    off.openStream([[":method", "GET"], [":scheme", "https"], [":path", "/"], [
      ":authority",
      "a",
    ]]),
    1,
  );

  const { peer, session } = setup();
  const id = session.openStream(CONNECT);
  assert.equal(id, 1);
  assert.equal(session.streamState(id), "open");
  const [h] = peer.sent();
  assert.deepEqual([h.type, h.streamId, h.flags], [
    FrameType.HEADERS,
    1,
    Flag.END_HEADERS,
  ]);
  assert.deepEqual(h.fields, CONNECT);
  assert.equal(
    session.openStream(CONNECT),
    3,
    "client streams are odd and increasing",
  );
  assert.throws(
    () => session.openStream([[":method", "GET"], ["Upper", "x"]]),
    { code: "INVALID_ARGUMENT" },
  );
  // Withdrawing the setting is a connection error.
  expectGoaway(
    peer,
    H2Code.PROTOCOL_ERROR,
    peer.settings([[SettingId.ENABLE_CONNECT_PROTOCOL, 0]]),
  );
});

Deno.test("h2 session: response, DATA, trailers and stream states (RFC 9113 §5.1)", () => {
  const { peer, session } = setup();
  const id = session.openStream(CONNECT);
  peer.sent();
  const info = peer.send(peer.headers(id, [[":status", "100"]]));
  assert.deepEqual(info, [{
    type: "headers",
    streamId: id,
    fields: [[":status", "100"]],
    endStream: false,
  }]);
  const events = peer.send(
    peer.headers(id, [[":status", "200"], ["sec-websocket-protocol", "chat"]]),
    peer.data(id, new Uint8Array([1, 2, 3])),
  );
  assert.deepEqual(events.map((e) => e.type), ["headers", "data"]);
  assert.deepEqual([...ofType(events, "data")[0].data], [1, 2, 3]);
  session.end(id);
  assert.equal(session.streamState(id), "half-closed-local");
  assert.deepEqual(dataFrames(peer.sent()), [[id, 0, true]]);
  assert.throws(() => session.send(id, new Uint8Array(1)), { code: "CLOSED" });
  const end = peer.send(peer.headers(id, [["x-trailer", "t"]], true));
  assert.deepEqual(end, [{
    type: "headers",
    streamId: id,
    fields: [["x-trailer", "t"]],
    endStream: true,
  }]);
  assert.equal(session.streamState(id), "closed");
  assert.equal(session.streamState(99), "idle");

  const other = openOk(peer);
  peer.send(peer.data(other, new Uint8Array(0), true));
  assert.equal(session.streamState(other), "half-closed-remote");
  session.send(other, new Uint8Array(5), true);
  assert.deepEqual(dataFrames(peer.sent()), [[other, 5, true]]);
  assert.equal(session.streamState(other), "closed");
});

Deno.test("h2 session: stream WINDOW_UPDATE follows consumption; the connection's follows arrival", () => {
  const { peer, session } = setup({
    streamWindow: 1000,
    connectionWindow: 65535,
  });
  const a = openOk(peer);
  peer.send(peer.data(a, new Uint8Array(400)));
  assert.deepEqual(
    windowUpdates(peer.sent()),
    [],
    "nothing before half a window",
  );
  session.consumed(a, 300);
  assert.deepEqual(windowUpdates(peer.sent()), [], "300 < 500");
  session.consumed(a, 100);
  assert.deepEqual(windowUpdates(peer.sent()), [], "400 < 500");
  peer.send(peer.data(a, new Uint8Array(600)));
  session.consumed(a, 100);
  assert.deepEqual(windowUpdates(peer.sent()), [[a, 500]]);
  assert.throws(() => session.consumed(a, 10000), { code: "INVALID_ARGUMENT" });
  // The connection window is returned as DATA arrives, consumed or not.
  for (let i = 0; i < 40; i++) {
    peer.send(peer.data(openOkQuiet(peer), new Uint8Array(900)));
  }
  const updates = windowUpdates(peer.sent());
  assert.ok(
    updates.some(([s]) => s === 0),
    "connection WINDOW_UPDATE without consumption",
  );
  assert.ok(
    updates.every(([s]) => s === 0),
    "no stream update without consumption",
  );
});

/** openOk without the assertion noise, for loops. */
function openOkQuiet(peer: ScriptedPeer): number {
  const id = peer.session.openStream(CONNECT);
  peer.send(peer.headers(id, OK));
  return id;
}

Deno.test("h2 session: a slow reader backpressures its own stream only", () => {
  const { peer, session } = setup({ streamWindow: 1000 });
  const slow = openOk(peer);
  const fast = openOk(peer);
  peer.send(peer.data(slow, new Uint8Array(1000)));
  // The slow stream's window is spent; the fast one keeps flowing.
  let got = 0;
  for (let i = 0; i < 20; i++) {
    const events = peer.send(peer.data(fast, new Uint8Array(700)));
    got += ofType(events, "data")[0].data.length;
    session.consumed(fast, 700);
  }
  assert.equal(got, 14000);
  const updates = windowUpdates(peer.sent());
  assert.ok(updates.filter(([s]) => s === fast).length >= 10);
  assert.ok(
    !updates.some(([s]) => s === slow),
    "no window for the slow stream",
  );
  // Sending past the slow stream's window resets that stream alone.
  const events = peer.send(peer.data(slow, new Uint8Array(1)));
  assert.equal(
    ofType(events, "reset")[0].error.http2Code,
    H2Code.FLOW_CONTROL_ERROR,
  );
  assert.deepEqual(rstCodes(peer.sent()), [[slow, H2Code.FLOW_CONTROL_ERROR]]);
  assert.equal(
    ofType(peer.send(peer.data(fast, new Uint8Array(10))), "data").length,
    1,
  );
  // Padding counts against the window but is returned without consumption.
  peer.send(
    peer.data(fast, new Uint8Array(0), false, 255),
    peer.data(fast, new Uint8Array(0), false, 255),
  );
  assert.deepEqual(windowUpdates(peer.sent()), [[fast, 512]]);
});

Deno.test("h2 session: sends wait for the server's stream and connection windows", () => {
  const { peer, session } = setup({}, [[SettingId.ENABLE_CONNECT_PROTOCOL, 1], [
    SettingId.INITIAL_WINDOW_SIZE,
    100,
  ]]);
  const a = openOk(peer);
  const b = openOk(peer);
  assert.equal(session.send(a, new Uint8Array(250)), 150);
  assert.deepEqual(dataFrames(peer.sent()), [[a, 100, false]]);
  // One stream blocked by its window does not block another.
  assert.equal(session.send(b, new Uint8Array(60), true), 0);
  assert.deepEqual(dataFrames(peer.sent()), [[b, 60, true]]);
  let events = peer.send(encodeWindowUpdate(a, 100));
  assert.deepEqual(dataFrames(peer.sent()), [[a, 100, false]]);
  assert.deepEqual(ofType(events, "drained"), []);
  assert.equal(session.pendingBytes(a), 50);
  session.end(a);
  events = peer.send(encodeWindowUpdate(a, 1000));
  assert.deepEqual(
    dataFrames(peer.sent()),
    [[a, 50, true]],
    "END_STREAM rides on the last bytes",
  );
  assert.deepEqual(ofType(events, "drained"), [{
    type: "drained",
    streamId: a,
  }]);

  // The connection window (65535 by default) holds every stream.
  peer.send(peer.settings([[SettingId.INITIAL_WINDOW_SIZE, 1 << 20]]));
  const c = openOk(peer);
  const d = openOk(peer);
  assert.equal(session.send(c, new Uint8Array(70000)), 70000 - (65535 - 310));
  assert.equal(session.send(d, new Uint8Array(10)), 10);
  assert.equal(session.sendWindow(d), 0);
  peer.sent();
  events = peer.send(encodeWindowUpdate(0, 100000));
  const sent = dataFrames(peer.sent());
  assert.deepEqual(sent.filter(([s]) => s === d), [[d, 10, false]]);
  assert.equal(
    sent.filter(([s]) => s === c).reduce((n, [, len]) => n + len, 0),
    70000 - (65535 - 310),
  );
  assert.deepEqual(ofType(events, "drained").map((e) => e.streamId).sort(), [
    c,
    d,
  ]);
  // DATA frames never exceed the server's SETTINGS_MAX_FRAME_SIZE.
  session.send(c, new Uint8Array(40000));
  assert.ok(dataFrames(peer.sent()).every(([, len]) => len <= 16384));
  peer.send(
    peer.settings([[SettingId.MAX_FRAME_SIZE, 32768]]),
    encodeWindowUpdate(0, 100000),
  );
  peer.sent();
  session.send(c, new Uint8Array(40000));
  assert.deepEqual(dataFrames(peer.sent()).map(([, len]) => len), [
    32768,
    40000 - 32768,
  ]);
});

Deno.test("h2 session: a new INITIAL_WINDOW_SIZE moves open streams' windows, even below zero", () => {
  const { peer, session } = setup();
  const a = openOk(peer);
  session.send(a, new Uint8Array(60000));
  peer.sent();
  peer.send(peer.settings([[SettingId.INITIAL_WINDOW_SIZE, 50000]]));
  assert.equal(session.sendWindow(a), 0); // 65535 - 60000 - 15535 = -10000
  session.send(a, new Uint8Array(10));
  assert.deepEqual(dataFrames(peer.sent()), []);
  peer.send(encodeWindowUpdate(a, 10005));
  assert.deepEqual(dataFrames(peer.sent()), [[a, 5, false]]);
  expectGoaway(
    peer,
    H2Code.FLOW_CONTROL_ERROR,
    encodeWindowUpdate(a, 0x7fffffff - 5),
    peer.settings([[SettingId.INITIAL_WINDOW_SIZE, 0x7fffffff]]),
  );
});

Deno.test("h2 session: SETTINGS_MAX_CONCURRENT_STREAMS limits open streams", () => {
  const { peer, session } = setup({}, [[SettingId.ENABLE_CONNECT_PROTOCOL, 1], [
    SettingId.MAX_CONCURRENT_STREAMS,
    2,
  ]]);
  const a = openOk(peer);
  openOk(peer);
  assert.equal(session.availableStreams, 0);
  assert.throws(() => session.openStream(CONNECT), /MAX_CONCURRENT_STREAMS/);
  peer.send(encodeRstStream(a, H2Code.CANCEL));
  assert.equal(session.availableStreams, 1);
  assert.equal(session.openStream(CONNECT), 5);
});

Deno.test("h2 session: PING is answered with the same bytes; our PING's ACK is reported", () => {
  const { peer, session } = setup();
  const data = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
  peer.send(encodePing(data));
  const [ack] = peer.sent();
  assert.deepEqual([ack.type, ack.flags, [...ack.payload]], [
    FrameType.PING,
    Flag.ACK,
    [...data],
  ]);
  session.ping(data);
  assert.deepEqual(peer.sent().map((f) => [f.type, f.flags]), [[
    FrameType.PING,
    0,
  ]]);
  assert.deepEqual(peer.send(encodePing(data, true)), [{
    type: "pingAck",
    data,
  }]);
});

Deno.test("h2 session: RST_STREAM from the server is CONNECTION_LOST with its code", () => {
  const { peer, session } = setup();
  const a = openOk(peer);
  const b = openOk(peer);
  const events = peer.send(encodeRstStream(a, H2Code.CANCEL));
  assert.equal(events.length, 1);
  const [r] = ofType(events, "reset");
  assert.deepEqual([r.streamId, r.error.code, r.error.http2Code], [
    a,
    "CONNECTION_LOST",
    H2Code.CANCEL,
  ]);
  assert.match(r.error.message, /CANCEL \(0x8\)/);
  assert.throws(() => session.send(a, new Uint8Array(1)), { code: "CLOSED" });
  // Frames still in flight for the reset stream are ignored; b carries on.
  assert.deepEqual(
    peer.send(peer.data(a, new Uint8Array(5)), encodeRstStream(a, 0)),
    [],
  );
  assert.equal(
    ofType(peer.send(peer.data(b, new Uint8Array(5))), "data").length,
    1,
  );
  // Our own reset: RST_STREAM out, nothing reported.
  session.reset(b);
  assert.deepEqual(rstCodes(peer.sent()), [[b, H2Code.CANCEL]]);
  assert.equal(session.streamState(b), "closed");
});

Deno.test("h2 session: GOAWAY fails the streams above its last stream id and stops new ones", () => {
  const { peer, session } = setup();
  const a = openOk(peer);
  const b = openOk(peer);
  const c = openOk(peer);
  const events = peer.send(
    encodeGoaway(b, H2Code.NO_ERROR, new TextEncoder().encode("bye")),
  );
  assert.deepEqual(events.map((e) => e.type), ["goaway", "reset"]);
  assert.equal(ofType(events, "goaway")[0].lastStreamId, b);
  const [r] = ofType(events, "reset");
  assert.deepEqual([r.streamId, r.error.code, r.error.http2Code], [
    c,
    "CONNECTION_LOST",
    0,
  ]);
  assert.throws(() => session.openStream(CONNECT), { code: "CONNECTION_LOST" });
  // A later GOAWAY cannot raise the last stream id, only lower it.
  const second = peer.send(encodeGoaway(a, H2Code.ENHANCE_YOUR_CALM));
  assert.deepEqual(
    ofType(second, "reset").map((e) => [e.streamId, e.error.http2Code]),
    [[b, 0xb]],
  );
  assert.equal(
    ofType(peer.send(peer.data(a, new Uint8Array(1))), "data").length,
    1,
    "a still works",
  );
  const end = session.transportClosed();
  assert.deepEqual(end.map((e) => e.type), ["reset", "closed"]);
  assert.equal(ofType(end, "reset")[0].error.code, "CONNECTION_LOST");
  assert.match(
    ofType(end, "reset")[0].error.message,
    /GOAWAY ENHANCE_YOUR_CALM/,
  );
});

Deno.test("h2 session: connection errors answer with GOAWAY and the right code", () => {
  const cases: Array<
    [string, number, (p: ScriptedPeer, id: number) => Uint8Array[]]
  > = [
    [
      "PUSH_PROMISE",
      H2Code.PROTOCOL_ERROR,
      (
        _,
        id,
      ) => [encodeFrame(FrameType.PUSH_PROMISE, 4, id, new Uint8Array(4))],
    ],
    [
      "DATA on an idle stream",
      H2Code.PROTOCOL_ERROR,
      (p) => [p.data(99, new Uint8Array(1))],
    ],
    [
      "HEADERS on a server stream",
      H2Code.PROTOCOL_ERROR,
      (p) => [p.headers(2, OK)],
    ],
    [
      "WINDOW_UPDATE on an idle stream",
      H2Code.PROTOCOL_ERROR,
      () => [encodeWindowUpdate(9, 1)],
    ],
    [
      "RST_STREAM on an idle stream",
      H2Code.PROTOCOL_ERROR,
      () => [encodeRstStream(9, 0)],
    ],
    ["a frame inside a header block", H2Code.PROTOCOL_ERROR, (_, id) => [
      encodeFrame(FrameType.HEADERS, 0, id, new Uint8Array([0x88])),
      encodePing(new Uint8Array(8)),
    ]],
    ["CONTINUATION without HEADERS", H2Code.PROTOCOL_ERROR, (_, id) => [
      encodeFrame(
        FrameType.CONTINUATION,
        Flag.END_HEADERS,
        id,
        new Uint8Array([0x88]),
      ),
    ]],
    ["CONTINUATION on another stream", H2Code.PROTOCOL_ERROR, (_, id) => [
      encodeFrame(FrameType.HEADERS, 0, id, new Uint8Array([0x88])),
      encodeFrame(
        FrameType.CONTINUATION,
        Flag.END_HEADERS,
        id + 2,
        new Uint8Array([]),
      ),
    ]],
    ["an HPACK index out of range", H2Code.COMPRESSION_ERROR, (_, id) => [
      encodeFrame(
        FrameType.HEADERS,
        Flag.END_HEADERS,
        id,
        new Uint8Array([0xff, 0x10]),
      ),
    ]],
    [
      "a frame above our max frame size",
      H2Code.FRAME_SIZE_ERROR,
      (p, id) => [p.data(id, new Uint8Array(100001))],
    ],
    [
      "a PING of 4 bytes",
      H2Code.FRAME_SIZE_ERROR,
      () => [encodeFrame(FrameType.PING, 0, 0, new Uint8Array(4))],
    ],
    [
      "DATA beyond the connection window",
      H2Code.FLOW_CONTROL_ERROR,
      // One frame larger than the whole 65535-byte window.
      (p, id) => [p.data(id, new Uint8Array(70000))],
    ],
    [
      "a connection window above 2^31-1",
      H2Code.FLOW_CONTROL_ERROR,
      () => [encodeWindowUpdate(0, 0x7fffffff)],
    ],
    [
      "SETTINGS_ENABLE_PUSH 1 from a server",
      H2Code.PROTOCOL_ERROR,
      () => [encodeSettings([[2, 1]])],
    ],
  ];
  for (const [what, code, frames] of cases) {
    const { peer } = setup({
      connectionWindow: 65535,
      streamWindow: 1 << 20,
      maxFrameSize: 100000,
    });
    const id = openOk(peer);
    const events = expectGoaway(peer, code, ...frames(peer, id));
    // Every stream still open is reported with the connection's error.
    assert.deepEqual(
      ofType(events, "reset").map((e) => [e.streamId, e.error.http2Code]),
      [[id, code]],
      what,
    );
  }
});

Deno.test("h2 session: stream errors reset only that stream", () => {
  const cases: Array<
    [string, number, (p: ScriptedPeer, id: number) => Uint8Array[]]
  > = [
    [
      "DATA before the response",
      H2Code.PROTOCOL_ERROR,
      (p, id) => [p.data(id + 2, new Uint8Array(1))],
    ],
    [
      "an uppercase field name",
      H2Code.PROTOCOL_ERROR,
      (p, id) => [p.headers(id + 2, [[":status", "200"], ["X", "1"]])],
    ],
    [
      "a response without :status",
      H2Code.PROTOCOL_ERROR,
      (p, id) => [p.headers(id + 2, [["x", "1"]])],
    ],
    [
      "a 101 response",
      H2Code.PROTOCOL_ERROR,
      (p, id) => [p.headers(id + 2, [[":status", "101"]])],
    ],
    ["a connection-specific field", H2Code.PROTOCOL_ERROR, (p, id) => [
      p.headers(id + 2, [[":status", "200"], ["connection", "close"]]),
    ]],
    [
      "a second 200 without END_STREAM",
      H2Code.PROTOCOL_ERROR,
      (p, id) => [p.headers(id, OK)],
    ],
    ["DATA after END_STREAM", H2Code.STREAM_CLOSED, (p, id) => [
      p.data(id, new Uint8Array(1), true),
      p.data(id, new Uint8Array(1)),
    ]],
    [
      "a stream window above 2^31-1",
      H2Code.FLOW_CONTROL_ERROR,
      (_, id) => [encodeWindowUpdate(id, 0x7fffffff)],
    ],
    [
      "a WINDOW_UPDATE of 0",
      H2Code.PROTOCOL_ERROR,
      (
        _,
        id,
      ) => [encodeFrame(FrameType.WINDOW_UPDATE, 0, id, new Uint8Array(4))],
    ],
  ];
  for (const [what, code, frames] of cases) {
    const { peer, session } = setup();
    const id = openOk(peer);
    const second = what.includes("response") || what.includes("field") ||
        what.includes("101")
      ? session.openStream(CONNECT)
      : id;
    peer.sent();
    const bystander = openOk(peer);
    const events = peer.send(...frames(peer, id));
    const resets = ofType(events, "reset");
    assert.equal(resets.length, 1, what);
    assert.deepEqual([resets[0].streamId, resets[0].error.http2Code], [
      second,
      code,
    ], what);
    assert.deepEqual(rstCodes(peer.sent()), [[second, code]], what);
    assert.equal(session.closed, false, what);
    assert.equal(
      ofType(peer.send(peer.data(bystander, new Uint8Array(3))), "data").length,
      1,
      what,
    );
  }
});

Deno.test("h2 session: floods are bounded and end with ENHANCE_YOUR_CALM", () => {
  const ping = encodePing(new Uint8Array(8));
  const settings = encodeSettings([]);
  const cases: Array<[string, (p: ScriptedPeer, id: number) => Uint8Array[]]> =
    [
      ["PING", () => Array(1001).fill(ping)],
      ["SETTINGS", () => Array(1001).fill(settings)],
      [
        "SETTINGS with 33 parameters",
        () => [
          encodeSettings(Array(33).fill([SettingId.MAX_FRAME_SIZE, 16384])),
        ],
      ],
      ["empty DATA", (p, id) => Array(101).fill(p.data(id, new Uint8Array(0)))],
      ["CONTINUATION", (_, id) => [
        encodeFrame(FrameType.HEADERS, 0, id, new Uint8Array(0)),
        ...Array(33).fill(
          encodeFrame(FrameType.CONTINUATION, 0, id, new Uint8Array(0)),
        ),
      ]],
      ["a huge header block", (_, id) => [
        encodeFrame(FrameType.HEADERS, 0, id, new Uint8Array(16384)),
        ...Array(8).fill(
          encodeFrame(FrameType.CONTINUATION, 0, id, new Uint8Array(16384)),
        ),
      ]],
    ];
  for (const [what, frames] of cases) {
    const { peer } = setup();
    const id = openOk(peer);
    const events = expectGoaway(
      peer,
      H2Code.ENHANCE_YOUR_CALM,
      ...frames(peer, id),
    );
    assert.match(
      ofType(events, "closed")[0].error!.message,
      /ENHANCE_YOUR_CALM/,
      what,
    );
  }
  // Below the bounds nothing happens, and taking the output resets the ACK count.
  const { peer } = setup();
  const id = openOk(peer);
  for (let round = 0; round < 3; round++) {
    assert.deepEqual(
      ofType(peer.send(...Array(1000).fill(ping)), "closed"),
      [],
    );
    assert.equal(peer.sent().length, 1000);
  }
  assert.deepEqual(
    peer.send(...Array(100).fill(peer.data(id, new Uint8Array(0)))),
    Array(100).fill(
      { type: "data", streamId: id, data: new Uint8Array(0), endStream: false },
    ),
  );
});

Deno.test("h2 session: a header list over our limit resets the stream; the table stays in step", () => {
  const { peer, session } = setup({ maxHeaderListSize: 200 });
  const a = session.openStream(CONNECT);
  const b = session.openStream(CONNECT);
  peer.sent();
  const events = peer.send(
    peer.headers(a, [[":status", "200"], ["x-big", "v".repeat(300)]]),
  );
  const [r] = ofType(events, "reset");
  assert.deepEqual([r.streamId, r.error.code, r.error.http2Code], [
    a,
    "MESSAGE_TOO_BIG",
    H2Code.ENHANCE_YOUR_CALM,
  ]);
  assert.deepEqual(rstCodes(peer.sent()), [[a, H2Code.ENHANCE_YOUR_CALM]]);
  // The server's encoder indexed the entries; the next block refers to them.
  const again = peer.send(peer.headers(b, [[":status", "200"]]));
  assert.deepEqual(again, [{
    type: "headers",
    streamId: b,
    fields: [[":status", "200"]],
    endStream: false,
  }]);
});

Deno.test("h2 session: a response in HEADERS + CONTINUATION is assembled", () => {
  const { peer, session } = setup();
  const id = session.openStream(CONNECT);
  const fields: HeaderField[] = [[":status", "200"], [
    "x-long",
    "y".repeat(40000),
  ]];
  const block = peer.encoder.encode(fields);
  const frames = encodeHeaders(id, block, false, 16384);
  // Fed in small pieces, so the block also spans reads.
  let events: Http2Event[] = [];
  for (let i = 0; i < frames.length; i += 1000) {
    events = events.concat(peer.send(frames.subarray(i, i + 1000)));
  }
  assert.deepEqual(events, [{
    type: "headers",
    streamId: id,
    fields,
    endStream: false,
  }]);
});

Deno.test("h2 session: transport end and local close report every open stream", () => {
  const { peer, session } = setup();
  const a = openOk(peer);
  const events = session.close(H2Code.NO_ERROR, "done");
  assert.deepEqual(events.map((e) => e.type), ["reset", "closed"]);
  assert.equal(ofType(events, "reset")[0].streamId, a);
  assert.equal(goawayCode(peer.sent()), 0);
  assert.throws(() => session.openStream(CONNECT), { code: "CLOSED" });
  const idle = setup().session;
  assert.deepEqual(idle.transportClosed(), [{ type: "closed", error: null }]);
});

Deno.test("h2 session: RST_STREAM NO_ERROR after a complete response only stops our sending (RFC 9113 §8.1)", () => {
  const { peer, session } = setup({}, [[SettingId.ENABLE_CONNECT_PROTOCOL, 1], [
    SettingId.INITIAL_WINDOW_SIZE,
    10,
  ]]);
  const id = session.openStream(CONNECT);
  peer.sent();
  peer.send(
    peer.headers(id, [[":status", "404"]]),
    peer.data(id, new Uint8Array(3), true),
  );
  assert.equal(session.send(id, new Uint8Array(100)), 90);
  assert.deepEqual(peer.send(encodeRstStream(id, H2Code.NO_ERROR)), [{
    type: "streamClosed",
    streamId: id,
  }]);
  assert.equal(session.pendingBytes(id), 0);
  assert.equal(session.streamState(id), "closed");
  // Before the response is complete the same frame is a failure.
  const other = openOk(peer);
  const events = peer.send(encodeRstStream(other, H2Code.NO_ERROR));
  assert.equal(ofType(events, "reset")[0].error.code, "CONNECTION_LOST");
});
