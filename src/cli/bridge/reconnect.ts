/**
 * `--reconnect[=MAX]`: client mode that survives a flaky server. When the
 * connection is lost or refused, wait (exponential backoff with jitter,
 * `--reconnect-delay MIN[:MAX]`) and connect again; each connect re-sends
 * the `-x` messages. MAX failed attempts in a row end the run with the last
 * error's exit code; a connection that opened resets the count.
 *
 * @module
 */

import type { Config } from "../args.ts";
import { type ModeContext, runClient } from "../client.ts";
import { ExitCode } from "../exit.ts";
import type { ReconnectConfig } from "./flags.ts";

/** Exit codes of a connection that was lost or refused (worth another try). */
const RETRIED = new Set<number>([
  ExitCode.CONNECT,
  ExitCode.REFUSED,
  ExitCode.TIMEOUT,
]);

/**
 * The delay before reconnect attempt `attempt` (1-based): MIN doubled per
 * attempt up to MAX, then a random half of it taken off ("equal jitter"),
 * so that many clients of one restarted server do not come back in step.
 */
export function backoffDelay(
  attempt: number,
  r: ReconnectConfig,
  random: () => number = Math.random,
): number {
  const base = Math.min(r.maxDelay, r.minDelay * 2 ** (attempt - 1));
  return Math.round(base / 2 + random() * base / 2);
}

/** True when the run that ended with `code` should be tried again. */
function worthRetrying(
  code: number,
  ctx: ModeContext,
  r: ReconnectConfig,
): boolean {
  const outcome = ctx.outcome;
  if (code === ExitCode.INTERRUPTED || outcome?.interrupted) return false;
  if (outcome === undefined) return RETRIED.has(code); // never opened
  if (outcome.closedBy === "us") return false; // stdin EOF, -w, --max-messages
  if (outcome.closedBy === "peer") return r.onClose;
  return RETRIED.has(code);
}

/** Sleeps `ms`; resolves true when SIGINT came first. */
function pause(ms: number, ctx: ModeContext): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    ctx.onInterrupt = () => {
      clearTimeout(timer);
      resolve(true);
    };
  });
}

/** Runs client mode, reconnecting as `r` says; returns the exit code. */
export async function runWithReconnect(
  cfg: Config,
  ctx: ModeContext,
  r: ReconnectConfig,
  runOnce: (cfg: Config, ctx: ModeContext) => Promise<number> = runClient,
): Promise<number> {
  const out = ctx.output;
  let failures = 0;
  for (;;) {
    ctx.outcome = undefined;
    const code = await runOnce(cfg, ctx);
    if (!worthRetrying(code, ctx, r)) return code;
    if (ctx.outcome !== undefined) failures = 0;
    if (failures >= r.max) {
      out.error(
        `giving up after ${r.max} reconnect attempt${r.max === 1 ? "" : "s"}`,
      );
      return code;
    }
    failures++;
    const delay = backoffDelay(failures, r);
    out.note(
      `reconnecting in ${(delay / 1000).toFixed(1)} s (attempt ${failures}${
        Number.isFinite(r.max) ? ` of ${r.max}` : ""
      })`,
    );
    if (await pause(delay, ctx)) return ExitCode.INTERRUPTED;
  }
}
