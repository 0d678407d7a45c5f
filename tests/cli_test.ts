/**
 * The CLI (`cli.ts`) run as a subprocess against real peers: its own listen
 * mode, Deno's built-in server, the `ws` npm package and a scripted raw
 * server. Children get only loopback network access.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startDenoEchoServer, startWsEchoServer } from "./servers/echo.ts";
import {
  OP,
  type ScriptedPeer,
  type ScriptedServer,
  startScriptedServer,
} from "./servers/scripted.ts";

import { parseCommandLine, parseListen } from "../src/cli/args.ts";
import { CliError } from "../src/cli/exit.ts";
import { LineSplitter, stripNewline } from "../src/cli/input.ts";
import {
  assertNoStack,
  CHILD_LIMIT_MS,
  feed,
  finish,
  randomBytes,
  runCli,
  spawnCli,
  startHttpServer,
  startListener,
  stopListener,
} from "./cli_helpers.ts";

// ------------------------------------------------------------------ basics

Deno.test("cli args: -H keeps the URL, aliases, listen addresses, bad values", () => {
  const cfg = parseCommandLine([
    "-H",
    "X-A: 1",
    "ws://h/p",
    "-H",
    "X-B:two words",
    "-s",
    "a,b",
  ]);
  assert.equal(cfg.url, "ws://h/p");
  assert.deepEqual(cfg.headers, [["X-A", "1"], ["X-B", "two words"]]);
  assert.deepEqual(cfg.protocols, ["a", "b"]);
  assert.equal(
    parseCommandLine(["-c", "localhost:9/x"]).url,
    "ws://localhost:9/x",
  );
  assert.deepEqual(parseCommandLine(["-l", "8080"]).listen, {
    hostname: "127.0.0.1",
    port: 8080,
  });
  assert.deepEqual(parseListen("[::1]:0"), { hostname: "::1", port: 0 });
  assert.deepEqual(parseListen("0.0.0.0:80"), {
    hostname: "0.0.0.0",
    port: 80,
  });
  for (
    const bad of [
      ["-H", "no colon", "ws://h/"],
      ["--close-code", "1006", "ws://h/"],
      ["--ping-interval", "0", "ws://h/"],
      ["--binary", "--text", "ws://h/"],
      ["--echo", "ws://h/"],
      ["ws://a/", "ws://b/"],
      ["--listen", "99999"],
      [],
    ]
  ) {
    assert.throws(() => parseCommandLine(bad), CliError, bad.join(" "));
  }
});

Deno.test("cli input: lines keep their ending until stripped; the rest comes at EOF", () => {
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const s = new LineSplitter();
  const lines = [
    ...s.push(enc.encode("one\r\ntw")),
    ...s.push(enc.encode("o\n\nthr")),
    ...s.push(enc.encode("ee")),
  ];
  const rest = s.flush();
  assert.deepEqual(lines.map((l) => dec.decode(l)), ["one\r\n", "two\n", "\n"]);
  assert.equal(dec.decode(rest!), "three");
  assert.equal(s.flush(), null);
  assert.equal(dec.decode(stripNewline(lines[0])), "one");
  assert.equal(dec.decode(stripNewline(rest!)), "three");
});

Deno.test("cli: --help lists flags, exit codes and examples; --version", async () => {
  const help = await runCli(["--help"]);
  assert.equal(help.code, 0);
  for (
    const flag of ["--listen", "--json", "--one-message", "--ping-timeout"]
  ) {
    assert.match(help.out, new RegExp(flag));
  }
  assert.match(help.out, /Exit codes:/);
  assert.match(help.out, /130/);
  const version = await runCli(["--version"]);
  assert.equal(version.code, 0);
  assert.equal(version.out, "wsnc 0.1.0\n");
});

// --------------------------------------------------------------- round trips

Deno.test("cli: line mode round trip through listen mode --echo", async () => {
  const server = await startListener(["--echo", "--once"]);
  const client = await runCli([server.url], "hello\nworld\r\nno newline");
  assert.equal(client.code, 0, client.err);
  assert.equal(client.out, "hello\nworld\nno newline\n");
  assert.match(client.err, /closed: 1000/);
  const listener = await stopListener(server);
  assert.equal(listener.code, 0, listener.err);
  assert.match(listener.err, /connection from 127\.0\.0\.1:\d+/);
});

Deno.test("cli: --keep-newlines against Deno.serve", async () => {
  const server = await startDenoEchoServer();
  try {
    const client = await runCli(["--keep-newlines", server.url], "a\r\nb\n");
    assert.equal(client.code, 0, client.err);
    assert.equal(client.out, "a\r\n\nb\n\n");
  } finally {
    await server.close();
  }
});

Deno.test("cli: 5 MB binary round trip with npm:ws is byte-exact", async () => {
  const server = await startWsEchoServer();
  try {
    const data = randomBytes(5 * 1024 * 1024);
    const client = await runCli(["-b", server.url], data);
    assert.equal(client.code, 0, client.err);
    assert.equal(client.stdout.length, data.length);
    assert.deepEqual(client.stdout, data);
  } finally {
    await server.close();
  }
});

Deno.test("cli: --compress negotiates permessage-deflate with npm:ws", async () => {
  const server = await startWsEchoServer({ perMessageDeflate: true });
  try {
    const line = "compress me ".repeat(100);
    const client = await runCli(["--compress", "-v", server.url], line + "\n");
    assert.equal(client.code, 0, client.err);
    assert.equal(client.out, line + "\n");
    assert.match(client.err, /\* extensions: permessage-deflate/);
  } finally {
    await server.close();
  }
});

Deno.test("cli: --base64 and -x against Deno.serve", async () => {
  const server = await startDenoEchoServer();
  try {
    const b64 = await runCli(["--base64", server.url], "AAEC/w==\n");
    assert.equal(b64.code, 0, b64.err);
    assert.equal(b64.out, "AAEC/w==\n");
    const exec = await runCli(["-x", "one", "-x", "two", server.url]);
    assert.equal(exec.code, 0, exec.err);
    assert.equal(exec.out, "one\ntwo\n");
  } finally {
    await server.close();
  }
});

Deno.test("cli: listen mode pipes stdin to the client and prints its messages", async () => {
  const server = await startListener(["--once", "-n"]);
  const writer = server.child.stdin.getWriter();
  await writer.write(new TextEncoder().encode("from server\n"));
  await writer.close();
  // No --max-messages: it could close before stdin's line went out. At EOF
  // the client waits for as many replies as it sent, then closes.
  const client = await runCli(
    ["--protocol", "x", server.url],
    "from client\n",
  );
  assert.equal(client.code, 0, client.err);
  assert.equal(client.out, "from server\n");
  const listener = await stopListener(server);
  assert.equal(listener.code, 0, listener.err);
  assert.equal(
    listener.out,
    "from client\n",
    listener.err + "\nclient: " + client.err,
  );
});

// ------------------------------------------------------------ scripted peer

/**
 * What a scripted handler reported through `p`, once its handlers are done;
 * the handler's error instead if it failed (so a test fails, never hangs).
 */
