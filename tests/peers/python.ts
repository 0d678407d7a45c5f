/**
 * Python `websockets` (Debian's python3-websockets, 10.x) as a test peer:
 * an echo server that answers a close frame at once and drops the echoes
 * it still had queued, as RFC 6455 §5.5.1 allows.
 *
 * Needs `--allow-run=/usr/bin/python3`; {@linkcode pythonSkipReason} says
 * why a test must skip (one line) when the peer cannot run.
 *
 * @module
 */

import { within } from "../helpers.ts";

/** Debian's interpreter: `python3` on PATH may be a pyenv shim without websockets. */
export const PYTHON = "/usr/bin/python3";
const SCRIPT = new URL("./py_echo.py", import.meta.url).pathname;

function skipReason(): string | null {
  const run = Deno.permissions.querySync({ name: "run", command: PYTHON });
  if (run.state !== "granted") return `no --allow-run=${PYTHON}`;
  try {
    const probe = new Deno.Command(PYTHON, {
      args: ["-c", "import websockets"],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    return probe.success ? null : `${PYTHON} cannot import websockets`;
  } catch {
    return `${PYTHON} is not installed`;
  }
}

/** Null when the Python peer can run, else why not (for `ignore:`). */
export const pythonSkipReason: string | null = skipReason();

/** Prints the one line that says a test is skipped and why. */
export function noteSkip(test: string): void {
  if (pythonSkipReason !== null) {
    console.log(`skipping "${test}": ${pythonSkipReason}`);
  }
}

/** A running Python echo server. */
export interface PythonEchoServer {
  /** `ws://127.0.0.1:PORT/` */
  url: string;
  /** Stops the server (closes its stdin) and waits for it to exit. */
  close(): Promise<void>;
}

/** Starts `py_echo.py` and waits (bounded) for the port it listens on. */
export async function startPythonEcho(): Promise<PythonEchoServer> {
  const child = new Deno.Command(PYTHON, {
    args: [SCRIPT],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const port = await within(
    10_000,
    "python echo server start",
    (async () => {
      for (;;) {
        const m = /PORT (\d+)/.exec(text);
        if (m) return Number(m[1]);
        const { value, done } = await reader.read();
        if (done) throw new Error(`python echo server exited: ${text}`);
        text += value;
      }
    })(),
  );
  return {
    url: `ws://127.0.0.1:${port}/`,
    async close() {
      await child.stdin.close();
      await within(10_000, "python echo server exit", child.status);
      await reader.cancel();
    },
  };
}
