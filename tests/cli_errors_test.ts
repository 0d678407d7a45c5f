/**
 * Errors a person understands (issue 12.4): TLS failures explained with
 * what to try, a --cacert without a certificate, timeouts of 0 and below,
 * refused input lines, arguments that are not what their flag needs, Unix
 * socket permissions named at once, and a conformance report path checked
 * before the run.
 *
 * @module
 */

import assert from "node:assert/strict";
import { WebSocketError } from "../mod.ts";
import { reportError } from "../src/cli/exit.ts";
import { startDenoEchoServer } from "./servers/echo.ts";
import { testCerts } from "./servers/certs.ts";
import { assertNoStack, ROOT, runCli } from "./cli_helpers.ts";
import { DENO } from "./helpers.ts";

Deno.test("cli errors: wss:// to an untrusted certificate says to try --cacert, then the reason", async () => {
  const { untrustedCert, untrustedKey } = testCerts();
  const server = await startDenoEchoServer({
    tls: { cert: untrustedCert, key: untrustedKey },
  });
  try {
    const run = await runCli([server.url], "hi\n");
    assert.equal(run.code, 4, run.err);
    assert.match(run.err, /not signed by a CA this machine trusts/);
    assert.match(run.err, /--cacert FILE/);
    assert.match(run.err, /\(.*UnknownIssuer.*\)/);
    assertNoStack(run.err);
  } finally {
    await server.close();
  }
});

Deno.test("cli errors: wss:// to a plain ws:// port asks whether it speaks TLS", async () => {
  const server = await startDenoEchoServer();
  try {
    const url = server.url.replace("ws://", "wss://");
    const run = await runCli([url], "hi\n");
    assert.equal(run.code, 4, run.err);
    assert.match(run.err, /is that port speaking TLS\?/);
    assertNoStack(run.err);
  } finally {
    await server.close();
  }
});

Deno.test("cli errors: a CA certificate used as the server's own is explained", () => {
  const raw =
    "TLS with 127.0.0.1:8443: invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))";
  const report = reportError(new WebSocketError("TLS_ERROR", raw));
  assert.equal(report.code, 4);
  assert.match(report.lines[0], /itself a CA certificate/);
  assert.equal(report.lines[1], `(${raw})`);
});

Deno.test("cli errors: --cacert with a key instead of a certificate is a usage error naming the file", async () => {
  const run = await runCli(
    ["--cacert", "tests/fixtures/server-key.pem", "wss://127.0.0.1:9/"],
    "",
    ["--allow-read=tests/fixtures"],
  );
  assert.equal(run.code, 2, run.err);
  assert.match(
    run.err,
    /--cacert tests\/fixtures\/server-key\.pem holds no PEM certificate/,
  );
  assert.match(run.err, /private key/);
});

Deno.test("cli errors: --connect-timeout 0 means no limit; a negative one is refused clearly", async () => {
  const server = await startDenoEchoServer();
  try {
    const ok = await runCli(["--connect-timeout", "0", server.url], "hi\n");
    assert.equal(ok.code, 0, ok.err);
    assert.equal(ok.out, "hi\n");
  } finally {
    await server.close();
  }
  const bad = await runCli(["--connect-timeout", "-1", "ws://127.0.0.1:9/"]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--connect-timeout cannot be negative, got "-1"/);
  assert.doesNotMatch(bad.err, /ambiguous/);
});

Deno.test("cli errors: a bad --base64 line is reported and the exit code is 2", async () => {
  const server = await startDenoEchoServer();
  try {
    const run = await runCli(["--base64", server.url], "aGk=\n!!!\n");
    assert.equal(run.code, 2, run.err);
    assert.equal(run.out, "aGk=\n");
    assert.match(run.err, /input is not valid base64/);
  } finally {
    await server.close();
  }
});

Deno.test("cli errors: say what is wrong with the argument (-w URL, a bare word)", async () => {
  const w = await runCli(["-w", "ws://127.0.0.1:9/"]);
  assert.equal(w.code, 2);
  assert.match(
    w.err,
    /--wait needs a number of seconds, got the URL ws:\/\/127\.0\.0\.1:9\//,
  );
  const foo = await runCli(["foo"]);
  assert.equal(foo.code, 2);
  assert.match(foo.err, /"foo" is not a WebSocket URL/);
  assert.doesNotMatch(foo.err, /permission|allow-net/);
});

Deno.test("cli errors: a Unix socket names every permission it lacks in one run", async () => {
  const path = "/tmp/wsnc-no-such.sock";
  const run = await runCli(["--unix-socket", path, "ws://localhost/"]);
  assert.equal(run.code, 1, run.err);
  assert.match(
    run.err,
    new RegExp(
      `--allow-read=${path} --allow-write=${path} --allow-net=unix:${path}`,
    ),
  );
});

Deno.test("cli errors: --help documents skipping certificate checks with its warning", async () => {
  const help = await runCli(["--help"]);
  assert.match(help.out, /--unsafely-ignore-certificate-errors=HOST/);
  assert.match(help.out, /curl's -k/);
});

Deno.test("conformance: --html outside the project fails before running any case", async () => {
  const out = await new Deno.Command(DENO, {
    args: [
      "run",
      "--no-prompt",
      "--allow-net=127.0.0.1",
      "--allow-read=.",
      "--allow-write=.",
      "tests/conformance/run.ts",
      "--client",
      "wsnc",
      "--case",
      "1.1.1",
      "--html",
      "/tmp/wsnc-conformance-outside.html",
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 2, stderr);
  assert.match(
    stderr,
    /cannot write the report \/tmp\/wsnc-conformance-outside\.html/,
  );
  assert.doesNotMatch(stdout, /case\(s\)/, "no case ran");
});
