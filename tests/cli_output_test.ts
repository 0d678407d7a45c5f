/**
 * The CLI's Output batches stdout (issue 13.9): many small writes leave in
 * few big ones, in order, and a stderr line waits behind the stdout bytes
 * written before it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Output } from "../src/cli/output.ts";
import { assertSameBytes } from "./helpers.ts";

/** Stdout and stderr both logging into one list, like a terminal. */
function sinks() {
  const log: { to: "out" | "err"; bytes: Uint8Array }[] = [];
  let outWrites = 0;
  const stdout = new WritableStream<Uint8Array>({
    async write(chunk) {
      outWrites++;
      // A slow terminal: the write takes a while to complete.
      await new Promise((r) => setTimeout(r, 1));
      log.push({ to: "out", bytes: chunk.slice() });
    },
  });
  const stderr = {
    writeSync(p: Uint8Array) {
      log.push({ to: "err", bytes: p.slice() });
      return p.length;
    },
  };
  return { log, stdout, stderr, outWrites: () => outWrites };
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("cli output: 20,000 small writes leave in a few batches, in order", async () => {
  const s = sinks();
  const out = new Output(s.stdout, s.stderr, { prompt: false, quiet: false });
  let want = "";
  for (let i = 0; i < 20_000; i++) {
    const line = `${i}\n`;
    want += line;
    await out.write(line);
  }
  await out.flush();
  const got = s.log.map((e) => text(e.bytes)).join("");
  assert.equal(got, want);
  // 128 KB of output: one write per 64 KiB batch (plus a partial one).
  assert.ok(s.outWrites() <= 4, `${s.outWrites()} stdout writes`);
});

Deno.test("cli output: stderr lines stay behind the stdout bytes written before them", async () => {
  const s = sinks();
  const out = new Output(s.stdout, s.stderr, { prompt: false, quiet: false });
  const big = new Uint8Array(200_000).fill(0x62);
  await out.write("a\n");
  out.note("one");
  await out.write(big); // larger than a batch: written as it is
  out.error("two");
  await out.write("c\n");
  await out.flush();
  out.note("three"); // nothing pending: written at once
  const merged = s.log.map((e) => `${e.to}:${e.bytes.length}`);
  assert.deepEqual(merged, [
    "out:2",
    `err:${"* one\n".length}`,
    "out:200000",
    `err:${"wsnc: two\n".length}`,
    "out:2",
    `err:${"* three\n".length}`,
  ]);
  assertSameBytes(s.log[2].bytes, big, "big write");
  assert.equal(text(s.log[3].bytes), "wsnc: two\n");
});

Deno.test("cli output: a write after stdout broke rejects, and flush says so", async () => {
  const stdout = new WritableStream<Uint8Array>({
    write() {
      throw new Deno.errors.BrokenPipe("gone");
    },
  });
  const out = new Output(stdout, { writeSync: (p) => p.length }, {
    prompt: false,
    quiet: false,
  });
  await out.write("x");
  await assert.rejects(out.flush(), Deno.errors.BrokenPipe);
  await assert.rejects(out.write("y"), Deno.errors.BrokenPipe);
});
