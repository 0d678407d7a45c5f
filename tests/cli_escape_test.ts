/**
 * Peer-controlled text never reaches the terminal raw (issue 13.3): the
 * HTTP reason phrase, header names and values (-v, -I) and close reasons
 * are printed with their control characters escaped.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startScriptedServer } from "./servers/scripted.ts";
import { finish } from "./helpers.ts";
import { runCli } from "./cli_helpers.ts";
import { escapeControls } from "../src/cli/escape.ts";

// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/;

Deno.test("cli escape: the reason phrase of a refusal is escaped, even without -v", async () => {
  const server = startScriptedServer(async (peer) => {
    await peer.readRequest();
    await peer.writeRaw(
      "HTTP/1.1 403 Forbidden\x1b]0;PWNED\x07\r\nContent-Length: 0\r\n\r\n",
    );
    await peer.close();
  });
  try {
    const run = await runCli([server.url]);
    assert.equal(run.code, 5, run.err);
    assert.doesNotMatch(run.err, CONTROL);
    assert.match(run.err, /403 Forbidden\\x1b\]0;PWNED\\x07/);
  } finally {
    await finish(server);
  }
});

Deno.test("cli escape: header values under -v and -I, and close reasons, are escaped", async () => {
  const server = startScriptedServer(async (peer) => {
    await peer.accept({ extraHeaders: ["X-Evil: a\x1b[31mred\x1b[0m"] });
    await peer.sendClose(4000, "bye\x1b[2J");
    await peer.expectClose();
    await peer.close();
  });
  try {
    const run = await runCli(["-v", "-I", "--eof-wait", "-1", server.url]);
    assert.equal(run.code, 8, run.err);
    assert.doesNotMatch(run.err, CONTROL);
    assert.doesNotMatch(run.out.replaceAll("\r\n", ""), CONTROL);
    assert.match(run.err, /a\\x1b\[31mred\\x1b\[0m/);
    assert.match(run.out, /a\\x1b\[31mred\\x1b\[0m\r\n/);
    assert.match(run.err, /4000 "bye\\u001b\[2J"/);
  } finally {
    await finish(server);
  }
});

Deno.test("cli escape: escapeControls keeps text, tabs and newlines; escapes C0, DEL, C1 and bidi overrides", () => {
  assert.equal(escapeControls("héllo\tok\n"), "héllo\tok\n");
  assert.equal(escapeControls("a\nb", true), "a\\x0ab");
  assert.equal(escapeControls("\x1b[2J\x7f\x9b"), "\\x1b[2J\\x7f\\x9b");
  assert.equal(escapeControls("abc\u202edcba"), "abc\\u{202e}dcba");
});