async function reported<T>(p: Promise<T>, server: ScriptedServer): Promise<T> {
  await server.settled();
  const none = Symbol("none");
  const value = await Promise.race([p, Promise.resolve(none)]);
  if (value === none) {
    throw server.errors[0] ?? new Error("the server handler reported nothing");
  }
  return value as T;
}

Deno.test("cli: -1 sends all of stdin as one message and prints only the first reply", async () => {
  const got = Promise.withResolvers<string>();
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    const msg = await peer.readMessage();
    got.resolve(new TextDecoder().decode(msg!.payload));
    await peer.sendText("first reply");
    await peer.sendText("second reply");
    await peer.echoUntilClose();
  });
  try {
    const client = await runCli(["-1", server.url], "line one\nline two\n");
    assert.equal(await reported(got.promise, server), "line one\nline two");
    assert.equal(client.code, 0, client.err);
    assert.equal(client.out, "first reply\n");
  } finally {
    await server.close();
  }
});

Deno.test("cli: headers, origin, credentials and subprotocol reach the server", async () => {
  const request = Promise.withResolvers<Headers>();
  const server = startScriptedServer(async (peer) => {
    const head = await peer.readRequest();
    request.resolve(head.headers);
    await peer.accept({ protocol: "superchat" });
    await peer.echoUntilClose();
  });
  try {
    const client = await runCli([
      "-H",
      "X-Test: one",
      "-H",
      "X-Other:two",
      server.url + "/path",
      "--origin",
      "http://example.test",
      "--user",
      "alice:s3cret",
      "--protocol",
      "chat",
      "--protocol",
      "superchat",
      "-v",
    ]);
    assert.equal(client.code, 0, client.err);
    const h = await reported(request.promise, server);
    assert.equal(h.get("x-test"), "one");
    assert.equal(h.get("x-other"), "two");
    assert.equal(h.get("origin"), "http://example.test");
    assert.equal(h.get("authorization"), `Basic ${btoa("alice:s3cret")}`);
    assert.equal(h.get("sec-websocket-protocol"), "chat, superchat");
    assert.match(client.err, /\* subprotocol: superchat/);
    assert.match(client.err, /< sec-websocket-protocol: superchat/);
    assert.match(client.err, /> X-Test: one/);
  } finally {
    await server.close();
  }
});

