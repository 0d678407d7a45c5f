/**
 * `deno task demo`: the CLI talking to itself, offline.
 *
 * Starts `cli.ts --listen 127.0.0.1:0 --echo --once` (a WebSocket echo
 * server on a free loopback port, built on the library's own server side),
 * then pipes a few lines through `cli.ts ws://127.0.0.1:PORT/` and prints
 * what went out, what came back, and how both ends closed. Exits non-zero
 * when the round trip does not match.
 *
 * Permissions: `--allow-run=deno` to start the two CLI processes; they get
 * only `--allow-net=127.0.0.1`.
 *
 * @module
 */

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const CHILD_PERMS = ["--allow-net=127.0.0.1"];
const LINES = ["hello", "WebSocket over loopback", "ünïcödé ✓", "bye"];
const LIMIT_MS = 15_000;

/** `Deno.execPath()` when we may run it, else `deno` from PATH (see --allow-run). */
function denoCommand(): string {
  const exec = Deno.execPath();
  const state = Deno.permissions.querySync({ name: "run", command: exec })
    .state;
  return state === "granted" ? exec : "deno";
}

function spawn(args: string[]): Deno.ChildProcess {
  return new Deno.Command(denoCommand(), {
    args: ["run", "--no-prompt", ...CHILD_PERMS, CLI, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

function show(prefix: string, text: string): void {
  for (const line of text.split("\n")) {
    if (line !== "") console.log(`${prefix}${line}`);
  }
}

/** Kills `child` if it outlives the demo's time limit. */
function guard(child: Deno.ChildProcess): () => void {
  const timer = setTimeout(() => {
    console.error("demo: a process did not finish in time; stopping it");
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, LIMIT_MS);
  return () => clearTimeout(timer);
}

const shown = `deno run ${CHILD_PERMS.join(" ")} cli.ts`;
console.log(
  "wsnc demo: an echo server and a client, both cli.ts, on 127.0.0.1\n",
);

// 1. The server. Its first stderr line says where it listens.
console.log(`$ ${shown} --listen 127.0.0.1:0 --echo --once`);
const server = spawn(["--listen", "127.0.0.1:0", "--echo", "--once"]);
const unguardServer = guard(server);
await server.stdin.close();
const serverErr = server.stderr.pipeThrough(new TextDecoderStream())
  .getReader();
let serverLog = "";
let url: string | undefined;
while (url === undefined) {
  const { value, done } = await serverErr.read();
  if (done) {
    show("  server: ", serverLog);
    console.error("demo: the server exited before listening");
    Deno.exit(1);
  }
  serverLog += value;
  url = /listening on (ws:\/\/\S+)/.exec(serverLog)?.[1];
}
show("  server: ", serverLog);
serverLog = "";
const serverRest = (async () => {
  for (;;) {
    const { value, done } = await serverErr.read();
    if (done) return serverLog;
    serverLog += value;
  }
})();

// 2. The client: stdin lines out, echoed messages back on stdout.
const input = LINES.join("\n") + "\n";
console.log(
  `\n$ printf '${LINES.join("\\n")}\\n' | ${shown} ${url}`,
);
const client = spawn([url]);
const unguardClient = guard(client);
const writer = client.stdin.getWriter();
await writer.write(new TextEncoder().encode(input));
await writer.close();
const result = await client.output();
unguardClient();
const received = new TextDecoder().decode(result.stdout);
for (const line of LINES) console.log(`  sent:      ${line}`);
show("  received:  ", received);
show("  client stderr: ", new TextDecoder().decode(result.stderr));
console.log(`  client exit code: ${result.code}`);

// 3. The server saw one connection (--once) and exits by itself.
const [status, rest] = await Promise.all([server.status, serverRest]);
await server.stdout.cancel();
unguardServer();
show("  server: ", rest);
console.log(`  server exit code: ${status.code}`);

const ok = received === input && result.code === 0 && status.code === 0;
console.log(
  ok
    ? "\nround trip OK: every line came back as the same message."
    : "\nround trip FAILED: output differs from input.",
);
Deno.exit(ok ? 0 : 1);
