/**
 * Helpers shared by the test files.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { ScriptedServer } from "./servers/scripted.ts";
import { WebSocketError } from "../mod.ts";

/** Bounds a test step: rejects after `ms` with `what` (the timer is always cleared). */
export function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${ms} ms: ${what}`)),
      ms,
    );
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Closes a scripted server and fails the test when a handler threw. */
export async function finish(server: ScriptedServer): Promise<void> {
  await within(10000, "server handlers", server.settled());
  await server.close();
  assert.deepEqual(server.errors, [], "scripted server handler failed");
}

/**
 * The deno binary to spawn: `Deno.execPath()` when `--allow-run` covers it,
 * else "deno" from PATH (`--allow-run=deno` does not cover the exec path
 * when PATH reaches it through a symlink).
 */
export const DENO: string = Deno.permissions.querySync({
    name: "run",
    command: Deno.execPath(),
  }).state === "granted"
  ? Deno.execPath()
  : "deno";

/**
 * Asserts that two byte arrays are equal, naming the first difference.
 * (`assert.deepEqual` on megabytes builds a diff that takes minutes.)
 */
export function assertSameBytes(
  got: Uint8Array,
  want: Uint8Array,
  what = "bytes",
): void {
  assert.equal(got.length, want.length, `${what}: length`);
  const at = got.findIndex((b, i) => b !== want[i]);
  assert.equal(at, -1, `${what}: first difference at byte ${at}`);
}

/**
 * Awaits `p` and asserts that it rejects with a WebSocketError of `code`
 * (and `closeCode`, when given); returns that error.
 */
export async function expectReject(
  p: Promise<unknown>,
  code: string,
  closeCode?: number,
): Promise<WebSocketError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof WebSocketError, `not a WebSocketError: ${e}`);
    assert.equal(e.code, code, e.message);
    if (closeCode !== undefined) assert.equal(e.closeCode, closeCode);
    return e;
  }
  assert.fail(`expected ${code}`);
}

/** Proxy variables cleared in every child, so the host's settings never leak in. */
export const NO_PROXY_ENV: Record<string, string> = {
  HTTP_PROXY: "",
  HTTPS_PROXY: "",
  ALL_PROXY: "",
  NO_PROXY: "",
  http_proxy: "",
  https_proxy: "",
  all_proxy: "",
  no_proxy: "",
};

/**
 * Runs `script` (TypeScript, read from stdin) with `deno run` and exactly
 * `flags`; returns the last stdout line parsed as JSON. Killed after 30 s.
 */
export async function runChild(
  script: string,
  flags: string[],
  env: Record<string, string> = {},
  // deno-lint-ignore no-explicit-any
): Promise<any> {
  const child = new Deno.Command(DENO, {
    args: ["run", "--no-prompt", "--no-lock", ...flags, "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { ...NO_PROXY_ENV, NO_COLOR: "1", ...env },
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, 30000);
  try {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(script));
    await writer.close();
    const out = await child.output();
    const stdout = new TextDecoder().decode(out.stdout).trim();
    const stderr = new TextDecoder().decode(out.stderr).trim();
    assert.equal(out.code, 0, `child failed (${out.code}):\n${stderr}`);
    const last = stdout.split("\n").at(-1) ?? "";
    try {
      return JSON.parse(last);
    } catch {
      throw new Error(`child printed no JSON:\n${stdout}\n${stderr}`);
    }
  } finally {
    clearTimeout(timer);
  }
}
