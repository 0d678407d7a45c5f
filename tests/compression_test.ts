/**
 * permessage-deflate (RFC 7692, issue 5) at the connection level, with real
 * peers and real bytes on loopback sockets:
 *
 * - interop with the `ws` package's server for each parameter it supports,
 *   and with our own server role (`acceptWebSocket`) from both our client and
 *   ws's client: text and binary of 0 B to 16 MiB, fragmented compressed
 *   messages in both directions, context takeover on and off;
 * - negotiation edge cases from crafted `Sec-WebSocket-Extensions` answers;
 * - corrupt deflate streams, RSV bits out of place, decompression bombs;
 * - the recv()/perform() metadata rules for inflated data;
 * - what we put on the wire: RSV1 on first frames only, the threshold, an
 *   8-bit client window, context takeover visible in the payloads.
 *
 * The scripted server checks our frames with `node:zlib`, never with `src/`.
 * @module
 */
import assert from "node:assert/strict";
import {
  constants,
  createDeflateRaw,
  deflateRawSync,
  inflateRawSync,
} from "node:zlib";
import type { AddressInfo } from "node:net";
// @ts-types="npm:@types/ws@8"
// deno-lint-ignore no-import-prefix
import { WebSocket as WsClient, WebSocketServer } from "npm:ws@8";
import {
  type AcceptOptions,
  acceptWebSocket,
  type CompressionOptions,
  connect,
  type ConnectOptions,
  type FrameMeta,
  perform,
  type WebSocketConnection,
  WS,
} from "../mod.ts";
import {
  type Frame,
  type FrameSpec,
  OP,
  ScriptedPeer,
  startScriptedServer,
} from "./servers/scripted.ts";
import { expectReject } from "./helpers.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const KiB = 1024;
const MiB = 1024 * KiB;
/** The sync-flush marker a sender strips and a receiver appends (RFC 7692 §7.2.1). */
const TAIL = Uint8Array.of(0x00, 0x00, 0xff, 0xff);
const CONTROL = WS.PING | WS.PONG | WS.CLOSE;

// ---------------------------------------------------------------------------
// Test data

/** Compressible bytes whose pattern shifts every 4 KiB. */
function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7 + seed + (i >> 12)) & 0xff;
  return out;
}

/** Incompressible bytes: deflate makes them slightly bigger. */
function noise(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) {
    crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  }
  return out;
}

// Multi-byte characters, so that inflated chunks and fragments split them.
const WORDS = [
  "lorem",
  "ipsum",
  "café",
  "naïve",
  "日本語",
  "emoji😀",
  "the",
  "quick",
  "brown",
  "fox",
  "Ωmega",
  "data",
].map((w) => w + " ");
const WORD_BYTES = WORDS.map((w) => te.encode(w).length);
const textCache = new Map<string, string>();

/** Pseudo-random text of exactly `n` UTF-8 bytes. */
function text(n: number, seed: number): string {
  const key = `${n}/${seed}`;
  const cached = textCache.get(key);
  if (cached !== undefined) return cached;
  const parts: string[] = [];
  let left = n;
  let x = (seed * 2654435761 + 1) >>> 0;
  while (left >= 16) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const k = (x >>> 16) % WORDS.length;
    parts.push(WORDS[k]);
    left -= WORD_BYTES[k];
  }
  parts.push("x".repeat(left));
  const s = parts.join("");
  if (n >= MiB) textCache.set(key, s);
  return s;
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Byte comparison that stays fast for 16 MiB and names the first difference. */
function assertBytes(
  actual: unknown,
  expected: Uint8Array,
  what: string,
): void {
  assert.ok(actual instanceof Uint8Array, `${what}: not bytes: ${actual}`);
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) assert.fail(`${what}: differs at byte ${i}`);
  }
}

/** Splits `data` into `parts` nearly equal pieces (some may be empty). */
function split(data: Uint8Array, parts: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < parts; i++) {
    out.push(
      data.subarray(
        Math.floor(i * data.length / parts),
        Math.floor((i + 1) * data.length / parts),
      ),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------
// node:zlib helpers for the scripted server (independent of src/)

/** One message compressed by a fresh context, sync-flushed, tail removed. */
function compressAlone(data: Uint8Array): Uint8Array {
  const out = deflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH });
  assert.deepEqual([...out.subarray(out.length - 4)], [...TAIL]);
  return out.subarray(0, out.length - 4);
}

/**
 * Inflates the payloads of consecutive compressed messages as one stream,
 * the way a receiver with context takeover does (each completed with the
 * tail). `windowBits` below 15 rejects back-references beyond that window.
 */
function inflateMessages(payloads: Uint8Array[], windowBits = 15): Uint8Array {
  return inflateRawSync(concat(payloads.flatMap((p) => [p, TAIL])), {
    windowBits,
    finishFlush: constants.Z_SYNC_FLUSH,
  });
}

/**
 * Compresses messages with one shared context (context takeover), each
 * sync-flushed and stripped of the tail: later messages may refer back to
 * earlier ones. `levels[i]` sets message i's compression level (0: stored
 * blocks, which refer to nothing).
 */
async function compressWithTakeover(
  messages: Uint8Array[],
  levels: number[] = [],
): Promise<Uint8Array[]> {
  const deflater = createDeflateRaw();
  const chunks: Uint8Array[] = [];
  deflater.on("data", (c: Uint8Array) => chunks.push(c));
  const out: Uint8Array[] = [];
  for (const [i, m] of messages.entries()) {
    const level = levels[i] ?? constants.Z_DEFAULT_COMPRESSION;
    await new Promise<void>((resolve) =>
      deflater.params(level, constants.Z_DEFAULT_STRATEGY, () => resolve())
    );
    chunks.splice(0); // params() flushes nothing here: each message ended synced
    deflater.write(m);
    await new Promise<void>((resolve) =>
      deflater.flush(constants.Z_SYNC_FLUSH, () => resolve())
    );
    const all = concat(chunks.splice(0));
    assert.deepEqual([...all.subarray(all.length - 4)], [...TAIL]);
    out.push(all.subarray(0, all.length - 4));
  }
  await new Promise<void>((resolve) => deflater.close(() => resolve()));
  return out;
}

/** `size` bytes of `byte`, compressed as one sync-flushed run (tail kept). */
function compressedRun(byte: number, size: number): Uint8Array {
  return deflateRawSync(new Uint8Array(size).fill(byte), {
    finishFlush: constants.Z_SYNC_FLUSH,
  });
}

// ---------------------------------------------------------------------------
// Peers

/**
 * What a "frag:" command asks the peer to send back: a message of `size`
 * bytes (text() or pattern() with `seed`) in `parts` fragments.
 */
interface FragSpec {
  size: number;
  parts: number;
  binary: boolean;
  seed: number;
}

function fragPayload(spec: FragSpec): Uint8Array {
  return spec.binary
    ? pattern(spec.size, spec.seed)
    : te.encode(text(spec.size, spec.seed));
}

function parseFrag(message: string): FragSpec | null {
  return message.startsWith("frag:") ? JSON.parse(message.slice(5)) : null;
}

interface RunningServer {
  url: string;
  /** Errors of the server side, recorded instead of thrown. */
  errors: unknown[];
  close(): Promise<void>;
}

type WsDeflateOptions = Exclude<
  NonNullable<
    ConstructorParameters<typeof WebSocketServer>[0]
  >["perMessageDeflate"],
  undefined
>;

/**
 * A `ws` server that echoes every message with its type and answers a
 * "frag:{...}" text message by sending the described message in fragments
 * with `ws.send(part, { fin: false })`, so ws's own fragmenting compressor
 * is exercised.
 */
