/**
 * Listen mode's --idle-timeout and --send-timeout (issue 13 item 6): a
 * silent client gets close 1001, and a client that never reads its echo is
 * dropped instead of pinning the listener's memory.
 */
import assert from "node:assert/strict";
import { connect } from "../mod.ts";
import { startListener, stopListener } from "./cli_helpers.ts";
import { within } from "./helpers.ts";

Deno.test("cli: --listen --echo --idle-timeout closes a silent client with 1001", async () => {
  const server = await startListener([
    "--echo",
    "--once",
    "--idle-timeout",
    "0.3",
  ]);
  try {
    const conn = await connect(server.url);
    // Nothing sent: the listener's close arrives, and receive() ends.
    assert.equal(await within(5000, "the idle close", conn.receive()), null);
    const info = await within(5000, "closed", conn.closed);
    assert.equal(info.code, 1001);
  } finally {
    const run = await stopListener(server);
    assert.match(run.err, /idleTimeout/);
  }
});

Deno.test("cli: --listen --echo --send-timeout drops a client that never reads its echo", async () => {
  const server = await startListener([
    "--echo",
    "--once",
    "--send-timeout",
    "0.3",
  ]);
  try {
    const conn = await connect(server.url);
    const big = new Uint8Array(8 * 1024 * 1024);
    // Never reads: the echo of these fills both socket buffers.
    const sending = (async () => {
      for (let i = 0; i < 12; i++) await conn.send(big);
    })().catch(() => {});
    const info = await within(15000, "dropped by the listener", conn.closed);
    assert.equal(info.code, 1006, "the socket was closed, no close frame");
    await sending;
  } finally {
    const run = await stopListener(server);
    assert.match(run.err, /sendTimeout/);
  }
});
