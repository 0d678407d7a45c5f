/**
 * Runs bench/codec_bench.ts with `deno bench --json` and prints a Markdown
 * table with throughput: GB/s (10^9 bytes per second) for benches whose name
 * holds a size ("1 MiB"), and million items per second for names ending in
 * "xN" (N items per iteration).
 *
 * Usage (from the repository root):
 *
 *   deno run --allow-run=deno bench/codec_gbps.ts [--filter TEXT]
 *
 * @module
 */

import { denoCommand } from "./deno_command.ts";

interface BenchStats {
  n: number;
  avg: number; // ns per iteration
  p75: number;
}

interface BenchEntry {
  group: string | null;
  name: string;
  results: ({ ok: BenchStats } | { failed: unknown })[];
}

const UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 * 1024 };

/** Bytes one iteration handles, from a name like "mask 64 KiB", or null. */
export function bytesFromName(name: string): number | null {
  const m = name.match(/(\d+) (B|KiB|MiB)\b/g);
  if (!m) return null;
  // The last size in the name is the one processed ("len 16 KiB x1000" has
  // an item count, handled by itemsFromName, and is not a byte count).
  if (/ x\d+$/.test(name)) return null;
  const [num, unit] = m[m.length - 1].split(" ");
  return Number(num) * UNITS[unit];
}

/** Items one iteration handles, from a name ending in "xN", or null. */
export function itemsFromName(name: string): number | null {
  const m = name.match(/ x(\d+)$/);
  return m ? Number(m[1]) : null;
}

/** Formats one bench as a Markdown table row. */
export function formatRow(name: string, stats: BenchStats): string {
  const bytes = bytesFromName(name);
  const items = itemsFromName(name);
  let throughput = "";
  if (bytes !== null) {
    throughput = `${(bytes / stats.avg).toFixed(2)} GB/s`;
  } else if (items !== null) {
    throughput = `${(items / stats.avg * 1e3).toFixed(1)} M/s (${
      (stats.avg / items).toFixed(1)
    } ns each)`;
  }
  return `| ${name} | ${formatNs(stats.avg)} | ${throughput} |`;
}

function formatNs(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(1)} ns`;
}

async function main(): Promise<void> {
  const filterAt = Deno.args.indexOf("--filter");
  const filter = filterAt >= 0 ? ["--filter", Deno.args[filterAt + 1]] : [];
  const benchFile = new URL("./codec_bench.ts", import.meta.url).pathname;
  const out = await new Deno.Command(denoCommand(), {
    args: ["bench", "--json", "--allow-read=.", ...filter, benchFile],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) {
    console.error(`deno bench failed with exit code ${out.code}`);
    Deno.exit(1);
  }
  const report = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    runtime: string;
    cpu: string;
    benches: BenchEntry[];
  };
  console.log(`${report.runtime}, CPU: ${report.cpu}\n`);
  console.log("| bench | time/iter (avg) | throughput |");
  console.log("| --- | --- | --- |");
  for (const bench of report.benches) {
    const result = bench.results[0];
    if (result && "ok" in result) console.log(formatRow(bench.name, result.ok));
    else console.log(`| ${bench.name} | failed | |`);
  }
}

if (import.meta.main) await main();