async function startWsServer(
  perMessageDeflate: WsDeflateOptions,
): Promise<RunningServer> {
  const wss = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    perMessageDeflate,
  });
  await new Promise<void>((resolve, reject) => {
    wss.once("listening", () => resolve());
    wss.once("error", reject);
  });
  const errors: unknown[] = [];
  wss.on("connection", (ws) => {
    ws.on("message", (data, isBinary) => {
      const bytes = new Uint8Array(data as ArrayBuffer);
      const spec = isBinary ? null : parseFrag(td.decode(bytes));
      if (spec === null) {
        ws.send(bytes, { binary: isBinary });
        return;
      }
      const parts = split(fragPayload(spec), spec.parts);
      parts.forEach((part, i) =>
        ws.send(part, { binary: spec.binary, fin: i === parts.length - 1 })
      );
    });
    ws.on("error", (e) => {
      errors.push(e);
      ws.terminate();
    });
  });
  const port = (wss.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    errors,
    async close() {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** Echo with our server role: whole messages back, "frag:" answered in fragments. */
async function echoWithOurServer(conn: WebSocketConnection): Promise<void> {
  for await (const message of conn) {
    const spec = typeof message === "string" ? parseFrag(message) : null;
    if (spec === null) {
      await conn.send(message);
      continue;
    }
    const type = spec.binary ? WS.BINARY : WS.TEXT;
    const parts = split(fragPayload(spec), spec.parts);
    for (let i = 0; i < parts.length; i++) {
      await conn.send(parts[i], type | (i < parts.length - 1 ? WS.CONT : 0));
    }
  }
}

/** Our server role on a `Deno.listen` loopback socket, one handler per connection. */
function startOurServer(
  options: AcceptOptions,
  handler: (conn: WebSocketConnection) => Promise<void> = echoWithOurServer,
): RunningServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const errors: unknown[] = [];
  const running: Promise<void>[] = [];
  const loop = (async () => {
    for await (const tcp of listener) {
      running.push(
        (async () => {
          const conn = await acceptWebSocket(tcp, options);
          try {
            await handler(conn);
          } finally {
            await conn.close().catch(() => {});
            await conn.closed;
          }
        })().catch((e) => void errors.push(e)),
      );
    }
  })().catch(() => {}); // the listener was closed
  return {
    url: `ws://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    errors,
    async close() {
      listener.close();
      await loop;
      await Promise.all(running);
    },
  };
}

/** A `ws` client with a promise-based message queue. */
class WsPeer {
  readonly ws: WsClient;
  #queue: { data: Uint8Array; binary: boolean }[] = [];
  #wake: (() => void) | null = null;
  #closed = false;
  /** The `Sec-WebSocket-Extensions` answer ws received. */
  extensions: string | undefined;

  constructor(url: string, perMessageDeflate: WsDeflateOptions) {
    this.ws = new WsClient(url, { perMessageDeflate });
    // ws's own `extensions` property lists names only: keep the header.
    this.ws.on("upgrade", (response) => {
      this.extensions = response.headers["sec-websocket-extensions"];
    });
    this.ws.on("message", (data, isBinary) => {
      this.#queue.push({
        data: new Uint8Array(data as ArrayBuffer),
        binary: isBinary,
      });
      this.#wake?.();
    });
    this.ws.on("close", () => {
      this.#closed = true;
      this.#wake?.();
    });
    this.ws.on("error", () => {});
  }

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("error", reject);
    });
  }

  /** The next message: text as a string, binary as bytes. */
  async next(): Promise<string | Uint8Array> {
    const deadline = Date.now() + 10_000;
    while (this.#queue.length === 0) {
      if (this.#closed) throw new Error("ws client closed while waiting");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("no message from our server in 10 s");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#wake = null;
    }
    const m = this.#queue.shift()!;
    return m.binary ? m.data : td.decode(m.data);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WsClient.CLOSED) return resolve();
      this.ws.once("close", () => resolve());
      this.ws.close(1000);
    });
  }
}

/** Fails the test with the first error a server recorded. */
function assertNoServerErrors(errors: unknown[]): void {
  if (errors.length > 0) throw errors[0];
}

/** The parameters of an extensions header, sorted, after the extension name. */
function agreedParams(header: string): string[] {
  const [name, ...params] = header.split(";").map((s) => s.trim());
  assert.equal(name, "permessage-deflate", header);
  return params.sort();
}

// ---------------------------------------------------------------------------
// The recv() metadata rules for inflated data
//
// With compression, recv() delivers inflated bytes. The wire frames no longer
// say where a piece sits, so each inflated chunk is presented like a frame of
// its own: `offset` and `bytesleft` count within the chunk (offset starts at
// 0 for each chunk, offset + len + bytesleft is the chunk's size), the type
// flag (TEXT or BINARY) is on every piece, and CONT is on every piece except
// the message's last. So `bytesleft === 0 && !(flags & CONT)` still marks
// the end of a message, and a piece with `bytesleft === 0` and CONT only ends
// a chunk. Control frames come between chunks, never inside one.

/** Reassembles messages from recv()/perform() pieces, asserting the rules above. */
class MessageAssembler {
  #type = 0;
  #offset = 0;
  #chunkSize = 0;
  #parts: Uint8Array[] = [];
  /** Chunk ends inside the current message (bytesleft 0 with CONT). */
  chunkEnds = 0;
  /** Control pieces seen (flags). */
  controls: number[] = [];
  pieces = 0;

  /** Feeds one piece; returns the message it completes, or null. */
  push(
    data: Uint8Array,
    meta: FrameMeta,
    bufferSize = Infinity,
  ): { type: number; data: Uint8Array; chunkEnds: number } | null {
    this.pieces++;
    assert.equal(meta.len, data.length, "meta.len is the piece's size");
    assert.ok(data.length <= bufferSize, "piece larger than the buffer");
    if (meta.flags & CONTROL) {
      assert.equal(this.#offset, 0, "control piece inside a chunk");
      this.controls.push(meta.flags);
      return null;
    }
    const type = meta.flags & (WS.TEXT | WS.BINARY);
    assert.ok(
      type === WS.TEXT || type === WS.BINARY,
      `one type flag on every piece: ${meta.flags}`,
    );
    if (this.#type === 0) this.#type = type;
    assert.equal(type, this.#type, "type flag changed inside a message");
    assert.equal(meta.offset, this.#offset, "offset within the chunk");
    if (this.#offset === 0) this.#chunkSize = data.length + meta.bytesleft;
    assert.equal(
      meta.offset + data.length + meta.bytesleft,
      this.#chunkSize,
      "offset + len + bytesleft is the chunk size",
    );
    this.#offset = meta.bytesleft === 0 ? 0 : this.#offset + data.length;
    this.#parts.push(data.slice());
    if (meta.bytesleft !== 0) return null;
    if (meta.flags & WS.CONT) {
      this.chunkEnds++;
      return null;
    }
    const message = {
      type: this.#type,
      data: concat(this.#parts),
      chunkEnds: this.chunkEnds,
    };
    this.#type = 0;
    this.#parts = [];
    this.chunkEnds = 0;
    return message;
  }
}

/** recv() until one whole data message, checking every piece's meta. */
async function recvChecked(
  conn: WebSocketConnection,
  bufferSize: number,
  assembler = new MessageAssembler(),
): Promise<{ type: number; data: Uint8Array; chunkEnds: number }> {
  const buf = new Uint8Array(bufferSize);
  for (let i = 0; i < 1_000_000; i++) {
    const { n, meta } = await conn.recv(buf);
    const done = assembler.push(buf.subarray(0, n), meta, bufferSize);
    if (done) return done;
  }
  assert.fail("message never ended");
}

// ---------------------------------------------------------------------------
// Round trips shared by the interop tests

const FULL_SIZES = [0, 1, 125, 1023, 1024, 65535, 65536, MiB, 16 * MiB];
const SHORT_SIZES = [0, 1023, 1024, 100_000];

/**
 * Text and binary of each size through an echo peer. Messages under 1 MiB
 * go twice: with context takeover the second copy is made of
 * back-references into the first.
 */
async function echoSizes(
  conn: WebSocketConnection,
  sizes: number[],
  what: string,
): Promise<void> {
  for (const size of sizes) {
    const copies = size < MiB ? 2 : 1;
    const t = text(size, size);
    for (let i = 0; i < copies; i++) {
      await conn.send(t);
      const got = await conn.receive();
      assert.ok(got === t, `${what}: text ${size} #${i}`);
    }
    const b = pattern(size, size);
    for (let i = 0; i < copies; i++) {
      await conn.send(b);
      assertBytes(await conn.receive(), b, `${what}: binary ${size} #${i}`);
    }
  }
  const random = noise(200_000);
  await conn.send(random);
  assertBytes(await conn.receive(), random, `${what}: incompressible`);
}

/**
 * Fragmented messages both ways through a peer that echoes and understands
 * "frag:" commands. Ours: `send(part, type | WS.CONT)` … `send(last, type)`.
 */
async function echoFragments(
  conn: WebSocketConnection,
  what: string,
): Promise<void> {
  // A big first fragment (compressed), a ping in between, an empty last one.
  const big = pattern(150_000, 9);
  await conn.send(big.subarray(0, 50_000), WS.BINARY | WS.CONT);
  await conn.send("", WS.PING);
  await conn.send(big.subarray(50_000), WS.BINARY | WS.CONT);
  await conn.send(new Uint8Array(0), WS.BINARY);
  assertBytes(await conn.receive(), big, `${what}: our binary fragments`);
  // Text split inside UTF-8 sequences, first fragment large.
  const t = te.encode(text(9000, 4));
  for (const [i, part] of split(t, 7).entries()) {
    await conn.send(part, WS.TEXT | (i < 6 ? WS.CONT : 0));
  }
  assert.equal(await conn.receive(), td.decode(t), `${what}: our text`);
  // A 1-byte first fragment: below the default threshold, so the whole
  // message goes uncompressed (with threshold 0 it is compressed).
  const small = te.encode(text(5000, 5));
  await conn.send(small.subarray(0, 1), WS.TEXT | WS.CONT);
  await conn.send(small.subarray(1, 2501), WS.TEXT | WS.CONT);
  await conn.send(small.subarray(2501), WS.TEXT);
  assert.equal(await conn.receive(), td.decode(small), `${what}: small first`);
  // An empty first fragment: compressed only with threshold 0.
  const late = pattern(3000, 6);
  await conn.send(new Uint8Array(0), WS.BINARY | WS.CONT);
  await conn.send(late, WS.BINARY | WS.CONT);
  await conn.send(late, WS.BINARY);
  assertBytes(
    await conn.receive(),
    concat([late, late]),
    `${what}: empty first fragment`,
  );
  // The peer's fragments.
  const specs: FragSpec[] = [
    { size: 300_000, parts: 4, binary: true, seed: 1 },
    { size: 5000, parts: 3, binary: false, seed: 2 },
    { size: 3000, parts: 2, binary: true, seed: 3 },
    { size: 0, parts: 3, binary: false, seed: 4 },
    { size: 2 * MiB, parts: 5, binary: false, seed: 5 },
  ];
  for (const spec of specs) {
    await conn.send(`frag:${JSON.stringify(spec)}`);
    const got = await conn.receive();
    const expected = fragPayload(spec);
    if (spec.binary) {
      assertBytes(got, expected, `${what}: peer fragments ${spec.size}`);
    } else {
      assert.ok(
        got === td.decode(expected),
        `${what}: peer text fragments ${spec.size}`,
      );
    }
  }
}

// ---------------------------------------------------------------------------
// Interop with npm:ws's server

interface WsCase {
  name: string;
  server: WsDeflateOptions;
  client: boolean | CompressionOptions;
  /** Parameters expected in the agreed header (any order). */
  agreed: string[];
  sizes: number[];
}

