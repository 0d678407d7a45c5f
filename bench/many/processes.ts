/**
 * Child processes of the many-connections benchmark: starting them (pinned
 * to a CPU with `taskset`, with an open-file limit set by `prlimit`),
 * talking to them in JSON lines, and finding what the machine offers (node,
 * the ws package, how many open files a process may have).
 *
 * @module
 */

import { denoCommand } from "../deno_command.ts";

/** How a child is started besides its own command line. */
export interface Launch {
  /** `taskset -c CPU`: run on this CPU only. */
  cpu?: string;
  /** `prlimit --nofile=L:L`: the open-file limit (soft and hard). */
  nofile?: number;
}

const STDERR_KEPT = 2000;

/** A running child that prints JSON lines and reads command lines. */
export class Child {
  #process: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #lines: AsyncIterator<string>;
  #stderr = "";
  #stdinOpen = true;

  constructor(argv: string[], launch: Launch) {
    let command = argv;
    if (launch.cpu !== undefined) {
      command = ["taskset", "-c", launch.cpu, ...command];
    }
    if (launch.nofile !== undefined) {
      command = [
        "prlimit",
        `--nofile=${launch.nofile}:${launch.nofile}`,
        ...command,
      ];
    }
    const child = new Deno.Command(command[0], {
      args: command.slice(1),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#process = child;
    this.#stdin = child.stdin.getWriter();
    this.#lines = splitLines(child.stdout)[Symbol.asyncIterator]();
    // Kept for error messages; read all along so the child never blocks on it.
    (async () => {
      const stderr = child.stderr.pipeThrough(new TextDecoderStream());
      for await (const text of stderr) {
        this.#stderr = (this.#stderr + text).slice(-STDERR_KEPT);
      }
    })().catch(() => {});
  }

  /** The next JSON line the child prints, within `ms`. */
  async read<T>(ms: number, what: string): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what}: nothing after ${ms / 1000} s`)),
        ms,
      );
    });
    try {
      const next = await Promise.race([this.#lines.next(), timeout]);
      if (next.done) {
        const status = await this.#process.status;
        throw new Error(
          `${what}: the process ended (code ${status.code}): ${this.stderrTail()}`,
        );
      }
      const value = JSON.parse(next.value) as T & { error?: string };
      if (value.error !== undefined) throw new Error(`${what}: ${value.error}`);
      return value;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends one command line. */
  async send(line: string): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(line + "\n"));
  }

  /** The end of what the child wrote on stderr, on one line. */
  stderrTail(): string {
    // deno prints "error: Uncaught ..." with colour codes.
    // deno-lint-ignore no-control-regex
    const plain = this.#stderr.replace(/\x1b\[[0-9;]*m/g, "").trim();
    return plain.split("\n").slice(-3).join(" / ").slice(-300);
  }

  /** Closes its stdin (the signal to exit), waits `ms` at most, then kills it. */
  async stop(ms = 10_000): Promise<void> {
    if (this.#stdinOpen) {
      this.#stdinOpen = false;
      await this.#stdin.close().catch(() => {});
    }
    const timer = setTimeout(() => {
      try {
        this.#process.kill("SIGKILL");
      } catch { /* gone already */ }
    }, ms);
    await this.#process.status;
    clearTimeout(timer);
  }
}

/** The lines of a byte stream, without their newlines (a last unterminated piece is dropped). */
export async function* splitLines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<string> {
  let text = "";
  for await (const piece of stream.pipeThrough(new TextDecoderStream())) {
    text += piece;
    for (let at = text.indexOf("\n"); at >= 0; at = text.indexOf("\n")) {
      yield text.slice(0, at);
      text = text.slice(at + 1);
    }
  }
}

/** Runs a command to its end; null when it cannot be started at all. */
async function run(
  command: string,
  args: string[],
): Promise<{ ok: boolean; stdout: string; stderr: string } | null> {
  try {
    const out = await new Deno.Command(command, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b).trim();
    return {
      ok: out.success,
      stdout: decode(out.stdout),
      stderr: decode(out.stderr),
    };
  } catch {
    return null;
  }
}

function mayRun(command: string): boolean {
  return Deno.permissions.querySync({ name: "run", command }).state ===
    "granted";
}

/** `node --version`, or null when node cannot be run (absent or not allowed). */
export async function nodeVersion(): Promise<string | null> {
  if (!mayRun("node")) return null;
  const out = await run("node", ["--version"]);
  return out?.ok ? out.stdout : null;
}

/**
 * The file URL of npm `ws`'s ES module entry in Deno's npm cache, for Node,
 * which has no npm: specifiers (`deno info` also fetches it if missing).
 */
export async function wsModuleForNode(): Promise<string> {
  const out = await run(denoCommand(), ["info", "--json", "npm:ws@8"]);
  if (!out?.ok) throw new Error(`deno info npm:ws@8 failed: ${out?.stderr}`);
  const info = JSON.parse(out.stdout) as {
    npmPackages: Record<string, { name: string; localPath?: string }>;
  };
  const ws = Object.values(info.npmPackages).find((p) => p.name === "ws");
  if (!ws?.localPath) throw new Error("deno info shows no local copy of ws");
  return `file://${ws.localPath}/wrapper.mjs`;
}

/** The open-file limit children can be given, or why it is what it is. */
export interface FileLimit {
  /** Give children this limit with prlimit (undefined: not set). */
  nofile?: number;
  /** Open files a child may have, when known. */
  max?: number;
  /** Said once in the report. */
  note: string;
}

/**
 * Finds the highest open-file limit up to `wanted` that prlimit can give a
 * child: `wanted` itself when this process may raise its hard limit
 * (CAP_SYS_RESOURCE), else the hard limit it already has.
 */
export async function fileLimit(wanted: number): Promise<FileLimit> {
  if (!mayRun("prlimit")) {
    return { note: "open-file limit not set (prlimit is not allowed)" };
  }
  const raised = await run("prlimit", [`--nofile=${wanted}:${wanted}`, "true"]);
  if (raised === null) return { note: "open-file limit not set (no prlimit)" };
  if (raised.ok) {
    return { nofile: wanted, max: wanted, note: `open-file limit ${wanted}` };
  }
  const hard = await run("prlimit", [
    "--nofile",
    "--output=HARD",
    "--noheadings",
  ]);
  const max = hard?.stdout === "unlimited"
    ? wanted
    : Number.parseInt(hard?.stdout ?? "", 10);
  if (!Number.isSafeInteger(max)) {
    return { note: `open-file limit unknown (${raised.stderr})` };
  }
  return {
    nofile: max,
    max,
    note: `open-file limit ${max}: the hard limit, which cannot be raised ` +
      `to ${wanted} here (${raised.stderr.replace(/^prlimit: /, "")})`,
  };
}
