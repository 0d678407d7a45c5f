/**
 * TCP tunnel throughput and memory: N MiB from this process through a
 * relay to a sink in this process, over loopback, for three relays:
 *
 * - `direct`: no relay (the source writes to the sink);
 * - `socat`: one `socat` TCP relay, the plain-TCP ceiling for a relay;
 * - `wsnc`: `cli.ts --from-tcp` → WebSocket → `cli.ts --listen --to-tcp`.
 *
 * Relays run under `/usr/bin/time -f '%M KB'` for their peak RSS (both wsnc
 * processes use `--once`, so they exit by themselves).
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read=. \
 *   --allow-run=deno,socat,/usr/bin/time,$(deno eval 'console.log(Deno.execPath())') \
 *   bench/tunnel.ts [--size MiB] [--runs N]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { denoCommand } from "./deno_command.ts";

const MiB = 1024 * 1024;
const CLI = new URL("../cli.ts", import.meta.url).pathname;
const { values } = parseArgs({
  args: Deno.args,
  options: { size: { type: "string" }, runs: { type: "string" } },
});
const size = Number(values.size ?? 100) * MiB;
const runs = Number(values.runs ?? 3);

/** A relay process: its stderr collected, peak RSS read from `time`. */
interface Relay {
  proc: Deno.ChildProcess;
  name: string;
  stderr: Promise<string>;
}

function startRelay(name: string, argv: string[]): Relay {
  const proc = new Deno.Command("/usr/bin/time", {
    args: ["-f", "%M KB", ...argv],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  return { proc, name, stderr: new Response(proc.stderr).text() };
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

/** Sends `size` bytes to `port` and resolves with the seconds the sink took. */
async function transfer(port: number, sink: Sink): Promise<number> {
  const chunk = new Uint8Array(MiB);
  crypto.getRandomValues(chunk.subarray(0, 65536));
  for (let i = 65536; i < MiB; i += 65536) chunk.copyWithin(i, 0, 65536);
  const started = performance.now();
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  const done = sink.next();
  for (let sent = 0; sent < size; sent += chunk.length) {
    for (let off = 0; off < chunk.length;) {
      off += await tcp.write(chunk.subarray(off));
    }
  }
  tcp.closeWrite();
  const got = await done;
  const seconds = (performance.now() - started) / 1000;
  tcp.close();
  if (got !== size) throw new Error(`sink got ${got} of ${size} bytes`);
  return seconds;
}

/** The sink: counts the bytes of each connection until its EOF. */
interface Sink {
  port: number;
  next(): Promise<number>;
  close(): void;
}

function startSink(): Sink {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return {
    port: listener.addr.port,
    async next() {
      const conn = await listener.accept();
      const buf = new Uint8Array(256 * 1024);
      let total = 0;
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        total += n;
      }
      conn.close();
      return total;
    },
    close: () => listener.close(),
  };
}

function rss(stderr: string): number {
  return Number(/(\d+) KB\s*$/.exec(stderr)?.[1] ?? NaN) / 1024;
}

interface Row {
  relay: string;
  seconds: number[];
  rssMiB: number[][];
}

async function runOnce(kind: string, sink: Sink): Promise<[number, number[]]> {
  if (kind === "direct") return [await transfer(sink.port, sink), []];
  if (kind === "socat") {
    const port = freePort();
    const relay = startRelay("socat", [
      "socat",
      `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr`,
      `TCP:127.0.0.1:${sink.port}`,
    ]);
    await waitForPortOnce(port, "socat", relay);
    const s = await transfer(port, sink);
    await relay.proc.status;
    return [s, [rss(await relay.stderr)]];
  }
  const wsPort = freePort();
  const tcpPort = freePort();
  const wsnc = (name: string, args: string[]) =>
    startRelay(name, [
      denoCommand(),
      "run",
      "--allow-net=127.0.0.1",
      CLI,
      "--quiet",
      "--once",
      ...args,
    ]);
  const server = wsnc("wsnc --to-tcp", [
    "--listen",
    `127.0.0.1:${wsPort}`,
    "--to-tcp",
    `127.0.0.1:${sink.port}`,
  ]);
  const client = wsnc("wsnc --from-tcp", [
    "--from-tcp",
    `127.0.0.1:${tcpPort}`,
    `ws://127.0.0.1:${wsPort}/`,
  ]);
  await waitForPortOnce(wsPort, "wsnc --to-tcp", server);
  await waitForPortOnce(tcpPort, "wsnc --from-tcp", client);
  const s = await transfer(tcpPort, sink);
  await Promise.all([client.proc.status, server.proc.status]);
  return [s, [rss(await client.stderr), rss(await server.stderr)]];
}

/**
 * Waits until the relay listens on `port` without using up its one
 * connection: a connect probe would be it, so try to bind the port instead
 * (a port someone listens on cannot be bound).
 */
async function waitForPortOnce(
  port: number,
  name: string,
  relay: Relay,
): Promise<void> {
  for (let i = 0; i < 400; i++) {
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
    } catch {
      return; // bound by the relay
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  relay.proc.kill();
  throw new Error(`${name} did not listen on ${port}: ${await relay.stderr}`);
}

const sink = startSink();
const rows: Row[] = [];
for (const kind of ["direct", "socat", "wsnc"]) {
  const row: Row = { relay: kind, seconds: [], rssMiB: [] };
  for (let i = 0; i < runs; i++) {
    const [s, r] = await runOnce(kind, sink);
    row.seconds.push(s);
    row.rssMiB.push(r);
  }
  rows.push(row);
}
sink.close();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(
  `${size / MiB} MiB over loopback, ${runs} runs each (median, then min-max)\n`,
);
console.log("| relay | MB/s | MiB/s | s | peak RSS of the relay process(es) |");
console.log("| --- | ---: | ---: | ---: | --- |");
for (const row of rows) {
  const s = median(row.seconds);
  const rates = row.seconds.map((x) => size / x / 1e6);
  const peak = row.rssMiB[0].map((_, i) =>
    `${
      Math.max(...row.rssMiB.map((r) => r[i])).toFixed(0)
    } MiB`
  ).join(" + ") || "-";
  console.log(
    `| ${row.relay} | ${(size / s / 1e6).toFixed(0)} (${
      Math.min(...rates).toFixed(0)
    }-${Math.max(...rates).toFixed(0)}) | ${(size / s / MiB).toFixed(0)} | ${
      s.toFixed(2)
    } | ${peak} |`,
  );
}