const WS_CASES: WsCase[] = [
  {
    name: "defaults (context takeover both ways)",
    server: true,
    client: true,
    agreed: [],
    sizes: FULL_SIZES,
  },
  {
    name: "serverNoContextTakeover",
    server: { serverNoContextTakeover: true },
    client: true,
    agreed: ["server_no_context_takeover"],
    sizes: SHORT_SIZES,
  },
  {
    name: "clientNoContextTakeover",
    server: { clientNoContextTakeover: true },
    client: true,
    agreed: ["client_no_context_takeover"],
    sizes: SHORT_SIZES,
  },
  {
    name: "serverMaxWindowBits 10",
    server: { serverMaxWindowBits: 10 },
    client: true,
    agreed: ["server_max_window_bits=10"],
    sizes: SHORT_SIZES,
  },
  {
    name: "serverMaxWindowBits 8",
    server: { serverMaxWindowBits: 8 },
    client: true,
    agreed: ["server_max_window_bits=8"],
    sizes: SHORT_SIZES,
  },
  {
    name: "clientMaxWindowBits 9",
    server: { clientMaxWindowBits: 9 },
    client: true,
    agreed: ["client_max_window_bits=9"],
    sizes: SHORT_SIZES,
  },
  {
    name: "clientMaxWindowBits 8 (we send uncompressed)",
    server: { clientMaxWindowBits: 8 },
    client: true,
    agreed: ["client_max_window_bits=8"],
    sizes: SHORT_SIZES,
  },
  {
    name: "threshold 0 on both sides",
    server: { threshold: 0 },
    client: { threshold: 0 },
    agreed: [],
    sizes: SHORT_SIZES,
  },
  {
    name: "everything at once, no context takeover",
    server: {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 9,
      clientMaxWindowBits: 9,
      threshold: 0,
    },
    client: { threshold: 0 },
    agreed: [
      "client_max_window_bits=9",
      "client_no_context_takeover",
      "server_max_window_bits=9",
      "server_no_context_takeover",
    ],
    sizes: [...SHORT_SIZES, 16 * MiB],
  },
  {
    name: "our offer with every parameter",
    server: true,
    client: {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 11,
      clientMaxWindowBits: 12,
    },
    agreed: [
      "client_max_window_bits=12",
      "client_no_context_takeover",
      "server_max_window_bits=11",
      "server_no_context_takeover",
    ],
    sizes: SHORT_SIZES,
  },
];

for (const c of WS_CASES) {
  Deno.test(`compression interop with npm:ws server: ${c.name}`, async () => {
    const server = await startWsServer(c.server);
    try {
      const conn = await connect(server.url, {
        compression: c.client,
        closeTimeout: 2000,
      });
      try {
        assert.equal(
          conn.extensions,
          conn.response.headers.get("sec-websocket-extensions"),
        );
        assert.deepEqual(agreedParams(conn.extensions), [...c.agreed].sort());
        await echoSizes(conn, c.sizes, c.name);
        await echoFragments(conn, c.name);
        await conn.close(1000, "done");
        assert.deepEqual(await conn.closed, {
          code: 1000,
          reason: "done",
          wasClean: true,
        });
      } finally {
        await conn.close().catch(() => {});
        await conn.closed;
      }
      assertNoServerErrors(server.errors);
    } finally {
      await server.close();
    }
  });
}

Deno.test("compression interop with npm:ws server: declined offer, messages flow uncompressed", async () => {
  const server = await startWsServer(false);
  try {
    const conn = await connect(server.url, { compression: true });
    assert.equal(conn.extensions, "");
    await echoSizes(conn, [0, 2000], "declined");
    await conn.close();
  } finally {
    await server.close();
  }
});

// ---------------------------------------------------------------------------
// Our server role

interface OwnCase {
  name: string;
  server: boolean | CompressionOptions;
  client: boolean | CompressionOptions;
  /** The exact header our server answers with. */
  agreed: string;
  sizes: number[];
}

const OWN_CASES: OwnCase[] = [
  {
    name: "defaults",
    server: true,
    client: true,
    agreed: "permessage-deflate",
    sizes: FULL_SIZES,
  },
  {
    name: "server imposes every parameter",
    server: {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 11,
    },
    client: true,
    agreed:
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11",
    sizes: [...SHORT_SIZES, 16 * MiB],
  },
  {
    name: "client asks for small windows, threshold 0",
    server: { threshold: 0 },
    client: { threshold: 0, serverMaxWindowBits: 9, clientMaxWindowBits: 9 },
    agreed: "permessage-deflate; server_max_window_bits=9",
    sizes: SHORT_SIZES,
  },
  {
    name: "server asks client_max_window_bits=8 (client sends uncompressed)",
    server: { clientMaxWindowBits: 8 },
    client: true,
    agreed: "permessage-deflate; client_max_window_bits=8",
    sizes: SHORT_SIZES,
  },
  {
    name: "server_max_window_bits=8 (server sends uncompressed)",
    server: { serverMaxWindowBits: 8 },
    client: true,
    agreed: "permessage-deflate; server_max_window_bits=8",
    sizes: SHORT_SIZES,
  },
  {
    name: "server compression off",
    server: false,
    client: true,
    agreed: "",
    sizes: [0, 2000],
  },
];

for (const c of OWN_CASES) {
  Deno.test(`compression with our server role: ${c.name}`, async () => {
    let serverSide = "";
    const server = startOurServer(
      { compression: c.server, closeTimeout: 2000 },
      (conn) => {
        serverSide = conn.extensions;
        return echoWithOurServer(conn);
      },
    );
    try {
      const conn = await connect(server.url, {
        compression: c.client,
        closeTimeout: 2000,
      });
      try {
        assert.equal(conn.extensions, c.agreed);
        assert.equal(serverSide, c.agreed, "the server's own view");
        await echoSizes(conn, c.sizes, c.name);
        await echoFragments(conn, c.name);
        await conn.close(1000, "done");
        assert.equal((await conn.closed).wasClean, true);
      } finally {
        await conn.close().catch(() => {});
        await conn.closed;
      }
    } finally {
      await server.close();
    }
    assertNoServerErrors(server.errors);
  });
}

const WS_CLIENT_CASES: {
  name: string;
  server: boolean | CompressionOptions;
  client: WsDeflateOptions;
  agreed: string;
}[] = [
  {
    name: "defaults",
    server: true,
    client: true,
    agreed: "permessage-deflate",
  },
  {
    name: "ws offers every parameter, threshold 0",
    server: { threshold: 0 },
    client: {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 11,
      threshold: 0,
    },
    agreed:
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10",
  },
  {
    name: "our server limits ws's window",
    server: { clientMaxWindowBits: 9, serverMaxWindowBits: 12 },
    client: true,
    agreed:
      "permessage-deflate; server_max_window_bits=12; client_max_window_bits=9",
  },
];

for (const c of WS_CLIENT_CASES) {
  Deno.test(`compression with our server role and an npm:ws client: ${c.name}`, async () => {
    const server = startOurServer({
      compression: c.server,
      closeTimeout: 2000,
    });
    const peer = new WsPeer(server.url, c.client);
    try {
      await peer.open();
      assert.equal(peer.extensions, c.agreed);
      assert.equal(peer.ws.extensions, "permessage-deflate");
      for (const size of [0, 1023, 1024, 200_000, MiB]) {
        for (let i = 0; i < 2; i++) {
          const t = text(size, size + i);
          peer.ws.send(t);
          assert.ok(await peer.next() === t, `text ${size}`);
          const b = pattern(size, size + i);
          peer.ws.send(b);
          assertBytes(await peer.next(), b, `binary ${size}`);
        }
      }
      // ws's fragmenting sender into our server.
      const big = te.encode(text(120_000, 7));
      const parts = split(big, 4);
      parts.forEach((p, i) => peer.ws.send(p, { fin: i === 3, binary: false }));
      assert.equal(await peer.next(), td.decode(big));
      // Our server's fragmenting sender into ws.
      const spec: FragSpec = { size: 250_000, parts: 5, binary: true, seed: 8 };
      peer.ws.send(`frag:${JSON.stringify(spec)}`);
      assertBytes(await peer.next(), fragPayload(spec), "our fragments");
    } finally {
      await peer.close();
      await server.close();
    }
    assertNoServerErrors(server.errors);
  });
}

// ---------------------------------------------------------------------------
// Negotiation edge cases from crafted handshakes

/** Answers the upgrade with `answer` and returns the client's offer. */
async function withAnswer(
  answer: string | undefined,
  afterAccept: (peer: ScriptedPeer) => Promise<void>,
  client: (url: string) => Promise<void>,
): Promise<string | null> {
  let offer: string | null = null;
  const server = startScriptedServer(async (peer) => {
    const request = await peer.readRequest();
    offer = request.headers.get("sec-websocket-extensions");
    await peer.accept({ extensions: answer });
    await afterAccept(peer);
  });
  try {
    await client(server.url);
    await server.settled();
    assertNoServerErrors(server.errors);
  } finally {
    await server.close();
  }
  return offer;
}

const BAD_ANSWERS: {
  why: string;
  answer: string;
  compression: boolean | CompressionOptions | undefined;
}[] = [
  {
    why: "unknown parameter",
    answer: "permessage-deflate; foo",
    compression: true,
  },
  {
    why: "unknown parameter with a value",
    answer: "permessage-deflate; mode=fast",
    compression: true,
  },
  {
    why: "repeated parameter",
    answer:
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    compression: true,
  },
  {
    why: "repeated window bits",
    answer:
      "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
    compression: true,
  },
  {
    why: "server_max_window_bits=7",
    answer: "permessage-deflate; server_max_window_bits=7",
    compression: true,
  },
  {
    why: "server_max_window_bits=16",
    answer: "permessage-deflate; server_max_window_bits=16",
    compression: true,
  },
  {
    why: "server_max_window_bits=08 (leading zero)",
    answer: "permessage-deflate; server_max_window_bits=08",
    compression: true,
  },
  {
    why: "server_max_window_bits without a value",
    answer: "permessage-deflate; server_max_window_bits",
    compression: true,
  },
  {
    why: "client_max_window_bits=7",
    answer: "permessage-deflate; client_max_window_bits=7",
    compression: true,
  },
  {
    why: "client_max_window_bits without a value",
    answer: "permessage-deflate; client_max_window_bits",
    compression: true,
  },
  {
    why: "client_max_window_bits=10 when we offered none",
    answer: "permessage-deflate; client_max_window_bits=10",
    compression: { clientMaxWindowBits: false },
  },
  {
    why: "client_max_window_bits above the 10 we offered",
    answer: "permessage-deflate; client_max_window_bits=12",
    compression: { clientMaxWindowBits: 10 },
  },
  {
    why: "server_max_window_bits above the 10 we asked",
    answer: "permessage-deflate; server_max_window_bits=12",
    compression: { serverMaxWindowBits: 10 },
  },
  {
    why: "server_max_window_bits we asked for is missing",
    answer: "permessage-deflate",
    compression: { serverMaxWindowBits: 10 },
  },
  {
    why: "server_no_context_takeover we asked for is missing",
    answer: "permessage-deflate",
    compression: { serverNoContextTakeover: true },
  },
  {
    why: "a value on a flag parameter",
    answer: "permessage-deflate; client_no_context_takeover=1",
    compression: true,
  },
  {
    why: "an extension that was not offered",
    answer: "x-webkit-deflate-frame",
    compression: true,
  },
  {
    why: "an unoffered extension next to ours",
    answer: "permessage-deflate, x-webkit-deflate-frame",
    compression: true,
  },
  {
    why: "permessage-deflate twice",
    answer: "permessage-deflate, permessage-deflate",
    compression: true,
  },
  { why: "malformed list", answer: "permessage-deflate;", compression: true },
  {
    why: "answered when compression is off",
    answer: "permessage-deflate",
    compression: false,
  },
  {
    why: "answered when the option is absent",
    answer: "permessage-deflate",
    compression: undefined,
  },
];

