/**
 * Many WebSockets to one origin over `wss://`: wsnc over one HTTP/2
 * connection (RFC 8441, Node's http2 server), wsnc over HTTP/1.1 (one TLS
 * handshake each, Deno.serve), and Deno's built-in WebSocket (HTTP/1.1,
 * Deno.serve). Each client runs in a process of its own and reports the time
 * to open all WebSockets at once, the RSS they added (after a GC) and the
 * time of one 64 B echo round on every socket. Prints a Markdown table.
 *
 * Usage (from the repository root):
 *
 *   deno run --allow-run=deno,node --allow-read=. bench/h2_many.ts [--count 1000] [--runs 3]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { connect } from "../mod.ts";
import { closeHttp2Connections } from "../src/io/h2_pool.ts";
import { denoCommand } from "./deno_command.ts";

const FIXTURES = new URL("../tests/fixtures/", import.meta.url).pathname;
const HERE = new URL(import.meta.url).pathname;

type ClientKind = "wsnc-h2" | "wsnc-h1" | "deno";

interface ClientResult {
  kind: ClientKind;
  count: number;
  openMs: number;
  rssPerSocketKiB: number;
  echoMs: number;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** The client side, in its own process: `--client KIND --url URL --count N`. */
async function runClient(
  kind: ClientKind,
  url: string,
  count: number,
): Promise<ClientResult> {
  const caCerts = [Deno.readTextFileSync(FIXTURES + "ca.pem")];
  const payload = "x".repeat(64);
  gc();
  const rssBefore = Deno.memoryUsage().rss;
  const started = performance.now();
  let openMs: number, echoMs: number, rssAfter: number;
  if (kind === "deno") {
    const sockets = await Promise.all(
      Array.from(
        { length: count },
        () =>
          new Promise<WebSocket>((resolve, reject) => {
            const ws = new WebSocket(url);
            ws.onopen = () => resolve(ws);
            ws.onerror = (e) =>
              reject(new Error(String((e as ErrorEvent).message)));
          }),
      ),
    );
    openMs = performance.now() - started;
    gc();
    rssAfter = Deno.memoryUsage().rss;
    const t = performance.now();
    await Promise.all(sockets.map((ws) =>
      new Promise<void>((resolve) => {
        ws.onmessage = () => resolve();
        ws.send(payload);
      })
    ));
    echoMs = performance.now() - t;
    await Promise.all(sockets.map((ws) =>
      new Promise<void>((resolve) => {
        ws.onclose = () => resolve();
        ws.close();
      })
    ));
  } else {
    const http2 = kind === "wsnc-h2";
    const conns = await Promise.all(
      Array.from({ length: count }, () => connect(url, { http2, caCerts })),
    );
    openMs = performance.now() - started;
    gc();
    rssAfter = Deno.memoryUsage().rss;
    const t = performance.now();
    await Promise.all(conns.map(async (c) => {
      await c.send(payload);
      await c.receive();
    }));
    echoMs = performance.now() - t;
    await Promise.all(conns.map((c) => c.close()));
    await closeHttp2Connections();
  }
  return {
    kind,
    count,
    openMs,
    rssPerSocketKiB: (rssAfter - rssBefore) / 1024 / count,
    echoMs,
  };
}

interface Server {
  port: number;
  stop(): Promise<void>;
}

async function startServer(cmd: string, args: string[]): Promise<Server> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let line = "";
  while (!line.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${cmd} ${args.join(" ")} did not start`);
    line += value;
  }
  reader.releaseLock();
  const first = line.split("\n")[0].trim();
  const port = first.startsWith("{") ? JSON.parse(first).port : Number(first);
  return {
    port,
    async stop() {
      try {
        await child.stdin.close();
      } catch { /* gone */ }
      child.kill();
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

async function spawnClient(
  kind: ClientKind,
  url: string,
  count: number,
): Promise<ClientResult> {
  const out = await new Deno.Command(denoCommand(), {
    args: [
      "run",
      "--v8-flags=--expose-gc",
      "--allow-net=localhost,127.0.0.1",
      "--allow-read=.",
      ...(kind === "deno" ? ["--cert", FIXTURES + "ca.pem"] : []),
      HERE,
      "--client",
      kind,
      "--url",
      url,
      "--count",
      String(count),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`client ${kind} failed`);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim());
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      client: { type: "string" },
      url: { type: "string" },
      count: { type: "string", default: "1000" },
      runs: { type: "string", default: "3" },
    },
  });
  const count = Number(values.count);
  if (values.client) {
    const r = await runClient(values.client as ClientKind, values.url!, count);
    console.log(JSON.stringify(r));
    return;
  }
  const cert = FIXTURES + "server.pem", key = FIXTURES + "server-key.pem";
  const h2 = await startServer("node", [
    new URL("../tests/peers/h2_ws_echo.mjs", import.meta.url).pathname,
    "tls",
    cert,
    key,
    `max-streams=${count + 10}`,
  ]);
  const h1 = await startServer(denoCommand(), [
    "run",
    "--allow-net=127.0.0.1",
    "--allow-read=.",
    new URL("./servers/deno_echo_server.ts", import.meta.url).pathname,
    "--tls",
    cert,
    key,
  ]);
  const results = new Map<ClientKind, ClientResult[]>();
  try {
    for (let run = 0; run < Number(values.runs); run++) {
      for (
        const [kind, port] of [
          ["wsnc-h2", h2.port],
          ["wsnc-h1", h1.port],
          ["deno", h1.port],
        ] as const
      ) {
        const r = await spawnClient(kind, `wss://localhost:${port}/`, count);
        results.set(kind, [...results.get(kind) ?? [], r]);
      }
    }
  } finally {
    await h2.stop();
    await h1.stop();
  }
  const labels: Record<ClientKind, string> = {
    "wsnc-h2": "wsnc, HTTP/2 (one connection)",
    "wsnc-h1": "wsnc, HTTP/1.1 (one TLS each)",
    "deno": "Deno WebSocket, HTTP/1.1",
  };
  console.log(
    `${count} WebSockets to one wss:// origin, median of ${values.runs} runs`,
  );
  console.log(
    "| client | open all (ms) | RSS per WebSocket (KiB) | one 64 B echo round (ms) |",
  );
  console.log("| --- | ---: | ---: | ---: |");
  for (const [kind, rs] of results) {
    console.log(
      `| ${labels[kind]} | ${median(rs.map((r) => r.openMs)).toFixed(0)} | ${
        median(rs.map((r) => r.rssPerSocketKiB)).toFixed(1)
      } | ${median(rs.map((r) => r.echoMs)).toFixed(1)} |`,
    );
  }
}

if (import.meta.main) await main();
