/**
 * Echo, latency and memory benchmark of WebSocket clients, in one run.
 *
 * Starts one echo server process (npm:ws@8's WebSocketServer under Deno) and
 * a plain TCP echo server process, then runs every client in a process of
 * its own on the same work, so each client's CPU time is its own process's.
 * Prints Markdown tables; `--json FILE` (or `--json -` for stdout) also
 * writes the numbers as JSON. See bench/README.md.
 *
 * Usage (from the repository root):
 *
 *   deno run --allow-run=deno bench/echo.ts [--quick] [--rows 64,16k,1m,256m]
 *     [--clients deno,npm-ws,wsnc-recv,wsnc-perform,tcp] [--parts echo,latency,memory]
 *     [--window 32] [--latency-count 10000] [--memory-size 1g] [--timeout 600]
 *     [--json FILE]   (add --allow-write=FILE)
 *     [--server ws|wsnc|deno] [--pin]   (--pin: add taskset to --allow-run)
 *
 * A row is one of 64, 16k, 1m, 256m, or SIZE:COUNT (e.g. 4k:5000).
 *
 * @module
 */

import { denoCommand } from "./deno_command.ts";
import {
  CLIENT_IDS,
  type ClientId,
  type ClientJob,
  type ClientResult,
} from "./echo_client.ts";
import {
  addRatios,
  CLIENT_LABELS,
  echoNumbers,
  type EchoRow,
  echoTable,
  type LatencyRow,
  latencyTable,
  type MemoryRow,
  memoryTable,
  writeJsonReport,
} from "./report.ts";

/** A message size and how many messages of it to echo. */
export interface RowSpec {
  id: string;
  size: number;
  count: number;
}

const PARTS = ["echo", "latency", "memory"] as const;
type Part = typeof PARTS[number];

/** Parsed command line. */
export interface Options {
  quick: boolean;
  /** Run the servers on CPU 0 and each client on CPU 1 (`taskset`). */
  pin: boolean;
  rows: RowSpec[];
  clients: ClientId[];
  parts: Set<Part>;
  window: number;
  latencyCount: number;
  memorySize: number;
  timeoutMs: number;
  json: string | null;
  /** The echo server: npm:ws (default) or wsnc's own streaming echo. */
  server: "ws" | "wsnc" | "deno";
}

/** The echo server script and its description, by `--server`. */
const SERVER_SCRIPTS = {
  ws: "./servers/ws_echo_server.ts",
  wsnc: "./servers/wsnc_echo_server.ts",
  deno: "./servers/deno_echo_server.ts",
} as const;
const SERVER_LABELS = {
  ws: "npm:ws@8 WebSocketServer under Deno",
  wsnc: "wsnc streaming echo (acceptWebSocket + perform)",
  deno: "Deno's built-in server (Deno.serve + Deno.upgradeWebSocket)",
} as const;

const FULL_ROWS: Record<string, [number, number]> = {
  "64": [64, 100_000],
  "16k": [16 * 1024, 20_000],
  "1m": [1024 * 1024, 300],
  "256m": [256 * 1024 * 1024, 1],
};

/** --quick: the same rows, scaled down to a smoke test. */
const QUICK_ROWS: Record<string, [number, number]> = {
  "64": [64, 300],
  "16k": [16 * 1024, 60],
  "1m": [1024 * 1024, 4],
  "256m": [4 * 1024 * 1024, 1],
};

const LATENCY_SIZE = 32;
const MEMORY_RECV_BUFFER = 64 * 1024;
const MEMORY_CLIENTS: ClientId[] = ["wsnc-recv", "wsnc-perform"];

/** Parses "64", "16k", "1m", "1g" (binary multiples) into bytes. */
export function parseSize(text: string): number {
  const m = text.trim().toLowerCase().match(/^(\d+)([kmg]?)i?b?$/);
  if (!m) throw new Error(`not a size: ${text}`);
  const scale = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]]!;
  return Number(m[1]) * scale;
}

function parseRow(text: string, quick: boolean): RowSpec {
  const known = (quick ? QUICK_ROWS : FULL_ROWS)[text];
  if (known) return { id: text, size: known[0], count: known[1] };
  const [size, count] = text.split(":");
  if (count === undefined) {
    throw new Error(
      `unknown row ${text}: use ${
        Object.keys(FULL_ROWS).join(", ")
      } or SIZE:COUNT`,
    );
  }
  const n = Number(count);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new Error(`bad count in row ${text}`);
  }
  return { id: text, size: parseSize(size), count: n };
}

