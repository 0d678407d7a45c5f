/**
 * The differential suite: every scenario of `web_differential_scenarios.ts`
 * runs against Deno's built-in `WebSocket` and ours. Ours must produce the
 * record the WHATWG standard asks for; the built-in must produce the same
 * record once each documented non-conformance is mapped back (`DENO_DIFFERS`).
 * Then the constructor/close/send argument checks, ported from
 * web-platform-tests `websockets/`.
 */
import assert from "node:assert/strict";
import { WebSocket as OurWebSocket } from "../mod.ts";
import * as s from "./web_differential_scenarios.ts";
import {
  type Record,
  runScenario,
  type Scenario,
  thrown,
  type WebSocketClass,
} from "./web_scenarios.ts";
import { DENO, finish, within } from "./helpers.ts";
import { startScriptedServer } from "./servers/scripted.ts";

// The one-line switch type-checks: ours fits wherever the built-in's type is used.
const AsBuiltin: typeof globalThis.WebSocket = OurWebSocket;
const Ours: WebSocketClass = AsBuiltin;
const Builtin = globalThis.WebSocket as WebSocketClass;

const OPEN = "open rs=1 protocol= ext=";
const FAILED = ["error rs=3 Event", "close rs=3 code=1006 reason= clean=false"];

/** What the standard asks of each scenario (checked on ours). */
const EXPECTED = new Map<Scenario, Record>([
  [s.echoBothTypes, {
    events: [
      OPEN,
      'message rs=1 text:"héllo"',
      "message rs=1 blob:010203",
      "message rs=1 arraybuffer:0201",
      "message rs=1 arraybuffer:0807",
      "message rs=1 arraybuffer:aabb",
      'message rs=1 text:"after blob"',
      "close rs=3 code=4000 reason=bye ✓ clean=true",
    ],
    server: [
      "protocols=null",
      "frame op=1 fin=true len=6",
      "frame op=2 fin=true len=3",
      "frame op=2 fin=true len=2",
      "frame op=2 fin=true len=2",
      "frame op=2 fin=true len=2",
      "frame op=1 fin=true len=10",
      "close code=4000 reason=bye ✓",
    ],
  }],
  [s.fragmented, {
    events: [
      OPEN,
      'message rs=1 text:"fragmented ✓"',
      "message rs=1 blob:010203",
      'message rs=1 text:""',
      "close rs=3 code=1000 reason= clean=true",
    ],
    server: ["pong", "close code=1000 reason="],
  }],
  [s.serverClose, {
    events: [
      OPEN,
      'message rs=1 text:"one"',
      "close rs=3 code=4001 reason=über clean=true",
    ],
    // The connection core echoes the code only (RFC 6455 §5.5.1 allows it).
    server: ["close code=4001 reason="],
  }],
  [s.serverCloseEmpty, {
    events: [OPEN, "close rs=3 code=1005 reason= clean=true"],
    server: ["close empty"],
  }],
  [s.clientCloseNoCode, {
    events: [OPEN, "close rs=3 code=1005 reason= clean=true"],
    server: ["close empty"],
  }],
  [s.clientCloseSurrogate, {
    events: [OPEN, "close rs=3 code=1000 reason=\uFFFD clean=true"],
    server: ["close code=1000 reason=\uFFFD"],
  }],
  [s.sendAfterClose, {
    events: [
      OPEN,
      "after close rs=2",
      "bufferedAmount=8",
      "close rs=3 code=1000 reason= clean=true",
    ],
    server: ["close code=1000 reason="],
  }],
  [s.closeWhileConnecting, {
    events: ["after close rs=2", ...FAILED],
    server: [],
  }],
  [s.handshake403, { events: FAILED, server: [] }],
  [s.handshakeBadAccept, { events: FAILED, server: [] }],
  [s.reservedOpcode, {
    events: [OPEN, 'message rs=1 text:"before"', ...FAILED],
    server: ["close code=1002 reason="],
  }],
  [s.rsvBit, {
    events: [OPEN, ...FAILED],
    server: ["close code=1002 reason="],
  }],
  [s.badUtf8, {
    events: [OPEN, ...FAILED],
    server: ["close code=1007 reason="],
  }],
  [s.serverDrops, {
    events: [OPEN, 'message rs=1 text:"last"', ...FAILED],
    server: ["dropped"],
  }],
  [s.subprotocol, {
    events: [
      "open rs=1 protocol=chat ext=",
      "close rs=3 code=1000 reason= clean=true",
    ],
    server: ["protocols=superchat, chat", "close code=1000 reason="],
  }],
  [s.unofferedSubprotocol, { events: FAILED, server: ["eof"] }],
  [s.closeInsideMessage, {
    events: [
      OPEN,
      'message rs=1 text:"a"',
      "close rs=3 code=1000 reason= clean=true",
    ],
    server: ["close code=1000 reason="],
  }],
  [s.bufferedWhilePeerStalls, {
    events: [
      OPEN,
      "before send 0",
      "after one send 1048576",
      "after all sends 33554432",
      "stalled: 0 < amount < total true",
      "drained 0",
      "close rs=3 code=1000 reason= clean=true",
    ],
    server: ["read 32 MiB", "close code=1000 reason="],
  }],
]);