Deno.test("compression negotiation: bad answers fail with BAD_HANDSHAKE and drop the connection", async () => {
  for (const c of BAD_ANSWERS) {
    let sent: Uint8Array | undefined;
    const offer = await withAnswer(c.answer, async (peer) => {
      // The client must hang up without a frame; this read is bounded.
      sent = await peer.readUntilEof(3000);
    }, async (url) => {
      const e = await expectReject(
        connect(url, { compression: c.compression }),
        "BAD_HANDSHAKE",
      );
      assert.ok(e.message.length > 0, c.why);
    });
    assert.equal(sent?.length, 0, `${c.why}: bytes after the handshake`);
    if (!c.compression) assert.equal(offer, null, `${c.why}: no offer`);
    else assert.ok(offer?.startsWith("permessage-deflate"), c.why);
  }
});

Deno.test("compression negotiation: the answer split over two header lines", async () => {
  // Header lines are joined into one list: our extension twice, or next to
  // one we never offered, fails either way.
  for (const second of ["permessage-deflate", "x-custom"]) {
    const server = startScriptedServer(async (peer) => {
      await peer.accept({
        extensions: "permessage-deflate",
        extraHeaders: [`Sec-WebSocket-Extensions: ${second}`],
      });
      await peer.readUntilEof(3000);
    });
    try {
      await expectReject(
        connect(server.url, { compression: true }),
        "BAD_HANDSHAKE",
      );
      await server.settled();
      assertNoServerErrors(server.errors);
    } finally {
      await server.close();
    }
  }
});

Deno.test("compression negotiation: our offers", async () => {
  const cases: [boolean | CompressionOptions, string][] = [
    [true, "permessage-deflate; client_max_window_bits"],
    [
      {
        clientNoContextTakeover: true,
        serverNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 9,
      },
      "permessage-deflate; client_no_context_takeover; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9",
    ],
    [{ clientMaxWindowBits: false }, "permessage-deflate"],
  ];
  for (const [compression, expected] of cases) {
    const offer = await withAnswer(undefined, async (peer) => {
      await peer.echoUntilClose();
    }, async (url) => {
      const conn = await connect(url, { compression });
      assert.equal(conn.extensions, "", "declined by the server");
      await conn.close();
    });
    assert.equal(offer, expected);
  }
});

/** Reads one compressed message from the client and returns its plaintext. */
async function readCompressed(peer: ScriptedPeer): Promise<Uint8Array> {
  const m = (await peer.readMessage())!;
  assert.equal(m.frames[0].rsv, 4, "RSV1 on the first frame");
  return inflateMessages([m.payload]);
}

Deno.test("compression negotiation: acceptable answers are taken as sent", async () => {
  const answers = [
    "permessage-deflate",
    "permessage-deflate; server_max_window_bits=10", // unasked: allowed
    "permessage-deflate; client_max_window_bits=10",
    'permessage-deflate; server_max_window_bits="11"', // quoted token
    "permessage-deflate ;server_no_context_takeover",
    "permessage-deflate; client_no_context_takeover", // unasked: binds us
  ];
  const msg = te.encode(text(3000, 1));
  for (const answer of answers) {
    await withAnswer(answer, async (peer) => {
      await peer.sendFrame({
        opcode: OP.TEXT,
        rsv: 4,
        payload: compressAlone(msg),
      });
      assertBytes(await readCompressed(peer), msg, answer);
      assert.equal((await peer.expectClose()).code, 1000);
      await peer.sendClose(1000);
    }, async (url) => {
      const conn = await connect(url, { compression: true });
      assert.equal(conn.extensions, answer);
      assert.equal(await conn.receive(), td.decode(msg));
      await conn.send(msg, WS.TEXT);
      await conn.close();
    });
  }
});

Deno.test("compression negotiation: server_no_context_takeover added unasked is obeyed", async () => {
  // The same two messages, compressed with context takeover: the second
  // refers back into the first. A plain answer keeps our inflate window, so
  // both decode; with server_no_context_takeover we drop the window after
  // each message (as the agreement lets us), so a server breaking its
  // promise is caught with 1007.
  const m = te.encode(text(4000, 2));
  const [p1, p2] = await compressWithTakeover([m, m]);
  assert.ok(p2.length < p1.length / 4, "second message uses back-references");
  for (
    const answer of [
      "permessage-deflate",
      "permessage-deflate; server_no_context_takeover",
    ]
  ) {
    const obeys = answer.includes("server_no_context_takeover");
    await withAnswer(answer, async (peer) => {
      await peer.sendFrame({ opcode: OP.BINARY, rsv: 4, payload: p1 });
      await peer.sendFrame({ opcode: OP.BINARY, rsv: 4, payload: p2 });
      const close = await peer.expectClose();
      assert.equal(close.code, obeys ? 1007 : 1000);
      if (!obeys) await peer.sendClose(1000);
    }, async (url) => {
      const conn = await connect(url, { compression: true });
      assert.equal(conn.extensions, answer);
      assertBytes(await conn.receive(), m, "first");
      if (obeys) {
        await expectReject(conn.receive(), "INVALID_PAYLOAD", 1007);
      } else {
        assertBytes(await conn.receive(), m, "second");
        await conn.close();
      }
      await conn.closed;
    });
  }
  // Independently compressed messages (what such a server sends) decode.
  await withAnswer(
    "permessage-deflate; server_no_context_takeover",
    async (peer) => {
      for (let i = 0; i < 3; i++) {
        await peer.sendFrame({
          opcode: OP.BINARY,
          rsv: 4,
          payload: compressAlone(m),
        });
      }
      assert.equal((await peer.expectClose()).code, 1000);
      await peer.sendClose(1000);
    },
    async (url) => {
      const conn = await connect(url, { compression: true });
      for (let i = 0; i < 3; i++) assertBytes(await conn.receive(), m, `#${i}`);
      await conn.close();
    },
  );
});

Deno.test("compression on the wire: context takeover, and client_no_context_takeover obeyed", async () => {
  const m = te.encode(text(2048, 3));
  for (
    const [answer, takeover] of [
      ["permessage-deflate", true],
      ["permessage-deflate; client_no_context_takeover", false], // unasked
    ] as const
  ) {
    await withAnswer(answer, async (peer) => {
      const payloads: Uint8Array[] = [];
      for (let i = 0; i < 3; i++) {
        const f = (await peer.readMessage())!.frames[0];
        assert.equal(f.rsv, 4);
        payloads.push(f.payload);
      }
      // One inflate stream decodes them all in both cases.
      assertBytes(inflateMessages(payloads), concat([m, m, m]), answer);
      if (takeover) {
        assert.ok(payloads[1].length < payloads[0].length / 4, "shrinks");
        assert.throws(() => inflateMessages([payloads[1]]), /distance/);
      } else {
        // A fresh context per message: identical, each decodable alone.
        assert.deepEqual(payloads[1], payloads[0]);
        assert.deepEqual(payloads[2], payloads[0]);
        assertBytes(inflateMessages([payloads[2]]), m, "alone");
      }
      await peer.expectClose();
      await peer.sendClose(1000);
    }, async (url) => {
      const conn = await connect(url, { compression: true });
      for (let i = 0; i < 3; i++) await conn.send(m);
      await conn.close();
    });
  }
});

Deno.test("compression on the wire: client_max_window_bits=10 limits our back-references", async () => {
  // 4 KiB of noise twice: with a 32 KiB window the second copy is one long
  // back-reference at distance 4096, which a 1 KiB window cannot reach.
  const block = noise(4096);
  const m = concat([block, block]);
  await withAnswer(
    "permessage-deflate; client_max_window_bits=10",
    async (peer) => {
      const f = (await peer.readMessage())!.frames[0];
      assert.equal(f.rsv, 4);
      assertBytes(inflateMessages([f.payload], 10), m, "window 10");
      assert.ok(f.payload.length > 8000, "no reference past the window");
      await peer.expectClose();
      await peer.sendClose(1000);
    },
    async (url) => {
      const conn = await connect(url, { compression: true });
      await conn.send(m);
      await conn.close();
    },
  );
  // Control: with the default window the repeat is found.
  await withAnswer("permessage-deflate", async (peer) => {
    const f = (await peer.readMessage())!.frames[0];
    assert.ok(f.payload.length < 4500, `${f.payload.length} bytes`);
    assertBytes(inflateMessages([f.payload]), m, "window 15");
    await peer.expectClose();
    await peer.sendClose(1000);
  }, async (url) => {
    const conn = await connect(url, { compression: true });
    await conn.send(m);
    await conn.close();
  });
});

// ---------------------------------------------------------------------------
// Corrupt streams and RSV bits out of place