function list(text: string): string[] {
  return text.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

/** Parses the command line (see the module doc). */
export function parseOptions(args: string[]): Options {
  const value = (flag: string): string | undefined => {
    const at = args.indexOf(flag);
    if (at < 0) return undefined;
    if (at + 1 >= args.length) throw new Error(`${flag} needs a value`);
    return args[at + 1];
  };
  const known = new Set([
    "--quick",
    "--pin",
    "--rows",
    "--clients",
    "--parts",
    "--window",
    "--latency-count",
    "--memory-size",
    "--timeout",
    "--json",
    "--server",
  ]);
  for (let i = 0; i < args.length; i++) {
    if (!known.has(args[i])) throw new Error(`unknown argument ${args[i]}`);
    if (args[i] !== "--quick" && args[i] !== "--pin") i++;
  }
  const quick = args.includes("--quick");
  const rows = list(value("--rows") ?? Object.keys(FULL_ROWS).join(",")).map((
    r,
  ) => parseRow(r, quick));
  const clients = list(value("--clients") ?? CLIENT_IDS.join(",")).map((c) => {
    if (!(CLIENT_IDS as readonly string[]).includes(c)) {
      throw new Error(`unknown client ${c}: use ${CLIENT_IDS.join(", ")}`);
    }
    return c as ClientId;
  });
  const parts = new Set(
    list(value("--parts") ?? PARTS.join(",")).map((p) => {
      if (!(PARTS as readonly string[]).includes(p)) {
        throw new Error(`unknown part ${p}`);
      }
      return p as Part;
    }),
  );
  const int = (flag: string, fallback: number): number => {
    const text = value(flag);
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 1) {
      throw new Error(`${flag} needs a positive integer`);
    }
    return n;
  };
  const memory = value("--memory-size");
  const server = value("--server") ?? "ws";
  if (server !== "ws" && server !== "wsnc" && server !== "deno") {
    throw new Error(`unknown server ${server}: use ws, wsnc or deno`);
  }
  return {
    server,
    quick,
    pin: args.includes("--pin"),
    rows,
    clients,
    parts,
    window: int("--window", 32),
    latencyCount: int("--latency-count", quick ? 200 : 10_000),
    memorySize: memory
      ? parseSize(memory)
      : quick
      ? 16 * 1024 * 1024
      : 1024 ** 3,
    timeoutMs: int("--timeout", quick ? 60 : 600) * 1000,
    json: value("--json") ?? null,
  };
}

/** A server in a child process: it prints its port, and exits when its stdin closes. */
const SERVER_CPU = "0";
const CLIENT_CPU = "1";
/** Set by --pin: start every process through `taskset -c CPU`. */
let pinned = false;

/**
 * A `deno` subprocess, pinned to `cpu` with `taskset` under --pin, so that
 * server and client do not compete for one core and the numbers move less
 * from run to run (needs `--allow-run=taskset`).
 */
function denoProcess(
  cpu: string,
  args: string[],
  options: Omit<Deno.CommandOptions, "args">,
): Deno.Command {
  return pinned
    ? new Deno.Command("taskset", {
      ...options,
      args: ["-c", cpu, denoCommand(), ...args],
    })
    : new Deno.Command(denoCommand(), { ...options, args });
}

class ServerProcess {
  private constructor(
    readonly port: number,
    private readonly child: Deno.ChildProcess,
    private readonly stdin: WritableStreamDefaultWriter<Uint8Array>,
  ) {}

