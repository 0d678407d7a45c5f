/**
 * CI tests of the callback face, `perform()` (issue 3): libcurl's write
 * callback with `curl_ws_meta()`. Every test runs against a real peer: the
 * scripted raw server (exact bytes, independent codec) or the `ws` echo
 * server.
 */

import assert from "node:assert/strict";
import {
  acceptWebSocket,
  type CloseInfo,
  connect,
  type FrameMeta,
  perform,
  type WebSocketConnection,
  WebSocketError,
  WS,
} from "../mod.ts";
import { startWsEchoServer } from "./servers/echo.ts";
import { OP, startScriptedServer } from "./servers/scripted.ts";
import { assertSameBytes, finish, within } from "./helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A deterministic byte pattern that differs at every offset modulo 251. */
function pattern(offset: number): number {
  return (offset * 7 + (offset / 251 | 0)) & 255;
}

/** True when a piece is the last one of a message. */
function endsMessage(meta: FrameMeta): boolean {
  return meta.bytesleft === 0 && (meta.flags & WS.CONT) === 0;
}

Deno.test("perform: echo client replies to every message from inside onFrame", async () => {
  const messages = ["one", "two", "three ✓", "", "five"];
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    for (const [i, text] of messages.entries()) {
      if (i === 2) {
        // Fragmented, with a ping between the fragments: the reply must keep
        // the message whole and the ping must get its pong meanwhile.
        const bytes = enc.encode(text);
        await peer.sendFrames([
          { opcode: OP.TEXT, fin: false, payload: bytes.subarray(0, 3) },
          { opcode: OP.PING, payload: "p" },
          { opcode: OP.CONT, payload: bytes.subarray(3) },
        ]);
      } else {
        await peer.sendText(text);
      }
      const reply = await peer.readMessage();
      assert.ok(reply, "client replied");
      assert.equal(reply.opcode, OP.TEXT);
      assert.ok(reply.frames.every((f) => f.masked), "client frames masked");
      assert.equal(dec.decode(reply.payload), text);
      if (i === 2) {
        const pong = reply.frames.find((f) => f.opcode === OP.PONG);
        assert.ok(pong, "the ping was answered");
        assert.equal(dec.decode(pong.payload), "p");
      }
    }
    await peer.sendClose(1000, "done");
    const echo = await peer.expectClose();
    assert.equal(echo.code, 1000);
  });
  const seen: number[] = [];
  let metaInOpen: FrameMeta | null | undefined;
  let connection: WebSocketConnection | undefined;
  const info = await within(
    10000,
    "perform",
    perform(server.url, {
      onOpen(conn) {
        connection = conn;
        metaInOpen = conn.meta();
      },
      async onFrame(data, meta, conn) {
        // curl_ws_meta(): the same metadata as the argument, during the call.
        assert.deepEqual(conn.meta(), meta);
        assert.equal(meta.len, data.length);
        seen.push(meta.flags);
        if (meta.flags & WS.TEXT) {
          const more = endsMessage(meta) ? 0 : WS.CONT;
          await conn.send(data.slice(), WS.TEXT | more);
        }
      },
    }),
  );
  assert.deepEqual(info, { code: 1000, reason: "done", wasClean: true });
  assert.equal(metaInOpen, null, "meta() is null in onOpen");
  assert.ok(connection);
  assert.equal(connection.meta(), null, "meta() is null after perform");
  assert.deepEqual(await connection.closed, info);
  // The fragmented message: TEXT|CONT, then PING, then TEXT; then the rest.
  assert.ok(seen.includes(WS.TEXT | WS.CONT));
  assert.ok(seen.includes(WS.PING));
  assert.equal(seen.at(-1), WS.CLOSE);
  await finish(server);
});