Deno.test("cli: listen mode selects the subprotocol the client offers", async () => {
  const server = await startListener(["--echo", "--once", "--protocol", "b"]);
  const client = await runCli(
    ["-I", "--protocol", "a", "--protocol", "b", server.url],
    "hi\n",
  );
  assert.equal(client.code, 0, client.err);
  assert.match(client.out, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.match(client.out, /sec-websocket-protocol: b\r\n/);
  assert.match(client.out, /\r\n\r\nhi\n$/);
  const listener = await stopListener(server);
  assert.equal(listener.code, 0);
  assert.match(listener.err, /subprotocol b/);
});

Deno.test("cli: --json prints every frame piece with its metadata", async () => {
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    await peer.sendText("hello");
    await peer.sendBinary(new Uint8Array([1, 2, 3]));
    await peer.sendFrames([
      { opcode: OP.TEXT, fin: false, payload: "Hel" },
      { opcode: OP.CONT, fin: true, payload: "lo" },
    ]);
    await peer.sendPing("p");
    await peer.sendClose(1000, "done");
    await peer.expectClose();
  });
  try {
    const client = await runCli(["--json", "-n", server.url]);
    assert.equal(client.code, 0, client.err);
    const lines = client.out.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines[0], {
      flags: ["TEXT"],
      offset: 0,
      bytesleft: 0,
      len: 5,
      data: "hello",
    });
    assert.deepEqual(lines[1], {
      flags: ["BINARY"],
      offset: 0,
      bytesleft: 0,
      len: 3,
      data: "AQID",
    });
    assert.deepEqual(lines[2].flags, ["TEXT", "CONT"]);
    assert.equal(lines[2].data, "Hel");
    assert.deepEqual(lines[3].flags, ["TEXT"]);
    assert.equal(lines[3].data, "lo");
    assert.deepEqual(lines[4].flags, ["PING"]);
    assert.equal(atob(lines[4].data), "p");
    const close = lines[lines.length - 1];
    assert.deepEqual(close.flags, ["CLOSE"]);
    assert.equal(close.code, 1000);
    assert.equal(close.reason, "done");
    assert.match(client.err, /server closed the connection: 1000 "done"/);
  } finally {
    await server.close();
  }
});

// ------------------------------------------------------------- exit codes

Deno.test("cli: exit codes for refused handshakes, refused port, bad URL, bad flag", async () => {
  const forbidden = startHttpServer(() =>
    new Response("go away", { status: 403 })
  );
  const plain = startHttpServer(() => new Response("just a page"));
  try {
    const r403 = await runCli([`ws://127.0.0.1:${await forbidden.port}/`]);
    assert.equal(r403.code, 5);
    assert.match(r403.err, /HTTP 403 Forbidden/);
    assert.match(r403.err, /go away/);
    assertNoStack(r403.err);

    const r200 = await runCli([`ws://127.0.0.1:${await plain.port}/`]);
    assert.equal(r200.code, 5);
    assert.match(r200.err, /HTTP 200 OK/);
  } finally {
    await forbidden.close();
    await plain.close();
  }

  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const freePort = probe.addr.port;
  probe.close();
  const refused = await runCli([`ws://127.0.0.1:${freePort}/`]);
  assert.equal(refused.code, 3);
  assert.equal(refused.err.trim().split("\n").length, 1, refused.err);
  assertNoStack(refused.err);

  const badUrl = await runCli(["ftp://127.0.0.1/"]);
  assert.equal(badUrl.code, 2);
  assert.match(badUrl.err, /unsupported URL scheme/);
  const badFlag = await runCli(["--bogus", "ws://127.0.0.1:1/"]);
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.err, /--bogus/);
  assertNoStack(badFlag.err);
  const swallowed = await runCli(["-H", "ws://127.0.0.1:1/"]);
  assert.equal(swallowed.code, 2);
  assert.match(swallowed.err, /-H needs "Name: value"/);
});

