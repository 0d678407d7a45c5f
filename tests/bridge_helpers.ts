/**
 * Helpers for the bridge tests: the CLI as a child process (loopback
 * network only, other permissions named by each test), waiting for what it
 * announces on stderr, and raw upgrade requests.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DENO, within } from "./helpers.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const RSS_CHILD = new URL("./children/bridge_cli_rss.ts", import.meta.url)
  .pathname;
export const ROOT: string = new URL("..", import.meta.url).pathname;
export const CHILD_NET = "--allow-net=127.0.0.1";
/** A child that has not exited by then is killed and the test fails. */
const CHILD_LIMIT_MS = 60_000;

/** A running CLI child. */
export interface CliChild {
  child: Deno.ChildProcess;
  /** The address from its "listening on" line (ws://… or tcp://…), if any. */
  url: string;
  /** Stderr so far (grows while the child runs). */
  readonly stderr: string;
  /** Resolves with every stderr line once `pattern` has appeared. */
  waitFor(pattern: RegExp, ms?: number): Promise<string>;
  /** Resolves with stdout so far once `pattern` has appeared in it. */
  waitForStdout(pattern: RegExp, ms?: number): Promise<string>;
  /** Signals the child (default SIGINT) and waits for it to exit. */
  stop(signal?: Deno.Signal): Promise<CliResult>;
  /** Waits for the child to exit on its own. */
  done(): Promise<CliResult>;
}

/** How a CLI child ended. */
export interface CliResult {
  code: number;
  stdout: Uint8Array;
  err: string;
  /** Peak RSS in KiB (children started with `measureRss`). */
  peakRssKiB?: number;
}

/** Options of {@linkcode startCli}. */
export interface StartOptions {
  /** Extra deno permissions, e.g. `--allow-run=/bin/cat`. */
  perms?: string[];
  /** Run the CLI inside a wrapper that reports its peak RSS (sampled). */
  measureRss?: boolean;
  /** Wait for a "listening on" line before returning (default true). */
  listening?: boolean;
  /** Stdin: "piped" (the test may write and must close it) or "null". */
  stdin?: "piped" | "null";
}

/** Spawns `cli.ts` with `args` and reads its stderr as it comes. */
export async function startCli(
  args: string[],
  options: StartOptions = {},
): Promise<CliChild> {
  const perms = options.perms ?? [];
  const script = options.measureRss ? [RSS_CHILD] : [CLI];
  const child = new Deno.Command(DENO, {
    args: ["run", "--no-prompt", CHILD_NET, ...perms, ...script, ...args],
    cwd: ROOT,
    stdin: options.stdin ?? "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const guard = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, CHILD_LIMIT_MS);
  let text = "";
  const waiters: (() => void)[] = [];
  let outText = "";
  const outDecoder = new TextDecoder();
  const stdout = (async () => {
    const chunks: Uint8Array[] = [];
    for await (const chunk of child.stdout) {
      chunks.push(chunk);
      outText += outDecoder.decode(chunk, { stream: true });
      for (const w of waiters.splice(0)) w();
    }
    const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let off = 0;
    for (const c of chunks) {
      all.set(c, off);
      off += c.length;
    }
    return all;
  })();
  const stderrDone = (async () => {
    for await (
      const chunk of child.stderr.pipeThrough(new TextDecoderStream())
    ) {
      text += chunk;
      for (const w of waiters.splice(0)) w();
    }
    for (const w of waiters.splice(0)) w();
  })();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    clearTimeout(guard);
    return s;
  });
  const waitIn = (
    which: "stderr" | "stdout",
    pattern: RegExp,
    ms = 15_000,
  ) =>
    within(
      ms,
      `CLI ${which} to match ${pattern}`,
      (async () => {
        const seen = () => which === "stderr" ? text : outText;
        while (!pattern.test(seen())) {
          if (exited) {
            await stderrDone;
            await stdout;
            if (pattern.test(seen())) break;
            throw new Error(`CLI exited before ${pattern}: ${text}`);
          }
          await new Promise<void>((r) => {
            waiters.push(r);
            status.then(() => r());
          });
        }
        return seen();
      })(),
    );
  const waitFor = (pattern: RegExp, ms?: number) =>
    waitIn("stderr", pattern, ms);
  const done = async (): Promise<CliResult> => {
    const [s, out] = await within(
      CHILD_LIMIT_MS,
      "CLI exit",
      Promise.all([status, stdout, stderrDone]),
    );
    const rss = /^peak-rss-kib: (\d+)$/m.exec(text);
    return {
      code: s.code,
      stdout: out,
      err: text,
      peakRssKiB: rss ? Number(rss[1]) : undefined,
    };
  };
  let url = "";
  if (options.listening ?? true) {
    try {
      await waitFor(/listening on \S+/);
    } catch (e) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      if (options.stdin === "piped") await child.stdin.close().catch(() => {});
      await done().catch(() => {});
      throw e;
    }
    url = /listening on ((?:ws|tcp):\/\/[^\s,]+)/.exec(text)![1];
  }
  return {
    child,
    url,
    get stderr() {
      return text;
    },
    waitFor,
    waitForStdout: (pattern: RegExp, ms?: number) =>
      waitIn("stdout", pattern, ms),
    done,
    stop: (signal: Deno.Signal = "SIGINT") => {
      if (!exited) {
        try {
          child.kill(signal);
        } catch { /* exited meanwhile */ }
      }
      return done();
    },
  };
}