Deno.test("perform: sends from a timer outside the callback and closes from outside", async () => {
  const echo = await startWsEchoServer();
  const sent: string[] = [];
  const received: string[] = [];
  let parts: Uint8Array[] = [];
  let timer: ReturnType<typeof setInterval> | undefined;
  let outsideClose: Promise<void> | undefined;
  let metaInTimer: FrameMeta | null | undefined;
  try {
    const info = await within(
      10000,
      "perform",
      perform(echo.url + "/timer", {
        onOpen(conn) {
          timer = setInterval(() => {
            metaInTimer = conn.meta();
            const text = `tick ${sent.length}`;
            sent.push(text);
            conn.send(text).catch(() => {});
            if (sent.length === 5) clearInterval(timer);
          }, 5);
        },
        onFrame(data, meta, conn) {
          if (!(meta.flags & WS.TEXT)) return;
          parts.push(data.slice()); // data is only valid during the call
          if (!endsMessage(meta)) return;
          received.push(dec.decode(concat(parts)));
          parts = [];
          if (received.length === 5) {
            // Not awaited here: close() from outside a callback waits for the
            // peer's close, which this very perform() loop must read.
            setTimeout(() => {
              outsideClose = conn.close(1000, "enough");
            }, 0);
          }
        },
      }),
    );
    assert.deepEqual(received, sent);
    assert.equal(info.code, 1000);
    assert.equal(info.wasClean, true);
    assert.equal(metaInTimer, null, "meta() is null outside a callback");
    assert.ok(outsideClose);
    await within(5000, "close() from outside", outsideClose);
  } finally {
    clearInterval(timer);
    await echo.close();
  }
});

Deno.test("perform: a 10 MiB frame arrives in pieces with consistent offset / bytesleft", async () => {
  const total = 10 * 1024 * 1024;
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    const payload = new Uint8Array(total);
    for (let i = 0; i < total; i++) payload[i] = pattern(i);
    await peer.sendFrames([
      { opcode: OP.BINARY, payload },
      { opcode: OP.TEXT, payload: "after" },
    ]);
    await peer.sendClose(1000);
    assert.equal((await peer.expectClose()).code, 1000);
  });
  let pieces = 0;
  let next = 0;
  let mismatch = -1;
  let after = "";
  const info = await within(
    20000,
    "perform",
    perform(server.url, {
      onFrame(data, meta) {
        if (meta.flags & WS.TEXT) {
          after += dec.decode(data);
          return;
        }
        if (meta.flags & WS.CLOSE) return;
        pieces++;
        assert.equal(meta.flags, WS.BINARY);
        assert.equal(meta.offset, next, "pieces arrive in order, no gaps");
        assert.equal(meta.len, data.length);
        assert.equal(meta.offset + meta.len + meta.bytesleft, total);
        for (let i = 0; i < data.length && mismatch < 0; i++) {
          if (data[i] !== pattern(next + i)) mismatch = next + i;
        }
        next += data.length;
      },
    }),
  );
  assert.equal(mismatch, -1, `payload differs at offset ${mismatch}`);
  assert.equal(next, total);
  assert.ok(pieces > 1, `a 10 MiB frame came in ${pieces} piece(s)`);
  assert.equal(after, "after");
  assert.deepEqual(info, { code: 1000, reason: "", wasClean: true });
  await finish(server);
});

Deno.test("perform: a slow onFrame applies backpressure to the sender", async () => {
  // 64 MiB is more than the kernel buffers of both ends can hold (tcp_rmem
  // max 32 MiB, wmem 4 MiB), so the server can only finish writing if the
  // client keeps reading while its callback is pending.
  const frameSize = 1024 * 1024;
  const frames = 64;
  const total = frameSize * frames;
  let written = 0;
  let serverDone = false;
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    const payload = new Uint8Array(frameSize);
    for (let i = 0; i < frames; i++) {
      payload[0] = i;
      await peer.sendBinary(payload);
      written += frameSize;
    }
    serverDone = true;
    await peer.sendClose(1000);
    await peer.expectClose();
  });
  const release = Promise.withResolvers<void>();
  const firstCall = Promise.withResolvers<void>();
  let calls = 0;
  let bytes = 0;
  const order: number[] = [];
  const done = perform(server.url, {
    async onFrame(data, meta) {
      if (!(meta.flags & WS.BINARY)) return;
      calls++;
      if (meta.offset === 0) order.push(data[0]);
      bytes += data.length;
      if (calls === 1) {
        firstCall.resolve();
        await release.promise;
      }
    },
  });
  try {
    await within(10000, "first onFrame call", firstCall.promise);
    // Wait until the server's writes stop making progress (bounded).
    let last = -1;
    for (let stable = 0, i = 0; stable < 3 && i < 100; i++) {
      await delay(100);
      stable = written === last ? stable + 1 : 0;
      last = written;
    }
    assert.equal(calls, 1, "no further delivery while the callback is pending");
    assert.equal(serverDone, false, "the server was blocked by backpressure");
    assert.ok(
      written < total / 4,
      `${written} bytes were taken while the callback was pending`,
    );
  } finally {
    release.resolve();
  }
  const info = await within(20000, "perform", done);
  assert.equal(bytes, total);
  assert.deepEqual(order, Array.from({ length: frames }, (_, i) => i));
  assert.equal(info.wasClean, true);
  await finish(server);
});

