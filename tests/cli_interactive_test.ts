/**
 * What a person at the terminal sees (issue 12.2): "connected", -v lines
 * that cannot be mistaken for the prompt, the 101 a listener answered, an
 * idle listener that ends with its input, and (under tmux, skipped without
 * it) binary messages shown as hex and the prompt redrawn after -P lines.
 *
 * @module
 */

import assert from "node:assert/strict";
import { within } from "./helpers.ts";
import { OP, startScriptedServer } from "./servers/scripted.ts";
import { startDenoEchoServer } from "./servers/echo.ts";
import {
  runCli,
  spawnCli,
  startListener,
  stopListener,
  TMUX_MISSING,
  TmuxCli,
} from "./cli_helpers.ts";

Deno.test("cli interactive: an idle listener exits as soon as its stdin ends", async () => {
  const child = spawnCli(["--listen", "127.0.0.1:0"]);
  await child.stdin.close();
  const out = await within(10_000, "the listener to exit", child.output());
  const err = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, err);
  assert.match(err, /end of input with no client connected/);
});

Deno.test("cli interactive: listen -v shows the 101 it answered, matching what the client got", async () => {
  const listener = await startListener([
    "--echo",
    "--once",
    "-v",
    "-s",
    "chat",
  ]);
  const client = await runCli(["-v", "-s", "chat", listener.url], "hi\n");
  assert.equal(client.code, 0, client.err);
  const served = await stopListener(listener);
  assert.match(served.err, /^> HTTP\/1\.1 101 Switching Protocols$/m);
  assert.match(served.err, /^> Sec-WebSocket-Protocol: chat$/m);
  const sent = /^> Sec-WebSocket-Accept: (\S+)$/m.exec(served.err)?.[1];
  const got = /^< sec-websocket-accept: (\S+)$/im.exec(client.err)?.[1];
  assert.ok(sent, served.err);
  assert.equal(sent, got);
});

Deno.test("cli interactive: -v frame lines are '* sent'/'* received', never '> '/'< ' like the prompt", async () => {
  const server = startScriptedServer(async (peer) => {
    await peer.accept({ protocol: "chat" });
    await peer.writeRaw(new Uint8Array([0x89, 1, 0x78])); // ping "x"
    // "hello" and the pong come in either order, then our close.
    for (let i = 0; i < 3; i++) {
      const frame = await peer.expectFrame();
      if (frame.opcode === OP.CLOSE) break;
    }
    await peer.sendClose(1000);
    await peer.close();
  });
  try {
    const run = await runCli(["-v", "-s", "chat", server.url], "hello\n");
    assert.equal(run.code, 0, run.err);
    assert.match(run.err, /^\* connected to ws:\/\/.* \(subprotocol chat\)$/m);
    assert.match(run.err, /^\* received PING "x"$/m);
    assert.match(run.err, /^\* sent PONG "x" \(automatic\)$/m);
    assert.match(run.err, /^\* sent CLOSE 1000$/m);
    assert.match(run.err, /^\* received CLOSE 1000$/m);
    // After the upgrade, no line looks like typed input or a shown message.
    const afterUpgrade = run.err.slice(run.err.indexOf("* connected"));
    assert.doesNotMatch(afterUpgrade, /^[<>] /m);
  } finally {
    await server.close();
  }
});

// ------------------------------------------------------------------ tmux

const tmuxTitle =
  "cli interactive (tmux): binary shown as hex, prompt redrawn after a PONG line";
if (TMUX_MISSING !== null) {
  console.log(`skipping "${tmuxTitle}": ${TMUX_MISSING}`);
}

Deno.test({ name: tmuxTitle, ignore: TMUX_MISSING !== null }, async () => {
  const server = await startDenoEchoServer();
  const term = new TmuxCli();
  try {
    await term.start(["-P", "--slash", server.url]);
    await term.screen(/connected to/);
    await term.keys("/binary AAEC/w==", "Enter");
    await term.screen(/< \[binary 4 B\] 00 01 02 ff/);
    await term.keys("/pong", "Enter");
    // The echo server does not answer a pong; ping it instead.
    await term.keys("/ping hi", "Enter");
    const text = await term.screen(/received PONG "hi"\n> *$/m);
    assert.match(text, /received PONG "hi"\n> *$/m);
    await term.keys("C-d", "");
    await term.screen(/closed: 1000/);
  } finally {
    await term.kill();
    await server.close();
  }
});
