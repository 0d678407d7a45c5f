/**
 * Hostile peers (issue 13): attacks measured by the peak resident memory of
 * a child process and the close code the attacker gets back.
 */
import assert from "node:assert/strict";

const MiB = 1024 * 1024;

interface FloodResult {
  length: number;
  closeCode: number;
  peak: number;
}

/** Runs tests/children/fragment_flood.ts and returns its JSON line. */
async function fragmentFlood(
  side: "client" | "server",
  fragments: number,
  fragmentBytes: number,
  maxMessageSize: number,
): Promise<FloodResult> {
  const child = new URL("./children/fragment_flood.ts", import.meta.url);
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read=.",
      child.pathname,
      side,
      String(fragments),
      String(fragmentBytes),
      String(maxMessageSize),
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60000),
  });
  const out = await command.output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  return JSON.parse(lines.at(-1)!);
}

function assertPeakBelow(result: FloodResult, limit: number): void {
  assert.ok(
    result.peak < limit,
    `peak RSS ${(result.peak / MiB).toFixed(0)} MiB, limit ${limit / MiB} MiB`,
  );
}

Deno.test("hostile: 5,000,000 empty continuation frames to a client's message iterator stay under 150 MiB", async () => {
  // Before: 2.0 GB peak, every empty fragment kept as its own copy.
  const result = await fragmentFlood("client", 5_000_000, 0, 64 * MiB);
  assert.equal(result.length, 0, "the empty message came through");
  assert.equal(result.closeCode, 1000);
  assertPeakBelow(result, 150 * MiB);
});

Deno.test("hostile: 1,000,000 one-byte fragments make a 1 MB message in under 150 MiB", async () => {
  // Before: 531 MiB for a 1 MB message.
  const result = await fragmentFlood("client", 1_000_000, 1, 64 * MiB);
  assert.equal(result.length, 1_000_002);
  assert.equal(result.closeCode, 1000);
  assertPeakBelow(result, 150 * MiB);
});

Deno.test("hostile: one-byte fragments past maxMessageSize close with 1009 at the limit", async () => {
  const result = await fragmentFlood("client", 1_000_000, 1, 100_000);
  assert.equal(result.length, -1, "no message was delivered");
  assert.equal(result.closeCode, 1009);
  assertPeakBelow(result, 150 * MiB);
});

Deno.test("hostile: 3,000,000 empty masked continuations to an acceptWebSocket echo server stay under 150 MiB", async () => {
  // Before: 1.27-1.28 GB, not released after the client left.
  const result = await fragmentFlood("server", 3_000_000, 0, 64 * MiB);
  assert.equal(result.length, 0, "the empty message was echoed");
  assertPeakBelow(result, 150 * MiB);
});
