/**
 * CPU seconds and peak RSS of compressed receiving (issue 13 items 7 and 8),
 * each workload in a fresh process (`tests/children/inflate_cost.ts`, which
 * also backs the memory tests): a 256 MiB deflate bomb read through recv(),
 * and 1M messages ending in BFINAL blocks against the sync-flushed baseline.
 * Prints a Markdown table of the median of `--runs` runs (default 3).
 *
 *     deno run --allow-run=deno --allow-read=. bench/inflate_cost.ts [--runs N] [--quick]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { denoCommand } from "./deno_command.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    quick: { type: "boolean", default: false },
  },
});
const runs = Number(values.runs);
const scale = values.quick ? 10 : 1;
const CHILD = new URL("../tests/children/inflate_cost.ts", import.meta.url);

const WORKLOADS: [name: string, n: number, what: string][] = [
  [
    "bomb",
    256 * 1024 * 1024 / scale,
    "256 MiB of zeros, one message, recv() 64 KiB",
  ],
  ["sync", 1_000_000 / scale, "1M empty messages `00` (sync flush, baseline)"],
  ["bfinal", 1_000_000 / scale, "1M empty messages `03 00` (BFINAL), takeover"],
  ["bfinal-reset", 1_000_000 / scale, "the same, server_no_context_takeover"],
  ["bfinal-hello", 1_000_000 / scale, '1M "Hello" messages ending in BFINAL'],
];

interface Result {
  cpu: number;
  peak: number;
  badAt: number;
}

async function once(workload: string, n: number): Promise<Result> {
  const out = await new Deno.Command(denoCommand(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read=.",
      CHILD.pathname,
      workload,
      String(n),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  if (out.code !== 0) throw new Error(text.decode(out.stderr));
  return JSON.parse(text.decode(out.stdout).trim().split("\n").at(-1)!);
}

const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[xs.length >> 1];

console.log("| workload | CPU s | peak RSS MiB |");
console.log("| -------- | ----: | -----------: |");
for (const [name, n, what] of WORKLOADS) {
  const results: Result[] = [];
  for (let i = 0; i < runs; i++) results.push(await once(name, n));
  if (results.some((r) => r.badAt !== -1)) {
    throw new Error(`${name}: wrong bytes`);
  }
  const cpu = median(results.map((r) => r.cpu)).toFixed(2);
  const peak = (median(results.map((r) => r.peak)) / 2 ** 20).toFixed(0);
  console.log(`| ${what} | ${cpu} | ${peak} |`);
}
