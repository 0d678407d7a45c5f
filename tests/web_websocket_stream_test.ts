/**
 * WebSocketStream against the WHATWG standard's text (Deno's own needs
 * --unstable-net, so it is compared only when `globalThis.WebSocketStream`
 * exists): opened/closed, close() and WebSocketError argument checks,
 * failures, abort, writable.close()/abort(), and backpressure both ways,
 * with a raw scripted server.
 */
import assert from "node:assert/strict";
import { WebSocketStream, WebSocketStreamError } from "../mod.ts";
import { finish, within } from "./helpers.ts";
import { OP, startScriptedServer } from "./servers/scripted.ts";
import { echoUntilClose, logClientClose, thrown } from "./web_scenarios.ts";

const MiB = 1024 * 1024;

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await within(10000, "rejection", p);
  } catch (e) {
    return e;
  }
  assert.fail("expected a rejection");
}

type StreamClass = typeof WebSocketStream;
const builtin = (globalThis as unknown as { WebSocketStream?: StreamClass })
  .WebSocketStream;
if (!builtin) {
  console.log(
    "web stream built-in: skipped, no globalThis.WebSocketStream (Deno needs --unstable-net)",
  );
}

for (
  const [name, Wss] of [["ours", WebSocketStream], ["built-in", builtin]] as [
    string,
    StreamClass | undefined,
  ][]
) {
  Deno.test({
    name:
      `web stream ${name}: echo text and binary, close with code and reason`,
    ignore: Wss === undefined,
    async fn() {
      const log: string[] = [];
      const server = startScriptedServer(async (peer) => {
        await peer.readRequest();
        log.push(
          `protocols=${peer.request!.headers.get("sec-websocket-protocol")}`,
        );
        await peer.accept({ protocol: "b" });
        await echoUntilClose(peer, log);
      });
      const wss = new Wss!(`ws://127.0.0.1:${server.port}/`, {
        protocols: ["a", "b"],
      });
      assert.equal(wss.url, `ws://127.0.0.1:${server.port}/`);
      const { readable, writable, protocol, extensions } = await within(
        5000,
        "opened",
        wss.opened,
      );
      assert.deepEqual([protocol, extensions], ["b", ""]);
      const writer = writable.getWriter();
      const reader = readable.getReader();
      await writer.write("héllo");
      await writer.write(new Uint8Array([1, 2, 3]));
      // The standard takes any BufferSource; Deno's own only Uint8Array.
      const buffer = new Uint16Array([0x0102]).buffer;
      await writer.write(name === "ours" ? buffer : new Uint8Array(buffer));
      assert.equal((await reader.read()).value, "héllo");
      assert.deepEqual((await reader.read()).value, new Uint8Array([1, 2, 3]));
      assert.deepEqual((await reader.read()).value, new Uint8Array([2, 1]));
      await assert.rejects(writer.write(42 as unknown as string), TypeError);
      wss.close({ closeCode: 4000, reason: "bye" });
      assert.deepEqual(await within(5000, "closed", wss.closed), {
        closeCode: 4000,
        reason: "bye",
      });
      // Deno's own (with --unstable-net) sometimes errors its readable
      // with a WebSocketError after a clean close; the standard closes it.
      const end = await reader.read().catch((e) => e);
      if (name === "ours") {
        assert.deepEqual(end, { done: true, value: undefined });
      }
      await finish(server);
      assert.deepEqual(log, [
        "protocols=a, b",
        "frame op=1 fin=true len=6",
        "frame op=2 fin=true len=3",
        "frame op=2 fin=true len=2",
        "close code=4000 reason=bye",
      ]);
    },
  });
}

