/**
 * Many-connections benchmark: one client process opens N concurrent
 * WebSocket connections to one echo server process, and both report what
 * each connection costs them: RSS per connection idle and after one 64 B
 * echo round (each after a forced GC), the time to open all N, the time of
 * the round over all N, and CPU per connection. Clients: wsnc `connect()`,
 * Deno's `WebSocket`, npm `ws`; servers: wsnc `acceptWebSocket`,
 * `Deno.serve` + `Deno.upgradeWebSocket`, npm `ws` (`ws` under Node when
 * `node` can be run, else under Deno). See bench/README.md.
 *
 * Every process is its own, so its RSS is its own: the driver only starts
 * them and passes JSON lines (bench/many/client.mjs, bench/many/server.mjs).
 *
 * Usage (from the repository root; `deno task bench:many`):
 *
 *   deno run --allow-run=deno,node,prlimit,taskset,<Deno.execPath()> bench/many.ts
 *     [--sizes 1000,5000,10000] [--clients wsnc,deno,ws] [--servers wsnc,deno,ws]
 *     [--against deno] [--server-client deno] [--matrix] [--repeat 1]
 *     [--concurrency 256] [--payload 64] [--timeout 120] [--pin]
 *     [--ws-under node|deno] [--json FILE] (add --allow-write=FILE; - for stdout)
 *
 * Runs each client against the `--against` server, and the `--server-client`
 * client against each server (`--matrix`: every client against every
 * server); each size `--repeat` times, the runs side by side in the cells.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { denoCommand } from "./deno_command.ts";
import { writeJsonReport } from "./report.ts";
import {
  Child,
  fileLimit,
  nodeVersion,
  wsModuleForNode,
} from "./many/processes.ts";
import {
  clientLabel,
  clientTable,
  failureLines,
  type Impl,
  IMPLS,
  type PairResult,
  type Sample,
  serverLabel,
  serverTable,
} from "./many/report.ts";
import type { ClientJob } from "./many/client.mjs";

/** Parsed command line. */
export interface ManyOptions {
  sizes: number[];
  clients: Impl[];
  servers: Impl[];
  against: Impl;
  serverClient: Impl;
  matrix: boolean;
  repeat: number;
  concurrency: number;
  payload: number;
  timeoutMs: number;
  pin: boolean;
  wsUnder: "node" | "deno" | "auto";
  json: string | null;
}

/** Open files a process needs besides its N sockets. */
const FD_MARGIN = 256;
/** The limit asked for when it can be raised. */
const FD_WANTED = 65536;
const SERVER_CPU = "0";
const CLIENT_CPU = "1";

function impls(text: string, flag: string): Impl[] {
  return text.split(",").map((s) => s.trim()).filter(Boolean).map((s) => {
    if (!(IMPLS as readonly string[]).includes(s)) {
      throw new Error(`${flag}: unknown ${s}; use ${IMPLS.join(", ")}`);
    }
    return s as Impl;
  });
}

function one(text: string, flag: string): Impl {
  const list = impls(text, flag);
  if (list.length !== 1) throw new Error(`${flag}: one of ${IMPLS.join(", ")}`);
  return list[0];
}

function positive(text: string, flag: string): number {
  const n = Number(text.replaceAll("_", ""));
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new Error(`${flag} needs positive integers, not ${text}`);
  }
  return n;
}

/** Parses the command line (see the module doc). */
export function parseManyOptions(args: string[]): ManyOptions {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      sizes: { type: "string", default: "1000,5000,10000" },
      clients: { type: "string", default: IMPLS.join(",") },
      servers: { type: "string", default: IMPLS.join(",") },
      against: { type: "string", default: "deno" },
      "server-client": { type: "string", default: "deno" },
      matrix: { type: "boolean", default: false },
      repeat: { type: "string", default: "1" },
      concurrency: { type: "string", default: "256" },
      payload: { type: "string", default: "64" },
      timeout: { type: "string", default: "120" },
      pin: { type: "boolean", default: false },
      "ws-under": { type: "string", default: "auto" },
      json: { type: "string" },
    },
  });
  const wsUnder = values["ws-under"];
  if (wsUnder !== "node" && wsUnder !== "deno" && wsUnder !== "auto") {
    throw new Error("--ws-under: node, deno or auto");
  }
  return {
    sizes: values.sizes.split(",").map((s) => positive(s.trim(), "--sizes")),
    clients: impls(values.clients, "--clients"),
    servers: impls(values.servers, "--servers"),
    against: one(values.against, "--against"),
    serverClient: one(values["server-client"], "--server-client"),
    matrix: values.matrix,
    repeat: positive(values.repeat, "--repeat"),
    concurrency: positive(values.concurrency, "--concurrency"),
    payload: positive(values.payload, "--payload"),
    timeoutMs: positive(values.timeout, "--timeout") * 1000,
    pin: values.pin,
    wsUnder,
    json: values.json ?? null,
  };
}