Deno.test("perform: awaiting send() and close() inside onFrame does not deadlock", async () => {
  const closeReturned = Promise.withResolvers<void>();
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    await peer.sendText("hello");
    const reply = await peer.readMessage();
    assert.equal(dec.decode(reply!.payload), "reply");
    const close = await peer.expectClose();
    assert.equal(close.code, 4000);
    assert.equal(close.reason, "client bye");
    // Answer only after the client's close() returned inside its callback:
    // had it waited for this answer, it would never have returned.
    await within(
      5000,
      "close() returning inside onFrame",
      closeReturned.promise,
    );
    await peer.sendClose(4000, "server bye");
    assert.equal(await peer.readFrame(), null, "nothing after the close");
  });
  const info = await within(
    10000,
    "perform",
    perform(server.url, {
      async onFrame(_data, meta, conn) {
        if (!(meta.flags & WS.TEXT)) return;
        assert.equal(await conn.send("reply"), 5);
        await conn.close(4000, "client bye");
        closeReturned.resolve();
        // After our close, further sends fail instead of hanging.
        await assert.rejects(conn.send("late"), WebSocketError);
      },
    }),
  );
  assert.deepEqual(info, { code: 4000, reason: "server bye", wasClean: true });
  await finish(server);
});

Deno.test("perform: a close started in onFrame ends after closeTimeout when the peer never answers", async () => {
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    await peer.sendText("hi");
    assert.equal((await peer.expectClose()).code, 1000);
    // Never answer: the client must give up and drop the connection.
    const rest = await peer.readUntilEof(5000);
    assert.equal(rest.length, 0);
  });
  let closeDone = false;
  const info = await within(
    10000,
    "perform",
    perform(server.url, {
      closeTimeout: 300,
      async onFrame(_data, meta, conn) {
        if (meta.flags & WS.TEXT) {
          await conn.close();
          closeDone = true;
        }
      },
    }),
  );
  assert.ok(closeDone);
  assert.deepEqual(info, { code: 1006, reason: "", wasClean: false });
  await finish(server);
});

Deno.test("perform: a protocol error rejects with WebSocketError and sends 1002", async () => {
  const gotClose = Promise.withResolvers<number | undefined>();
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    await peer.sendText("ok");
    await peer.sendFrame({ opcode: 0x3, payload: "reserved opcode" });
    gotClose.resolve((await peer.expectClose()).code);
  });
  let connection: WebSocketConnection | undefined;
  const texts: string[] = [];
  await assert.rejects(
    within(
      10000,
      "perform",
      perform(server.url, {
        onOpen: (conn) => void (connection = conn),
        onFrame(data, meta) {
          if (meta.flags & WS.TEXT) texts.push(dec.decode(data));
        },
      }),
    ),
    (e) => e instanceof WebSocketError && e.code === "PROTOCOL_ERROR",
  );
  assert.deepEqual(texts, ["ok"]);
  assert.equal(await within(5000, "server close", gotClose.promise), 1002);
  const closed = await within(5000, "conn.closed", connection!.closed);
  assert.equal(closed.wasClean, false);
  await finish(server);
});

Deno.test("perform: a transport that ends without a close frame resolves with wasClean false", async () => {
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    await peer.sendText("bye");
    // Returning ends the TCP stream without a close frame.
  });
  const texts: string[] = [];
  const info: CloseInfo = await within(
    10000,
    "perform",
    perform(server.url, {
      onFrame(data, meta) {
        if (meta.flags & WS.TEXT) texts.push(dec.decode(data));
      },
    }),
  );
  assert.deepEqual(texts, ["bye"]);
  assert.deepEqual(info, { code: 1006, reason: "", wasClean: false });
  await finish(server);
});

Deno.test("perform: an error thrown by onFrame rejects perform() and closes with 1011", async () => {
  const gotClose = Promise.withResolvers<number | undefined>();
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    await peer.sendText("boom");
    gotClose.resolve((await peer.expectClose()).code);
    await peer.sendClose(1011);
  });
  const boom = new Error("callback failed");
  await assert.rejects(
    within(
      10000,
      "perform",
      perform(server.url, {
        closeTimeout: 300,
        onFrame(_data, meta) {
          if (meta.flags & WS.TEXT) throw boom;
        },
      }),
    ),
    (e) => e === boom,
  );
  assert.equal(await within(5000, "server close", gotClose.promise), 1011);
  await finish(server);
});