Deno.test("web stream: the server's close ends the readable and resolves closed", async () => {
  const log: string[] = [];
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    await peer.sendFrames([
      { opcode: OP.TEXT, fin: false, payload: "frag" },
      { opcode: OP.CONT, payload: "ment" },
    ]);
    await peer.sendClose(4001, "über");
    await logClientClose(peer, log);
  });
  const wss = new WebSocketStream(`ws://127.0.0.1:${server.port}/`);
  const { readable } = await within(5000, "opened", wss.opened);
  const got: unknown[] = [];
  await within(
    5000,
    "readable",
    readable.pipeTo(new WritableStream({ write: (c) => void got.push(c) })),
  );
  assert.deepEqual(got, ["fragment"]);
  assert.deepEqual(await wss.closed, { closeCode: 4001, reason: "über" });
  await finish(server);
  assert.deepEqual(log, ["close code=4001 reason="]);
});

Deno.test("web stream: a refused handshake rejects opened and closed with WebSocketError", async () => {
  const server = startScriptedServer(async (peer) => {
    await peer.readRequest();
    await peer.writeRaw("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
  });
  const wss = new WebSocketStream(`ws://127.0.0.1:${server.port}/`);
  const opened = await rejection(wss.opened);
  const closed = await rejection(wss.closed);
  for (const e of [opened, closed]) {
    assert.ok(e instanceof WebSocketStreamError);
    assert.ok(e instanceof DOMException);
    assert.equal(e.name, "WebSocketError");
    assert.equal(e.closeCode, 1006);
  }
  await finish(server);
});

Deno.test("web stream: a protocol error errors the streams and rejects closed after close 1002", async () => {
  const log: string[] = [];
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    await peer.sendFrame({ opcode: 3, payload: "x" });
    await logClientClose(peer, log);
  });
  const wss = new WebSocketStream(`ws://127.0.0.1:${server.port}/`);
  const { readable, writable } = await within(5000, "opened", wss.opened);
  const err = await rejection(readable.getReader().read());
  assert.ok(err instanceof WebSocketStreamError);
  assert.equal(await rejection(wss.closed), err);
  await assert.rejects(writable.getWriter().write("late"));
  await finish(server);
  assert.deepEqual(log, ["close code=1002 reason="]);
});

Deno.test("web stream: an aborted signal rejects with its reason, before or while connecting", async () => {
  const server = startScriptedServer(async (peer) => {
    await peer.readRequest().catch(() => {});
  });
  const url = `ws://127.0.0.1:${server.port}/`;
  const before = new WebSocketStream(url, {
    signal: AbortSignal.abort("early"),
  });
  assert.equal(await rejection(before.opened), "early");
  assert.equal(await rejection(before.closed), "early");
  const controller = new AbortController();
  const during = new WebSocketStream(url, { signal: controller.signal });
  controller.abort("late");
  assert.equal(await rejection(during.opened), "late");
  assert.equal(await rejection(during.closed), "late");
  await finish(server);
});

Deno.test("web stream: constructor, close() and WebSocketError argument checks", async () => {
  assert.equal(thrown(() => new WebSocketStream("ftp://x/")), "SyntaxError");
  // The standard maps http(s) to ws(s) (Deno's own WebSocketStream refuses it).
  assert.equal(
    new WebSocketStream("http://x/", { signal: AbortSignal.abort() }).url,
    "ws://x/",
  );
  assert.equal(thrown(() => new WebSocketStream("ws://x/#f")), "SyntaxError");
  assert.equal(
    thrown(() => new WebSocketStream("ws://x/", { protocols: ["a", "a"] })),
    "SyntaxError",
  );
  assert.equal(
    thrown(() => new WebSocketStreamError("m", { closeCode: 1001 })),
    "InvalidAccessError",
  );
  assert.equal(
    thrown(() => new WebSocketStreamError("m", { reason: "x".repeat(124) })),
    "SyntaxError",
  );
  const e = new WebSocketStreamError("m", { reason: "r" });
  assert.deepEqual([e.name, e.message, e.closeCode, e.reason], [
    "WebSocketError",
    "m",
    1000,
    "r",
  ]);
  assert.equal(new WebSocketStreamError().closeCode, null);

  const server = startScriptedServer(async (peer) => {
    await peer.readRequest().catch(() => {});
  });
  const wss = new WebSocketStream(`ws://127.0.0.1:${server.port}/`);
  assert.equal(
    thrown(() => wss.close({ closeCode: 2999 })),
    "InvalidAccessError",
  );
  assert.equal(
    thrown(() => wss.close({ closeCode: 1000, reason: "é".repeat(62) })),
    "SyntaxError",
  );
  wss.close(); // while connecting: fails the connection
  assert.ok(await rejection(wss.opened) instanceof WebSocketStreamError);
  assert.ok(await rejection(wss.closed) instanceof WebSocketStreamError);
  await finish(server);
});

