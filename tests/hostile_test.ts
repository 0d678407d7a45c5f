/**
 * Hostile peers (issue 13): attacks measured by the peak resident memory of
 * a child process and the close code the attacker gets back.
 */
import assert from "node:assert/strict";
import { acceptWebSocket, connect, WebSocketError } from "../mod.ts";
import { startScriptedServer } from "./servers/scripted.ts";
import { expectReject, within } from "./helpers.ts";

const MiB = 1024 * 1024;

interface FloodResult {
  length: number;
  closeCode: number;
  peak: number;
}

/** Runs tests/children/fragment_flood.ts and returns its JSON line. */
async function fragmentFlood(
  side: "client" | "server",
  fragments: number,
  fragmentBytes: number,
  maxMessageSize: number,
  deflate = false,
): Promise<FloodResult> {
  const child = new URL("./children/fragment_flood.ts", import.meta.url);
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read=.",
      child.pathname,
      side,
      String(fragments),
      String(fragmentBytes),
      String(maxMessageSize),
      ...(deflate ? ["deflate"] : []),
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60000),
  });
  const out = await command.output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  return JSON.parse(lines.at(-1)!);
}

function assertPeakBelow(result: FloodResult, limit: number): void {
  assert.ok(
    result.peak < limit,
    `peak RSS ${(result.peak / MiB).toFixed(0)} MiB, limit ${limit / MiB} MiB`,
  );
}

Deno.test("hostile: 5,000,000 empty continuation frames to a client's message iterator stay under 150 MiB", async () => {
  // Before: 2.0 GB peak, every empty fragment kept as its own copy.
  const result = await fragmentFlood("client", 5_000_000, 0, 64 * MiB);
  assert.equal(result.length, 0, "the empty message came through");
  assert.equal(result.closeCode, 1000);
  assertPeakBelow(result, 150 * MiB);
});

Deno.test("hostile: 1,000,000 one-byte fragments make a 1 MB message in under 150 MiB", async () => {
  // Before: 531 MiB for a 1 MB message.
  const result = await fragmentFlood("client", 1_000_000, 1, 64 * MiB);
  assert.equal(result.length, 1_000_002);
  assert.equal(result.closeCode, 1000);
  assertPeakBelow(result, 150 * MiB);
});

Deno.test("hostile: one-byte fragments past maxMessageSize close with 1009 at the limit", async () => {
  const result = await fragmentFlood("client", 1_000_000, 1, 100_000);
  assert.equal(result.length, -1, "no message was delivered");
  assert.equal(result.closeCode, 1009);
  assertPeakBelow(result, 150 * MiB);
});

Deno.test("hostile: 3,000,000 empty masked continuations to an acceptWebSocket echo server stay under 150 MiB", async () => {
  // Before: 1.27-1.28 GB, not released after the client left.
  const result = await fragmentFlood("server", 3_000_000, 0, 64 * MiB);
  assert.equal(result.length, 0, "the empty message was echoed");
  assertPeakBelow(result, 150 * MiB);
});

Deno.test("hostile: 3,000,000 empty fragments of a compressed message stay under 150 MiB, both roles", async () => {
  // A guard: the compressed path never kept per-fragment copies (67 and
  // 60 MiB before the MessageBuffer change too).
  const client = await fragmentFlood("client", 3_000_000, 0, 64 * MiB, true);
  assert.equal(client.length, 0);
  assert.equal(client.closeCode, 1000);
  assertPeakBelow(client, 150 * MiB);
  const server = await fragmentFlood("server", 3_000_000, 0, 64 * MiB, true);
  assert.equal(server.length, 0, "the empty message was echoed");
  assertPeakBelow(server, 150 * MiB);
});

