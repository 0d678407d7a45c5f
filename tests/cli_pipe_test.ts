/**
 * Piped stdin gets every reply (issue 12.1): the CLI against an echo peer
 * that closes eagerly (Python `websockets`), which drops echoes it still had
 * queued once our close arrives. Each case runs many times in one test: the
 * old CLI, closing at stdin EOF in the same write as the data, lost replies
 * in most runs.
 *
 * @module
 */

import assert from "node:assert/strict";
import { assertSameBytes, finish } from "./helpers.ts";
import { ReadTimeoutError, startScriptedServer } from "./servers/scripted.ts";
import { startDenoEchoServer } from "./servers/echo.ts";
import { randomBytes, runCli } from "./cli_helpers.ts";
import { noteSkip, pythonSkipReason, startPythonEcho } from "./peers/python.ts";

const ignore = pythonSkipReason !== null;
const lines = (n: number) =>
  Array.from({ length: n }, (_, i) => `${i + 1}\n`).join("");

/** Runs the CLI `runs` times against the Python echo; returns how many runs failed and the first failure. */
async function repeat(
  runs: number,
  args: (url: string) => string[],
  input: Uint8Array | string,
  check: (stdout: Uint8Array, code: number) => void,
): Promise<void> {
  const server = await startPythonEcho();
  const failures: string[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const run = await runCli(args(server.url), input);
      try {
        check(run.stdout, run.code);
      } catch (e) {
        failures.push(`${(e as Error).message.split("\n")[0]} ${run.err}`);
      }
    }
  } finally {
    await server.close();
  }
  assert.deepEqual(
    failures,
    [],
    `${failures.length} of ${runs} runs lost replies`,
  );
}

const textCheck = (want: string) => (stdout: Uint8Array, code: number) => {
  assert.equal(new TextDecoder().decode(stdout), want);
  assert.equal(code, 0);
};

for (
  const [name, runs, input] of [
    ["3 lines", 20, "a\nb\nc\n"],
    ["500 lines", 15, lines(500)],
  ] as const
) {
  const title = `cli pipe: ${name} all come back from Python websockets`;
  noteSkip(title);
  Deno.test({ name: title, ignore }, async () => {
    await repeat(runs, (url) => [url], input, textCheck(input));
  });
}

{
  const title = "cli pipe: 100 KB binary (-b) comes back whole from Python";
  noteSkip(title);
  Deno.test({ name: title, ignore }, async () => {
    const data = randomBytes(100_000);
    await repeat(15, (url) => ["-b", url], data, (stdout, code) => {
      assertSameBytes(stdout, data, "echoed bytes");
      assert.equal(code, 0);
    });
  });
}

{
  const title = "cli pipe: --slash input gets its replies from Python";
  noteSkip(title);
  Deno.test({ name: title, ignore }, async () => {
    const input = "one\n/ping\n/binary aGk=\n//two\nthree\n";
    await repeat(
      15,
      (url) => ["--slash", url],
      input,
      textCheck("one\nhi\n/two\nthree\n"),
    );
  });
}

{
  const title = "cli pipe: -x messages with stdin at EOF come back from Python";
  noteSkip(title);
  Deno.test({ name: title, ignore }, async () => {
    await repeat(
      15,
      (url) => ["-x", "a", "-x", "b", "-x", "c", url],
      "",
      textCheck("a\nb\nc\n"),
    );
  });
}

// ------------------------------------------- the EOF flags, on any server

Deno.test("cli pipe: --eof-wait S waits S seconds after EOF for a slow reply", async () => {
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    await peer.readMessage();
    // Later than the default 1 s quiet period.
    await new Promise((r) => setTimeout(r, 1300));
    await peer.sendText("late");
    await peer.expectClose();
    await peer.sendClose(1000);
  });
  try {
    const run = await runCli(["--eof-wait", "2.5", server.url], "q\n");
    assert.equal(run.code, 0, run.err);
    assert.equal(run.out, "late\n");
  } finally {
    await finish(server);
  }
});

Deno.test("cli pipe: --max-messages N holds the EOF close until N arrived", async () => {
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    // stdin is at EOF already: no close may come before the two messages.
    await assert.rejects(peer.readFrame(300), ReadTimeoutError);
    await peer.sendText("one");
    await new Promise((r) => setTimeout(r, 300));
    await peer.sendText("two");
    await peer.expectClose();
    await peer.sendClose(1000);
  });
  try {
    const run = await runCli(["--max-messages", "2", server.url], "");
    assert.equal(run.code, 0, run.err);
    assert.equal(run.out, "one\ntwo\n");
    assert.match(run.err, /\* closed: 1000/);
  } finally {
    await finish(server);
  }
});

Deno.test("cli pipe: -n against a server that never closes ends after 10 s of silence", async () => {
  const server = await startDenoEchoServer();
  try {
    const run = await runCli(["-n", server.url], "hi\n");
    assert.equal(run.code, 0, run.err);
    assert.equal(run.out, "hi\n");
    assert.match(run.err, /nothing received for 10 s after the end of input/);
  } finally {
    await server.close();
  }
});
