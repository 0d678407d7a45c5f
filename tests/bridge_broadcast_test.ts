/**
 * `--broadcast`: a chat room in one CLI process. Every message reaches all
 * the other clients; a client that stops reading is dropped with 1008 once
 * its queue passes the bound, while the others keep receiving and the
 * server's memory stays bounded.
 *
 * @module
 */

import assert from "node:assert/strict";
import { connect, type Message, WS } from "../mod.ts";
import { startCli } from "./bridge_helpers.ts";
import { within } from "./helpers.ts";

Deno.test("broadcast: every message goes to all the other clients, not back to its sender", async () => {
  const room = await startCli(["--listen", "127.0.0.1:0", "--broadcast"]);
  try {
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => connect(room.url)));
    await room.waitFor(/(connection from[^\n]*\n[^]*){3}/);
    await a.send("hi from a");
    assert.equal(await within(5000, "b", b.receive()), "hi from a");
    assert.equal(await within(5000, "c", c.receive()), "hi from a");
    await b.send(new Uint8Array([1, 2, 3]), WS.BINARY);
    // a's next message is b's (its own never came back), binary stays binary.
    assert.deepEqual(
      await within(5000, "a", a.receive()),
      new Uint8Array([1, 2, 3]),
    );
    assert.deepEqual(
      await within(5000, "c", c.receive()),
      new Uint8Array([1, 2, 3]),
    );
    for (const conn of [a, b, c]) await within(5000, "close", conn.close());
  } finally {
    await room.stop();
  }
});

Deno.test("broadcast: a client that never reads is dropped with 1008; the others receive all 100 MiB; the server stays under 150 MiB peak RSS", async () => {
  const room = await startCli(
    ["--listen", "127.0.0.1:0", "--broadcast", "--close-timeout", "30"],
    { measureRss: true },
  );
  const rounds = 1600;
  const size = 64 * 1024;
  let slowMessages = 0;
  try {
    const sender = await connect(room.url);
    const reader = await connect(room.url);
    const slow = await connect(room.url); // never reads until it was dropped
    await room.waitFor(/(connection from[^\n]*\n[^]*){3}/);
    const payload = new Uint8Array(size);
    await within(
      60_000,
      "100 MiB through the room",
      (async () => {
        for (let i = 0; i < rounds; i++) {
          new DataView(payload.buffer).setUint32(0, i);
          await sender.send(payload, WS.BINARY);
          // One at a time: the reader never falls behind, the slow one does.
          const m = await reader.receive() as Uint8Array;
          assert.equal(m.length, size);
          assert.equal(new DataView(m.buffer, m.byteOffset).getUint32(0), i);
        }
      })(),
    );
    await room.waitFor(/dropped, more than \d+ bytes waiting \(close 1008\)/);
    // Now read what reached the slow client: some messages, then the close.
    await within(
      30_000,
      "the slow client's close",
      (async () => {
        for await (const _ of slow as AsyncIterable<Message>) slowMessages++;
      })(),
    );
    const info = await slow.closed;
    assert.equal(info.code, 1008);
    assert.ok(slowMessages < rounds, `${slowMessages} messages`);
    await sender.close();
    await reader.close();
  } finally {
    const r = await room.stop();
    assert.equal(r.err.match(/dropped/g)?.length, 1, r.err);
    assert.ok(r.peakRssKiB !== undefined, r.err);
    console.log(
      `room peak RSS ${
        (r.peakRssKiB / 1024).toFixed(0)
      } MiB; the slow client got ${slowMessages} of ${rounds} messages`,
    );
    assert.ok(r.peakRssKiB < 150 * 1024, `${r.peakRssKiB} KiB`);
  }
});