Deno.test("hostile: 250,000 one-byte HTTP/2 DATA frames held for an unread WebSocket cost under 8 MiB (heap and buffers), not an object each", async () => {
  // The stream window (256 KiB) lets a server make the client hold 250 KB;
  // as one object per DATA frame that was 52 MB of heap and buffers.
  const child = new URL("./children/h2_data_flood.ts", import.meta.url);
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--v8-flags=--expose-gc",
      "--allow-net=127.0.0.1",
      "--allow-read=.",
      child.pathname,
      "250000",
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60000),
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  const { held, length } = JSON.parse(lines.at(-1)!);
  assert.equal(length, 250000 - 10, "the message came through whole");
  assert.ok(
    held < 8 * MiB,
    `held ${(held / MiB).toFixed(1)} MiB of heap and buffers`,
  );
});

Deno.test("hostile: idleTimeout fails a silent peer's connection with TIMEOUT and close 1001", async () => {
  let closeCode = -1;
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    const close = await peer.expectClose(5000);
    closeCode = close.code ?? -1;
    await peer.sendClose(close.code);
  });
  try {
    const conn = await connect(server.url, { idleTimeout: 200 });
    const started = Date.now();
    const err = await expectReject(
      within(5000, "the idle timeout", conn.receive()),
      "TIMEOUT",
    );
    assert.match(err.message, /idleTimeout/);
    assert.ok(Date.now() - started >= 190, "not before the timeout");
    const info = await within(5000, "closed", conn.closed);
    assert.equal(info.wasClean, false, "a failure, like a protocol error");
    await within(5000, "server", server.settled());
    assert.equal(closeCode, 1001, "the peer got our close 1001");
    assert.deepEqual(server.errors, []);
  } finally {
    await server.close();
  }
});

Deno.test("hostile: a live peer's traffic keeps idleTimeout from firing", async () => {
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 60));
      await peer.sendText(`tick ${i}`);
    }
    await peer.echoUntilClose(5000);
  });
  try {
    const conn = await connect(server.url, { idleTimeout: 150 });
    for (let i = 0; i < 6; i++) {
      assert.equal(await within(5000, "tick", conn.receive()), `tick ${i}`);
    }
    await conn.close();
    assert.equal((await conn.closed).wasClean, true);
    await server.settled();
    assert.deepEqual(server.errors, []);
  } finally {
    await server.close();
  }
});

Deno.test("hostile: sendTimeout ends a send to a peer that never reads (TIMEOUT, 1006)", async () => {
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    // Never reads: our writes fill the socket buffers and stall.
    await new Promise((r) => setTimeout(r, 1500));
  });
  try {
    const conn = await connect(server.url, { sendTimeout: 300 });
    const err = await expectReject(
      within(5000, "the stalled send", conn.send(new Uint8Array(64 * MiB))),
      "TIMEOUT",
    );
    assert.match(err.message, /sendTimeout/);
    const info = await within(5000, "closed", conn.closed);
    assert.equal(info.code, 1006);
    // Like any write error, it rejects every later send too.
    await expectReject(conn.send("after"), "TIMEOUT");
  } finally {
    await server.close();
  }
});

Deno.test("hostile: an acceptWebSocket echo server with sendTimeout drops a client that never reads its echo", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await acceptWebSocket(await listener.accept(), {
      sendTimeout: 300,
    });
    const failure = await (async () => {
      try {
        for await (const message of conn) await conn.send(message);
      } catch (e) {
        return e;
      }
    })();
    return { failure, info: await conn.closed };
  })();
  const { port } = listener.addr as Deno.NetAddr;
  // A client of ours that sends 8 MiB messages and never reads.
  const client = await connect(`ws://127.0.0.1:${port}/`);
  const big = new Uint8Array(8 * MiB);
  const sending = (async () => {
    for (let i = 0; i < 16; i++) await client.send(big);
  })().catch(() => {});
  try {
    const { failure, info } = await within(15000, "server side", served);
    assert.ok(failure instanceof WebSocketError, String(failure));
    assert.equal(failure.code, "TIMEOUT");
    assert.equal(info.code, 1006);
  } finally {
    client.close().catch(() => {});
    await within(10000, "client closed", client.closed);
    await sending;
    listener.close();
  }
});