/** The port of a `ws://host:port/` or `tcp://host:port` address. */
export function portOf(url: string): number {
  return Number(/:(\d+)\/?$/.exec(url)![1]);
}

/**
 * Sends a raw upgrade request with `headers` and returns the response head
 * (the status line first). The connection is closed afterwards.
 */
export async function rawUpgrade(
  port: number,
  headers: Record<string, string>,
): Promise<string> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const lines = [
      "GET / HTTP/1.1",
      `Host: 127.0.0.1:${port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13",
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    await tcp.write(new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n"));
    let head = "";
    const buf = new Uint8Array(4096);
    while (!head.includes("\r\n\r\n")) {
      const n = await within(5000, "upgrade response", tcp.read(buf));
      if (n === null) break;
      head += new TextDecoder().decode(buf.subarray(0, n));
    }
    return head;
  } finally {
    tcp.close();
  }
}

/** A TCP listener on 127.0.0.1 that counts the connections it accepts. */
export function countingListener(): {
  port: number;
  accepted: () => number;
  close(): Promise<void>;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let count = 0;
  const conns: Deno.Conn[] = [];
  const loop = (async () => {
    try {
      for await (const conn of listener) {
        count++;
        conns.push(conn);
      }
    } catch { /* closed */ }
  })();
  return {
    port: listener.addr.port,
    accepted: () => count,
    close: async () => {
      listener.close();
      await loop;
      for (const c of conns) c.close();
    },
  };
}

/** True when `path` can be run by this test process; else logs why not. */
export function canRun(path: string, what: string): boolean {
  try {
    Deno.statSync(path);
  } catch (e) {
    // Without read access to it, whether it exists shows when it runs.
    if (!(e instanceof Deno.errors.NotCapable)) {
      console.log(`skipped: ${what} needs ${path}, which is not installed`);
      return false;
    }
  }
  const granted =
    Deno.permissions.querySync({ name: "run", command: path }).state ===
      "granted";
  if (!granted) {
    console.log(`skipped: ${what} needs --allow-run=${path} for the test`);
  }
  return granted;
}

/** Asserts no stack trace reached stderr. */
export function assertNoStack(stderr: string): void {
  assert.doesNotMatch(stderr, /^\s+at /m);
  assert.doesNotMatch(stderr, /Uncaught/);
}
