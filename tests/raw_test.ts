/**
 * CI tests of raw mode (libcurl's `CURLWS_RAW_MODE`) and of `autoPong: false`
 * (`CURLWS_NOAUTOPONG`), against the scripted raw server so that every byte
 * on the wire is known.
 */

import assert from "node:assert/strict";
import {
  connect,
  type FrameMeta,
  perform,
  type WebSocketConnection,
  WS,
} from "../mod.ts";
import {
  frameBytes,
  OP,
  type ScriptedServer,
  startScriptedServer,
} from "./servers/scripted.ts";
import { finish, within } from "./helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Frames glued to the 101 response: they arrive with the handshake bytes. */
const TRAILING = frameBytes({ opcode: OP.TEXT, payload: "first" });

/**
 * What the server sends after the upgrade: valid frames, a ping and a close
 * that a decoding client would answer, then bytes that a decoding client
 * would reject (reserved opcode, a masked frame, a bare continuation, junk).
 */
const SCRIPT = concat([
  frameBytes({ opcode: OP.TEXT, fin: false, payload: "frag" }),
  frameBytes({ opcode: OP.PING, payload: "are you there" }),
  frameBytes({ opcode: OP.CONT, payload: "ment" }),
  frameBytes({ opcode: 0x3, payload: "reserved" }),
  frameBytes({ opcode: OP.BINARY, mask: true, payload: "masked" }),
  frameBytes({ opcode: OP.CLOSE, payload: new Uint8Array([0x03, 0xe8]) }),
  frameBytes({ opcode: OP.CONT, payload: "after close" }),
  new Uint8Array([0xff, 0x00, 0x80, 0x7f, 0x0d, 0x0a]),
]);
const EXPECTED = concat([TRAILING, SCRIPT]);

/** Bytes the client sends in raw mode: a masked-looking text frame header and junk. */
const CLIENT_BYTES = new Uint8Array([0x81, 0x02, 0x68, 0x69, 0x00, 0xff]);

/**
 * A server that sends TRAILING with the 101 and SCRIPT after it, then
 * checks that the very next bytes from the client are exactly CLIENT_BYTES
 * followed by "é" (UTF-8): an automatic pong or close echo would come first
 * and break the match. Then it expects the client to drop the connection
 * without sending anything else.
 */
function rawServer(): ScriptedServer {
  return startScriptedServer(async (peer) => {
    await peer.accept({ trailing: TRAILING });
    await peer.writeChopped(SCRIPT, 7); // split across several writes
    const got = await peer.readBytes(CLIENT_BYTES.length + 2);
    assert.deepEqual(got, concat([CLIENT_BYTES, enc.encode("é")]));
    const rest = await peer.readUntilEof(5000);
    assert.deepEqual(rest, new Uint8Array(0), "nothing after the raw bytes");
  });
}

function assertRawMeta(meta: FrameMeta, n: number): void {
  assert.deepEqual(meta, { age: 0, flags: 0, offset: 0, bytesleft: 0, len: n });
}

Deno.test("raw: recv() hands over every byte undecoded with flags 0 and answers nothing", async () => {
  const server = rawServer();
  const conn = await within(
    5000,
    "connect",
    connect(server.url, { rawMode: true }),
  );
  const parts: Uint8Array[] = [];
  let size = 0;
  const buf = new Uint8Array(64 * 1024);
  for (let i = 0; i < 1000 && size < EXPECTED.length; i++) {
    const { n, meta } = await within(5000, "recv", conn.recv(buf));
    assertRawMeta(meta, n);
    assert.ok(n > 0);
    parts.push(buf.slice(0, n));
    size += n;
  }
  assert.deepEqual(concat(parts), EXPECTED);
  // send() writes bytes as given: no framing, no masking, flags ignored.
  assert.equal(await conn.send(CLIENT_BYTES.subarray(0, 4), WS.PING), 4);
  assert.equal(await conn.send(CLIENT_BYTES.subarray(4)), 2);
  assert.equal(await conn.send("é"), 2);
  // close() in raw mode writes no close frame: it drops the connection.
  await within(5000, "close", conn.close());
  const info = await conn.closed;
  assert.equal(info.wasClean, false);
  await finish(server);
});

Deno.test("raw: perform() delivers every byte to the callback with flags 0", async () => {
  const server = rawServer();
  const parts: Uint8Array[] = [];
  let size = 0;
  const info = await within(
    10000,
    "perform",
    perform(server.url, {
      rawMode: true,
      async onFrame(data, meta, conn) {
        assertRawMeta(meta, data.length);
        assert.deepEqual(conn.meta(), meta);
        parts.push(data.slice());
        size += data.length;
        if (size === EXPECTED.length) {
          await conn.send(CLIENT_BYTES);
          await conn.send(enc.encode("é"));
          await conn.close();
        }
      },
    }),
  );
  assert.deepEqual(concat(parts), EXPECTED);
  assert.equal(info.wasClean, false);
  await finish(server);
});