Deno.test({
  name:
    "perform: after onFrame throws, perform() rejects once the peer answers the 1011 close",
  fn: async () => {
    const server = startScriptedServer(async (peer) => {
      await peer.accept();
      await peer.sendText("boom");
      assert.equal((await peer.expectClose()).code, 1011);
      await peer.sendClose(1011);
    });
    const boom = new Error("callback failed");
    let connection: WebSocketConnection | undefined;
    await assert.rejects(
      within(
        10000,
        "perform rejecting after the peer's close",
        perform(server.url, {
          closeTimeout: 60000,
          onOpen: (conn) => void (connection = conn),
          onFrame(_data, meta) {
            if (meta.flags & WS.TEXT) throw boom;
          },
        }),
      ),
      (e) => e === boom,
    );
    assert.deepEqual(await connection!.closed, {
      code: 1011,
      reason: "",
      wasClean: true,
    });
    await finish(server);
  },
});

Deno.test("perform: upgrade failures reject before any callback", async () => {
  const server = startScriptedServer(async (peer) => {
    await peer.readRequest();
    await peer.writeRaw(
      "HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope",
    );
  });
  let called = false;
  await assert.rejects(
    within(
      10000,
      "perform",
      perform(server.url, {
        onOpen: () => void (called = true),
        onFrame: () => void (called = true),
      }),
    ),
    (e) =>
      e instanceof WebSocketError && e.code === "HTTP_RETURNED_ERROR" &&
      e.status === 403 && dec.decode(e.body) === "nope",
  );
  assert.equal(called, false);
  await finish(server);
});

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

Deno.test("perform: awaiting large sends inside onFrame does not deadlock with a peer that applies backpressure", async () => {
  // The peer is our own server role echoing piece by piece with awaited
  // sends: it stops reading while its writes are blocked, just as perform()
  // stops reading while onFrame is pending.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const peer = await acceptWebSocket(await listener.accept(), {
      maxMessageSize: 1 << 30,
    });
    await peer.perform(async (data, meta) => {
      if ((meta.flags & (WS.TEXT | WS.BINARY)) === 0) return;
      const flags = (meta.flags & (WS.TEXT | WS.BINARY | WS.CONT)) | WS.OFFSET;
      await peer.send(
        data,
        flags,
        meta.offset === 0 ? meta.len + meta.bytesleft : 0,
      );
    });
  })();
  const size = 1 << 20, total = 24, window = 12;
  // Message i is filled with byte i, so order and content are checked.
  const payloads = Array.from(
    { length: total },
    (_, i) => new Uint8Array(size).fill(i),
  );
  let sent = 0, received = 0, bytes = 0, misplaced = 0;
  const info = await within(
    20000,
    "echo of 24 x 1 MiB",
    perform(`ws://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`, {
      async onOpen(conn) {
        for (; sent < window; sent++) await conn.send(payloads[sent]);
      },
      async onFrame(data, meta, conn) {
        if ((meta.flags & (WS.TEXT | WS.BINARY)) === 0) return;
        bytes += data.length;
        if (data.some((b) => b !== received)) misplaced++;
        if (meta.bytesleft !== 0 || meta.flags & WS.CONT) return;
        received++;
        if (sent < total) {
          await conn.send(payloads[sent++]); // awaited inside the callback
        } else if (received === total) {
          await conn.close();
        }
      },
    }),
  );
  listener.close();
  await serving;
  assert.equal(received, total);
  assert.equal(bytes, total * size);
  assert.equal(misplaced, 0, "pieces with bytes of another message");
  assert.equal(info.wasClean, true);
});

/**
 * A scripted peer that, before it reads anything, writes `frames` binary
 * frames of 1 MiB (frame i filled with byte i) and its close (then calls
 * `onWritten`); then it reads a binary message of `expect` bytes, each
 * `fill` when given, and our close. Our own big write is stuck meanwhile, so
 * only read-ahead lets the peer's writes finish.
 */
function startBusyWriter(
  frames: number,
  expect: number,
  { onWritten = () => {}, fill }: { onWritten?: () => void; fill?: number } =
    {},
) {
  return startScriptedServer(async (peer) => {
    await peer.accept();
    const payload = new Uint8Array(1 << 20);
    for (let i = 0; i < frames; i++) await peer.sendBinary(payload.fill(i));
    await peer.sendClose(1000, "done");
    onWritten();
    const message = await peer.readMessage(20000);
    assert.equal(message?.payload.length, expect);
    if (fill !== undefined) {
      assert.ok(message!.payload.every((b) => b === fill));
    }
    assert.equal((await peer.expectClose(20000)).code, 1000);
  });
}