Deno.test("cli: close codes propagate both ways", async () => {
  const got = Promise.withResolvers<{ code?: number; reason: string }>();
  const server = startScriptedServer(async (peer: ScriptedPeer) => {
    await peer.accept();
    if (peer.index === 0) {
      await peer.sendClose(4001, "bye");
      await peer.expectClose();
    } else {
      got.resolve(await peer.expectClose());
      await peer.sendClose(4002, "later");
    }
  });
  try {
    const byServer = await runCli(["-n", server.url]);
    assert.equal(byServer.code, 8, byServer.err);
    assert.match(byServer.err, /closed the connection: 4001 "bye"/);

    const byClient = await runCli([
      "--close-code",
      "4002",
      "--close-reason",
      "later",
      server.url,
    ]);
    assert.equal(byClient.code, 0, byClient.err);
    const close = await reported(got.promise, server);
    assert.equal(close.code, 4002);
    assert.equal(close.reason, "later");
  } finally {
    await server.close();
  }
});

Deno.test("cli: --ping-timeout exits with the timeout code when no pong comes", async () => {
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    // Read (and ignore) pings until the client goes away.
    while (await peer.readFrame(10_000).catch(() => null) !== null) { /* */ }
  });
  try {
    const client = spawnCli([
      "--ping-interval",
      "0.1",
      "--ping-timeout",
      "0.3",
      server.url,
    ]);
    const result = await finish(client); // stdin stays open, like an idle terminal
    assert.equal(result.code, 7, result.err);
    assert.match(result.err, /no pong/);
  } finally {
    await server.close();
  }
});

// ----------------------------------------------------------------- SIGINT

/**
 * Reads a child's stdout until it contains `text`, so that the test knows
 * the CLI is past the upgrade. `rest` completes with all of stdout.
 */
