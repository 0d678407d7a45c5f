/**
 * Runs the conformance suite against echo clients and reports, Autobahn
 * style.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-run=deno --allow-read=. \
 *   --allow-write=. --allow-env=WS_NO_BUFFER_UTIL,WS_NO_UTF_8_VALIDATE \
 *   tests/conformance/run.ts [--client wsnc,deno,ws] [--case 5.6,6.4] \
 *   [--json FILE] [--html FILE] [--markdown FILE] [--verbose] [--server-role] \
 *   [--http2 node|haproxy]
 * ```
 *
 * `--server-role` flips the suite: the clients named are then echo
 * *servers* (wsnc's `acceptWebSocket`, `Deno.serve`, ws's
 * `WebSocketServer`) and the scripted side is the client.
 *
 * `--http2 FRONT` runs the client suite over WebSocket over HTTP/2 (RFC
 * 8441): the client opens each case as a stream on one h2c connection to
 * FRONT (`node`: a test-only Node `http2` front; `haproxy`: HAProxy), which
 * upgrades to the scripted HTTP/1.1 server. Only the wsnc client has
 * HTTP/2; `--allow-run` must cover `node` or `haproxy`.
 *
 * Exit status: 0 when no case FAILED or was NON-STRICT for the first
 * client, 1 otherwise (so it can gate CI with `--client wsnc`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { allCases, selectCases, serverRoleCases } from "./cases/mod.ts";
import { runServerRole } from "./lib/flip.ts";
import type { CaseResult } from "./lib/server.ts";
import { DRIVERS, runSuite } from "./lib/runner.ts";
import { h2FrontMissing } from "./lib/h2_front.ts";
import { timing } from "./lib/judge.ts";
import { htmlReport, markdownTable, textReport } from "./lib/report.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    client: { type: "string" },
    case: { type: "string" },
    json: { type: "string" },
    html: { type: "string" },
    markdown: { type: "string" },
    verbose: { type: "boolean", default: false },
    "fail-fast-pause": { type: "string" },
    reaction: { type: "string" },
    list: { type: "boolean", default: false },
    "server-role": { type: "boolean", default: false },
    http2: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  console.log(
    "usage: run.ts [--client wsnc,deno,ws] [--case PREFIX[,PREFIX]] [--json FILE] [--html FILE] [--markdown FILE]\n" +
      "              [--fail-fast-pause MS (500)] [--reaction MS (1000)] [--server-role] [--list] [--verbose]\n" +
      "              [--http2 node|haproxy]",
  );
  Deno.exit(0);
}

const http2 = values.http2;
if (http2 !== undefined) {
  if (http2 !== "node" && http2 !== "haproxy") {
    console.error(`--http2 takes node or haproxy, not ${http2}`);
    Deno.exit(2);
  }
  if (values["server-role"]) {
    console.error("--http2 runs the client suite; it has no --server-role");
    Deno.exit(2);
  }
  const missing = h2FrontMissing(http2);
  if (missing) {
    console.error(`--http2 ${http2}: ${missing}`);
    Deno.exit(2);
  }
}

// A report that cannot be written would lose a run of minutes at its end:
// check every report path before the first case runs.
for (const path of [values.html, values.json, values.markdown]) {
  if (path === undefined) continue;
  try {
    await Deno.writeTextFile(path, "");
  } catch (e) {
    const denied = e instanceof Deno.errors.NotCapable ||
      e instanceof Deno.errors.PermissionDenied;
    console.error(
      `cannot write the report ${path}: ${
        denied
          ? "outside the project (the task allows writing under it only; conformance-report* files there are gitignored)"
          : (e as Error).message
      }`,
    );
    Deno.exit(2);
  }
}

if (values["fail-fast-pause"]) {
  timing.failFastPauseMs = Number(values["fail-fast-pause"]);
}
if (values.reaction) timing.reactionMs = Number(values.reaction);

const serverRole = values["server-role"];
const cases = selectCases(
  values.case?.split(",").map((s) => s.trim()).filter(Boolean),
  serverRole ? serverRoleCases : allCases,
);
if (values.list) {
  for (const c of cases) console.log(`${c.id.padEnd(8)} ${c.description}`);
  Deno.exit(0);
}
if (cases.length === 0) {
  console.error(`no case matches ${values.case}`);
  Deno.exit(2);
}
// Only wsnc has an HTTP/2 client: it is the default over --http2.
const clients = (values.client ?? (http2 ? "wsnc" : "wsnc,deno,ws"))
  .split(",").map((s) => s.trim()).filter(Boolean);
const unknown = serverRole ? [] : clients.filter((name) => !DRIVERS[name]);
if (unknown.length > 0) {
  console.error(
    `unknown client ${unknown.join(", ")}; known: ${
      Object.keys(DRIVERS).join(", ")
    }`,
  );
  Deno.exit(2);
}
if (http2) {
  const without = clients.filter((name) => !DRIVERS[name]?.http2);
  if (without.length > 0) {
    console.error(
      `--http2: ${
        without.join(", ")
      } cannot connect over HTTP/2 (only wsnc can)`,
    );
    Deno.exit(2);
  }
}
const started = performance.now();
const onResult = (r: CaseResult, done: number, total: number) => {
  if (
    r.verdict !== "OK" && r.verdict !== "INFORMATIONAL" &&
    r.verdict !== "UNIMPLEMENTED"
  ) {
    console.error(`  ${r.id} ${r.verdict}: ${r.reason}`);
  }
  if (done % 50 === 0 || done === total) console.error(`  ${done}/${total}`);
};
let results: Record<string, CaseResult[]>;
if (serverRole) {
  results = {};
  for (const name of clients) {
    console.error(
      `running ${cases.length} case(s) against the ${name} server (roles flipped) …`,
    );
    results[`${name} (server)`] = await runServerRole(name, cases, {
      onResult,
    });
  }
} else {
  results = await runSuite(clients, cases, {
    verbose: values.verbose,
    http2,
    onClientStart: (name) =>
      console.error(
        `running ${cases.length} case(s) against ${name}${
          http2 ? ` over HTTP/2 through the ${http2} front` : ""
        } …`,
      ),
    onResult,
  });
}

console.log(textReport(results));
console.log(
  `\n${cases.length} case(s) × ${clients.length} client(s) in ${
    ((performance.now() - started) / 1000).toFixed(1)
  } s`,
);

if (values.json) {
  await Deno.writeTextFile(
    values.json,
    JSON.stringify(
      { generated: new Date().toISOString(), clients: results },
      null,
      1,
    ),
  );
  console.log(`JSON written to ${values.json}`);
}
if (values.html) {
  await Deno.writeTextFile(values.html, htmlReport(results));
  console.log(`HTML written to ${values.html}`);
}
if (values.markdown) {
  await Deno.writeTextFile(values.markdown, markdownTable(results) + "\n");
  console.log(`Markdown table written to ${values.markdown}`);
}

const first = Object.values(results)[0] ?? [];
const bad = first.filter((r) =>
  r.verdict === "FAILED" || r.verdict === "NON-STRICT"
);
Deno.exit(bad.length > 0 ? 1 : 0);
