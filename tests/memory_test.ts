/**
 * Memory stays flat while a 1 GiB message streams through recv() with a
 * 64 KiB buffer (issue 2): the child process's resident memory, read with
 * Deno.memoryUsage(), must stay under 100 MB.
 */
import assert from "node:assert/strict";

Deno.test("memory: a 1 GiB message through a 64 KiB recv buffer stays under 100 MB RSS", async () => {
  const child = new URL("./children/stream_1gib.ts", import.meta.url);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", "--allow-read=.", child.pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const result = JSON.parse(
    new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!,
  );
  assert.equal(result.total, 1024 * 1024 * 1024);
  assert.equal(result.frames, 2);
  assert.equal(result.badAt, -1, "payload bytes arrived intact");
  assert.equal(result.wasClean, true);
  assert.ok(
    result.peak < 100 * 1024 * 1024,
    `peak RSS ${(result.peak / 1e6).toFixed(1)} MB`,
  );
});