Deno.test("perform: while onFrame awaits a blocked send, the client reads ahead in order, up to the peer's close", async () => {
  // The server writes 48 MiB (more than the kernel buffers of both ends
  // hold) and its close before it reads anything. Our callback meanwhile
  // awaits a 40 MiB send that cannot finish until the server reads. Only
  // reading ahead lets the server's writes finish; then everything must
  // still arrive in order, and the close handshake complete.
  const frames = 48, sendSize = 40 << 20;
  let serverWrote = false;
  const server = startBusyWriter(frames, sendSize, {
    onWritten: () => serverWrote = true,
    fill: 9,
  });
  const order: number[] = [];
  let misplaced = 0, wroteBeforeSendDone = false;
  const info = await within(
    30000,
    "perform",
    perform(server.url, {
      async onFrame(data, meta, conn) {
        if (!(meta.flags & WS.BINARY)) return;
        if (meta.offset === 0) order.push(data[0]);
        if (data.some((b) => b !== order.at(-1))) misplaced++;
        if (order.length === 1 && endsMessage(meta)) {
          await conn.send(new Uint8Array(sendSize).fill(9));
          wroteBeforeSendDone = serverWrote;
        }
      },
    }),
  );
  assert.deepEqual(order, Array.from({ length: frames }, (_, i) => i));
  assert.equal(misplaced, 0);
  assert.equal(wroteBeforeSendDone, true, "the server finished writing first");
  assert.deepEqual(info, { code: 1000, reason: "done", wasClean: true });
  await finish(server);
});

Deno.test("server role: large frames and large partial-frame pieces reach Deno's client intact", async () => {
  // The server role writes big payloads straight from the caller's buffer
  // (no copy); Deno's built-in client is the independent judge.
  const MiB = 1 << 20;
  const whole = new Uint8Array(2 * MiB + 3).map((_, i) => (i * 7) & 255);
  const parts = new Uint8Array(3 * MiB).map((_, i) => (i * 11 + 1) & 255);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await acceptWebSocket(await listener.accept());
    await conn.send(whole);
    await conn.send(
      parts.subarray(0, MiB),
      WS.BINARY | WS.OFFSET,
      parts.length,
    );
    await conn.send(parts.subarray(MiB, 2 * MiB), WS.BINARY | WS.OFFSET);
    await conn.send(parts.subarray(2 * MiB), WS.BINARY | WS.OFFSET);
    await conn.close(1000);
  })();
  const ws = new WebSocket(
    `ws://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`,
  );
  ws.binaryType = "arraybuffer";
  const got: Uint8Array[] = [];
  const closed = new Promise<CloseEvent>((resolve, reject) => {
    ws.onmessage = (e) => got.push(new Uint8Array(e.data));
    ws.onclose = resolve;
    ws.onerror = () => reject(new Error("Deno's client saw an error"));
  });
  const event = await within(20000, "Deno's client", closed);
  listener.close();
  await serving;
  assert.equal(got.length, 2);
  assertSameBytes(got[0], whole);
  assertSameBytes(got[1], parts);
  assert.equal(event.code, 1000);
});

Deno.test("perform: a callback awaiting close() behind a stuck write still reads ahead and closes cleanly", async () => {
  const frames = 40, sendSize = 6 << 20;
  const server = startBusyWriter(frames, sendSize);
  const order: number[] = [];
  const info = await within(
    30000,
    "perform",
    perform(server.url, {
      onOpen(conn) {
        // Not awaited: it stays stuck until the peer reads.
        conn.send(new Uint8Array(sendSize)).catch(() => {});
      },
      async onFrame(data, meta, conn) {
        if (!(meta.flags & WS.BINARY)) return;
        if (meta.offset === 0) order.push(data[0]);
        if (order.length === 1 && endsMessage(meta)) await conn.close(1000);
      },
    }),
  );
  assert.deepEqual(order, Array.from({ length: frames }, (_, i) => i));
  assert.deepEqual(info, { code: 1000, reason: "done", wasClean: true });
  await finish(server);
});

