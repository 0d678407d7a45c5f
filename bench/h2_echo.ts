/**
 * The framing overhead of WebSocket over HTTP/2 (RFC 8441) on one socket:
 * the same echo work over one HTTP/2 stream and over an HTTP/1.1 upgrade,
 * against one Node server process that runs the same echo codec behind both
 * (`servers/node_h1_h2_echo.mjs`), cleartext (h2c prior knowledge vs ws://)
 * and over TLS (ALPN h2 vs HTTP/1.1). Each client runs in a process of its
 * own (`echo_client.ts`'s measurement: CPU of the job alone); the server's
 * CPU is sampled before and after each client. Prints Markdown tables.
 *
 * Usage (from the repository root):
 *
 *   deno run --allow-run=node,deno,$(deno eval 'console.log(Deno.execPath())') \
 *     bench/h2_echo.ts [--quick] [--runs 3] [--pin] \
 *     [--transports tcp,tls] [--clients wsnc-h2,wsnc-h1,deno-h1] [--window 32]
 *     [--rows 64,16k,ping] [--timeout 300]
 *
 * `--pin` needs `taskset` in `--allow-run` too (`deno task bench:h2echo`
 * allows it): the server on CPU 0, each client on CPU 1. The clients run with
 * `--allow-net=127.0.0.1` and `--allow-read` of the test CA only; Node has
 * no permission flags.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { denoCommand } from "./deno_command.ts";
import { type ClientJob, type ClientResult, runJob } from "./echo_client.ts";
import type { BenchSession } from "./clients/session.ts";
import { splitLines } from "./many/processes.ts";
import { formatNumber, formatSize } from "./report.ts";

const HERE = new URL(import.meta.url).pathname;
const SERVER = new URL("./servers/node_h1_h2_echo.mjs", import.meta.url)
  .pathname;
const FIXTURES = new URL("../tests/fixtures/", import.meta.url).pathname;
const CA_FILE = FIXTURES + "ca.pem";

const CLIENTS = ["wsnc-h2", "wsnc-h1", "deno-h1"] as const;
type Client = typeof CLIENTS[number];
const TRANSPORTS = ["tcp", "tls"] as const;
type Transport = typeof TRANSPORTS[number];

const CLIENT_LABELS: Record<Client, string> = {
  "wsnc-h2": "wsnc, HTTP/2 (one stream)",
  "wsnc-h1": "wsnc, HTTP/1.1",
  "deno-h1": "Deno WebSocket, HTTP/1.1",
};
const TRANSPORT_LABELS: Record<Transport, string> = {
  tcp: "cleartext",
  tls: "TLS",
};

/** One measured piece of work: windowed echo or ping-pong. */
interface Row {
  id: string;
  mode: "echo" | "latency";
  size: number;
  count: number;
}

const FULL_ROWS: Row[] = [
  { id: "64", mode: "echo", size: 64, count: 100_000 },
  { id: "16k", mode: "echo", size: 16 * 1024, count: 20_000 },
  { id: "ping", mode: "latency", size: 64, count: 10_000 },
];
const QUICK_ROWS: Row[] = [
  { id: "64", mode: "echo", size: 64, count: 3_000 },
  { id: "16k", mode: "echo", size: 16 * 1024, count: 500 },
  { id: "ping", mode: "latency", size: 64, count: 200 },
];

const ROW_IDS = ["64", "16k", "ping"] as const;
type RowId = typeof ROW_IDS[number];

/** What one client process is asked to do (`--client JSON`). */
interface H2ClientJob {
  client: Client;
  transport: Transport;
  job: ClientJob;
}

/** The client side, in its own process. */
async function runClientProcess(spec: H2ClientJob): Promise<ClientResult> {
  let session: BenchSession;
  if (spec.client === "deno-h1") {
    // Deno's WebSocket trusts the test CA through --cert (see spawnClient).
    session = await (await import("./clients/deno_websocket.ts")).open(
      spec.job.url,
    );
  } else {
    const caCerts = spec.transport === "tls"
      ? [Deno.readTextFileSync(CA_FILE)]
      : undefined;
    const http2 = spec.client === "wsnc-h1"
      ? false
      : spec.transport === "tls"
      ? true // ALPN h2 required
      : "prior-knowledge" as const;
    session = await (await import("./clients/wsnc_recv.ts")).open(
      spec.job.url,
      { http2, caCerts },
    );
  }
  const result = await runJob(spec.job, session);
  await session.close();
  return result;
}

/** CPU 0 for the server, CPU 1 for the clients, under --pin. */
function command(
  pin: string | null,
  cmd: string,
  args: string[],
  options: Omit<Deno.CommandOptions, "args">,
): Deno.Command {
  return pin === null
    ? new Deno.Command(cmd, { ...options, args })
    : new Deno.Command("taskset", {
      ...options,
      args: ["-c", pin, cmd, ...args],
    });
}