/**
 * The server answers the upgrade with `answer`, sends `frames` and must then
 * get a close frame with `closeCode`; the client's recv() must reject with
 * `code` (pieces before the failure are fine).
 */
async function expectFailure(
  what: string,
  answer: string | undefined,
  compression: boolean,
  frames: FrameSpec[],
  code: string,
  closeCode: number,
): Promise<void> {
  let seen: number | undefined;
  await withAnswer(answer, async (peer) => {
    await peer.sendFrames(frames);
    for (let i = 0; i < 100; i++) {
      const f = await peer.expectFrame();
      if (f.opcode === OP.CLOSE) {
        seen = (f.payload[0] << 8) | f.payload[1];
        return;
      }
      assert.equal(f.opcode, OP.PONG, `${what}: unexpected frame`);
    }
  }, async (url) => {
    const conn = await connect(url, { compression, closeTimeout: 2000 });
    const buf = new Uint8Array(4096);
    const failure = (async () => {
      for (let i = 0; i < 10_000; i++) await conn.recv(buf);
    })();
    const e = await expectReject(failure, code, closeCode);
    assert.ok(e.message, what);
    const info = await conn.closed;
    assert.equal(info.wasClean, false, what);
  });
  assert.equal(seen, closeCode, `${what}: close code seen by the server`);
}

Deno.test("compression: corrupt deflate streams in RSV1 frames close with 1007 and INVALID_PAYLOAD", async () => {
  const m = te.encode(text(4000, 6));
  const [, dependent] = await compressWithTakeover([m, m]);
  const good = compressAlone(m);
  const cases: [string, FrameSpec[]][] = [
    ["reserved block type", [{
      opcode: OP.BINARY,
      rsv: 4,
      payload: Uint8Array.of(0x07, 0x00),
    }]],
    ["bad stored block lengths", [{
      opcode: OP.BINARY,
      rsv: 4,
      payload: Uint8Array.of(0x00, 0x05, 0x00, 0x00, 0x00, 1, 2, 3, 4, 5),
    }]],
    ["back-reference before the first message", [{
      opcode: OP.TEXT,
      rsv: 4,
      payload: dependent,
    }]],
    ["garbage in a later fragment", [
      { opcode: OP.TEXT, rsv: 4, fin: false, payload: good.subarray(0, 100) },
      { opcode: OP.CONT, payload: Uint8Array.of(0xff, 0xff, 0xff, 0xff) },
    ]],
    ["invalid UTF-8 in compressed text", [{
      opcode: OP.TEXT,
      rsv: 4,
      payload: compressAlone(Uint8Array.of(0x41, 0xff, 0xfe)),
    }]],
    ["compressed text ending inside a UTF-8 sequence", [{
      opcode: OP.TEXT,
      rsv: 4,
      payload: compressAlone(te.encode("abcé").subarray(0, 4)),
    }]],
  ];
  for (const [what, frames] of cases) {
    await expectFailure(
      what,
      "permessage-deflate",
      true,
      frames,
      "INVALID_PAYLOAD",
      1007,
    );
  }
});

Deno.test("compression: RSV bits out of place close with 1002 and PROTOCOL_ERROR", async () => {
  const hello = deflateRawSync(te.encode("hello"), {
    finishFlush: constants.Z_SYNC_FLUSH,
  }); // tail kept: a valid non-final fragment
  const cases: [string, string | undefined, boolean, FrameSpec[]][] = [
    ["RSV1 on a continuation frame", "permessage-deflate", true, [
      { opcode: OP.TEXT, rsv: 4, fin: false, payload: hello },
      { opcode: OP.CONT, rsv: 4, payload: Uint8Array.of(0x00) },
    ]],
    ["RSV1 on a ping", "permessage-deflate", true, [
      { opcode: OP.PING, rsv: 4, payload: "p" },
    ]],
    ["RSV1 on a close frame", "permessage-deflate", true, [
      { opcode: OP.CLOSE, rsv: 4, payload: Uint8Array.of(0x03, 0xe8) },
    ]],
    ["RSV1 on a ping inside a compressed message", "permessage-deflate", true, [
      { opcode: OP.TEXT, rsv: 4, fin: false, payload: hello },
      { opcode: OP.PING, rsv: 4 },
    ]],
    ["RSV2 with the extension", "permessage-deflate", true, [
      { opcode: OP.TEXT, rsv: 2, payload: "x" },
    ]],
    ["RSV3 with the extension", "permessage-deflate", true, [
      { opcode: OP.BINARY, rsv: 1, payload: "x" },
    ]],
    ["RSV1+RSV2 with the extension", "permessage-deflate", true, [
      { opcode: OP.TEXT, rsv: 6, payload: hello.subarray(0, hello.length - 4) },
    ]],
    ["RSV1 without the extension (not offered)", undefined, false, [
      { opcode: OP.TEXT, rsv: 4, payload: hello },
    ]],
    ["RSV1 without the extension (declined)", undefined, true, [
      { opcode: OP.TEXT, rsv: 4, payload: hello },
    ]],
  ];
  for (const [what, answer, compression, frames] of cases) {
    await expectFailure(
      what,
      answer,
      compression,
      frames,
      "PROTOCOL_ERROR",
      1002,
    );
  }
});

// ---------------------------------------------------------------------------
// Decompression bombs

Deno.test("compression: a small frame inflating far past maxMessageSize closes with 1009, memory stays bounded", async () => {
  // 1 MiB of zeros compresses to ~1 KB; 512 sync-flushed copies in a row are
  // one valid stream of 512 MiB in ~530 KB.
  const run = compressedRun(0, MiB);
  const bomb = concat(Array(512).fill(run));
  const payload = bomb.subarray(0, bomb.length - 4);
  assert.ok(payload.length < 600 * KiB);
  const limit = MiB;
  let seen: number | undefined;
  const before = Deno.memoryUsage().rss;
  let peak = before;
  let delivered = 0;
  await withAnswer("permessage-deflate", async (peer) => {
    await peer.sendFrame({ opcode: OP.BINARY, rsv: 4, payload });
    seen = (await peer.expectClose()).code;
  }, async (url) => {
    const conn = await connect(url, {
      compression: true,
      maxMessageSize: limit,
      closeTimeout: 2000,
    });
    const buf = new Uint8Array(64 * KiB);
    const failure = (async () => {
      for (let i = 0; i < 100_000; i++) {
        const { n } = await conn.recv(buf);
        delivered += n;
        peak = Math.max(peak, Deno.memoryUsage().rss);
      }
    })();
    await expectReject(failure, "MESSAGE_TOO_BIG", 1009);
    peak = Math.max(peak, Deno.memoryUsage().rss);
    await conn.closed;
  });
  assert.equal(seen, 1009);
  assert.ok(delivered <= limit, `${delivered} bytes delivered`);
  assert.ok(
    peak - before < 64 * MiB,
    `memory grew by ${Math.round((peak - before) / MiB)} MiB`,
  );
});

Deno.test("compression: fragments each under maxMessageSize but over it together close with 1009", async () => {
  // Four fragments of one stream, each inflating to 512 KiB of "a".
  const run = compressedRun(0x61, 512 * KiB);
  const last = run.subarray(0, run.length - 4);
  let seen: number | undefined;
  await withAnswer("permessage-deflate", async (peer) => {
    await peer.sendFrames([
      { opcode: OP.TEXT, rsv: 4, fin: false, payload: run },
      { opcode: OP.CONT, fin: false, payload: run },
      { opcode: OP.CONT, fin: false, payload: run },
      { opcode: OP.CONT, payload: last },
    ]);
    seen = (await peer.expectClose()).code;
  }, async (url) => {
    const conn = await connect(url, {
      compression: true,
      maxMessageSize: MiB,
      closeTimeout: 2000,
    });
    await expectReject(conn.receive(), "MESSAGE_TOO_BIG", 1009);
    await conn.closed;
  });
  assert.equal(seen, 1009);
});

// ---------------------------------------------------------------------------
// recv() and perform() on a compressed connection

Deno.test("compression: recv() delivers inflated bytes with per-chunk meta", async () => {
  const big = te.encode(text(300_000, 11));
  const packed = compressAlone(big);
  const [f1, f2, f3] = split(packed, 3);
  const bin = pattern(100_000, 12);
  const plain = pattern(5000, 13);
  await withAnswer("permessage-deflate", async (peer) => {
    await peer.sendFrames([
      { opcode: OP.TEXT, rsv: 4, fin: false, payload: f1 },
      { opcode: OP.PING, payload: "mid" },
      { opcode: OP.CONT, fin: false, payload: f2 },
      { opcode: OP.CONT, payload: f3 },
      { opcode: OP.BINARY, payload: plain }, // uncompressed: RSV1 clear
      { opcode: OP.TEXT, rsv: 4, payload: Uint8Array.of(0x00) }, // empty
      { opcode: OP.BINARY, rsv: 4, payload: compressAlone(bin) },
    ]);
    const pong = await peer.expectFrame();
    assert.deepEqual([pong.opcode, td.decode(pong.payload)], [OP.PONG, "mid"]);
    await peer.sendClose(1000, "bye");
    assert.equal((await peer.expectClose()).code, 1000);
  }, async (url) => {
    const conn = await connect(url, { compression: true });
    const assembler = new MessageAssembler();
    const t = await recvChecked(conn, 1000, assembler);
    assert.equal(t.type, WS.TEXT);
    assertBytes(t.data, big, "text");
    assert.deepEqual(assembler.controls, [WS.PING]);
    // Inflated in many chunks: chunk ends inside the message carry CONT.
    assert.ok(t.chunkEnds > 0, "chunk boundaries inside the message");
    const p = await recvChecked(conn, 1000, assembler);
    assert.deepEqual([p.type, p.chunkEnds], [WS.BINARY, 0]);
    assertBytes(p.data, plain, "uncompressed");
    const buf = new Uint8Array(1000);
    const empty = await conn.recv(buf);
    assert.deepEqual([empty.n, empty.meta], [0, {
      age: 0,
      flags: WS.TEXT,
      offset: 0,
      bytesleft: 0,
      len: 0,
    }]);
    const b = await recvChecked(conn, 64 * KiB, assembler);
    assert.equal(b.type, WS.BINARY);
    assertBytes(b.data, bin, "binary");
    const close = await conn.recv(buf);
    assert.equal(close.meta.flags, WS.CLOSE);
    assert.deepEqual(await conn.closed, {
      code: 1000,
      reason: "bye",
      wasClean: true,
    });
  });
});