/** The (client, server) pairs to run, in order, without repeats. */
export function plannedPairs(o: ManyOptions): [Impl, Impl][] {
  const pairs: [Impl, Impl][] = [];
  const add = (c: Impl, s: Impl) => {
    if (!pairs.some(([a, b]) => a === c && b === s)) pairs.push([c, s]);
  };
  if (o.matrix) {
    for (const s of o.servers) for (const c of o.clients) add(c, s);
  } else {
    for (const c of o.clients) add(c, o.against);
    for (const s of o.servers) add(o.serverClient, s);
  }
  return pairs;
}

/** How to start the processes of one run. */
interface Setup {
  options: ManyOptions;
  /** Where `ws` comes from: a file URL for Node, null under Deno. */
  wsModule: string | null;
  nofile?: number;
}

function script(name: string): string {
  return new URL(`./many/${name}`, import.meta.url).pathname;
}

/**
 * The command line of one side's process; `wsModule`: where Node finds
 * `ws` (null: `ws` runs under Deno).
 */
export function childArgv(
  wsModule: string | null,
  side: "client" | "server",
  impl: Impl,
  job?: ClientJob,
): string[] {
  const args = job ? [JSON.stringify(job)] : [];
  const file = script(`${impl}_${side}.${impl === "ws" ? "mjs" : "ts"}`);
  if (impl === "ws" && wsModule !== null) {
    return ["node", "--expose-gc", file, ...args, wsModule];
  }
  const permissions = ["--allow-net=127.0.0.1"];
  if (impl === "ws") {
    permissions.push("--allow-env=WS_NO_BUFFER_UTIL,WS_NO_UTF_8_VALIDATE");
    args.push("npm:ws@8");
  }
  return [
    denoCommand(),
    "run",
    "--no-prompt",
    "--v8-flags=--expose-gc",
    ...permissions,
    file,
    ...args,
  ];
}

type ServerStats = Sample & { open: number; echoed: number };

/** Asks the server for stats until `ready` holds for them (bounded). */
async function serverStats(
  server: Child,
  ms: number,
  what: string,
  ready: (s: ServerStats) => boolean,
): Promise<ServerStats> {
  const deadline = Date.now() + ms;
  for (;;) {
    await server.send("stats");
    const stats = await server.read<ServerStats>(ms, what);
    if (ready(stats)) return stats;
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: server has ${stats.open} open, ${stats.echoed} echoed`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const perConnKiB = (a: Sample, b: Sample, n: number) =>
  (b.rss - a.rss) / n / 1024;

/** One client process against one fresh server process. */
async function measurePair(
  setup: Setup,
  n: number,
  run: number,
  client: Impl,
  server: Impl,
): Promise<PairResult> {
  const { options } = setup;
  const pin = (cpu: string) => options.pin ? cpu : undefined;
  const result: PairResult = { n, run, client, server };
  const t = options.timeoutMs;
  const srv = new Child(childArgv(setup.wsModule, "server", server), {
    cpu: pin(SERVER_CPU),
    nofile: setup.nofile,
  });
  try {
    const { port } = await srv.read<{ port: number }>(t, "server start");
    const sBefore = await serverStats(srv, t, "server baseline", () => true);
    const job: ClientJob = {
      url: `ws://127.0.0.1:${port}/`,
      n,
      payloadSize: options.payload,
      concurrency: options.concurrency,
      timeoutMs: t,
    };
    const cl = new Child(childArgv(setup.wsModule, "client", client, job), {
      cpu: pin(CLIENT_CPU),
      nofile: setup.nofile,
    });
    try {
      // The client bounds its own phases; the margin covers its start and GCs.
      const open = await cl.read<
        { openMs: number; openCpuUs: number; before: Sample; idle: Sample }
      >(t + 30_000, `client opening ${n}`);
      const sIdle = await serverStats(
        srv,
        t,
        "server idle",
        (s) => s.open >= n,
      );
      await cl.send("round");
      const round = await cl.read<
        { echoed: number; roundMs: number; roundCpuUs: number; after: Sample }
      >(t + 30_000, "client echo round");
      const sAfter = await serverStats(
        srv,
        t,
        "server after round",
        (s) => s.echoed >= n,
      );
      Object.assign(result, {
        echoed: round.echoed,
        openMs: open.openMs,
        roundMs: round.roundMs,
        clientIdleKiB: perConnKiB(open.before, open.idle, n),
        clientRoundKiB: perConnKiB(open.before, round.after, n),
        clientCpuUs: (open.openCpuUs + round.roundCpuUs) / n,
        serverIdleKiB: perConnKiB(sBefore, sIdle, n),
        serverRoundKiB: perConnKiB(sBefore, sAfter, n),
        serverCpuUs: (sAfter.cpuUs - sBefore.cpuUs) / n,
        samples: {
          client: { before: open.before, idle: open.idle, after: round.after },
          server: { before: sBefore, idle: sIdle, after: sAfter },
        },
      });
    } finally {
      await cl.stop();
    }
  } catch (err) {
    result.error = (err as Error).message;
  } finally {
    await srv.stop();
  }
  return result;
}

