/**
 * The interactive line editor (issue 12): keys in, buffer, cursor and
 * screen text out, without a terminal; and under tmux (skipped without it)
 * a message arriving while a line is half typed, which must come back
 * after it with the cursor where it was.
 *
 * @module
 */

import assert from "node:assert/strict";
import { HISTORY_MAX, LineEditor } from "../src/cli/line_editor.ts";
import { ROOT, runCli, TMUX_MISSING, TmuxCli } from "./cli_helpers.ts";
import { DENO, within } from "./helpers.ts";
import { startDenoEchoServer } from "./servers/echo.ts";
import { startScriptedServer } from "./servers/scripted.ts";

const LEFT = "\x1b[D";
const RIGHT = "\x1b[C";
const UP = "\x1b[A";
const DOWN = "\x1b[B";

Deno.test("line editor: typing, Left/Right and Backspace edit in the middle", () => {
  const ed = new LineEditor();
  assert.deepEqual(ed.feed("helo"), []);
  ed.feed(LEFT);
  ed.feed("l");
  assert.equal(ed.text, "hello");
  assert.equal(ed.cursor, 4);
  // The screen shows the text, then the cursor goes back one column.
  assert.equal(ed.render(), "hello\x1b[1D");
  ed.feed(RIGHT + RIGHT + "\x7f");
  assert.equal(ed.text, "hell");
  assert.equal(ed.render(), "hell");
});

Deno.test("line editor: multi-byte UTF-8; the cursor moves by columns (wide characters take two)", () => {
  const ed = new LineEditor();
  ed.feed("h€😀x");
  assert.equal(ed.cursor, 4);
  ed.feed(LEFT + LEFT);
  // Back over "😀x": three columns.
  assert.equal(ed.render(), "h€😀x\x1b[3D");
  ed.feed("\x7f");
  assert.equal(ed.text, "h😀x");
  assert.equal(ed.render(), "h😀x\x1b[3D");
  ed.feed("e\u0301"); // a combining accent takes no column
  assert.equal(ed.render(), "he\u0301😀x\x1b[3D");
});

Deno.test("line editor: control characters in a loaded history never reach the screen", () => {
  const ed = new LineEditor(["a\x1b[2Jb\u009bc"]);
  ed.feed(UP);
  assert.equal(ed.text, "a[2Jbc");
});

Deno.test("line editor: Home/End, Ctrl-A/Ctrl-E, Ctrl-U and Ctrl-W", () => {
  const ed = new LineEditor();
  ed.feed("one two  three");
  ed.feed("\x1b[H");
  assert.equal(ed.cursor, 0);
  ed.feed("\x1b[F");
  assert.equal(ed.cursor, 14);
  ed.feed("\x01");
  assert.equal(ed.cursor, 0);
  ed.feed("\x05\x17");
  assert.equal(ed.text, "one two  ");
  ed.feed("\x17");
  assert.equal(ed.text, "one ");
  ed.feed("x\x15");
  assert.equal(ed.text, "");
  assert.equal(ed.cursor, 0);
});

Deno.test("line editor: an escape sequence cut between reads is still one key", () => {
  const ed = new LineEditor();
  ed.feed("ab\x1b");
  ed.feed("[");
  assert.equal(ed.text, "ab");
  ed.feed("DX");
  assert.equal(ed.text, "aXb");
});

Deno.test("line editor: Enter sends, Ctrl-D on an empty line is EOF, controls never reach the line", () => {
  const ed = new LineEditor();
  assert.deepEqual(ed.feed("a\x07\x1bb\u009bc\r"), [
    { type: "line", text: "abc" },
  ]);
  assert.equal(ed.text, "");
  ed.feed("x");
  assert.deepEqual(ed.feed("\x04"), []); // not empty: deletes nothing at the end
  assert.equal(ed.text, "x");
  assert.deepEqual(ed.feed("\x15\x04"), [{ type: "eof" }]);
  assert.deepEqual(ed.feed("\x03"), [{ type: "interrupt" }]);
});

