/**
 * Turns client results into the numbers and Markdown tables echo.ts prints.
 *
 * @module
 */

import type { ClientId, ClientResult } from "./echo_client.ts";

/** Table names of the clients. */
export const CLIENT_LABELS: Record<ClientId, string> = {
  "deno": "Deno WebSocket (built-in)",
  "npm-ws": "npm:ws@8 client",
  "wsnc-recv": "wsnc connect() + recv/send",
  "wsnc-perform": "wsnc perform()",
  "tcp": "plain TCP, no WebSocket (ceiling)",
};

/** One client on one echo row. */
export interface EchoRow {
  row: string;
  size: number;
  count: number;
  client: ClientId;
  label: string;
  error?: string;
  msgPerSec?: number;
  /** Payload MB (10^6 bytes) echoed per second, each byte counted once. */
  mbPerSec?: number;
  cpuUsPerMsg?: number;
  /** msg/s of this client divided by Deno's on the same row (>1: faster). */
  msgPerSecVsDeno?: number;
  /** CPU per message of this client divided by Deno's (<1: cheaper). */
  cpuVsDeno?: number;
  raw?: ClientResult;
}

/** One client in the latency test. */
export interface LatencyRow {
  client: ClientId;
  label: string;
  error?: string;
  p50Us?: number;
  p99Us?: number;
  cpuUsPerRoundTrip?: number;
  raw?: ClientResult;
}

/** One client in the memory test. */
export interface MemoryRow {
  client: ClientId;
  label: string;
  bytes: number;
  bufferSize: number;
  error?: string;
  peakRssBeforeMiB?: number;
  peakRssAfterMiB?: number;
  mbPerSec?: number;
  raw?: ClientResult;
}

/** Fills in the derived numbers of an echo row from its raw result. */
export function echoNumbers(row: EchoRow, result: ClientResult): void {
  const seconds = result.ms / 1000;
  row.raw = result;
  row.msgPerSec = result.count / seconds;
  row.mbPerSec = result.bytes / 1e6 / seconds;
  row.cpuUsPerMsg = (result.userUs + result.systemUs) / result.count;
}

/** Sets the ratios to Deno's client for every row of the same message size. */
export function addRatios(rows: EchoRow[]): void {
  for (const row of rows) {
    const deno = rows.find((r) => r.row === row.row && r.client === "deno");
    if (!deno?.msgPerSec || !row.msgPerSec) continue;
    row.msgPerSecVsDeno = row.msgPerSec / deno.msgPerSec;
    if (deno.cpuUsPerMsg && row.cpuUsPerMsg) {
      row.cpuVsDeno = row.cpuUsPerMsg / deno.cpuUsPerMsg;
    }
  }
}

/** "64 B", "16 KiB", "1 MiB". */
export function formatSize(bytes: number): string {
  if (bytes >= 1 << 30 && bytes % (1 << 30) === 0) {
    return `${bytes / (1 << 30)} GiB`;
  }
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) {
    return `${bytes / (1 << 20)} MiB`;
  }
  if (bytes >= 1 << 10 && bytes % (1 << 10) === 0) {
    return `${bytes / (1 << 10)} KiB`;
  }
  return `${bytes} B`;
}

/** Rounds to 3 significant digits, with thousands separators above 1000. */
export function formatNumber(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return "—";
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString("en-US");
  return Number(value.toPrecision(3)).toString();
}

function ratio(value: number | undefined): string {
  return value === undefined ? "—" : `${value.toFixed(2)}×`;
}

function failed(error: string): string {
  return `failed: ${error.replaceAll("|", "/")}`;
}

/** The echo throughput table. */
export function echoTable(rows: EchoRow[]): string {
  const lines = [
    "| message × count | client | msg/s | MB/s | client CPU µs/msg | msg/s vs Deno | CPU/msg vs Deno |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of rows) {
    const what = `${formatSize(r.size)} × ${r.count.toLocaleString("en-US")}`;
    if (r.error) {
      lines.push(`| ${what} | ${r.label} | ${failed(r.error)} | | | | |`);
      continue;
    }
    lines.push(
      `| ${what} | ${r.label} | ${formatNumber(r.msgPerSec)} | ${
        formatNumber(r.mbPerSec)
      } | ` +
        `${formatNumber(r.cpuUsPerMsg)} | ${ratio(r.msgPerSecVsDeno)} | ${
          ratio(r.cpuVsDeno)
        } |`,
    );
  }
  return lines.join("\n");
}

/** The ping-pong latency table. */
export function latencyTable(rows: LatencyRow[]): string {
  const lines = [
    "| client | p50 µs | p99 µs | client CPU µs/round trip |",
    "| --- | ---: | ---: | ---: |",
  ];
  for (const r of rows) {
    if (r.error) lines.push(`| ${r.label} | ${failed(r.error)} | | |`);
    else {
      lines.push(
        `| ${r.label} | ${formatNumber(r.p50Us)} | ${
          formatNumber(r.p99Us)
        } | ` +
          `${formatNumber(r.cpuUsPerRoundTrip)} |`,
      );
    }
  }
  return lines.join("\n");
}

/** The streaming memory table. */
export function memoryTable(rows: MemoryRow[]): string {
  const lines = [
    "| client | message | recv buffer | peak RSS before (MiB) | peak RSS after (MiB) | MB/s |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of rows) {
    const buffer = r.bufferSize > 0 ? formatSize(r.bufferSize) : "library's";
    const what = `| ${r.label} | ${formatSize(r.bytes)} | ${buffer} |`;
    if (r.error) lines.push(`${what} ${failed(r.error)} | | |`);
    else {
      const before = formatNumber(r.peakRssBeforeMiB);
      const after = formatNumber(r.peakRssAfterMiB);
      lines.push(
        `${what} ${before} | ${after} | ${formatNumber(r.mbPerSec)} |`,
      );
    }
  }
  return lines.join("\n");
}

/**
 * Writes a benchmark's numbers as JSON to `target` (`-`: stdout, after the
 * tables), headed by the date, the Deno and V8 versions and the core count.
 */
export async function writeJsonReport(
  target: string,
  numbers: Record<string, unknown>,
): Promise<void> {
  const { deno, v8 } = Deno.version;
  const json = JSON.stringify(
    {
      date: new Date().toISOString(),
      deno,
      v8,
      cores: navigator.hardwareConcurrency,
      ...numbers,
    },
    null,
    2,
  );
  if (target === "-") console.log(json);
  else await Deno.writeTextFile(target, json + "\n");
}
