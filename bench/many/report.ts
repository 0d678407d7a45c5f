/**
 * The many-connections benchmark's results: what one measured pair of
 * processes gives, and the Markdown tables (one cell per run, "a / b").
 *
 * @module
 */

import { formatNumber } from "../report.ts";

/** The implementations measured, on either side. */
export const IMPLS = ["wsnc", "deno", "ws"] as const;
/** One of {@linkcode IMPLS}. */
export type Impl = typeof IMPLS[number];

/** A sample from runtime.mjs: memory in bytes, CPU in µs. */
export interface Sample {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  cpuUs: number;
}

/** One client process against one server process, N connections. */
export interface PairResult {
  n: number;
  /** 1, 2, …: the repetition of this size. */
  run: number;
  client: Impl;
  server: Impl;
  error?: string;
  /** Connections that got their echo (all n, or the run failed). */
  echoed?: number;
  /** Time to open all n (handshakes done), ms. */
  openMs?: number;
  /** Time from the first send to the last echo of the round, ms. */
  roundMs?: number;
  /** RSS growth per connection over the process before any connection, KiB. */
  clientIdleKiB?: number;
  clientRoundKiB?: number;
  /** Client CPU (user + system) of opening plus the round, per connection, µs. */
  clientCpuUs?: number;
  serverIdleKiB?: number;
  serverRoundKiB?: number;
  /** Server CPU from before the first connection to after the round, per connection, µs. */
  serverCpuUs?: number;
  /** The samples these come from. */
  samples?: {
    client: { before: Sample; idle: Sample; after: Sample };
    server: { before: Sample; idle: Sample; after: Sample };
  };
}

/** Names in the tables; `ws` says which runtime it ran under. */
export function clientLabel(impl: Impl, wsUnder: string): string {
  return {
    wsnc: "wsnc connect()",
    deno: "Deno WebSocket",
    ws: `ws (${wsUnder})`,
  }[impl];
}

/** Names of the servers in the tables. */
export function serverLabel(impl: Impl, wsUnder: string): string {
  return {
    wsnc: "wsnc acceptWebSocket",
    deno: "Deno.serve + upgradeWebSocket",
    ws: `ws WebSocketServer (${wsUnder})`,
  }[impl];
}

/** The values of every run, "a / b"; a failed run shows as "failed". */
function cell(rows: PairResult[], pick: (r: PairResult) => number | undefined) {
  return rows.map((r) => r.error ? "failed" : formatNumber(pick(r))).join(
    " / ",
  );
}

/** One line per failed run, for under the tables. */
export function failureLines(rows: PairResult[], wsUnder: string): string[] {
  return rows.filter((r) => r.error).map((r) =>
    `- failed: N = ${r.n.toLocaleString("en-US")}, run ${r.run}, ${
      clientLabel(r.client, wsUnder)
    } → ${serverLabel(r.server, wsUnder)}: ${r.error}`
  );
}

function mean(
  rows: PairResult[],
  pick: (r: PairResult) => number | undefined,
): number | undefined {
  const values = rows.filter((r) => !r.error).map(pick).filter((v) =>
    v !== undefined
  ) as number[];
  if (values.length === 0) return undefined;
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || b <= 0) return "—";
  return `${(a / b).toFixed(2)}×`;
}

function pairRows(rows: PairResult[], client: Impl, server: Impl) {
  return rows.filter((r) => r.client === client && r.server === server)
    .sort((a, b) => a.run - b.run);
}

/**
 * Clients against one server: per-connection RSS idle and after the round,
 * times, CPU, and the ratios to Deno's client that the targets are about.
 */
export function clientTable(
  rows: PairResult[],
  clients: Impl[],
  server: Impl,
  wsUnder: string,
): string {
  const lines = [
    "| client → server | RSS/conn idle (KiB) | RSS/conn after round (KiB) | open N (ms) | echo round (ms) | CPU/conn (µs) | vs Deno client: RSS idle, after round, open, round |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const deno = pairRows(rows, "deno", server);
  for (const client of clients) {
    const runs = pairRows(rows, client, server);
    if (runs.length === 0) continue;
    const vs = [
      (r: PairResult) => r.clientIdleKiB,
      (r: PairResult) => r.clientRoundKiB,
      (r: PairResult) => r.openMs,
      (r: PairResult) => r.roundMs,
    ].map((pick) => ratio(mean(runs, pick), mean(deno, pick))).join(", ");
    lines.push(
      `| ${clientLabel(client, wsUnder)} → ${serverLabel(server, wsUnder)} | ${
        cell(runs, (r) => r.clientIdleKiB)
      } | ${cell(runs, (r) => r.clientRoundKiB)} | ${
        cell(runs, (r) => r.openMs)
      } | ${cell(runs, (r) => r.roundMs)} | ${
        cell(runs, (r) => r.clientCpuUs)
      } | ${vs} |`,
    );
  }
  return lines.join("\n");
}

/** Servers, each with the clients that ran against it. */
export function serverTable(
  rows: PairResult[],
  servers: Impl[],
  wsUnder: string,
): string {
  const lines = [
    "| server ← client | RSS/conn idle (KiB) | RSS/conn after round (KiB) | server CPU/conn (µs) | vs Deno.serve (same client): RSS idle, after round |",
    "| --- | ---: | ---: | ---: | ---: |",
  ];
  for (const server of servers) {
    for (const client of IMPLS) {
      const runs = pairRows(rows, client, server);
      if (runs.length === 0) continue;
      const deno = pairRows(rows, client, "deno");
      const vs = [
        (r: PairResult) => r.serverIdleKiB,
        (r: PairResult) => r.serverRoundKiB,
      ].map((pick) => ratio(mean(runs, pick), mean(deno, pick))).join(", ");
      lines.push(
        `| ${serverLabel(server, wsUnder)} ← ${
          clientLabel(client, wsUnder)
        } | ${cell(runs, (r) => r.serverIdleKiB)} | ${
          cell(runs, (r) => r.serverRoundKiB)
        } | ${cell(runs, (r) => r.serverCpuUs)} | ${vs} |`,
      );
    }
  }
  return lines.join("\n");
}