Deno.test("compression: perform() delivers inflated pieces by the same rules", async () => {
  const big = te.encode(text(200_000, 21));
  const packed = compressAlone(big);
  const small = pattern(3000, 22);
  await withAnswer("permessage-deflate", async (peer) => {
    const [a, b] = split(packed, 2);
    await peer.sendFrames([
      { opcode: OP.TEXT, rsv: 4, fin: false, payload: a },
      { opcode: OP.CONT, payload: b },
      { opcode: OP.BINARY, rsv: 4, payload: compressAlone(small) },
    ]);
    assertBytes(await readCompressed(peer), big, "echoed");
    await peer.sendClose(1000, "bye");
    assert.equal((await peer.expectClose()).code, 1000);
  }, async (url) => {
    const assembler = new MessageAssembler();
    const messages: { type: number; data: Uint8Array }[] = [];
    const info = await perform(url, {
      compression: true,
      onFrame: async (data, meta, conn) => {
        assert.deepEqual(conn.meta(), meta);
        const done = assembler.push(data, meta);
        if (done === null) return;
        messages.push(done);
        // Reply from inside the callback: sent compressed.
        if (done.type === WS.TEXT) await conn.send(done.data, WS.TEXT);
      },
    });
    assert.deepEqual(info, { code: 1000, reason: "bye", wasClean: true });
    assert.equal(messages.length, 2);
    assertBytes(messages[0].data, big, "text");
    assertBytes(messages[1].data, small, "binary");
    assert.deepEqual(assembler.controls, [WS.CLOSE]);
  });
});

Deno.test("compression: perform() with an npm:ws server", async () => {
  const server = await startWsServer(true);
  try {
    const spec: FragSpec = { size: 400_000, parts: 3, binary: false, seed: 31 };
    const assembler = new MessageAssembler();
    let got: Uint8Array | null = null;
    const info = await perform(server.url, {
      compression: true,
      onOpen: async (conn) => {
        await conn.send(`frag:${JSON.stringify(spec)}`);
      },
      onFrame: async (data, meta, conn) => {
        const done = assembler.push(data, meta);
        if (done && done.type === WS.TEXT) {
          got = done.data;
          await conn.close(1000, "thanks");
        }
      },
    });
    assert.deepEqual(info, { code: 1000, reason: "thanks", wasClean: true });
    assertBytes(got, fragPayload(spec), "fragmented by ws");
  } finally {
    await server.close();
  }
});

// ---------------------------------------------------------------------------
// What we put on the wire

/** Asserts the frames of one message we sent: RSV1 on the first only when compressed. */
function assertFrames(frames: Frame[], compressed: boolean, what: string) {
  const data = frames.filter((f) => f.opcode < 8);
  data.forEach((f, i) => {
    assert.equal(f.rsv, i === 0 && compressed ? 4 : 0, `${what}: frame ${i}`);
    assert.equal(f.opcode, i === 0 ? f.opcode : OP.CONT, what);
  });
  frames.filter((f) => f.opcode >= 8).forEach((f) => {
    assert.equal(f.rsv, 0, `${what}: control frame`);
  });
}

Deno.test("compression on the wire: RSV1 on the first frame only, threshold decides", async () => {
  const t1023 = te.encode(text(1023, 41));
  const t1024 = te.encode(text(1024, 42));
  const frag = pattern(7000, 43);
  const random = noise(200_000); // compressed it still needs the large-frame path
  const tiny = pattern(20, 44);
  const partial = pattern(300_000, 45);
  await withAnswer("permessage-deflate", async (peer) => {
    let m = (await peer.readMessage())!;
    assertFrames(m.frames, false, "1023 B");
    assertBytes(m.payload, t1023, "1023 B goes as is");
    m = (await peer.readMessage())!;
    assertFrames(m.frames, true, "1024 B");
    assert.equal(m.frames.length, 1);
    const payloads = [m.payload];
    assertBytes(inflateMessages(payloads), t1024, "1024 B");
    // Fragmented, with a ping in between and an empty last fragment.
    m = (await peer.readMessage())!;
    assert.deepEqual(m.frames.map((f) => [f.opcode, f.fin, f.rsv]), [
      [OP.BINARY, false, 4],
      [OP.PING, true, 0],
      [OP.CONT, false, 0],
      [OP.CONT, true, 0],
    ]);
    assertFrames(m.frames, true, "fragments");
    payloads.push(m.payload);
    // Large compressed payload (over 64 KiB after deflate).
    m = (await peer.readMessage())!;
    assertFrames(m.frames, true, "incompressible");
    payloads.push(m.payload);
    // Fragments with a small first one go uncompressed.
    m = (await peer.readMessage())!;
    assertFrames(m.frames, false, "small first fragment");
    assertBytes(m.payload, concat([tiny, frag]), "small first fragment");
    // A partial frame (WS.OFFSET) goes uncompressed.
    m = (await peer.readMessage())!;
    assertFrames(m.frames, false, "partial frame");
    assertBytes(m.payload, partial, "partial frame");
    // After all that the compression context still lines up.
    m = (await peer.readMessage())!;
    assertFrames(m.frames, true, "after");
    payloads.push(m.payload);
    assertBytes(
      inflateMessages(payloads),
      concat([t1024, frag, random, t1024]),
      "one context over all compressed messages",
    );
    await peer.expectClose();
    await peer.sendClose(1000);
  }, async (url) => {
    const conn = await connect(url, { compression: true });
    await conn.send(t1023, WS.TEXT);
    await conn.send(t1024, WS.TEXT);
    await conn.send(frag.subarray(0, 3000), WS.BINARY | WS.CONT);
    await conn.send("ping", WS.PING);
    await conn.send(frag.subarray(3000), WS.BINARY | WS.CONT);
    await conn.send(new Uint8Array(0), WS.BINARY);
    await conn.send(random);
    await conn.send(tiny, WS.BINARY | WS.CONT);
    await conn.send(frag, WS.BINARY);
    await conn.send(partial.subarray(0, 1000), WS.BINARY | WS.OFFSET, 300_000);
    await conn.send(partial.subarray(1000), WS.BINARY | WS.OFFSET);
    await conn.send(t1024, WS.TEXT);
    await conn.close();
  });
});

Deno.test("compression on the wire: threshold option, empty compressed message", async () => {
  for (const threshold of [0, 100]) {
    const sizes = [0, 1, 99, 100, 5000];
    await withAnswer("permessage-deflate", async (peer) => {
      const compressed: Uint8Array[] = [];
      const expected: Uint8Array[] = [];
      for (const size of sizes) {
        const m = (await peer.readMessage())!;
        const on = size >= threshold;
        assertFrames(m.frames, on, `threshold ${threshold}, ${size} B`);
        if (on) {
          compressed.push(m.payload);
          expected.push(pattern(size, size));
          if (size === 0) {
            assert.ok(m.payload.length > 0, "an empty message still has bytes");
          }
        } else assertBytes(m.payload, pattern(size, size), `${size} B`);
      }
      assertBytes(inflateMessages(compressed), concat(expected), "stream");
      await peer.expectClose();
      await peer.sendClose(1000);
    }, async (url) => {
      const conn = await connect(url, { compression: { threshold } });
      for (const size of sizes) await conn.send(pattern(size, size));
      await conn.close();
    });
  }
});

Deno.test("compression on the wire: client_max_window_bits=8 means we send uncompressed, still inflate", async () => {
  const t = text(4000, 51);
  const bin = pattern(100_000, 52);
  const fromServer = te.encode(text(50_000, 53));
  await withAnswer(
    "permessage-deflate; client_max_window_bits=8",
    async (peer) => {
      let m = (await peer.readMessage())!;
      assertFrames(m.frames, false, "text");
      assert.equal(td.decode(m.payload), t);
      m = (await peer.readMessage())!;
      assertFrames(m.frames, false, "binary");
      assertBytes(m.payload, bin, "binary");
      m = (await peer.readMessage())!;
      assertFrames(m.frames, false, "fragments");
      assertBytes(m.payload, bin, "fragments");
      await peer.sendFrame({
        opcode: OP.TEXT,
        rsv: 4,
        payload: compressAlone(fromServer),
      });
      assert.equal((await peer.expectClose()).code, 1000);
      await peer.sendClose(1000);
    },
    async (url) => {
      const conn = await connect(url, { compression: true });
      assert.equal(
        conn.extensions,
        "permessage-deflate; client_max_window_bits=8",
      );
      await conn.send(t);
      await conn.send(bin);
      await conn.send(bin.subarray(0, 50_000), WS.BINARY | WS.CONT);
      await conn.send(bin.subarray(50_000), WS.BINARY);
      assert.equal(await conn.receive(), td.decode(fromServer));
      await conn.close();
    },
  );
});

Deno.test("compression: options are validated before connecting", async () => {
  const bad: unknown[] = [
    { clientMaxWindowBits: 7 },
    { serverMaxWindowBits: 16 },
    { threshold: -1 },
    "yes",
  ];
  for (const compression of bad) {
    await expectReject(
      connect("ws://127.0.0.1:9/", {
        compression: compression as ConnectOptions["compression"],
      }),
      "INVALID_ARGUMENT",
    );
  }
});

