/**
 * CI hook: the whole conformance suite against this library only, as a
 * client (driven as a subprocess echo client) and, flipped around, as a
 * server (`acceptWebSocket` in a subprocess echo server), and as a client
 * over WebSocket over HTTP/2 (RFC 8441) through two h2 fronts (a test-only
 * Node `http2` one and HAProxy; each skips with one line when missing).
 * Fails on any
 * FAILED or NON-STRICT case and lists them; UNIMPLEMENTED (compression not
 * negotiated) and INFORMATIONAL cases pass.
 *
 * @module
 */

import assert from "node:assert/strict";
import { allCases, selectCases, serverRoleCases } from "./cases/mod.ts";
import { timing } from "./lib/judge.ts";
import { runSuite } from "./lib/runner.ts";
import { runServerRole } from "./lib/flip.ts";
import { type H2FrontKind, h2FrontMissing } from "./lib/h2_front.ts";
import type { CaseResult } from "./lib/server.ts";

// Long waits cost nothing for a peer that reacts, and keep a loaded CI
// machine from turning a slow reaction into a false NON-STRICT.
timing.failFastPauseMs = 3000;
timing.reactionMs = 3000;
timing.closeReplyMs = 5000;

function notOk(results: CaseResult[]): string[] {
  return results
    .filter((r) => r.verdict === "FAILED" || r.verdict === "NON-STRICT")
    .map((r) => `${r.id} ${r.verdict}: ${r.reason}`);
}

Deno.test("conformance: wsnc client passes every case, fail-fast (no FAILED, no NON-STRICT)", async () => {
  const results = (await runSuite(["wsnc"], allCases)).wsnc;
  assert.equal(results.length, allCases.length, "every case produced a result");
  const bad = notOk(results);
  assert.deepEqual(
    bad,
    [],
    `${bad.length} client conformance case(s) are not OK`,
  );
});

for (const front of ["node", "haproxy"] as H2FrontKind[]) {
  const missing = h2FrontMissing(front);
  if (missing) {
    console.log(`conformance over HTTP/2 via ${front}: skipped, ${missing}`);
  }
  Deno.test({
    name:
      `conformance: wsnc client passes every case over HTTP/2 (h2c streams through the ${front} front)`,
    ignore: missing !== null,
    fn: async () => {
      const results =
        (await runSuite(["wsnc"], allCases, { http2: front })).wsnc;
      assert.equal(results.length, allCases.length, "every case ran");
      // The front names the HTTP version the client spoke to it.
      const notH2 = results.filter((r) =>
        !r.request?.headers.some(([k, v]) =>
          k === "via" && v.startsWith("2.0 ")
        )
      ).map((r) => r.id);
      assert.deepEqual(notH2, [], "cases that did not arrive over HTTP/2");
      const bad = notOk(results);
      assert.deepEqual(
        bad,
        [],
        `${bad.length} client conformance case(s) over HTTP/2 are not OK`,
      );
    },
  });
}

Deno.test("conformance: wsnc server role passes the flipped suite (no FAILED, no NON-STRICT)", async () => {
  const results = await runServerRole("wsnc", serverRoleCases);
  assert.equal(
    results.length,
    serverRoleCases.length,
    "every case produced a result",
  );
  const bad = notOk(results);
  assert.deepEqual(
    bad,
    [],
    `${bad.length} server-role conformance case(s) are not OK`,
  );
});

Deno.test("conformance self-test: a client that validates nothing is graded FAILED where it must fail", async () => {
  // The lenient driver echoes and answers everything without checking it.
  const expected: Record<string, string> = {
    "1.1.1": "OK",
    "2.2": "OK",
    "2.5": "FAILED", // answers a 126-byte ping with a 126-byte pong
    "3.1": "FAILED", // echoes a frame with RSV1
    "5.3": "OK",
    "6.2.3": "OK",
    "6.3.1": "FAILED", // echoes invalid UTF-8
    "7.3.6": "FAILED", // echoes a 126-byte close
    "7.9.1": "FAILED", // echoes close code 0
  };
  const saved = { ...timing };
  timing.reactionMs = 300; // the lenient client never fails: do not wait long for it
  try {
    const results =
      (await runSuite(["lenient"], selectCases(Object.keys(expected)))).lenient;
    assert.deepEqual(
      Object.fromEntries(results.map((r) => [r.id, r.verdict])),
      expected,
    );
  } finally {
    Object.assign(timing, saved);
  }
});