/** A documented way the built-in departs from the standard, mapped back onto its record. */
interface Difference {
  why: string;
  undo(r: Record): Record;
}

const mapEvents = (f: (e: string) => string) => (r: Record): Record => ({
  ...r,
  events: r.events.map(f),
});

/** The built-in fires an ErrorEvent; the standard fires a plain Event named "error". */
const errorEventClass: Difference = {
  why: "error is an ErrorEvent, not an Event",
  undo: mapEvents((e) => e.replace("ErrorEvent", "Event")),
};
/** After a failure the built-in's CloseEvent has code 0; the standard says 1006. */
const closeCodeZero: Difference = {
  why: "a failed connection closes with code 0, not 1006",
  undo: mapEvents((e) => e.replace("code=0 ", "code=1006 ")),
};
/** The built-in drops TCP instead of sending the close frame RFC 6455 §7.1.7 asks for. */
const noCloseOnFailure = (code: number): Difference => ({
  why: `no close frame (${code}) when it fails the connection; it drops TCP`,
  undo: (r) => ({
    ...r,
    server: r.server.map((l) => l === "eof" ? `close code=${code} reason=` : l),
  }),
});
/** The built-in fires open before it checks the handshake's answer. */
const openBeforeFailing: Difference = {
  why: "fires open, then fails (it accepts the handshake before checking it)",
  undo: (r) => ({
    ...r,
    events: r.events.filter((e) => !e.startsWith("open")),
  }),
};
const failureDiffs = [errorEventClass, closeCodeZero];

const DENO_DIFFERS = new Map<Scenario, Difference[]>([
  [s.serverClose, [{
    why: "echoes the server's close reason too (ours echoes the code only)",
    undo: (r) => ({
      ...r,
      server: r.server.map((l) => l.replace("reason=über", "reason=")),
    }),
  }]],
  [s.sendAfterClose, [{
    why: "bufferedAmount does not count data passed to send() after close()",
    undo: mapEvents((e) => e.replace("bufferedAmount=0", "bufferedAmount=8")),
  }]],
  [s.closeWhileConnecting, failureDiffs],
  [s.handshake403, failureDiffs],
  [s.handshakeBadAccept, [openBeforeFailing, ...failureDiffs]],
  [s.reservedOpcode, [...failureDiffs, noCloseOnFailure(1002)]],
  [s.rsvBit, [...failureDiffs, noCloseOnFailure(1002)]],
  [s.badUtf8, [...failureDiffs, noCloseOnFailure(1007)]],
  [s.serverDrops, failureDiffs],
  [s.unofferedSubprotocol, [openBeforeFailing, ...failureDiffs, {
    why: "accepts a subprotocol it did not offer",
    undo: (r) => r,
  }]],
  [s.closeInsideMessage, [{
    why: "still dispatches messages after close() (readyState CLOSING)",
    undo: (r) => ({
      ...r,
      events: r.events.filter((e) => !e.startsWith("message rs=2")),
    }),
  }]],
]);