Deno.test("compression: odd but valid framing of compressed messages", async () => {
  const m = te.encode(text(10_000, 71));
  const packed = compressAlone(m);
  const final = deflateRawSync(m); // ends with a BFINAL block, no tail
  const frames: FrameSpec[] = [
    { opcode: OP.TEXT, rsv: 4, fin: false }, // empty first fragment
  ];
  for (let i = 0; i < 50; i++) {
    frames.push({
      opcode: OP.CONT,
      fin: false,
      payload: packed.subarray(i, i + 1),
    });
  }
  frames.push({ opcode: OP.PING, payload: "x" });
  frames.push({ opcode: OP.CONT, fin: false, payload: packed.subarray(50) });
  frames.push({ opcode: OP.CONT }); // empty last fragment
  frames.push({ opcode: OP.TEXT, rsv: 4, payload: final });
  frames.push({ opcode: OP.TEXT, rsv: 4, payload: compressAlone(m) });
  await withAnswer("permessage-deflate", async (peer) => {
    await peer.sendFrames(frames);
    assert.equal((await peer.expectFrame()).opcode, OP.PONG);
    await peer.sendClose(1000);
    assert.equal((await peer.expectClose()).code, 1000);
  }, async (url) => {
    const conn = await connect(url, { compression: true });
    for (let i = 0; i < 3; i++) {
      assert.ok(await conn.receive() === td.decode(m), `message ${i}`);
    }
    assert.equal(await conn.receive(), null);
  });
});

Deno.test("compression: an empty compressed payload is an empty message and leaves the stream intact", async () => {
  // RFC 7692 §7.2.3.6 has senders emit 0x00 for an empty message, but some
  // send no bytes at all. Appending the 00 00 ff ff tail to nothing would
  // leave the inflater inside a stored-block header, so the next message
  // would fail (dynamic blocks) or silently inflate to garbage (stored
  // blocks). Fixed in src/deflate.ts: no input, no tail.
  const m = te.encode(text(3000, 75));
  const stored = deflateRawSync(m, {
    level: 0,
    finishFlush: constants.Z_SYNC_FLUSH,
  });
  const frames: FrameSpec[] = [
    { opcode: OP.TEXT, rsv: 4 },
    { opcode: OP.TEXT, rsv: 4, payload: compressAlone(m) },
    { opcode: OP.BINARY, rsv: 4 },
    { opcode: OP.BINARY, rsv: 4, payload: stored.subarray(0, -4) },
    { opcode: OP.TEXT, rsv: 4, fin: false }, // empty in two fragments
    { opcode: OP.CONT },
    { opcode: OP.TEXT, rsv: 4, payload: compressAlone(m) },
  ];
  await withAnswer("permessage-deflate", async (peer) => {
    await peer.sendFrames(frames);
    await peer.sendClose(1000);
    assert.equal((await peer.expectClose()).code, 1000);
  }, async (url) => {
    const conn = await connect(url, { compression: true });
    assert.equal(await conn.receive(), "");
    assert.ok(await conn.receive() === td.decode(m), "after empty text");
    assertBytes(await conn.receive(), new Uint8Array(0), "empty binary");
    assertBytes(await conn.receive(), m, "stored blocks after empty binary");
    assert.equal(await conn.receive(), "");
    assert.ok(await conn.receive() === td.decode(m), "after empty fragments");
    assert.equal(await conn.receive(), null);
  });
});

Deno.test("compression: maxMessageSize counts inflated bytes, exactly at the limit is fine", async () => {
  const limit = 100_000;
  for (const [size, ok] of [[limit, true], [limit + 1, false]] as const) {
    const m = pattern(size, 81);
    let seen: number | undefined;
    await withAnswer("permessage-deflate", async (peer) => {
      await peer.sendFrame({
        opcode: OP.BINARY,
        rsv: 4,
        payload: compressAlone(m),
      });
      seen = (await peer.expectClose()).code;
      if (ok) await peer.sendClose(1000);
    }, async (url) => {
      const conn = await connect(url, {
        compression: true,
        maxMessageSize: limit,
        closeTimeout: 2000,
      });
      if (ok) {
        assertBytes(await conn.receive(), m, "at the limit");
        await conn.close();
      } else {
        await expectReject(conn.receive(), "MESSAGE_TOO_BIG", 1009);
      }
      await conn.closed;
    });
    assert.equal(seen, ok ? 1000 : 1009);
  }
});

Deno.test("compression on the wire: large compressed fragments keep RSV1 on the first only", async () => {
  const a = noise(100_000);
  const b = noise(100_000);
  await withAnswer("permessage-deflate", async (peer) => {
    const m = (await peer.readMessage())!;
    assert.deepEqual(m.frames.map((f) => [f.opcode, f.fin, f.rsv]), [
      [OP.BINARY, false, 4],
      [OP.CONT, true, 0],
    ]);
    assertBytes(inflateMessages([m.payload]), concat([a, b]), "fragments");
    await peer.expectClose();
    await peer.sendClose(1000);
  }, async (url) => {
    const conn = await connect(url, { compression: true });
    await conn.send(a, WS.BINARY | WS.CONT);
    await conn.send(b, WS.BINARY);
    await conn.close();
  });
});

Deno.test("compression: a message ending in a BFINAL block keeps the window for the next", async () => {
  // RFC 7692 §7.2.3.4: a sender may end a message with a final block. With
  // context takeover the next message may still refer back into it.
  const m = te.encode(text(6000, 95));
  const [p1, p2] = await compressWithTakeover([m, m]);
  // p1, its sync-flush marker, then an empty fixed-Huffman block with BFINAL.
  const ended = concat([p1, TAIL, Uint8Array.of(0x03, 0x00)]);
  assert.throws(() => inflateMessages([p2]), /distance/);
  await withAnswer("permessage-deflate", async (peer) => {
    await peer.sendFrame({ opcode: OP.TEXT, rsv: 4, payload: ended });
    await peer.sendFrame({ opcode: OP.TEXT, rsv: 4, payload: p2 });
    assert.equal((await peer.expectClose()).code, 1000);
    await peer.sendClose(1000);
  }, async (url) => {
    const conn = await connect(url, { compression: true });
    assert.ok(await conn.receive() === td.decode(m), "first");
    assert.ok(await conn.receive() === td.decode(m), "second");
    await conn.close();
  });
});

/** A message a sender ends with a BFINAL block: zlib's Z_FINISH output. */
function finished(m: Uint8Array, level?: number): Uint8Array {
  return deflateRawSync(m, level === undefined ? {} : { level });
}

for (
  const answer of [
    "permessage-deflate",
    "permessage-deflate; server_no_context_takeover",
  ]
) {
  Deno.test(`compression: BFINAL-terminated messages in sequence (${answer})`, async () => {
    // RFC 7692 §7.2.3.4: a sender may end a message with a BFINAL block;
    // zlib then ends its stream and we start a fresh one for the next
    // message. Real zlib bytes: one-shot Z_FINISH streams (deflateRawSync),
    // also as stored blocks and split over fragments, between sync-flushed
    // messages.
    const hello = te.encode("Hello");
    const a = te.encode(text(10_000, 101));
    const big = te.encode(text(600_000, 102)); // several blocks, > 256 KiB
    const bin = pattern(70_000, 103);
    const empty = finished(new Uint8Array(0));
    assert.deepEqual([...empty], [0x03, 0x00]);
    const messages: [Uint8Array, FrameSpec[]][] = [
      [a, [{ opcode: OP.TEXT, rsv: 4, payload: finished(a) }]],
      [new Uint8Array(0), [{ opcode: OP.TEXT, rsv: 4, payload: empty }]],
      [hello, [{ // the RFC's example: the final block, then 0x00
        opcode: OP.TEXT,
        rsv: 4,
        payload: concat([finished(hello), Uint8Array.of(0x00)]),
      }]],
      [
        big,
        split(finished(big), 3).map((payload, i) => ({
          opcode: i === 0 ? OP.TEXT : OP.CONT,
          rsv: i === 0 ? 4 : 0,
          fin: i === 2,
          payload,
        })),
      ],
      [a, [{ opcode: OP.TEXT, rsv: 4, payload: compressAlone(a) }]],
      [new Uint8Array(0), [
        { opcode: OP.TEXT, rsv: 4, fin: false, payload: empty.subarray(0, 1) },
        { opcode: OP.CONT, payload: concat([empty.subarray(1), TAIL]) },
      ]],
      [bin, [{ opcode: OP.BINARY, rsv: 4, payload: finished(bin, 0) }]],
      [hello, [{ opcode: OP.TEXT, rsv: 4, payload: finished(hello) }]],
    ];
    await withAnswer(answer, async (peer) => {
      for (const [i, [, frames]] of messages.entries()) {
        if (i > 0) await peer.sendPing("between");
        await peer.sendFrames(frames);
      }
      for (let i = 1; i < messages.length; i++) {
        assert.equal((await peer.expectFrame()).opcode, OP.PONG);
      }
      assert.equal((await peer.expectClose()).code, 1000);
      await peer.sendClose(1000);
    }, async (url) => {
      const conn = await connect(url, { compression: true });
      for (const [i, [m, frames]] of messages.entries()) {
        const got = await conn.receive();
        const isText = frames[0].opcode === OP.TEXT;
        assertBytes(isText ? te.encode(got as string) : got, m, `message ${i}`);
      }
      await conn.close();
    });
  });
}

