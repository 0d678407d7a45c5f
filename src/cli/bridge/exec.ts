/**
 * `--exec CMD [-- ARG...]`: a program behind a WebSocket (nc's `-e`). The
 * child's stdout lines (with `--binary`: chunks) become messages; received
 * messages go to its stdin (each followed by a newline unless `--binary`).
 * The child's exit closes the connection with 1000 (1011 when it failed);
 * the connection's end closes the child's stdin, and a child still running
 * after a grace period gets SIGTERM, then SIGKILL.
 *
 * @module
 */

import { type WebSocketConnection, WS } from "../../../mod.ts";
import type { Config } from "../args.ts";
import { CliError, ExitCode } from "../exit.ts";
import { InputSource, stripNewline } from "../input.ts";
import type { Output } from "../output.ts";
import { receiveInto } from "./pump.ts";

/** How long a child may run on after its stdin was closed. */
export const EXEC_GRACE_MS = 2000;
const NEWLINE = new Uint8Array([0x0a]);
const decoder = new TextDecoder();

/** A one-line name of the command for messages. */
function shown(cfg: Config): string {
  return JSON.stringify(cfg.bridge.exec!.command);
}

/**
 * Fails early, before listening or connecting, when `--allow-run` does not
 * cover the command.
 */
export function checkExecPermission(cfg: Config): void {
  const command = cfg.bridge.exec?.command;
  if (command === undefined) return;
  const state = Deno.permissions.querySync({ name: "run", command }).state;
  if (state !== "granted") throw notAllowed(cfg);
}

/** The one-line error for a command `--allow-run` does not cover. */
function notAllowed(cfg: Config): CliError {
  return new CliError(
    ExitCode.ERROR,
    `--exec ${shown(cfg)} is not allowed: run deno with --allow-run=${
      cfg.bridge.exec!.command
    }`,
  );
}

function spawn(cfg: Config): Deno.ChildProcess {
  const { command, args } = cfg.bridge.exec!;
  try {
    return new Deno.Command(command, {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable) throw notAllowed(cfg);
    throw new CliError(
      ExitCode.ERROR,
      `--exec ${shown(cfg)} failed to start: ${(e as Error).message}`,
    );
  }
}

/**
 * The child's stdout as messages. After the connection has gone, output is
 * read and dropped, so that a child writing on never blocks on a full pipe.
 */
async function sendOutput(
  child: Deno.ChildProcess,
  conn: WebSocketConnection,
  cfg: Config,
): Promise<void> {
  const source = new InputSource(
    child.stdout,
    cfg.binary ? "chunks" : "lines",
    cfg.chunkSize,
  );
  let connected = true;
  for (;;) {
    const unit = await source.next();
    source.take();
    if (unit === null) return;
    if (!connected) continue;
    try {
      if (cfg.binary) await conn.send(unit, WS.BINARY);
      else {
        const line = cfg.keepNewlines ? unit : stripNewline(unit);
        await conn.send(decoder.decode(line));
      }
    } catch {
      connected = false;
    }
  }
}

/** Waits up to `ms` for `p`; true when it settled in time. */
function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p.then(() => true),
    new Promise<boolean>((r) => timer = setTimeout(() => r(false), ms)),
  ]).finally(() => clearTimeout(timer));
}

/** SIGTERM after the grace period, SIGKILL after another one. */
async function stopChild(child: Deno.ChildProcess): Promise<void> {
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    if (await settlesWithin(child.status, EXEC_GRACE_MS)) return;
    try {
      child.kill(signal);
    } catch { /* exited meanwhile */ }
  }
  await child.status;
}

/**
 * Runs one child for `conn` until both have ended; returns the exit code:
 * 0 when the child exited with 0 (or the peer closed normally first), 1
 * when the child failed, else what the connection's end means.
 */
export async function runExec(
  conn: WebSocketConnection,
  cfg: Config,
  out: Output,
  label: string,
): Promise<number> {
  let child: Deno.ChildProcess;
  try {
    child = spawn(cfg);
  } catch (e) {
    out.error((e as Error).message);
    await conn.close(1011, "cannot run the command").catch(() => {});
    return ExitCode.ERROR;
  }
  const stdin = child.stdin.getWriter();
  stdin.closed.catch(() => {});
  const lines = !cfg.binary;
  const received = receiveInto(conn, {
    write: (bytes) => stdin.write(bytes),
    endMessage: lines ? () => stdin.write(NEWLINE) : undefined,
  }).then(async (end) => {
    // No more messages: the child sees EOF, and has a grace period to end.
    await stdin.close().catch(() => {});
    stopChild(child);
    return end;
  });
  await sendOutput(child, conn, cfg);
  const status = await child.status;
  if (status.success) {
    await conn.close(1000).catch(() => {});
  } else {
    const how = status.signal
      ? `was killed by ${status.signal}`
      : `exited with code ${status.code}`;
    out.error(`${label ? label + ": " : ""}${shown(cfg)} ${how}`);
    await conn.close(1011, `command ${how}`).catch(() => {});
  }
  const end = await received;
  const info = await conn.closed;
  if (!status.success && !status.signal) return ExitCode.ERROR;
  if (status.success) return ExitCode.OK;
  // The child was stopped because the connection ended first.
  if (end.kind === "failed") return ExitCode.CONNECT;
  return [1000, 1001, 1005].includes(info.code)
    ? ExitCode.OK
    : ExitCode.PEER_CLOSE;
}
