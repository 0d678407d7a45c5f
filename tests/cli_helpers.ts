/**
 * Running the CLI (`cli.ts`) as a subprocess in tests: spawn with
 * loopback-only network access, feed stdin, collect output with a time
 * limit, and listen-mode children.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DENO } from "./helpers.ts";

export const CLI = new URL("../cli.ts", import.meta.url).pathname;
export const ROOT = new URL("..", import.meta.url).pathname;
export const CHILD_NET = "--allow-net=127.0.0.1,localhost,[::1]";
/** A child that has not exited by then is killed and the test fails. */
export const CHILD_LIMIT_MS = 20_000;

export interface CliRun {
  code: number;
  signal: Deno.Signal | null;
  stdout: Uint8Array;
  out: string;
  err: string;
}

/** Spawns the CLI with loopback-only network access. */
export function spawnCli(
  args: string[],
  perms: string[] = [],
): Deno.ChildProcess {
  return spawnCliExactly(args, [CHILD_NET, ...perms]);
}

/** Spawns the CLI with exactly `perms` (to test what a missing one does). */
export function spawnCliExactly(
  args: string[],
  perms: string[],
): Deno.ChildProcess {
  return new Deno.Command(DENO, {
    args: ["run", "--no-prompt", ...perms, CLI, ...args],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/**
 * Waits for `child` to exit while its stdout and stderr are read, killing
 * it after CHILD_LIMIT_MS so a hang fails the test instead of stalling CI.
 */
export async function finish(child: Deno.ChildProcess): Promise<CliRun> {
  let killed = false;
  const guard = setTimeout(() => {
    killed = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, CHILD_LIMIT_MS);
  try {
    const result = await child.output();
    assert.ok(!killed, "the CLI did not exit in time");
    const decoder = new TextDecoder();
    return {
      code: result.code,
      signal: result.signal,
      stdout: result.stdout,
      out: decoder.decode(result.stdout),
      err: decoder.decode(result.stderr),
    };
  } finally {
    clearTimeout(guard);
  }
}

/** Writes `input` to the child's stdin (concurrently with reading its output) and closes it. */
export async function feed(
  child: Deno.ChildProcess,
  input: Uint8Array | string,
): Promise<void> {
  const writer = child.stdin.getWriter();
  try {
    await writer.write(
      typeof input === "string" ? new TextEncoder().encode(input) : input,
    );
    await writer.close();
  } catch {
    // The CLI may exit before reading everything (e.g. on a refused upgrade).
  }
}

/** Runs the CLI to completion with `input` on stdin. */
export async function runCli(
  args: string[],
  input: Uint8Array | string = "",
  perms: string[] = [],
): Promise<CliRun> {
  const child = spawnCli(args, perms);
  const [, result] = await Promise.all([feed(child, input), finish(child)]);
  return result;
}

/** No stack traces: errors are single lines. */
export function assertNoStack(stderr: string): void {
  assert.doesNotMatch(stderr, /^\s+at /m);
  assert.doesNotMatch(stderr, /Uncaught/);
}

/** A CLI in listen mode, with the URL it announced. */
export interface Listening {
  child: Deno.ChildProcess;
  url: string;
  /** Everything on stderr once the child has exited. */
  stderr: Promise<string>;
}

/** Starts `cli.ts --listen 127.0.0.1:0 ...` and waits for "listening on". */
export async function startListener(args: string[]): Promise<Listening> {
  const child = spawnCli(["--listen", "127.0.0.1:0", ...args]);
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let url: string | undefined;
  while (url === undefined) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`listener exited early: ${text}`);
    text += value;
    url = /listening on (ws:\/\/\S+)/.exec(text)?.[1];
  }
  const stderr = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return text;
      text += value;
    }
  })();
  return { child, url, stderr };
}

/** Waits for a listen-mode child to exit. */
export async function stopListener(l: Listening): Promise<CliRun> {
  let killed = false;
  const guard = setTimeout(() => {
    killed = true;
    try {
      l.child.kill("SIGKILL");
    } catch { /* gone */ }
  }, CHILD_LIMIT_MS);
  try {
    const [status, stdout, err] = await Promise.all([
      l.child.status,
      new Response(l.child.stdout).bytes(),
      l.stderr,
    ]);
    assert.ok(!killed, "the listener did not exit in time");
    return {
      code: status.code,
      signal: status.signal,
      stdout,
      out: new TextDecoder().decode(stdout),
      err,
    };
  } finally {
    clearTimeout(guard);
  }
}

export function randomBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let off = 0; off < size; off += 65536) {
    crypto.getRandomValues(out.subarray(off, off + 65536));
  }
  return out;
}

/** A plain HTTP server answering every request with `response()`. */
export function startHttpServer(response: () => Response) {
  const ready = Promise.withResolvers<number>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ port }) => ready.resolve(port),
  }, response);
  return { port: ready.promise, close: () => server.shutdown() };
}

// ------------------------------------------------------------------ tmux

/** Why tmux tests cannot run here, or null when they can. */
export const TMUX_MISSING: string | null = (() => {
  if (
    Deno.permissions.querySync({ name: "run", command: "tmux" }).state !==
      "granted"
  ) return "no --allow-run=tmux";
  try {
    const r = new Deno.Command("tmux", { args: ["-V"], stdout: "null" })
      .outputSync();
    return r.success ? null : "tmux -V failed";
  } catch {
    return "tmux is not installed";
  }
})();

/** The CLI under its own tmux server (100x20), a person at the terminal. */
export class TmuxCli {
  readonly socket = `wsnc-test-${crypto.randomUUID().slice(0, 8)}`;

  /** Runs tmux against this test's own server. */
  async tmux(...args: string[]): Promise<string> {
    const out = await new Deno.Command("tmux", {
      args: ["-L", this.socket, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(out.stdout);
  }

  /** Starts `deno run <perms> cli.ts <args>` in a detached session. */
  async start(args: string[], perms: string[] = []): Promise<void> {
    const command = [DENO, "run", "--no-prompt", CHILD_NET, ...perms, CLI]
      .concat(args).map((a) => `'${a}'`).join(" ");
    await this.tmux(
      "new-session",
      "-d",
      "-x",
      "100",
      "-y",
      "20",
      "-c",
      ROOT,
      command,
      ";",
      "set-option",
      "remain-on-exit",
      "on",
    );
  }

  /** Types keys (tmux send-keys names: "Enter", "Up", "C-d"). */
  async keys(...keys: string[]): Promise<void> {
    await this.tmux("send-keys", ...keys);
  }

  /** Waits (10 s at most) until the screen matches `want`; returns it. */
  async screen(want: RegExp): Promise<string> {
    let text = "";
    for (let i = 0; i < 100 && !want.test(text); i++) {
      await new Promise((r) => setTimeout(r, 100));
      text = await this.tmux("capture-pane", "-p");
    }
    assert.match(text, want, text);
    return text;
  }

  /** Ends the tmux server and everything in it. */
  async kill(): Promise<void> {
    await this.tmux("kill-server");
  }
}