Deno.test("line editor: Up/Down walk the history and come back to the draft", () => {
  const ed = new LineEditor(["first"]);
  ed.feed("second\r");
  ed.feed("dra");
  ed.feed(UP);
  assert.equal(ed.text, "second");
  ed.feed(UP + UP);
  assert.equal(ed.text, "first");
  ed.feed(DOWN + DOWN);
  assert.equal(ed.text, "dra");
  assert.deepEqual(ed.history, ["first", "second"]);
  const many = Array.from({ length: HISTORY_MAX + 5 }, (_, i) => `l${i}`);
  assert.equal(new LineEditor(many).history.length, HISTORY_MAX);
});

Deno.test("cli: --history without read and write permission is a usage error naming both flags", async () => {
  const run = await runCli(
    ["--history", "/tmp/wsnc-hist", "ws://127.0.0.1:1/"],
    "",
  );
  assert.equal(run.code, 2, run.err);
  assert.match(
    run.err,
    /--allow-read=\/tmp\/wsnc-hist --allow-write=\/tmp\/wsnc-hist/,
  );
});

const tmuxTitle =
  "cli line editor (tmux): a message while 'half' is typed, then Enter and Up";
if (TMUX_MISSING !== null) {
  console.log(`skipping "${tmuxTitle}": ${TMUX_MISSING}`);
}

Deno.test({ name: tmuxTitle, ignore: TMUX_MISSING !== null }, async () => {
  const { promise: typed, resolve: halfTyped } = Promise.withResolvers<void>();
  const { promise: received, resolve: receive } = Promise.withResolvers<
    string
  >();
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    await typed;
    await peer.sendText("news");
    const msg = await peer.readMessage(10_000);
    receive(msg ? new TextDecoder().decode(msg.payload) : "(none)");
    await peer.expectClose(10_000);
    await peer.sendClose(1000);
  });
  const term = new TmuxCli();
  try {
    await term.start([server.url]);
    await term.screen(/connected to/);
    await term.keys("half");
    await term.screen(/^> half *$/m);
    halfTyped();
    // The message took the line; the half-typed text came back below it.
    const shown = await term.screen(/< news\n> half *\n/);
    console.log(shown.trimEnd());
    // The cursor is still after "half": typing goes on at the end.
    await term.keys("way", "Enter");
    await term.screen(/^> halfway *\n> *$/m);
    assert.equal(
      await within(10_000, "the server to get the line", received),
      "halfway",
    );
    await term.keys("Up");
    console.log((await term.screen(/^> halfway *\n> halfway *$/m)).trimEnd());
    await term.keys("C-u", "C-d");
    await term.screen(/closed: 1000/);
  } finally {
    await term.kill();
    await server.close();
  }
  assert.deepEqual(server.errors, []);
});

Deno.test({
  name:
    "cli line editor (tmux): --history FILE keeps sent lines for the next run",
  ignore: TMUX_MISSING !== null,
}, async () => {
  const server = await startDenoEchoServer();
  // Inside the checkout: the test may read it; only the CLI child writes it.
  const file = `${ROOT}tests/.history-${crypto.randomUUID().slice(0, 8)}`;
  const perms = [`--allow-read=${file}`, `--allow-write=${file}`];
  try {
    const first = new TmuxCli();
    try {
      await first.start(["--history", file, server.url], perms);
      await first.screen(/connected to/);
      await first.keys("from the first run", "Enter");
      await first.screen(/< from the first run/);
      await first.keys("C-d");
      await first.screen(/closed: 1000/);
    } finally {
      await first.kill();
    }
    assert.equal(Deno.readTextFileSync(file), "from the first run\n");
    const second = new TmuxCli();
    try {
      await second.start(["--history", file, server.url], perms);
      await second.screen(/connected to/);
      await second.keys("Up");
      await second.screen(/^> from the first run *$/m);
      await second.keys("C-u", "C-d");
      await second.screen(/closed: 1000/);
    } finally {
      await second.kill();
    }
  } finally {
    await server.close();
    // The test itself may not write: a child allowed just that removes it.
    const rm = new Deno.Command(DENO, {
      args: ["run", `--allow-write=${file}`, "-"],
      stdin: "piped",
      stderr: "null",
    }).spawn();
    const w = rm.stdin.getWriter();
    await w.write(
      new TextEncoder().encode(
        `try { Deno.removeSync(${
          JSON.stringify(file)
        }); } catch { /* not made */ }`,
      ),
    );
    await w.close();
    await within(10_000, "the history file to be removed", rm.status);
  }
});
