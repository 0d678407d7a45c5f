/**
 * Where one side's per-connection memory goes: runs one pair of
 * bench/many.ts, takes V8 heap snapshots of the chosen side (client or
 * server) before the first connection, with N open, and after the 64 B echo
 * round, and prints per connection what grew: the JS heap by constructor and
 * the ArrayBuffer backing stores (outside the JS heap) by size and holder.
 * See bench/README.md.
 *
 * Usage (from the repository root):
 *
 *   deno run --allow-run=deno,node,<Deno.execPath()> --allow-net=127.0.0.1 bench/many_heap.ts
 *     [--client wsnc] [--server deno] [--side client|server] [--n 5000] [--top 15]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { childArgv } from "./many.ts";
import { Inspector } from "./many/inspector.ts";
import {
  type HeapTally,
  perConnection,
  summaryTable,
  tally,
  totalPerConnection,
} from "./many/heap_summary.ts";
import { Child, nodeVersion, wsModuleForNode } from "./many/processes.ts";
import { clientLabel, type Impl, IMPLS, serverLabel } from "./many/report.ts";

const TIMEOUT_MS = 120_000;

function impl(text: string, flag: string): Impl {
  if (!(IMPLS as readonly string[]).includes(text)) {
    throw new Error(`${flag}: one of ${IMPLS.join(", ")}`);
  }
  return text as Impl;
}

/** The same command line with the inspector on (Deno: after `run`). */
function inspected(argv: string[], port: number): string[] {
  const flag = `--inspect=127.0.0.1:${port}`;
  const at = argv[0] === "node" ? 1 : argv.indexOf("run") + 1;
  return [...argv.slice(0, at), flag, ...argv.slice(at)];
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

function section(
  title: string,
  now: HeapTally,
  base: HeapTally,
  n: number,
  top: number,
): string {
  const kib = (t: "heap" | "stores") =>
    (totalPerConnection(now[t], base[t], n) / 1024).toFixed(1);
  return [
    `\n## ${title}: JS heap +${kib("heap")} KiB/conn, ArrayBuffer stores +${
      kib("stores")
    } KiB/conn\n`,
    summaryTable(
      "JS heap, by constructor",
      perConnection(now.heap, base.heap, n, top),
    ),
    "",
    summaryTable(
      "ArrayBuffer backing stores, by size ← holder",
      perConnection(now.stores, base.stores, n, top),
    ),
  ].join("\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    strict: true,
    options: {
      client: { type: "string", default: "wsnc" },
      server: { type: "string", default: "deno" },
      side: { type: "string", default: "client" },
      n: { type: "string", default: "5000" },
      top: { type: "string", default: "12" },
    },
  });
  const client = impl(values.client, "--client");
  const server = impl(values.server, "--server");
  const side = values.side;
  if (side !== "client" && side !== "server") {
    throw new Error("--side: client or server");
  }
  const n = Number(values.n);
  const top = Number(values.top);
  const node = await nodeVersion();
  const wsModule = node ? await wsModuleForNode() : null;
  const wsUnder = node ? "Node" : "Deno";
  const port = freePort();
  const snapshot = async (inspector: Inspector) =>
    tally(await inspector.heapSnapshot(TIMEOUT_MS));

  const serverArgv = childArgv(wsModule, "server", server);
  const srv = new Child(
    side === "server" ? inspected(serverArgv, port) : serverArgv,
    {},
  );
  let inspector: Inspector | null = null;
  try {
    const { port: wsPort } = await srv.read<{ port: number }>(
      TIMEOUT_MS,
      "server start",
    );
    const clientArgv = childArgv(wsModule, "client", client, {
      url: `ws://127.0.0.1:${wsPort}/`,
      n,
      payloadSize: 64,
      concurrency: 256,
      timeoutMs: TIMEOUT_MS,
      pauseBeforeOpen: true,
    });
    const cl = new Child(
      side === "client" ? inspected(clientArgv, port) : clientArgv,
      {},
    );
    try {
      await cl.read(TIMEOUT_MS, "client start");
      inspector = await Inspector.connect(port, TIMEOUT_MS);
      const base = await snapshot(inspector);
      console.log(
        `# ${side} heap, ${clientLabel(client, wsUnder)} → ${
          serverLabel(server, wsUnder)
        }, N = ${n}: what grew, divided by N`,
      );
      await cl.send("open");
      await cl.read(TIMEOUT_MS, `client opening ${n}`);
      console.log(
        section(`${n} open, idle`, await snapshot(inspector), base, n, top),
      );
      await cl.send("round");
      await cl.read(TIMEOUT_MS, "client echo round");
      console.log(
        section(
          "after one 64 B echo round",
          await snapshot(inspector),
          base,
          n,
          top,
        ),
      );
    } finally {
      await inspector?.close();
      await cl.stop();
    }
  } finally {
    await srv.stop();
  }
}

if (import.meta.main) await main();