for (const scenario of s.scenarios) {
  Deno.test(`web differential: ${scenario.name}: ours follows the standard`, async () => {
    const got = await runScenario(Ours, scenario);
    assert.deepEqual(got, EXPECTED.get(scenario));
  });
  Deno.test(`web differential: ${scenario.name}: built-in matches but for listed differences`, async () => {
    let got = await runScenario(Builtin, scenario);
    for (const d of DENO_DIFFERS.get(scenario) ?? []) got = d.undo(got);
    assert.deepEqual(got, EXPECTED.get(scenario));
  });
}

// ---------------------------------------------- argument checks (both classes)

// Ported from wpt websockets/Create-invalid-urls.any.js, Create-wrong-scheme,
// Create-non-absolute-url, Create-url-with-space, Create-protocol-with-space,
// Create-protocols-repeated(-case-insensitive), Create-nonAscii-protocol-string,
// Create-asciiSep-protocol-string.
const BAD_CONSTRUCTIONS: [string, string | string[] | undefined][] = [
  ["ws://foo bar.com/", undefined],
  ["wss://foo bar.com/", undefined],
  ["ftp://127.0.0.1/", undefined],
  ["mailto:example@example.org", undefined],
  ["about:blank", undefined],
  ["ws://127.0.0.1:1/#", undefined],
  ["ws://127.0.0.1:1/#test", undefined],
  ["#test", undefined],
  ["127.0.0.1", undefined],
  ["ws://127.0.0.1:1/", "ec ho"],
  ["ws://127.0.0.1:1/", ["echo", "echo"]],
  ["ws://127.0.0.1:1/", ["echo", "eCho"]],
  ["ws://127.0.0.1:1/", "\u0080echo"],
  ["ws://127.0.0.1:1/", "echo\u0009"],
  ["ws://127.0.0.1:1/", ""],
  ["ws://127.0.0.1:1/", "a,b"],
];

for (const [name, Ws] of [["ours", Ours], ["built-in", Builtin]] as const) {
  Deno.test(`web ${name}: invalid URLs and subprotocols throw SyntaxError`, () => {
    for (const [url, protocols] of BAD_CONSTRUCTIONS) {
      assert.equal(
        thrown(() => new Ws(url, protocols)),
        "SyntaxError",
        `${url} ${JSON.stringify(protocols)}`,
      );
    }
  });

  // wpt Close-*.any.js argument checks, send() while connecting
  // (Send-before-open.any.js), Create-valid-url-protocol-empty.any.js and
  // Create-http-urls.any.js (http becomes ws).
  Deno.test(`web ${name}: close() and send() argument checks while connecting`, async () => {
    const server = startScriptedServer(async (peer) => {
      await peer.readRequest().catch(() => {});
    });
    const ws = new Ws(`http://127.0.0.1:${server.port}/path?q=1`, "echo");
    assert.equal(ws.url, `ws://127.0.0.1:${server.port}/path?q=1`);
    assert.equal(ws.readyState, 0);
    assert.equal(ws.protocol, "");
    assert.equal(ws.extensions, "");
    assert.equal(ws.binaryType, "blob");
    ws.binaryType = "nonsense" as BinaryType;
    assert.equal(ws.binaryType, "blob");
    assert.equal(ws.bufferedAmount, 0);
    assert.deepEqual(
      [0, 1, 2, 3],
      [ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED],
    );
    assert.equal(thrown(() => ws.send("x")), "InvalidStateError");
    const cases: [unknown, unknown, string][] = [
      [0, undefined, "InvalidAccessError"], // Close-0
      [NaN, undefined, "InvalidAccessError"], // Close-NaN
      [null, undefined, "InvalidAccessError"], // Close-null
      ["string", undefined, "InvalidAccessError"], // Close-string
      [999, undefined, "InvalidAccessError"],
      [1001, undefined, "InvalidAccessError"],
      [2999, "reason", "InvalidAccessError"], // Secure-Close-2999-reason
      [5000, undefined, "InvalidAccessError"],
      [65536 + 1000, undefined, "InvalidAccessError"], // clamped to 65535
      [1000, "x".repeat(124), "SyntaxError"], // Close-Reason-124Bytes
      [1000, "é".repeat(62), "SyntaxError"], // 124 UTF-8 bytes
    ];
    for (const [code, reason, want] of cases) {
      assert.equal(
        thrown(() =>
          (ws.close as (c?: unknown, r?: unknown) => void)(code, reason)
        ),
        want,
        `close(${String(code)}, ${String(reason).slice(0, 10)})`,
      );
    }
    assert.equal(ws.readyState, 0, "a rejected close() changes nothing");
    const closed = new Promise<CloseEvent>((r) => ws.onclose = r);
    assert.equal(thrown(() => ws.close(4999, "x".repeat(123))), "none");
    assert.equal(ws.readyState, 2);
    assert.equal(thrown(() => ws.close(1000)), "none", "second close()");
    await closed;
    assert.equal(ws.readyState, 3);
    await finish(server);
  });
}