for (
  const [what, end, want, closed] of [
    [
      "writable.close() sends a close without a code",
      (w: WritableStream) => w.close(),
      "empty",
      { closeCode: 1005, reason: "" },
    ],
    [
      "writable.abort(WebSocketError) closes with its code and reason",
      (w: WritableStream) =>
        w.abort(new WebSocketStreamError("", { closeCode: 4002, reason: "r" })),
      "code=4002 reason=r",
      { closeCode: 4002, reason: "r" },
    ],
  ] as const
) {
  Deno.test(`web stream: ${what}`, async () => {
    const log: string[] = [];
    const server = startScriptedServer(async (peer) => {
      await peer.accept();
      await echoUntilClose(peer, log);
    });
    const wss = new WebSocketStream(`ws://127.0.0.1:${server.port}/`);
    const { writable } = await within(5000, "opened", wss.opened);
    await end(writable);
    assert.deepEqual(await within(5000, "closed", wss.closed), closed);
    await finish(server);
    assert.deepEqual(log, [`close ${want}`]);
  });
}

Deno.test("web stream: writes wait while the peer does not read (backpressure)", async () => {
  const reading = Promise.withResolvers<void>();
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    await reading.promise;
    for (let i = 0; i < 32; i++) await peer.readMessage(10000);
    await echoUntilClose(peer, []);
  });
  const wss = new WebSocketStream(`ws://127.0.0.1:${server.port}/`);
  const { writable } = await within(5000, "opened", wss.opened);
  const writer = writable.getWriter();
  const chunk = new Uint8Array(MiB);
  let settled = 0;
  const writes: Promise<void>[] = [];
  for (let i = 0; i < 32; i++) {
    writes.push(writer.write(chunk).then(() => void settled++));
  }
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(settled < 32, `all ${settled} writes settled with a stalled peer`);
  assert.ok(writer.desiredSize! <= 0);
  reading.resolve();
  await within(10000, "writes", Promise.all(writes));
  wss.close();
  await within(5000, "closed", wss.closed);
  await finish(server);
});

Deno.test("web stream: an unread readable holds the peer back (backpressure)", async () => {
  const COUNT = 64;
  let written = 0;
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    const payload = new Uint8Array(MiB).fill(7);
    for (let i = 0; i < COUNT; i++) {
      await peer.sendBinary(payload);
      written++;
    }
    const f = await peer.readFrame();
    if (f) await peer.sendFrame({ opcode: OP.CLOSE, payload: f.payload });
  });
  const wss = new WebSocketStream(`ws://127.0.0.1:${server.port}/`);
  const { readable } = await within(5000, "opened", wss.opened);
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(
    written < COUNT,
    `the server wrote all ${written} MiB to a reader that reads nothing`,
  );
  const reader = readable.getReader();
  for (let i = 0; i < COUNT; i++) {
    const { value } = await within(5000, "message", reader.read());
    assert.equal((value as Uint8Array).length, MiB);
  }
  reader.releaseLock();
  wss.close({ closeCode: 1000 });
  assert.deepEqual(await within(5000, "closed", wss.closed), {
    closeCode: 1000,
    reason: "",
  });
  await finish(server);
});