  static async start(
    script: string,
    permissions: string[],
    args: string[] = [],
  ) {
    const child = denoProcess(SERVER_CPU, [
      "run",
      "--no-prompt",
      ...permissions,
      scriptPath(script),
      ...args,
    ], {
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${script} exited before announcing its port`);
      text += value;
    }
    await reader.cancel();
    const { port } = JSON.parse(text.slice(0, text.indexOf("\n"))) as {
      port: number;
    };
    return new ServerProcess(port, child, child.stdin.getWriter());
  }

  async stop(): Promise<void> {
    await this.stdin.close().catch(() => {});
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await this.child.status;
    clearTimeout(timer);
  }
}

function scriptPath(relative: string): string {
  return new URL(relative, import.meta.url).pathname;
}

/** Permissions of client processes: loopback only (+ the env npm:ws reads). */
const CLIENT_PERMISSIONS = [
  "--allow-net=127.0.0.1",
  "--allow-env=WS_NO_BUFFER_UTIL,WS_NO_UTF_8_VALIDATE",
];

/** Runs one client process; returns its result or the reason it failed. */
async function runClient(
  job: ClientJob,
  timeoutMs: number,
): Promise<ClientResult | { error: string }> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const out = await denoProcess(CLIENT_CPU, [
      "run",
      "--no-prompt",
      ...CLIENT_PERMISSIONS,
      scriptPath("./echo_client.ts"),
      JSON.stringify(job),
    ], {
      stdout: "piped",
      stderr: "piped",
      signal: abort.signal,
    }).output();
    if (abort.signal.aborted) {
      return { error: `timed out after ${timeoutMs / 1000} s` };
    }
    const stdout = new TextDecoder().decode(out.stdout).trim().split("\n");
    if (!out.success) {
      const stderr = new TextDecoder().decode(out.stderr).trim().split("\n");
      // deno prints "error: Uncaught ..." lines with colour codes; keep it short.
      // deno-lint-ignore no-control-regex
      const reason = stderr.at(-1)?.replace(/\x1b\[[0-9;]*m/g, "").slice(
        0,
        100,
      );
      return { error: reason || `exit code ${out.code}` };
    }
    return JSON.parse(stdout.at(-1)!) as ClientResult;
  } finally {
    clearTimeout(timer);
  }
}

function progress(text: string): void {
  // Progress on stderr, so stdout holds only the report.
  console.error(text);
}

const WS_CLIENTS: ClientId[] = ["deno", "npm-ws", "wsnc-recv", "wsnc-perform"];

async function runEcho(
  options: Options,
  urlFor: (client: ClientId) => string,
): Promise<EchoRow[]> {
  const rows: EchoRow[] = [];
  for (const spec of options.rows) {
    for (const client of options.clients) {
      const row: EchoRow = {
        row: spec.id,
        size: spec.size,
        count: spec.count,
        client,
        label: CLIENT_LABELS[client],
      };
      progress(`echo ${spec.id} × ${spec.count}: ${client}`);
      const result = await runClient({
        client,
        mode: "echo",
        url: urlFor(client),
        size: spec.size,
        count: spec.count,
        window: options.window,
        warmup: 0,
        bufferSize: 0,
      }, options.timeoutMs);
      if ("error" in result) row.error = result.error;
      else echoNumbers(row, result);
      rows.push(row);
    }
  }
  addRatios(rows);
  return rows;
}

async function runLatency(
  options: Options,
  urlFor: (client: ClientId) => string,
): Promise<LatencyRow[]> {
  const rows: LatencyRow[] = [];
  for (const client of options.clients) {
    progress(`latency: ${client}`);
    const row: LatencyRow = { client, label: CLIENT_LABELS[client] };
    const result = await runClient({
      client,
      mode: "latency",
      url: urlFor(client),
      size: LATENCY_SIZE,
      count: options.latencyCount,
      window: 1,
      warmup: Math.min(1000, Math.ceil(options.latencyCount / 10)),
      bufferSize: 0,
    }, options.timeoutMs);
    if ("error" in result) row.error = result.error;
    else {
      row.raw = result;
      row.p50Us = result.p50Us;
      row.p99Us = result.p99Us;
      row.cpuUsPerRoundTrip = (result.userUs + result.systemUs) / result.count;
    }
    rows.push(row);
  }
  return rows;
}

async function runMemory(options: Options): Promise<MemoryRow[]> {
  const clients = MEMORY_CLIENTS.filter((c) => options.clients.includes(c));
  const rows: MemoryRow[] = [];
  if (clients.length === 0) return rows;
  const server = await ServerProcess.start(
    "./servers/big_frame_server.ts",
    ["--allow-net=127.0.0.1"],
    ["--size", String(options.memorySize)],
  );
  try {
    for (const client of clients) {
      progress(`memory: ${client}`);
      // perform() hands out pieces as the library reads them: no buffer to choose.
      const bufferSize = client === "wsnc-recv" ? MEMORY_RECV_BUFFER : 0;
      const row: MemoryRow = {
        client,
        label: CLIENT_LABELS[client],
        bytes: options.memorySize,
        bufferSize,
      };
      const result = await runClient({
        client,
        mode: "stream",
        url: `ws://127.0.0.1:${server.port}/`,
        size: 0,
        count: 1,
        window: 1,
        warmup: 0,
        bufferSize,
      }, options.timeoutMs);
      if ("error" in result) row.error = result.error;
      else if (result.bytes !== options.memorySize) {
        row.error = `received ${result.bytes} of ${options.memorySize} bytes`;
      } else {
        row.raw = result;
        row.peakRssBeforeMiB = result.peakRssBeforeKiB / 1024;
        row.peakRssAfterMiB = result.peakRssAfterKiB / 1024;
        row.mbPerSec = result.bytes / 1e6 / (result.ms / 1000);
      }
      rows.push(row);
    }
  } finally {
    await server.stop();
  }
  return rows;
}