Deno.test("web ours: the static constants and event handler attributes", async () => {
  assert.deepEqual(
    [
      OurWebSocket.CONNECTING,
      OurWebSocket.OPEN,
      OurWebSocket.CLOSING,
      OurWebSocket.CLOSED,
    ],
    [0, 1, 2, 3],
  );
  const server = startScriptedServer(async (peer) => {
    await peer.readRequest().catch(() => {});
  });
  const ws = new OurWebSocket(`ws://127.0.0.1:${server.port}/`);
  const order: string[] = [];
  ws.addEventListener("close", () => order.push("listener 1"));
  ws.onclose = () => order.push("replaced handler");
  ws.addEventListener("close", () => order.push("listener 2"));
  ws.onclose = function (this: OurWebSocket) {
    assert.equal(this, ws);
    order.push("handler");
  };
  assert.equal(typeof ws.onclose, "function");
  ws.onerror = () => order.push("error");
  ws.onerror = null;
  assert.equal(ws.onerror, null);
  const closed = new Promise((r) => ws.addEventListener("close", r));
  ws.close();
  await closed;
  // A handler keeps the place where it was first set (HTML event handlers).
  assert.deepEqual(order, ["listener 1", "handler", "listener 2"]);
  await finish(server);
});

Deno.test("web ours: Deno's (url, { protocols, headers }) form and wsnc's options as the third argument", async () => {
  const seen: string[] = [];
  const server = startScriptedServer(async (peer) => {
    const req = await peer.readRequest();
    const h = req.headers;
    seen.push(
      `${h.get("sec-websocket-protocol")} ${h.get("x-test")} ${
        h.get("sec-websocket-extensions")
      }`,
    );
    await peer.accept({
      protocol: h.get("sec-websocket-protocol") ?? undefined,
      extensions: h.has("sec-websocket-extensions")
        ? "permessage-deflate"
        : undefined,
    });
    await peer.sendText("hi");
    await peer.expectClose();
    await peer.sendClose(1000);
  });
  const url = `ws://127.0.0.1:${server.port}/`;
  const opened: string[] = [];
  const make = [
    () =>
      new OurWebSocket(url, { protocols: "chat", headers: { "x-test": "1" } }),
    () => new OurWebSocket(url, ["chat"], { compression: true }),
  ];
  for (const open of make) {
    const ws = open();
    const message = new Promise<MessageEvent>((r) => ws.onmessage = r);
    await within(5000, "message", message);
    opened.push(`${ws.protocol} ${ws.extensions}`);
    const closed = new Promise<CloseEvent>((r) => ws.onclose = r);
    ws.close();
    assert.equal((await within(5000, "close", closed)).wasClean, true);
  }
  await finish(server);
  assert.deepEqual(seen, [
    "chat 1 null",
    "chat null permessage-deflate; client_max_window_bits",
  ]);
  assert.deepEqual(opened, ["chat ", "chat permessage-deflate"]);
});

Deno.test("web: the JSDoc examples of WebSocket and WebSocketStream run", async () => {
  const out = await new Deno.Command(DENO, {
    args: [
      "test",
      "--doc",
      "--allow-net=127.0.0.1",
      "--allow-read=.",
      "src/web/websocket.ts",
      "src/web/websocket_stream.ts",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) +
    new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  assert.match(text, /2 passed/);
});