async function stdoutAfter(
  child: Deno.ChildProcess,
  text: string,
): Promise<{ rest: Promise<string> }> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stdout ended before "${text}": ${seen}`);
    seen += value;
  }
  // Wrapped in an object: an async function returning a bare promise would wait for it.
  const rest = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return seen;
      seen += value;
    }
  })();
  return { rest };
}

/** Waits for a child whose stdout is already being read; stderr is collected. */
async function exitOf(
  child: Deno.ChildProcess,
): Promise<{ code: number; err: string }> {
  let killed = false;
  const guard = setTimeout(() => {
    killed = true;
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, CHILD_LIMIT_MS);
  try {
    const [status, err] = await Promise.all([
      child.status,
      new Response(child.stderr).text(),
    ]);
    assert.ok(!killed, "the CLI did not exit in time");
    return { code: status.code, err };
  } finally {
    clearTimeout(guard);
  }
}

/**
 * A server that says "ready", then reports the client's close code; it
 * answers the close only when `answer` is true.
 */
function startCloseRecorder(answer: boolean) {
  const closeCode = Promise.withResolvers<number | undefined>();
  const server = startScriptedServer(async (peer) => {
    try {
      await peer.accept();
      await peer.sendText("ready");
      closeCode.resolve((await peer.expectClose(CHILD_LIMIT_MS)).code);
    } catch (e) {
      closeCode.reject(e);
      return;
    }
    if (answer) await peer.sendClose(1000);
    else await peer.readUntilEof(CHILD_LIMIT_MS).catch(() => {});
  });
  return { server, closeCode: closeCode.promise };
}

Deno.test("cli: SIGINT closes politely with 1000 and exits 130", async () => {
  const { server, closeCode } = startCloseRecorder(true);
  try {
    const child = spawnCli([server.url]);
    const { rest } = await stdoutAfter(child, "ready\n");
    child.kill("SIGINT");
    assert.equal(await closeCode, 1000);
    const { code, err } = await exitOf(child);
    await rest;
    assert.equal(code, 130, err);
    assert.match(err, /interrupted; closed: 1000/);
  } finally {
    await server.close();
  }
});

Deno.test("cli: a second SIGINT exits at once while the close is pending", async () => {
  const { server, closeCode } = startCloseRecorder(false);
  try {
    // The server never answers the close: without the second SIGINT the
    // client would wait the full --close-timeout.
    const child = spawnCli(["--close-timeout", "600", server.url]);
    const { rest } = await stdoutAfter(child, "ready\n");
    child.kill("SIGINT");
    assert.equal(await closeCode, 1000);
    child.kill("SIGINT");
    const { code, err } = await exitOf(child);
    await rest;
    assert.equal(code, 130, err);
  } finally {
    await server.close();
  }
});

Deno.test("cli: -1 with empty stdin sends one empty message and closes after the reply", async () => {
  const got = Promise.withResolvers<number>();
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    const msg = await peer.readMessage();
    got.resolve(msg!.payload.length);
    await peer.sendText("reply to nothing");
    await peer.echoUntilClose();
  });
  try {
    const client = await runCli(["-1", server.url], "");
    assert.equal(await reported(got.promise, server), 0);
    assert.equal(client.code, 0, client.err);
    assert.equal(client.out, "reply to nothing\n");
  } finally {
    await server.close();
  }
});

Deno.test("cli: --slash commands reach the wire; a bad one is reported and the session goes on", async () => {
  const seen = Promise.withResolvers<string[]>();
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    const frames: string[] = [];
    for (;;) {
      const f = await peer.expectFrame();
      frames.push(`${f.opcode}:${new TextDecoder().decode(f.payload)}`);
      if (f.opcode === OP.CLOSE) {
        await peer.sendClose(4001, "bye");
        break;
      }
    }
    seen.resolve(frames);
  });
  try {
    const input = [
      "/ping hi",
      "/ping " + "x".repeat(130), // too long for a control frame: reported
      "/nope", // unknown: reported
      "/pong there",
      "/binary " + btoa("\x01\x02"),
      "//slash",
      "plain",
      "/close 4001 bye",
      "",
    ].join("\n");
    const client = await runCli(["--slash", server.url], input);
    const frames = await reported(seen.promise, server);
    assert.deepEqual(frames.map((f) => f.split(":")[0]), [
      "9",
      "10",
      "2",
      "1",
      "1",
      "8",
    ]);
    assert.equal(frames[0], "9:hi");
    assert.equal(frames[3], "1:/slash");
    assert.equal(frames[4], "1:plain");
    assert.match(client.err, /longer than 125 bytes/);
    assert.match(client.err, /unknown command \/nope/);
    assertNoStack(client.err);
  } finally {
    await server.close();
  }
});

Deno.test("cli: stdin read before a slow upgrade completes is sent, not dropped", async () => {
  const got = Promise.withResolvers<string[]>();
  const server = startScriptedServer(async (peer) => {
    await peer.readRequest();
    await new Promise((r) => setTimeout(r, 700)); // stdin is at EOF by now
    await peer.accept();
    const lines: string[] = [];
    for (let i = 0; i < 3; i++) {
      lines.push(new TextDecoder().decode((await peer.readMessage())!.payload));
    }
    got.resolve(lines);
    await peer.echoUntilClose();
  });
  try {
    const client = await runCli([server.url], "a\nb\nc\n");
    assert.deepEqual(await reported(got.promise, server), ["a", "b", "c"]);
    assert.equal(client.code, 0, client.err);
  } finally {
    await server.close();
  }
});

Deno.test("cli: listen --echo --compress serves clients concurrently; -v shows the extension and auto-pongs", async () => {
  const listener = await startListener([
    "--echo",
    "--compress",
    "--ping-interval",
    "0.2",
  ]);
  try {
    // Two clients at once: both are answered while the other is still open.
    const long = "compressible ".repeat(300);
    const first = spawnCli([
      "--compress",
      "-v",
      "-w",
      "0.8",
      "-x",
      long,
      listener.url,
    ]);
    const second = spawnCli([
      "--compress",
      "-x",
      "second",
      "-w",
      "0.3",
      listener.url,
    ]);
    const [a, b] = await Promise.all([
      Promise.all([feed(first, ""), finish(first)]).then(([, r]) => r),
      Promise.all([feed(second, ""), finish(second)]).then(([, r]) => r),
    ]);
    assert.equal(a.code, 0, a.err);
    assert.equal(b.code, 0, b.err);
    assert.equal(a.out, long + "\n");
    assert.equal(b.out, "second\n");
    assert.match(a.err, /< sec-websocket-extensions: permessage-deflate/i);
    assert.match(a.err, /^\* received PING/m);
    assert.match(a.err, /^\* sent PONG \(automatic\)/m);
  } finally {
    listener.child.kill("SIGINT");
    await stopListener(listener);
  }
});

Deno.test("cli: --text prints binary messages as UTF-8 text; with --base64 it is a usage error", async () => {
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    await peer.sendBinary(new Uint8Array([0x68, 0x69, 0xff]));
    await peer.sendClose(1000);
    await peer.expectClose();
  });
  try {
    const client = await runCli(["--text", "-n", server.url], "");
    assert.equal(client.code, 0, client.err);
    assert.equal(client.out, "hi\uFFFD\n");
  } finally {
    await server.close();
  }
  const usage = await runCli(["--text", "--base64", "ws://127.0.0.1:1/"]);
  assert.equal(usage.code, 2);
});