Deno.test("raw: perform() ends when the server closes the stream", async () => {
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    await peer.sendClose(1000, "bye"); // raw: delivered, not answered
  });
  const parts: Uint8Array[] = [];
  const info = await within(
    10000,
    "perform",
    perform(server.url, {
      rawMode: true,
      onFrame: (data) => void parts.push(data.slice()),
    }),
  );
  assert.deepEqual(
    concat(parts),
    frameBytes({
      opcode: OP.CLOSE,
      payload: concat([new Uint8Array([0x03, 0xe8]), enc.encode("bye")]),
    }),
  );
  assert.deepEqual(info, { code: 1006, reason: "", wasClean: false });
  await finish(server);
});

Deno.test({
  name: "raw: recv() with a small buffer loses no bytes",
  fn: async () => {
    const server = rawServer();
    const conn = await within(
      5000,
      "connect",
      connect(server.url, { rawMode: true }),
    );
    const parts: Uint8Array[] = [];
    let size = 0;
    const buf = new Uint8Array(5);
    for (let i = 0; i < 1000 && size < EXPECTED.length; i++) {
      const { n, meta } = await within(5000, "recv", conn.recv(buf));
      assertRawMeta(meta, n);
      parts.push(buf.slice(0, n));
      size += n;
    }
    assert.deepEqual(concat(parts), EXPECTED);
    await conn.send(CLIENT_BYTES);
    await conn.send("é");
    await conn.close();
    await conn.closed;
    await finish(server);
  },
});

// ------------------------------------------------------------- autoPong

/**
 * Sends a ping and a text message, then reports the frames the client sends
 * until its close: with autoPong off, no pong may be among them unless the
 * client sent one itself.
 */
function pingServer(
  seen: (frames: { opcode: number; payload: string }[]) => void,
): ScriptedServer {
  return startScriptedServer(async (peer) => {
    await peer.accept();
    await peer.sendFrames([
      { opcode: OP.PING, payload: "ping-1" },
      { opcode: OP.TEXT, payload: "hello" },
    ]);
    const frames: { opcode: number; payload: string }[] = [];
    for (let i = 0; i < 10; i++) {
      const f = await peer.expectFrame();
      // latin1, so that close codes compare byte for byte
      frames.push({
        opcode: f.opcode,
        payload: String.fromCharCode(...f.payload),
      });
      if (f.opcode === OP.CLOSE) break;
    }
    seen(frames);
    await peer.sendClose(1000);
  });
}

async function recvPiece(
  conn: WebSocketConnection,
): Promise<{ text: string; meta: FrameMeta }> {
  const buf = new Uint8Array(1024);
  const { n, meta } = await within(5000, "recv", conn.recv(buf));
  return { text: dec.decode(buf.subarray(0, n)), meta };
}

Deno.test("autoPong false: recv() reports the ping and nothing answers it", async () => {
  let frames: { opcode: number; payload: string }[] = [];
  const server = pingServer((f) => frames = f);
  const conn = await connect(server.url, { autoPong: false });
  const ping = await recvPiece(conn);
  assert.equal(ping.meta.flags, WS.PING);
  assert.equal(ping.text, "ping-1");
  const text = await recvPiece(conn);
  assert.equal(text.meta.flags, WS.TEXT);
  assert.equal(text.text, "hello");
  await conn.send("after");
  await within(5000, "close", conn.close());
  assert.deepEqual((await conn.closed).wasClean, true);
  await finish(server);
  assert.deepEqual(frames, [
    { opcode: OP.TEXT, payload: "after" },
    { opcode: OP.CLOSE, payload: "\x03\xe8" },
  ]);
});

Deno.test("autoPong default: the same ping is answered with its payload", async () => {
  let frames: { opcode: number; payload: string }[] = [];
  const server = pingServer((f) => frames = f);
  const conn = await connect(server.url);
  assert.equal((await recvPiece(conn)).meta.flags, WS.PING);
  assert.equal((await recvPiece(conn)).text, "hello");
  await conn.send("after");
  await within(5000, "close", conn.close());
  await conn.closed;
  await finish(server);
  assert.deepEqual(frames, [
    { opcode: OP.PONG, payload: "ping-1" },
    { opcode: OP.TEXT, payload: "after" },
    { opcode: OP.CLOSE, payload: "\x03\xe8" },
  ]);
});

Deno.test("autoPong false: perform() reports the ping; a pong goes out only when sent by hand", async () => {
  let frames: { opcode: number; payload: string }[] = [];
  const server = pingServer((f) => frames = f);
  const flags: number[] = [];
  const info = await within(
    10000,
    "perform",
    perform(server.url, {
      autoPong: false,
      async onFrame(data, meta, conn) {
        flags.push(meta.flags);
        if (meta.flags & WS.TEXT) {
          await conn.send(`manual ${dec.decode(data)}`);
          await conn.send("by hand", WS.PONG);
          await conn.close();
        }
      },
    }),
  );
  assert.deepEqual(flags, [WS.PING, WS.TEXT, WS.CLOSE]);
  assert.equal(info.wasClean, true);
  await finish(server);
  assert.deepEqual(frames, [
    { opcode: OP.TEXT, payload: "manual hello" },
    { opcode: OP.PONG, payload: "by hand" },
    { opcode: OP.CLOSE, payload: "\x03\xe8" },
  ]);
});
