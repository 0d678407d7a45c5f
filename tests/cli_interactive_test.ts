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
  CHILD_NET,
  CLI,
  ROOT,
  runCli,
  spawnCli,
  startListener,
  stopListener,
} from "./cli_helpers.ts";
import { DENO } from "./helpers.ts";

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

const TMUX_OK = (() => {
  if (
    Deno.permissions.querySync({ name: "run", command: "tmux" }).state !==
      "granted"
  ) return "no --allow-run=tmux";
  try {
    const r = new Deno.Command("tmux", { args: ["-V"], stdout: "null" })
      .outputSync();
    return r.success ? null : "tmux -V failed";
  } catch {
    return "tmux is not installed";
  }
})();
const tmuxTitle =
  "cli interactive (tmux): binary shown as hex, prompt redrawn after a PONG line";
if (TMUX_OK !== null) console.log(`skipping "${tmuxTitle}": ${TMUX_OK}`);

async function tmux(socket: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("tmux", {
    args: ["-L", socket, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout);
}

Deno.test({ name: tmuxTitle, ignore: TMUX_OK !== null }, async () => {
  const server = await startDenoEchoServer();
  const socket = `wsnc-test-${crypto.randomUUID().slice(0, 8)}`;
  const command = [
    DENO,
    "run",
    "--no-prompt",
    CHILD_NET,
    CLI,
    "-P",
    "--slash",
    server.url,
  ]
    .map((a) => `'${a}'`).join(" ");
  try {
    await tmux(
      socket,
      "new-session",
      "-d",
      "-x",
      "100",
      "-y",
      "20",
      "-c",
      ROOT,
      command,
      ";",
      "set-option",
      "remain-on-exit",
      "on",
    );
    const screen = async (want: RegExp) => {
      let text = "";
      for (let i = 0; i < 100 && !want.test(text); i++) {
        await new Promise((r) => setTimeout(r, 100));
        text = await tmux(socket, "capture-pane", "-p");
      }
      assert.match(text, want, text);
      return text;
    };
    await screen(/connected to/);
    await tmux(socket, "send-keys", "/binary AAEC/w==", "Enter");
    await screen(/< \[binary 4 B\] 00 01 02 ff/);
    await tmux(socket, "send-keys", "/pong", "Enter");
    // The echo server does not answer a pong; ping it instead.
    await tmux(socket, "send-keys", "/ping hi", "Enter");
    const text = await screen(/received PONG "hi"\n> *$/m);
    assert.match(text, /received PONG "hi"\n> *$/m);
    await tmux(socket, "send-keys", "C-d", "");
    await screen(/closed: 1000/);
  } finally {
    await tmux(socket, "kill-server");
    await server.close();
  }
});
