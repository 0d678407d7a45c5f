/**
 * Smoke test of the echo benchmark: `bench/echo.ts --quick` must run every
 * client against real servers and report a measurement for each. No timing
 * is asserted, only that every row was measured and adds up.
 */

import assert from "node:assert/strict";
import { denoCommand } from "../bench/deno_command.ts";
import {
  CLIENT_LABELS,
  type EchoRow,
  type LatencyRow,
  type MemoryRow,
} from "../bench/report.ts";
import type { Impl, PairResult } from "../bench/many/report.ts";

const ECHO_SCRIPT = new URL("../bench/echo.ts", import.meta.url).pathname;
const RUN_LIMIT_MS = 240_000;

/**
 * Runs `deno run --no-prompt ARGS` within RUN_LIMIT_MS, asserts that it
 * succeeded and returns its stdout.
 */
async function runDeno(args: string[]): Promise<string> {
  const out = await new Deno.Command(denoCommand(), {
    args: ["run", "--no-prompt", ...args],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(RUN_LIMIT_MS),
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `${args.join(" ")} failed:\n${stderr}\n${stdout}`);
  return stdout;
}

/** Splits a `--json -` output into the tables and the JSON after them. */
function tablesAndJson<T>(stdout: string): { tables: string; report: T } {
  const jsonStart = stdout.indexOf("\n{");
  assert.ok(jsonStart > 0, `no JSON after the tables:\n${stdout}`);
  return {
    tables: stdout.slice(0, jsonStart),
    report: JSON.parse(stdout.slice(jsonStart)) as T,
  };
}

Deno.test("bench/echo.ts --quick measures every client and prints the tables", async () => {
  // echo.ts starts its servers and clients with deno again: grant both the
  // name on PATH and the resolved binary (see bench/deno_command.ts).
  const stdout = await runDeno([
    `--allow-run=deno,${Deno.execPath()}`,
    ECHO_SCRIPT,
    "--quick",
    "--json",
    "-",
  ]);
  // Tables first, then the same numbers as JSON (--json -).
  const { tables, report } = tablesAndJson<{
    echo: EchoRow[];
    latency: LatencyRow[];
    memory: MemoryRow[];
  }>(stdout);

  assert.ok(!tables.includes("failed:"), `a measurement failed:\n${tables}`);
  const echoTable = tables.slice(
    tables.indexOf("## Echo"),
    tables.indexOf("## Latency"),
  );
  const latencyTable = tables.slice(
    tables.indexOf("## Latency"),
    tables.indexOf("## Memory"),
  );
  for (const label of Object.values(CLIENT_LABELS)) {
    assert.match(
      echoTable,
      new RegExp(`\\| ${escape(label)} \\| [0-9]`),
      `echo row of ${label}`,
    );
    assert.match(
      latencyTable,
      new RegExp(`\\| ${escape(label)} \\| [0-9]`),
      `latency ${label}`,
    );
  }
  assert.match(
    tables,
    /\| wsnc connect\(\) \+ recv\/send \| 16 MiB \| 64 KiB \| [0-9]/,
  );

  // Four rows (64 B, 16 KiB, 1 MiB, 4 MiB in quick mode) for each of the 5 clients.
  assert.equal(report.echo.length, 4 * 5);
  for (const row of report.echo) {
    assert.equal(row.raw?.count, row.count, `${row.label} ${row.row}`);
    assert.equal(
      row.raw?.bytes,
      row.size * row.count,
      `${row.label} ${row.row}`,
    );
    assert.ok(
      row.msgPerSec! > 0 && row.cpuUsPerMsg! > 0,
      `${row.label} ${row.row}`,
    );
  }
  for (const row of report.latency) {
    assert.ok(row.p50Us! > 0 && row.p99Us! >= row.p50Us!, row.label);
  }
  assert.equal(report.memory.length, 2);
  for (const row of report.memory) {
    assert.equal(row.raw?.bytes, 16 * 1024 * 1024, row.label);
    assert.ok(row.peakRssAfterMiB! >= row.peakRssBeforeMiB!, row.label);
  }
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

for (
  const [server, label] of [
    ["wsnc", /server: wsnc streaming echo/],
    ["deno", /server: Deno's built-in server/],
  ] as const
) {
  Deno.test(`bench/echo.ts --server ${server}: the echo server serves every row`, async () => {
    const stdout = await runDeno([
      `--allow-run=deno,${Deno.execPath()}`,
      ECHO_SCRIPT,
      "--quick",
      "--server",
      server,
      "--clients",
      "wsnc-recv,deno",
      "--parts",
      "echo",
      "--timeout",
      "60",
    ]);
    assert.match(stdout, label);
    assert.ok(!stdout.includes("failed:"), stdout);
    for (const size of ["64 B", "16 KiB", "1 MiB"]) {
      assert.match(
        stdout,
        new RegExp(
          `\\| ${size} × [0-9,]+ \\| wsnc connect\\(\\) \\+ recv/send \\| [0-9]`,
        ),
        `${size} row`,
      );
    }
  });
}

const MANY_SCRIPT = new URL("../bench/many.ts", import.meta.url).pathname;
const MANY_N = 20;

Deno.test(`bench/many.ts --sizes ${MANY_N}: every client and server opens, echoes and is measured`, async () => {
  // node runs npm:ws where it is installed (else ws runs under Deno);
  // prlimit sets the children's open-file limit where it exists.
  const stdout = await runDeno([
    `--allow-run=deno,${Deno.execPath()},node,prlimit`,
    MANY_SCRIPT,
    "--sizes",
    String(MANY_N),
    "--timeout",
    "60",
    "--json",
    "-",
  ]);
  const { tables, report } = tablesAndJson<{
    results: PairResult[];
    labels: Record<Impl, { client: string; server: string }>;
  }>(stdout);

  assert.ok(!tables.includes("failed:"), `a run failed:\n${tables}`);
  // Each client against Deno's server, Deno's client against each server.
  const pairs = report.results.map((r) => `${r.client}→${r.server}`);
  assert.deepEqual(pairs, [
    "wsnc→deno",
    "deno→deno",
    "ws→deno",
    "deno→wsnc",
    "deno→ws",
  ]);
  for (const r of report.results) {
    const what = `${r.client} → ${r.server}`;
    assert.equal(r.error, undefined, what);
    assert.equal(r.n, MANY_N, what);
    assert.equal(r.echoed, MANY_N, `${what}: every connection echoed`);
    for (const key of ["openMs", "roundMs"]) {
      const value = r[key as keyof PairResult] as number;
      assert.ok(
        value > 0 && Number.isFinite(value),
        `${what}: ${key} ${value}`,
      );
    }
    for (const key of ["clientCpuUs", "serverCpuUs"]) {
      // CPU comes in clock ticks (10 ms) for some sides: serving 20
      // connections can take less than one.
      const value = r[key as keyof PairResult] as number;
      assert.ok(
        value >= 0 && Number.isFinite(value),
        `${what}: ${key} ${value}`,
      );
    }
    for (
      const key of [
        "clientIdleKiB",
        "clientRoundKiB",
        "serverIdleKiB",
        "serverRoundKiB",
      ]
    ) {
      const value = r[key as keyof PairResult] as number;
      // A delta of RSS over 20 connections may be 0 or below after a GC.
      assert.ok(Number.isFinite(value), `${what}: ${key} ${value}`);
    }
    for (const side of [r.samples!.client, r.samples!.server]) {
      for (const s of [side.before, side.idle, side.after]) {
        assert.ok(
          s.rss > 0 && s.cpuUs > 0,
          `${what}: a sample ${JSON.stringify(s)}`,
        );
      }
      assert.ok(
        side.after.cpuUs >= side.before.cpuUs,
        `${what}: CPU goes forward`,
      );
    }
  }
  // The first cell is an RSS delta per connection: over 20 connections a GC
  // can make it negative.
  for (const impl of ["wsnc", "deno", "ws"] as const) {
    const { client, server } = report.labels[impl];
    assert.match(
      tables,
      new RegExp(`\\| ${escape(client)} → [^|]+ \\| -?[0-9]`),
      client,
    );
    assert.match(
      tables,
      new RegExp(`\\| ${escape(server)} ← [^|]+ \\| -?[0-9]`),
      server,
    );
  }
});

Deno.test("bench/many_heap.ts --n 20: per-connection heap and ArrayBuffer tables of a wsnc client", async () => {
  const stdout = await runDeno([
    `--allow-run=deno,${Deno.execPath()},node`,
    "--allow-net=127.0.0.1",
    new URL("../bench/many_heap.ts", import.meta.url).pathname,
    "--n",
    "20",
  ]);
  const sections = stdout.split("\n## ").slice(1);
  assert.equal(sections.length, 2, stdout);
  for (const section of sections) {
    // Every connection holds some JS objects; it need not hold a buffer of
    // its own (a design may share them), so the buffers are only parsed.
    const [heap, stores] = section.match(
      /JS heap \+([0-9.]+) KiB\/conn, ArrayBuffer stores \+(-?[0-9.]+) KiB\/conn/,
    )!.slice(1).map(Number);
    assert.ok(heap > 0 && Number.isFinite(stores), section);
    assert.match(
      section,
      /\| JS heap, by constructor \| per conn \| bytes\/conn \|\n\| --- \| ---: \| ---: \|\n\| [^|]+ \| [0-9.]+ \| [0-9,]+ \|/,
    );
    assert.match(section, /\| ArrayBuffer backing stores, by size ← holder \|/);
  }
});
