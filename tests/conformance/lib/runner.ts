/**
 * Runs the cases against echo clients, each driven as a `deno run`
 * subprocess (so a client that crashes or hangs costs only its case).
 *
 * @module
 */

import type { CaseDef } from "./judge.ts";
import { type H2Front, type H2FrontKind, startH2Front } from "./h2_front.ts";
import { type CaseResult, FuzzingServer } from "./server.ts";

/** How to start one client's driver. */
export interface ClientDriver {
  name: string;
  /** Path of the driver script. */
  script: string;
  /** Extra `deno run` flags (permissions). */
  flags: string[];
  /** The driver can connect over HTTP/2 (its `--http2` flag). */
  http2?: boolean;
}

const HERE = new URL("../clients/", import.meta.url);

/** The drivers known to the runner. */
export const DRIVERS: Record<string, ClientDriver> = {
  wsnc: {
    name: "wsnc",
    script: new URL("wsnc.ts", HERE).pathname,
    flags: ["--allow-net=127.0.0.1"],
    http2: true,
  },
  deno: {
    name: "deno",
    script: new URL("deno.ts", HERE).pathname,
    flags: ["--allow-net=127.0.0.1"],
  },
  /** A raw client that validates nothing: a self-test of the suite's grading. */
  lenient: {
    name: "lenient",
    script: new URL("lenient.ts", HERE).pathname,
    flags: ["--allow-net=127.0.0.1"],
  },
  ws: {
    name: "ws",
    script: new URL("ws.ts", HERE).pathname,
    flags: [
      "--allow-net=127.0.0.1",
      "--allow-env=WS_NO_BUFFER_UTIL,WS_NO_UTF_8_VALIDATE",
    ],
  },
};

/** Options of {@linkcode runClient}. */
export interface RunOptions {
  /** Called after each case. */
  onResult?: (result: CaseResult, done: number, total: number) => void;
  /** Pass --verbose to the driver and show its stderr. */
  verbose?: boolean;
  /** Clients connect through this HTTP/2 front instead of straight to the server. */
  front?: H2Front;
}

/** Kill a driver that started no case for this long after the previous one ended. */
const STALL_MS = 20_000;

/**
 * Runs `cases` against one client and returns the results in case order.
 * Uses (and does not close) `server`.
 */
export async function runClient(
  server: FuzzingServer,
  driver: ClientDriver,
  cases: CaseDef[],
  opts: RunOptions = {},
): Promise<CaseResult[]> {
  const agent = `${driver.name}-${crypto.randomUUID().slice(0, 8)}`;
  const total = cases.length;
  let lastEvent = performance.now();
  const results = server.prepare(agent, cases, (_i, r) => {
    lastEvent = performance.now();
    opts.onResult?.(r, results.size, total);
  });
  server.onConnection = () => lastEvent = performance.now();

  let next = 1;
  while (next <= total) {
    const from = next;
    const child = new Deno.Command("deno", {
      args: [
        "run",
        "--no-lock",
        "--quiet",
        ...driver.flags,
        driver.script,
        opts.front?.url ?? server.url,
        agent,
        String(from),
        String(total),
        ...(opts.verbose ? ["--verbose"] : []),
        ...(opts.front ? ["--http2"] : []),
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = collectTail(child.stderr, opts.verbose);
    const stdout = collectTail(child.stdout, false);
    lastEvent = performance.now();
    let killed = false;
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    const status = await new Promise<Deno.CommandStatus>((resolve) => {
      child.status.then(resolve);
      const check = () => {
        // A running case has its own time limit in the server.
        if (server.busy) lastEvent = performance.now();
        if (performance.now() - lastEvent > STALL_MS) {
          killed = true;
          try {
            child.kill("SIGKILL");
          } catch { /* exited meanwhile */ }
          return;
        }
        watchdog = setTimeout(check, 1000);
      };
      watchdog = setTimeout(check, 1000);
    });
    clearTimeout(watchdog);
    const errText = (await stderr) + (await stdout);
    await server.idle();
    let firstMissing = from;
    while (firstMissing <= total && results.has(firstMissing)) firstMissing++;
    if (firstMissing > total) break;
    // The driver ended early: blame the last case it ran, or the case it never reached.
    const why = killed
      ? `client driver stalled for ${STALL_MS / 1000} s and was killed`
      : `client driver exited with status ${status.code}`;
    const tail = errText.trim().split("\n").slice(-6).join("\n");
    const lastRun = firstMissing - 1;
    if (lastRun >= from && results.has(lastRun) && !killed) {
      const r = results.get(lastRun)!;
      r.verdict = "FAILED";
      r.reason = `${why} during this case${tail ? `: ${tail}` : ""}${
        r.reason ? ` (case verdict was: ${r.reason})` : ""
      }`;
      next = firstMissing;
    } else {
      results.set(firstMissing, {
        id: cases[firstMissing - 1].id,
        description: cases[firstMissing - 1].description,
        expectation: cases[firstMissing - 1].expectation,
        verdict: "FAILED",
        reason: `${why} before connecting for this case${
          tail ? `: ${tail}` : ""
        }`,
        durationMs: 0,
        trace: [],
        traceDropped: 0,
        clientClose: null,
        request: null,
      });
      opts.onResult?.(results.get(firstMissing)!, results.size, total);
      next = firstMissing + 1;
    }
  }
  server.onConnection = null;
  return [...results.entries()].sort((a, b) => a[0] - b[0]).map(([, r]) => r);
}

async function collectTail(
  stream: ReadableStream<Uint8Array>,
  echo = false,
): Promise<string> {
  let text = "";
  const dec = new TextDecoder();
  for await (const chunk of stream) {
    const s = dec.decode(chunk, { stream: true });
    if (echo) Deno.stderr.writeSync(chunk);
    text = (text + s).slice(-8192);
  }
  return text;
}

/** Options of {@linkcode runSuite}. */
export interface SuiteOptions extends Omit<RunOptions, "front"> {
  onClientStart?: (name: string) => void;
  /** Run every client over HTTP/2 through a front of this kind. */
  http2?: H2FrontKind;
}

/** Runs `cases` against each named client on a fresh server. */
export async function runSuite(
  clients: string[],
  cases: CaseDef[],
  opts: SuiteOptions = {},
): Promise<Record<string, CaseResult[]>> {
  const drivers = clients.map((name) => {
    const driver = DRIVERS[name];
    if (!driver) {
      throw new Error(
        `unknown client ${name}; known: ${Object.keys(DRIVERS).join(", ")}`,
      );
    }
    if (opts.http2 && !driver.http2) {
      throw new Error(`client ${name} has no HTTP/2 (RFC 8441) support`);
    }
    return driver;
  });
  const server = new FuzzingServer();
  server.start();
  let front: H2Front | undefined;
  const out: Record<string, CaseResult[]> = {};
  try {
    if (opts.http2) front = await startH2Front(opts.http2, server.port);
    for (const driver of drivers) {
      opts.onClientStart?.(driver.name);
      out[driver.name] = await runClient(server, driver, cases, {
        ...opts,
        front,
      });
    }
  } finally {
    const log = await front?.stop();
    if (log && opts.verbose) console.error(`${front!.kind} front:\n${log}`);
    await server.close();
  }
  return out;
}