function progress(text: string): void {
  console.error(text); // stderr: stdout holds only the report
}

async function main(): Promise<number> {
  let options: ManyOptions;
  try {
    options = parseManyOptions(Deno.args);
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  if (
    options.json && options.json !== "-" &&
    Deno.permissions.querySync({ name: "write", path: options.json }).state !==
      "granted"
  ) {
    console.error(`--json ${options.json} needs --allow-write=${options.json}`);
    return 2;
  }
  if (options.pin) {
    const run = Deno.permissions.querySync({ name: "run", command: "taskset" });
    if (run.state !== "granted" || navigator.hardwareConcurrency < 2) {
      console.error("--pin needs --allow-run=taskset and at least 2 CPUs");
      return 2;
    }
  }
  const node = options.wsUnder === "deno" ? null : await nodeVersion();
  if (options.wsUnder === "node" && node === null) {
    console.error(
      "--ws-under node: cannot run node (on PATH? --allow-run=node?)",
    );
    return 2;
  }
  const wsUnder = node ? "Node" : "Deno";
  const wsModule = node ? await wsModuleForNode() : null;
  const largest = Math.max(...options.sizes) + FD_MARGIN;
  const limit = await fileLimit(Math.max(FD_WANTED, largest));
  const pairs = plannedPairs(options);

  const results: PairResult[] = [];
  const skipped: string[] = [];
  for (const n of options.sizes) {
    if (limit.max !== undefined && limit.max < n + FD_MARGIN) {
      skipped.push(
        `N = ${n.toLocaleString("en-US")}: skipped, a process needs ` +
          `${(n + FD_MARGIN).toLocaleString("en-US")} open files and may ` +
          `have ${limit.max.toLocaleString("en-US")} (${limit.note})`,
      );
      progress(skipped.at(-1)!);
      continue;
    }
    for (let run = 1; run <= options.repeat; run++) {
      for (const [client, server] of pairs) {
        progress(`N = ${n}, run ${run}: ${client} → ${server}`);
        const setup = { options, wsModule, nofile: limit.nofile };
        const result = await measurePair(setup, n, run, client, server);
        if (result.error) progress(`  failed: ${result.error}`);
        results.push(result);
      }
    }
  }

  const { deno, v8 } = Deno.version;
  const out = [
    `Deno ${deno} (V8 ${v8}); npm ws 8 under ${
      node ? `Node ${node}` : "Deno"
    }; ` +
    `${navigator.hardwareConcurrency} cores${
      options.pin ? ", server on CPU 0, client on CPU 1" : ""
    }; ` +
    `${options.payload} B echo; at most ${options.concurrency} handshakes in flight; ` +
    `${limit.note}; ${options.repeat} run(s) per size, shown as "run 1 / run 2 …"`,
  ];
  for (const line of skipped) out.push(`\n${line}`);
  for (const n of options.sizes) {
    const rows = results.filter((r) => r.n === n);
    if (rows.length === 0) continue;
    const servers = IMPLS.filter((s) => rows.some((r) => r.server === s));
    for (const server of servers) {
      if (!options.matrix && server !== options.against) continue;
      const clients = IMPLS.filter((c) =>
        rows.some((r) => r.server === server && r.client === c)
      );
      out.push(
        `\n## N = ${n.toLocaleString("en-US")}: clients against ${
          serverLabel(server, wsUnder)
        }\n`,
      );
      out.push(clientTable(rows, clients, server, wsUnder));
    }
    out.push(`\n## N = ${n.toLocaleString("en-US")}: servers\n`);
    out.push(serverTable(rows, servers, wsUnder));
    const failures = failureLines(rows, wsUnder);
    if (failures.length > 0) out.push("", ...failures);
  }
  console.log(out.join("\n"));

  if (options.json) {
    const labels = IMPLS.map((i) => [i, {
      client: clientLabel(i, wsUnder),
      server: serverLabel(i, wsUnder),
    }]);
    await writeJsonReport(options.json, {
      node,
      fileLimit: limit,
      options,
      skipped,
      labels: Object.fromEntries(labels),
      results,
    });
  }
  const failures = results.filter((r) => r.error).length;
  if (failures > 0) progress(`${failures} run(s) failed; see the tables`);
  return 0;
}

if (import.meta.main) Deno.exit(await main());