Deno.test("compression: with context takeover, later messages refer back across BFINAL blocks", async () => {
  // A sender that ends every message with a final block but keeps its window
  // (as zlib can with deflateSetDictionary): sync-flushed messages of one
  // stream, each closed with the empty final block Z_FINISH emits. Empty
  // final-block messages in between change no window, so the stream stays
  // consistent; a later message only inflates if our window was given back
  // after the BFINAL. Small whole messages are tried without that first
  // (m[1]: refers back, so tried again; m[2]: stored, no reference, so the
  // window stays owed), larger ones (m[3]) take the long way.
  const m = [
    te.encode(text(8000, 110)),
    te.encode(text(8000, 110)),
    te.encode("stored bytes refer to nothing ".repeat(10)),
    concat([te.encode(text(8000, 110)), noise(20_000)]),
  ];
  const packed = await compressWithTakeover(m, [6, 6, 0, 6]);
  assert.ok(packed[1].length < 4096 && packed[2].length < 4096);
  assert.ok(packed[3].length > 4096, `${packed[3].length}`);
  for (const i of [1, 3]) {
    assert.throws(() => inflateMessages([packed[i]]), /distance/);
  }
  const ending = Uint8Array.of(...TAIL, 0x03, 0x00);
  const frames: FrameSpec[] = [
    { opcode: OP.TEXT, rsv: 4, payload: concat([packed[0], ending]) },
    { opcode: OP.TEXT, rsv: 4, payload: Uint8Array.of(0x03, 0x00) },
    { opcode: OP.TEXT, rsv: 4, payload: concat([packed[1], ending]) },
    { opcode: OP.TEXT, rsv: 4, fin: false, payload: Uint8Array.of(0x03) },
    { opcode: OP.CONT, payload: Uint8Array.of(0x00, 0x00) },
    { opcode: OP.TEXT, rsv: 4, payload: packed[2] },
    { opcode: OP.BINARY, rsv: 4, payload: packed[3] },
  ];
  const expected = [m[0], "", m[1], "", m[2], m[3]];
  await withAnswer("permessage-deflate", async (peer) => {
    await peer.sendFrames(frames);
    assert.equal((await peer.expectClose()).code, 1000);
    await peer.sendClose(1000);
  }, async (url) => {
    const conn = await connect(url, { compression: true });
    for (const [i, e] of expected.entries()) {
      const got = await conn.receive();
      if (i === 5) assertBytes(got, e as Uint8Array, "message 5");
      else {
        assert.ok(
          got === (typeof e === "string" ? e : td.decode(e)),
          `message ${i}`,
        );
      }
    }
    await conn.close();
  });
});

// ---------------------------------------------------------------------------
// Memory bounds, measured in a child process of their own
// (tests/children/inflate_cost.ts), untouched by other tests' heaps.

const INFLATE_COST = new URL("./children/inflate_cost.ts", import.meta.url);

interface InflateCost {
  messages: number;
  bytes: number;
  expected: number;
  badAt: number;
  wasClean: boolean;
  cpu: number;
  peak: number;
}

async function inflateCost(workload: string, n: number): Promise<InflateCost> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read=.",
      INFLATE_COST.pathname,
      workload,
      String(n),
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  assert.equal(out.code, 0, td.decode(out.stderr));
  return JSON.parse(td.decode(out.stdout).trim().split("\n").at(-1)!);
}

Deno.test("compression: recv() reads a 256 MiB deflate bomb without a size limit under 100 MiB RSS", async () => {
  // ~256 KiB on the wire. Inflating it in one step per socket read (or per
  // 64 KiB of compressed input) took 250+ MiB; pulled in steps it stays flat.
  const r = await inflateCost("bomb", 256 * MiB);
  assert.deepEqual([r.bytes, r.badAt, r.wasClean], [256 * MiB, -1, true]);
  assert.ok(r.peak < 100 * MiB, `peak RSS ${(r.peak / MiB).toFixed(1)} MiB`);
});

Deno.test("compression: 100k messages ending in BFINAL blocks stay under 100 MiB RSS", async () => {
  // Every BFINAL block costs a reset and, with context takeover, giving the
  // window back; that used to allocate ~96 KiB per message (200+ MiB peak).
  for (const workload of ["bfinal", "bfinal-hello"]) {
    const r = await inflateCost(workload, 100_000);
    assert.deepEqual(
      [r.messages, r.bytes, r.badAt, r.wasClean],
      [100_000, r.expected, -1, true],
      workload,
    );
    assert.ok(
      r.peak < 100 * MiB,
      `${workload}: peak RSS ${(r.peak / MiB).toFixed(1)} MiB`,
    );
  }
});

// A send() that is rejected for its flags must not reach the compressor:
// the peer's inflate window has to match exactly the compressed messages
// that went out. (Found by these tests: Protocol.compress() used to run
// before encode() checked the flags, so a rejected message was fed to the
// compressor but never sent. Later messages then referred to bytes the peer
// never saw (1007), a final fragment went out uncompressed inside a
// compressed message, or every later compressed send failed. Fixed in
// c323efd.)
const REJECTED_SENDS: {
  name: string;
  /** Runs the rejected call (and whatever it needs around it). */
  run(conn: WebSocketConnection, m: Uint8Array): Promise<void>;
  /** The plaintext of the messages the peer must get before `m`. */
  before: Uint8Array[];
}[] = [
  {
    name: "two type flags (TEXT | BINARY)",
    run: (conn, m) =>
      expectReject(conn.send(m, WS.TEXT | WS.BINARY), "INVALID_ARGUMENT").then(
        () => {},
      ),
    before: [],
  },
  {
    name: "no type flag (0)",
    run: (conn, m) =>
      expectReject(conn.send(m, 0), "INVALID_ARGUMENT").then(() => {}),
    before: [],
  },
  {
    name: "CONT without a type flag",
    run: (conn, m) =>
      expectReject(conn.send(m, WS.CONT), "INVALID_ARGUMENT").then(() => {}),
    before: [],
  },
  {
    name: "a data frame while a partial frame is open",
    run: async (conn, m) => {
      const p = pattern(5000, 96);
      await conn.send(p.subarray(0, 100), WS.BINARY | WS.OFFSET, 5000);
      await expectReject(conn.send(m, WS.TEXT), "INVALID_ARGUMENT");
      await conn.send(p.subarray(100), WS.BINARY | WS.OFFSET);
    },
    before: [pattern(5000, 96)],
  },
  {
    name: "a fragment of another type inside a compressed message",
    run: async (conn, m) => {
      const f = pattern(3000, 97);
      await conn.send(f.subarray(0, 2000), WS.BINARY | WS.CONT);
      await expectReject(conn.send(m, WS.TEXT), "INVALID_ARGUMENT");
      await conn.send(f.subarray(2000), WS.BINARY);
    },
    before: [pattern(3000, 97)],
  },
];

for (const c of REJECTED_SENDS) {
  Deno.test({
    name:
      `compression: a send() rejected for its flags leaves the compressor untouched: ${c.name}`,
    fn: async () => {
      const m = te.encode(text(3000, 98));
      await withAnswer("permessage-deflate", async (peer) => {
        const payloads: Uint8Array[] = [];
        const plain: Uint8Array[] = [];
        for (const expected of [...c.before, m]) {
          const msg = (await peer.readMessage())!;
          const compressed = msg.frames[0].rsv === 4;
          assertFrames(msg.frames, compressed, c.name);
          if (compressed) {
            payloads.push(msg.payload);
            plain.push(expected);
          } else assertBytes(msg.payload, expected, `${c.name}: uncompressed`);
        }
        assertBytes(inflateMessages(payloads), concat(plain), c.name);
        await peer.expectClose();
        await peer.sendClose(1000);
      }, async (url) => {
        const conn = await connect(url, { compression: true });
        await c.run(conn, m);
        await conn.send(m, WS.TEXT);
        await conn.close();
      });
    },
  });
}

Deno.test("compression with our server role on the wire: RSV1 on first frames, threshold, context takeover", async () => {
  for (const serverNoContextTakeover of [false, true]) {
    const server = startOurServer({
      compression: { serverNoContextTakeover },
      closeTimeout: 2000,
    });
    const tcp = await Deno.connect({
      hostname: "127.0.0.1",
      port: Number(new URL(server.url).port),
    });
    const peer = new ScriptedPeer(tcp, 0);
    try {
      await peer.writeRaw(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" +
          "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
          "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
      );
      let head = "";
      for (let i = 0; i < 4096 && !head.endsWith("\r\n\r\n"); i++) {
        head += String.fromCharCode((await peer.readBytes(1))[0]);
      }
      assert.match(head, /^HTTP\/1\.1 101 /);
      assert.match(
        head,
        /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/i,
      );
      const agreed = serverNoContextTakeover
        ? "permessage-deflate; server_no_context_takeover"
        : "permessage-deflate";
      assert.ok(
        head.includes(`\r\nSec-WebSocket-Extensions: ${agreed}\r\n`),
        head,
      );
      const m = te.encode(text(3000, 101));
      const payloads: Uint8Array[] = [];
      for (let i = 0; i < 2; i++) {
        // A compressed message from the client, masked, echoed back compressed.
        await peer.sendFrame({
          opcode: OP.TEXT,
          rsv: 4,
          mask: true,
          payload: compressAlone(m),
        });
        const echo = (await peer.readMessage())!;
        assertFrames(echo.frames, true, "echo");
        assert.equal(echo.frames[0].masked, false);
        payloads.push(echo.payload);
      }
      assertBytes(inflateMessages(payloads), concat([m, m]), "echoes");
      if (serverNoContextTakeover) {
        assert.deepEqual(payloads[1], payloads[0]);
      } else {
        assert.ok(payloads[1].length < payloads[0].length / 4);
      }
      // Under the threshold: sent as is.
      await peer.sendFrame({ opcode: OP.TEXT, mask: true, payload: "short" });
      const short = (await peer.readMessage())!;
      assertFrames(short.frames, false, "short");
      assert.equal(td.decode(short.payload), "short");
      // Fragmented by our server: RSV1 on the first fragment only.
      const spec: FragSpec = {
        size: 30_000,
        parts: 3,
        binary: true,
        seed: 102,
      };
      await peer.sendFrame({
        opcode: OP.TEXT,
        mask: true,
        payload: `frag:${JSON.stringify(spec)}`,
      });
      const frag = (await peer.readMessage())!;
      assert.deepEqual(frag.frames.map((f) => [f.opcode, f.fin, f.rsv]), [
        [OP.BINARY, false, 4],
        [OP.CONT, false, 0],
        [OP.CONT, true, 0],
      ]);
      const all = inflateMessages([...payloads, frag.payload]);
      assertBytes(all.subarray(2 * m.length), fragPayload(spec), "fragments");
      await peer.sendFrame({
        opcode: OP.CLOSE,
        mask: true,
        payload: Uint8Array.of(0x03, 0xe8),
      });
      assert.equal((await peer.expectClose()).code, 1000);
    } finally {
      peer.close();
      await server.close();
    }
    assertNoServerErrors(server.errors);
  }
});