Deno.test("perform: raw mode, a callback awaiting a send behind a stuck write still reads ahead", async () => {
  // onOpen writes 4 KiB at a time until a write is not taken within 200 ms:
  // then the kernel buffers are full and the writer is stuck with little
  // queued (no large frame, far below the high-water mark).
  const frames = 40;
  let filled = false, sent = 0;
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    for (let i = 0; i < 200 && !filled; i++) await delay(25);
    const payload = new Uint8Array(1 << 20);
    for (let i = 0; i < frames; i++) await peer.sendBinary(payload.fill(i));
    assert.equal((await peer.readUntilEof(20000)).length, sent);
  });
  const expected = frames * ((1 << 20) + 10); // each frame's header + payload
  let delivered = 0;
  const info = await within(
    30000,
    "perform",
    perform(server.url, {
      rawMode: true,
      async onOpen(conn) {
        for (let i = 0; i < 8192; i++) {
          const write = conn.send(new Uint8Array(4096));
          sent += 4096;
          const taken = await Promise.race([
            write.then(() => true),
            delay(200).then(() => false),
          ]);
          if (!taken) break;
        }
        filled = true;
      },
      async onFrame(data, _meta, conn) {
        const first = delivered === 0;
        delivered += data.length;
        if (first) {
          sent += 4096;
          await conn.send(new Uint8Array(4096)); // behind the stuck write
        }
        if (delivered === expected) await conn.close();
      },
    }),
  );
  assert.equal(delivered, expected);
  assert.equal(info.wasClean, false); // raw mode: no close handshake
  await finish(server);
});

Deno.test("perform: many small frames read ahead do not each hold a whole read buffer", async () => {
  // The callback waits on a stuck 8 MiB send while the peer sends 600 tiny
  // frames one by one (a read each), then reads. Each read once kept a
  // 256 KiB buffer: about 150 MiB for 7 KiB of data.
  const sendSize = 8 << 20, tiny = 600;
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    await peer.sendBinary(new Uint8Array(1)); // starts the client's send
    await delay(200); // the send is stuck by now: nothing is read
    for (let i = 0; i < tiny; i++) {
      await peer.sendBinary(new Uint8Array(12).fill(i & 255));
      if (i % 20 === 0) await delay(1); // separate reads
    }
    await peer.sendClose(1000);
    assert.equal((await peer.readMessage(20000))?.payload.length, sendSize);
    await peer.expectClose(20000);
  });
  const before = Deno.memoryUsage().external;
  let peak = 0, received = 0, misplaced = 0;
  const info = await within(
    30000,
    "perform",
    perform(server.url, {
      async onFrame(data, meta, conn) {
        if (!(meta.flags & WS.BINARY)) return;
        peak = Math.max(peak, Deno.memoryUsage().external - before);
        if (received++ === 0) {
          await conn.send(new Uint8Array(sendSize));
        } else if (data.length !== 12 || data[0] !== ((received - 2) & 255)) {
          misplaced++;
        }
      },
    }),
  );
  assert.equal(received, tiny + 1);
  assert.equal(misplaced, 0);
  assert.equal(info.wasClean, true);
  // The 8 MiB send buffer and a few read buffers; not 600 of them (that
  // was ~150 MiB). Garbage not yet collected puts 8-50 MiB on top of the
  // live figure, depending on when the GC ran (a 40 MiB bound failed 2 of 3
  // runs of this test alone on correct code).
  assert.ok(peak < 96 << 20, `external memory grew by ${peak >> 20} MiB`);
  await finish(server);
});

Deno.test("server role: a perform() echo that does not await its sends echoes every piece intact", async () => {
  // Pieces are views of the read buffer, reused by the next read; send()
  // must have taken what it needs (up to 1 MiB) before it returns, even
  // when it has to wait behind a large frame.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await acceptWebSocket(await listener.accept());
    await conn.perform((data, meta, c) => {
      if (!(meta.flags & WS.BINARY)) return;
      const flags = WS.BINARY | WS.OFFSET;
      const total = meta.offset === 0 ? data.length + meta.bytesleft : 0;
      c.send(data, flags, total).catch(() => {});
    });
  })();
  const frames = 24, size = 100 * 1024;
  const conn = await connect(
    `ws://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`,
  );
  try {
    for (let i = 0; i < frames; i++) {
      await conn.send(new Uint8Array(size).fill(i + 1));
    }
    for (let i = 0; i < frames; i++) {
      const echo = await within(10000, `echo ${i}`, conn.receive());
      assert.ok(echo instanceof Uint8Array && echo.length === size);
      assert.ok(echo.every((b) => b === i + 1), `echo ${i} is intact`);
    }
  } finally {
    await conn.close();
    listener.close();
    await serving;
  }
});