async function main(): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(Deno.args);
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  if (options.pin) {
    const run = Deno.permissions.querySync({
      name: "run",
      command: "taskset",
    });
    if (run.state !== "granted" || navigator.hardwareConcurrency < 2) {
      console.error("--pin needs --allow-run=taskset and at least 2 CPUs");
      return 2;
    }
    pinned = true;
  }
  const needsWs = options.clients.some((c) => WS_CLIENTS.includes(c)) &&
    (options.parts.has("echo") || options.parts.has("latency"));
  const needsTcp = options.clients.includes("tcp") &&
    (options.parts.has("echo") || options.parts.has("latency"));
  const wsServer = needsWs
    ? await ServerProcess.start(
      SERVER_SCRIPTS[options.server],
      CLIENT_PERMISSIONS,
    )
    : null;
  const tcpServer = needsTcp
    ? await ServerProcess.start("./servers/tcp_echo_server.ts", [
      "--allow-net=127.0.0.1",
    ])
    : null;
  const urlFor = (client: ClientId) =>
    client === "tcp"
      ? `tcp://127.0.0.1:${tcpServer!.port}`
      : `ws://127.0.0.1:${wsServer!.port}/`;

  let echo: EchoRow[] = [];
  let latency: LatencyRow[] = [];
  let memory: MemoryRow[] = [];
  try {
    if (options.parts.has("echo")) echo = await runEcho(options, urlFor);
    if (options.parts.has("latency")) {
      latency = await runLatency(options, urlFor);
    }
    if (options.parts.has("memory")) memory = await runMemory(options);
  } finally {
    await wsServer?.stop();
    await tcpServer?.stop();
  }

  const { deno, v8 } = Deno.version;
  const cores = navigator.hardwareConcurrency;
  const out: string[] = [
    `Deno ${deno} (V8 ${v8}), ${cores} cores; server: ${
      SERVER_LABELS[options.server]
    } ` +
    `(separate process); window ${options.window}${
      options.quick ? "; --quick" : ""
    }${options.pin ? "; server on CPU 0, client on CPU 1" : ""}`,
  ];
  if (echo.length > 0) {
    out.push(
      `\n## Echo throughput (binary messages, ${options.window} in flight)\n`,
    );
    out.push(echoTable(echo));
  }
  if (latency.length > 0) {
    out.push(
      `\n## Latency (${LATENCY_SIZE} B ping-pong, ${options.latencyCount} sequential round trips)\n`,
    );
    out.push(latencyTable(latency));
  }
  if (memory.length > 0) {
    out.push("\n## Memory (one binary frame streamed, not kept)\n");
    out.push(memoryTable(memory));
  }
  console.log(out.join("\n"));

  if (options.json) {
    await writeJsonReport(options.json, {
      server: "npm:ws@8 WebSocketServer under Deno",
      options: { ...options, parts: [...options.parts] },
      echo,
      latency,
      memory,
    });
  }
  const failures =
    [...echo, ...latency, ...memory].filter((r) => r.error).length;
  if (failures > 0) {
    progress(`${failures} measurement(s) failed; see the tables`);
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());