/** The Node echo server: its ports, and its CPU time on request. */
class EchoServer {
  private constructor(
    readonly ports: Record<string, number>,
    private readonly child: Deno.ChildProcess,
    private readonly stdin: WritableStreamDefaultWriter<Uint8Array>,
    private readonly lines: AsyncIterator<string>,
  ) {}

  static async start(pin: boolean): Promise<EchoServer> {
    const child = command(pin ? "0" : null, "node", [
      SERVER,
      "tls",
      FIXTURES + "server.pem",
      FIXTURES + "server-key.pem",
    ], { stdin: "piped", stdout: "piped", stderr: "inherit" }).spawn();
    const lines = splitLines(child.stdout);
    const first = await lines.next();
    if (first.done) throw new Error(`${SERVER} exited before its ports`);
    return new EchoServer(
      JSON.parse(first.value),
      child,
      child.stdin.getWriter(),
      lines,
    );
  }

  /** The server process's user + system CPU so far, µs. */
  async cpuUs(): Promise<number> {
    await this.stdin.write(new TextEncoder().encode("cpu\n"));
    const line = await this.lines.next();
    if (line.done) throw new Error("the echo server exited");
    const { userUs, systemUs } = JSON.parse(line.value);
    return userUs + systemUs;
  }

  async stop(): Promise<void> {
    await this.stdin.close().catch(() => {});
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await this.child.status;
    clearTimeout(timer);
    await this.lines.return?.();
  }
}

