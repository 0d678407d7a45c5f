/**
 * Hostile clients against `cli.ts --listen --echo` (issue 13.1, 13.2): a
 * flood of empty fragments must not grow the CLI's message collector, and a
 * message over the CLI's 64 MiB limit is refused with 1009, as the library
 * refuses one over its maxMessageSize.
 *
 * @module
 */

import assert from "node:assert/strict";
import { within } from "./helpers.ts";
import { ConnReader } from "./servers/reader.ts";
import {
  frameBytes,
  OP,
  parseClosePayload,
  parseFrameHeader,
} from "./servers/wire.ts";
import { startListener, stopListener } from "./cli_helpers.ts";

const MiB = 1024 * 1024;

/** A raw WebSocket client, upgraded, for writing crafted frames. */
async function rawClient(url: string) {
  const { port } = new URL(url);
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
  const write = async (b: Uint8Array) => {
    for (let o = 0; o < b.length;) o += await tcp.write(b.subarray(o));
  };
  await write(new TextEncoder().encode(
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" +
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
      "Sec-WebSocket-Version: 13\r\n\r\n",
  ));
  const reader = new ConnReader(tcp);
  await reader.readHead(10000);
  /** The next frame from the CLI, or null at EOF. */
  const frame = async () => {
    while (parseFrameHeader(reader.buffered) === null) {
      if (!await reader.fill(Date.now() + 20000, "a frame", 20000)) return null;
    }
    const header = parseFrameHeader(reader.buffered)!;
    const bytes = await reader.readExactly(
      header.headerLen + header.length,
      20000,
      "a frame",
    );
    return {
      opcode: header.opcode,
      payload: bytes!.subarray(header.headerLen),
    };
  };
  return { tcp, write, frame };
}

/** `count` empty masked continuations between "ab" and "c", written from one reused batch. */
async function emptyFragmentFlood(
  write: (b: Uint8Array) => Promise<void>,
  count: number,
): Promise<void> {
  const ab = new TextEncoder().encode("ab");
  await write(
    frameBytes({ opcode: OP.BINARY, fin: false, payload: ab, mask: true }),
  );
  const one = frameBytes({
    opcode: OP.CONT,
    fin: false,
    mask: true,
    maskKey: new Uint8Array(4),
  });
  const perBatch = Math.floor(65536 / one.length);
  const batch = new Uint8Array(one.length * perBatch);
  for (let i = 0; i < perBatch; i++) batch.set(one, i * one.length);
  for (let sent = 0; sent < count;) {
    const n = Math.min(perBatch, count - sent);
    await write(batch.subarray(0, n * one.length));
    sent += n;
  }
  await write(frameBytes({ opcode: OP.CONT, payload: "c", mask: true }));
}

Deno.test("cli hostile: 3,000,000 empty continuations to --listen --echo stay under 150 MiB, and the echo arrives", async () => {
  // Before: the collector kept a copy per fragment, 1.28 GB for this flood.
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      new URL("./children/cli_echo_rss.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const guard = setTimeout(() => child.kill("SIGKILL"), 90_000);
  try {
    const errText = child.stderr.pipeThrough(new TextDecoderStream());
    const lines = errText.getReader();
    let err = "";
    let url: string | undefined;
    while (url === undefined) {
      const { value, done } = await within(20000, "listening", lines.read());
      if (done) throw new Error(`listener exited: ${err}`);
      err += value;
      url = /listening on (ws:\/\/\S+)/.exec(err)?.[1];
    }
    const client = await rawClient(url);
    await within(
      60000,
      "the flood",
      emptyFragmentFlood(client.write, 3_000_000),
    );
    const echo = await within(20000, "the echo", client.frame());
    assert.equal(echo?.opcode, OP.BINARY);
    assert.equal(new TextDecoder().decode(echo!.payload), "abc");
    await client.write(
      frameBytes({
        opcode: OP.CLOSE,
        payload: new Uint8Array([3, 232]),
        mask: true,
      }),
    );
    const close = await within(20000, "the close", client.frame());
    assert.equal(close?.opcode, OP.CLOSE);
    client.tcp.close();
    const [out] = await within(
      20000,
      "child exit",
      Promise.all([
        new Response(child.stdout).text(),
        (async () => {
          for (;;) if ((await lines.read()).done) return;
        })(),
      ]),
    );
    const { code, peak } = JSON.parse(out.trim().split("\n").at(-1)!);
    assert.equal(code, 0);
    assert.ok(
      peak < 150 * MiB,
      `peak RSS ${(peak / MiB).toFixed(0)} MiB, limit 150 MiB`,
    );
  } finally {
    clearTimeout(guard);
    await child.status;
  }
});

Deno.test("cli hostile: a message over 64 MiB to --listen --echo is refused with 1009", async () => {
  // Before: 1011 (the collector threw a CLI error inside the callback).
  const listener = await startListener(["--echo", "--once"]);
  const client = await rawClient(listener.url);
  // One frame announcing 64 MiB + 1: refused at its first piece.
  await client.write(frameBytes({
    opcode: OP.BINARY,
    payload: new Uint8Array(1000),
    length: 64 * MiB + 1,
    mask: true,
  }));
  let close;
  for (let i = 0; i < 10; i++) {
    const frame = await within(20000, "the close", client.frame());
    if (frame === null || frame.opcode === OP.CLOSE) {
      close = frame;
      break;
    }
  }
  assert.ok(close, "a close frame");
  assert.equal(parseClosePayload(close.payload).code, 1009);
  client.tcp.close();
  const run = await stopListener(listener);
  assert.match(run.err, /64 ?MiB|67108864 bytes/);
});
