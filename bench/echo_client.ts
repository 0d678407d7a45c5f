/**
 * One benchmarked client in its own process, started by echo.ts. It opens a
 * connection, does one job, and prints one JSON line ({@linkcode ClientResult})
 * on stdout. CPU time is this process's user+system time (getrusage, via
 * node:process cpuUsage) over the job alone, connection setup excluded.
 *
 * Usage: deno run --allow-net=127.0.0.1 bench/echo_client.ts '<ClientJob as JSON>'
 *
 * Why not /proc/self/stat and /proc/self/status: Deno 2.9 demands --allow-all
 * to read them. `process.cpuUsage()` and `process.resourceUsage().maxRSS`
 * come from getrusage(2) and need no permission; ru_maxrss is the same peak
 * resident set size that /proc/self/status reports as VmHWM.
 *
 * @module
 */

import process from "node:process";
import type { BenchSession, OpenSession } from "./clients/session.ts";

/** Clients echo.ts knows, by id. */
export const CLIENT_IDS = [
  "deno",
  "npm-ws",
  "wsnc-recv",
  "wsnc-perform",
  "tcp",
] as const;
/** Id of a benchmarked client. */
export type ClientId = typeof CLIENT_IDS[number];

/** What one client process is asked to do. */
export interface ClientJob {
  client: ClientId;
  /** echo: windowed throughput; latency: sequential round trips; stream: receive one big message. */
  mode: "echo" | "latency" | "stream";
  /** ws://127.0.0.1:PORT/ or, for the tcp client, tcp://127.0.0.1:PORT */
  url: string;
  /** Message size in bytes (echo, latency). */
  size: number;
  /** Messages (echo) or measured round trips (latency). */
  count: number;
  /** Messages in flight (echo). */
  window: number;
  /** Unmeasured round trips before the measured ones (latency). */
  warmup: number;
  /** recv() buffer size (stream). */
  bufferSize: number;
}

/** What one client process reports. */
export interface ClientResult {
  /** Wall time of the job in ms. */
  ms: number;
  /** CPU time of this process during the job, µs. */
  userUs: number;
  systemUs: number;
  /** Messages echoed, round trips made, or bytes streamed. */
  count: number;
  /** Payload bytes echoed or streamed (each byte counted once). */
  bytes: number;
  /** Peak RSS (KiB) when the job started and when it ended. */
  peakRssBeforeKiB: number;
  peakRssAfterKiB: number;
  /** Round trip percentiles in µs (latency mode). */
  p50Us?: number;
  p99Us?: number;
}

async function loadClient(id: ClientId): Promise<OpenSession> {
  // Loaded on demand so a process only ever loads the client it measures.
  switch (id) {
    case "deno":
      return (await import("./clients/deno_websocket.ts")).open;
    case "npm-ws":
      return (await import("./clients/npm_ws.ts")).open;
    case "wsnc-recv":
      return (await import("./clients/wsnc_recv.ts")).open;
    case "wsnc-perform":
      return (await import("./clients/wsnc_perform.ts")).open;
    case "tcp":
      return (await import("./clients/tcp.ts")).open;
  }
}

/** A payload with varied bytes, so nothing can shortcut all-zero data. */
export function patternedPayload(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 131 + 17) & 0xff;
  return out;
}

/** The value below which `fraction` of the sorted `values` lie. */
export function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return NaN;
  const at = Math.min(
    sorted.length - 1,
    Math.ceil(fraction * sorted.length) - 1,
  );
  return sorted[Math.max(0, at)];
}

/** Runs `job` on an open `session` and measures it (CPU over the job alone). */
export async function runJob(
  job: ClientJob,
  session: BenchSession,
): Promise<ClientResult> {
  const payload = job.mode === "stream" ? null : patternedPayload(job.size);
  if (job.mode === "latency" && job.warmup > 0) {
    await session.pingPong(payload!, new Float64Array(job.warmup));
  }
  const rtts = job.mode === "latency" ? new Float64Array(job.count) : null;

  const peakRssBeforeKiB = process.resourceUsage().maxRSS;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let bytes: number;
  switch (job.mode) {
    case "echo":
      await session.echo(payload!, job.count, job.window);
      bytes = job.size * job.count;
      break;
    case "latency":
      await session.pingPong(payload!, rtts!);
      bytes = job.size * job.count;
      break;
    case "stream":
      if (!session.stream) throw new Error(`${job.client} cannot stream`);
      bytes = await session.stream(job.bufferSize);
      break;
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const result: ClientResult = {
    ms,
    userUs: cpu.user,
    systemUs: cpu.system,
    count: job.mode === "stream" ? 1 : job.count,
    bytes,
    peakRssBeforeKiB,
    peakRssAfterKiB: process.resourceUsage().maxRSS,
  };
  if (rtts) {
    rtts.sort();
    result.p50Us = percentile(rtts, 0.5) * 1000;
    result.p99Us = percentile(rtts, 0.99) * 1000;
  }
  return result;
}

async function main(): Promise<void> {
  const job = JSON.parse(Deno.args[0]) as ClientJob;
  const open = await loadClient(job.client);
  const session = await open(job.url);
  const result = await runJob(job, session);
  await session.close();
  console.log(JSON.stringify(result));
  // Some clients keep timers or sockets referenced after close; the result
  // is out, so end here rather than wait for them.
  Deno.exit(0);
}

if (import.meta.main) {
  try {
    await main();
  } catch (err) {
    console.error(
      err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    );
    Deno.exit(1);
  }
}