/** One client process on one row; its result and the server's CPU meanwhile. */
async function spawnClient(
  spec: H2ClientJob,
  server: EchoServer,
  pin: boolean,
  timeoutMs: number,
): Promise<{ client: ClientResult; serverCpuUs: number }> {
  const args = [
    "run",
    "--no-prompt",
    "--allow-net=127.0.0.1",
    `--allow-read=${CA_FILE}`,
    ...(spec.client === "deno-h1" && spec.transport === "tls"
      ? ["--cert", CA_FILE]
      : []),
    HERE,
    "--client",
    JSON.stringify(spec),
  ];
  const cpu0 = await server.cpuUs();
  const out = await command(pin ? "1" : null, denoCommand(), args, {
    stdout: "piped",
    stderr: "inherit",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const serverCpuUs = await server.cpuUs() - cpu0;
  if (!out.success) {
    throw new Error(`client ${spec.client} ${spec.transport} failed`);
  }
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  return { client: JSON.parse(lines.at(-1)!), serverCpuUs };
}

/** The medians of one (transport, row, client) over the runs. */
interface Cell {
  msgPerSec: number;
  clientCpuUs: number;
  serverCpuUs: number;
  p50Us?: number;
  p99Us?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function summarize(
  runs: { client: ClientResult; serverCpuUs: number }[],
): Cell {
  const count = runs[0].client.count;
  const cell: Cell = {
    msgPerSec: median(runs.map((r) => r.client.count / (r.client.ms / 1000))),
    clientCpuUs: median(
      runs.map((r) => (r.client.userUs + r.client.systemUs) / count),
    ),
    serverCpuUs: median(runs.map((r) => r.serverCpuUs / count)),
  };
  if (runs[0].client.p50Us !== undefined) {
    cell.p50Us = median(runs.map((r) => r.client.p50Us!));
    cell.p99Us = median(runs.map((r) => r.client.p99Us!));
  }
  return cell;
}

function ratio(value: number, base: number | undefined): string {
  return base === undefined ? "—" : `${(value / base).toFixed(2)}×`;
}

/** A Markdown table: a line per (transport, row of `mode`, client) measured. */
function table(
  header: string[],
  mode: Row["mode"],
  columns: (cell: Cell, base: Cell | undefined) => string[],
  cells: Map<string, Cell>,
  transports: Transport[],
  rows: Row[],
  clients: Client[],
): string {
  const lines = [
    `| ${header.join(" | ")} |`,
    `| --- | --- | --- |${" ---: |".repeat(header.length - 3)}`,
  ];
  for (const t of transports) {
    for (const row of rows.filter((r) => r.mode === mode)) {
      const base = cells.get(`${t} ${row.id} wsnc-h1`);
      for (const c of clients) {
        const cell = cells.get(`${t} ${row.id} ${c}`);
        if (!cell) continue;
        const what = `${formatSize(row.size)} × ${
          row.count.toLocaleString("en-US")
        }`;
        const values = [TRANSPORT_LABELS[t], what, CLIENT_LABELS[c]];
        lines.push(`| ${[...values, ...columns(cell, base)].join(" | ")} |`);
      }
    }
  }
  return lines.join("\n");
}

const ECHO_HEADER = [
  "transport",
  "message × count",
  "client",
  "msg/s",
  "client CPU µs/msg",
  "server CPU µs/msg",
  "client CPU vs wsnc HTTP/1.1",
];
const echoColumns = (cell: Cell, base: Cell | undefined) => [
  formatNumber(cell.msgPerSec),
  formatNumber(cell.clientCpuUs),
  formatNumber(cell.serverCpuUs),
  ratio(cell.clientCpuUs, base?.clientCpuUs),
];
const LATENCY_HEADER = [
  "transport",
  "ping-pong",
  "client",
  "p50 µs",
  "p99 µs",
  "client CPU µs/round trip",
  "server CPU µs/round trip",
];
const latencyColumns = (cell: Cell) => [
  formatNumber(cell.p50Us),
  formatNumber(cell.p99Us),
  formatNumber(cell.clientCpuUs),
  formatNumber(cell.serverCpuUs),
];

function pick<T extends string>(
  text: string,
  known: readonly T[],
  what: string,
): T[] {
  return text.split(",").map((s) => s.trim()).filter((s) => s !== "").map(
    (s) => {
      if (!(known as readonly string[]).includes(s)) {
        throw new Error(`unknown ${what} ${s}: use ${known.join(", ")}`);
      }
      return s as T;
    },
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      client: { type: "string" },
      quick: { type: "boolean", default: false },
      pin: { type: "boolean", default: false },
      runs: { type: "string", default: "3" },
      window: { type: "string", default: "32" },
      transports: { type: "string", default: TRANSPORTS.join(",") },
      clients: { type: "string", default: CLIENTS.join(",") },
      rows: { type: "string", default: ROW_IDS.join(",") },
      timeout: { type: "string", default: "300" },
    },
  });
  if (values.client) {
    const result = await runClientProcess(JSON.parse(values.client));
    console.log(JSON.stringify(result));
    // A pooled HTTP/2 connection lingers for its idle time: the result is out.
    Deno.exit(0);
  }
  const runs = Number(values.runs), window = Number(values.window);
  const timeoutMs = Number(values.timeout) * 1000;
  if (!(runs >= 1 && window >= 1 && timeoutMs > 0)) {
    throw new Error("--runs, --window and --timeout need positive numbers");
  }
  const transports = pick(values.transports, TRANSPORTS, "transport");
  const clients = pick(values.clients, CLIENTS, "client");
  const rowIds = pick(values.rows, ROW_IDS, "row");
  const rows = (values.quick ? QUICK_ROWS : FULL_ROWS).filter((r) =>
    rowIds.includes(r.id as RowId)
  );
  const server = await EchoServer.start(values.pin);
  const results = new Map<
    string,
    { client: ClientResult; serverCpuUs: number }[]
  >();
  try {
    for (let run = 0; run < runs; run++) {
      for (const transport of transports) {
        const port = transport === "tcp"
          ? { h1: server.ports.h1, h2: server.ports.h2 }
          : { h1: server.ports.tlsH1, h2: server.ports.tlsH2 };
        const scheme = transport === "tcp" ? "ws" : "wss";
        for (const row of rows) {
          for (const client of clients) {
            const p = client === "wsnc-h2" ? port.h2 : port.h1;
            const job: ClientJob = {
              client: client === "deno-h1" ? "deno" : "wsnc-recv",
              mode: row.mode,
              url: `${scheme}://127.0.0.1:${p}/`,
              size: row.size,
              count: row.count,
              window: row.mode === "echo" ? window : 1,
              warmup: row.mode === "latency" ? Math.ceil(row.count / 10) : 0,
              bufferSize: 0,
            };
            console.error(
              `run ${
                run + 1
              }/${runs}: ${transport} ${row.id} × ${row.count} ${client}`,
            );
            const key = `${transport} ${row.id} ${client}`;
            const r = await spawnClient(
              { client, transport, job },
              server,
              values.pin,
              timeoutMs,
            );
            results.set(key, [...results.get(key) ?? [], r]);
          }
        }
      }
    }
  } finally {
    await server.stop();
  }
  const cells = new Map([...results].map(([k, rs]) => [k, summarize(rs)]));
  console.log(
    `Echo over one WebSocket, ${window} messages in flight, median of ${runs} run(s)${
      values.pin ? ", server on CPU 0, client on CPU 1" : ""
    }:\n`,
  );
  console.log(
    table(ECHO_HEADER, "echo", echoColumns, cells, transports, rows, clients),
  );
  console.log("\nPing-pong (one message in flight):\n");
  console.log(
    table(
      LATENCY_HEADER,
      "latency",
      latencyColumns,
      cells,
      transports,
      rows,
      clients,
    ),
  );
}

if (import.meta.main) await main();
