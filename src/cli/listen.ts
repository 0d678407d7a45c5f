/**
 * Listen mode: accept WebSocket clients with the library's own server side
 * (`acceptWebSocket`) and run a {@linkcode Session} for each.
 *
 * @module
 */

import { acceptWebSocket, type RequestHead } from "../../mod.ts";
import type { Config } from "./args.ts";
import type { ModeContext } from "./client.ts";
import { ExitCode, reportError } from "./exit.ts";
import type { Output } from "./output.ts";
import { Session, sessionExitCode } from "./session.ts";
import { listenBridge } from "./bridge/modes.ts";

/** `host:port`, with brackets for IPv6. */
export function formatAddr(addr: Deno.Addr): string {
  if (addr.transport !== "tcp" && addr.transport !== "udp") {
    return addr.transport;
  }
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
}

function traceRequest(out: Output, head: RequestHead, from: string): void {
  out.trace(`* upgrade request from ${from}`);
  out.trace(`< ${head.method} ${head.target} ${head.version}`);
  for (const [name, value] of head.headers) out.trace(`< ${name}: ${value}`);
  out.trace("<");
}

/**
 * Listens and serves connections: one after another with stdin/stdout, or
 * concurrently with --echo. Returns the exit code.
 */
export async function runListen(
  cfg: Config,
  ctx: ModeContext,
): Promise<number> {
  const out = ctx.output;
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({
      hostname: cfg.listen.hostname,
      port: cfg.listen.port,
    });
  } catch (e) {
    const report = reportError(e);
    out.error(
      `cannot listen on ${cfg.listen.hostname}:${cfg.listen.port}: ${
        report.lines.join(": ")
      }`,
    );
    return report.code === ExitCode.OK ? ExitCode.ERROR : report.code;
  }
  let bridge;
  try {
    bridge = listenBridge(cfg, out);
  } catch (e) {
    listener.close();
    throw e;
  }
  out.note(`listening on ws://${formatAddr(listener.addr)}/`);

  const sessions = new Set<{ interrupt(): void }>();
  const running = new Set<Promise<number>>();
  let stopping = false;
  let interrupted = false;
  ctx.onInterrupt = () => {
    interrupted = true;
    stopping = true;
    listener.close();
    for (const s of sessions) s.interrupt();
  };

  const serve = async (tcp: Deno.Conn): Promise<number> => {
    const from = formatAddr(tcp.remoteAddr);
    const controller = new AbortController();
    const link = bridge.link?.(from);
    let conn;
    try {
      conn = await acceptWebSocket(tcp, {
        ...bridge.acceptOptions,
        protocols: cfg.protocols,
        headers: cfg.headers,
        signal: controller.signal,
        closeTimeout: cfg.closeTimeout,
        rawMode: cfg.raw,
        compression: cfg.compress,
        onRequest: async (head) => {
          if (cfg.verbose) traceRequest(out, head, from);
          await link?.prepare();
        },
      });
    } catch (e) {
      link?.abandon();
      const report = reportError(e);
      out.error(`upgrade from ${from} failed: ${report.lines.join(": ")}`);
      return report.code;
    }
    out.note(
      `connection from ${from}${
        conn.protocol ? ` (subprotocol ${conn.protocol})` : ""
      }${conn.extensions ? ` (${conn.extensions})` : ""}`,
    );
    if (link) {
      const bridged = { interrupt: () => void conn.close().catch(() => {}) };
      sessions.add(bridged);
      return await link.run(conn).finally(() => sessions.delete(bridged));
    }
    const session = new Session(
      conn,
      cfg,
      cfg.echo ? null : ctx.input,
      out,
      controller,
    );
    sessions.add(session);
    try {
      return sessionExitCode(await session.run(), out, "client");
    } finally {
      sessions.delete(session);
    }
  };

  let last: number = ExitCode.OK;
  while (!stopping) {
    let tcp: Deno.Conn;
    try {
      tcp = await listener.accept();
    } catch {
      break; // the listener was closed (SIGINT)
    }
    const task = serve(tcp);
    if ((cfg.echo || bridge.link) && !cfg.once) {
      running.add(task);
      task.finally(() => running.delete(task));
      continue;
    }
    last = await task;
    if (cfg.once) break;
    // Without --echo the peer gets stdin; once stdin is used up there is
    // nothing left to serve (unless -n asked to keep receiving).
    if (!cfg.echo && !cfg.noClose && ctx.input?.ended) break;
  }
  try {
    listener.close();
  } catch { /* closed by SIGINT */ }
  await Promise.all(running);
  if (interrupted) return ExitCode.INTERRUPTED;
  return cfg.once ? last : ExitCode.OK;
}
