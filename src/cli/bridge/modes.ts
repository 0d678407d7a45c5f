/**
 * Where the bridges plug into the two modes: what listen mode does with
 * each accepted client (`--exec`, `--to-tcp`, `--broadcast`), and what
 * client mode runs instead of a stdin session (`--exec`, `--from-tcp`,
 * `--reconnect`).
 *
 * @module
 */

import {
  type AcceptOptions,
  connect,
  type WebSocketConnection,
  WebSocketError,
} from "../../../mod.ts";
import type { Config } from "../args.ts";
import { connectOptions, type ModeContext, runClient } from "../client.ts";
import { ExitCode, reportError } from "../exit.ts";
import { formatAddr } from "../listen.ts";
import type { Output } from "../output.ts";
import { BROADCAST_QUEUE_LIMIT, BroadcastRoom } from "./broadcast.ts";
import { checkExecPermission, runExec } from "./exec.ts";
import { listenOrigins } from "./flags.ts";
import { runWithReconnect } from "./reconnect.ts";
import { runTunnel } from "./tunnel.ts";

/** What listen mode does with one client. */
export interface BridgeLink {
  /** Runs once the request passed the Origin check, before the 101; throw to refuse. */
  prepare(): Promise<void>;
  /** Serves the upgraded connection; returns the exit code it stands for. */
  run(conn: WebSocketConnection): Promise<number>;
  /** The upgrade failed after `prepare()`: let go of what it opened. */
  abandon(): void;
}

/** A listen-mode bridge: extra accept options and one link per client. */
export interface ListenBridge {
  /** Options for every `acceptWebSocket` (the Origin check among them). */
  acceptOptions: Partial<AcceptOptions>;
  /** The link for the client at `from`; null: a stdin or --echo session. */
  link: ((from: string) => BridgeLink) | null;
}

/** The listen-mode bridge the flags ask for. */
export function listenBridge(cfg: Config, out: Output): ListenBridge {
  const b = cfg.bridge;
  const acceptOptions: Partial<AcceptOptions> = {
    origins: listenOrigins(b),
  };
  if (b.exec) {
    checkExecPermission(cfg);
    return {
      acceptOptions,
      link: (from) => ({
        prepare: () => Promise.resolve(),
        run: (conn) => runExec(conn, cfg, out, from),
        abandon: () => {},
      }),
    };
  }
  if (b.broadcast) {
    const room = new BroadcastRoom(out);
    acceptOptions.maxMessageSize = BROADCAST_QUEUE_LIMIT;
    return {
      acceptOptions,
      link: (from) => ({
        prepare: () => Promise.resolve(),
        run: (conn) => room.join(conn, from).then(() => ExitCode.OK),
        abandon: () => {},
      }),
    };
  }
  const target = b.toTcp;
  if (target) {
    const where = formatAddr({ transport: "tcp", ...target });
    return {
      acceptOptions,
      link: (from) => {
        let tcp: Deno.TcpConn | null = null;
        return {
          prepare: async () => {
            try {
              tcp = await Deno.connect(target);
            } catch (e) {
              const why = e instanceof Deno.errors.NotCapable ||
                  e instanceof Deno.errors.PermissionDenied
                ? `run deno with --allow-net=${where}`
                : reportError(e).lines.join(": ");
              out.error(`${from}: cannot connect to ${where}: ${why}`);
              throw new WebSocketError(
                "CONNECT_FAILED",
                `cannot connect to ${where}`,
                { status: 502 },
              );
            }
          },
          run: async (conn) => {
            await runTunnel(conn, tcp!, out, from);
            return ExitCode.OK;
          },
          abandon: () => {
            try {
              tcp?.close();
            } catch { /* closed */ }
          },
        };
      },
    };
  }
  return { acceptOptions, link: null };
}

/** Client mode: the bridge the flags ask for, else the stdin session. */
export function runClientMode(cfg: Config, ctx: ModeContext): Promise<number> {
  const b = cfg.bridge;
  if (b.exec) return runClientExec(cfg, ctx);
  if (b.fromTcp) return runFromTcp(cfg, ctx);
  if (b.reconnect) return runWithReconnect(cfg, ctx, b.reconnect);
  return runClient(cfg, ctx);
}

async function runClientExec(cfg: Config, ctx: ModeContext): Promise<number> {
  const out = ctx.output;
  const controller = new AbortController();
  let conn: WebSocketConnection | null = null;
  ctx.onInterrupt = () => {
    if (conn) conn.close(1000).catch(() => {});
    else controller.abort(new WebSocketError("ABORTED", "interrupted"));
  };
  try {
    checkExecPermission(cfg);
    conn = await connect(cfg.url, await connectOptions(cfg, controller.signal));
  } catch (e) {
    const report = reportError(e);
    for (const line of report.lines) out.error(line);
    return report.code;
  }
  return await runExec(conn, cfg, out, "");
}

/** `--from-tcp`: every accepted TCP connection gets its own WebSocket. */
async function runFromTcp(cfg: Config, ctx: ModeContext): Promise<number> {
  const out = ctx.output;
  const address = cfg.bridge.fromTcp!;
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen(address);
  } catch (e) {
    const report = reportError(e);
    out.error(
      `cannot listen on ${formatAddr({ transport: "tcp", ...address })}: ${
        report.lines.join(": ")
      }`,
    );
    return report.code === ExitCode.OK ? ExitCode.ERROR : report.code;
  }
  out.note(
    `listening on tcp://${formatAddr(listener.addr)}, tunnelling to ${cfg.url}`,
  );
  const stop = new AbortController();
  let interrupted = false;
  ctx.onInterrupt = () => {
    interrupted = true;
    stop.abort(new WebSocketError("ABORTED", "interrupted"));
    listener.close();
  };
  const running = new Set<Promise<void>>();
  const serve = async (tcp: Deno.Conn) => {
    const from = formatAddr(tcp.remoteAddr);
    const controller = new AbortController();
    let conn: WebSocketConnection;
    try {
      conn = await connect(
        cfg.url,
        await connectOptions(
          cfg,
          AbortSignal.any([controller.signal, stop.signal]),
        ),
      );
    } catch (e) {
      out.error(`${from}: ${reportError(e).lines.join(": ")}`);
      tcp.close();
      return;
    }
    await runTunnel(conn, tcp, out, from);
  };
  for (;;) {
    let tcp: Deno.Conn;
    try {
      tcp = await listener.accept();
    } catch {
      break; // closed by SIGINT
    }
    const task = serve(tcp);
    running.add(task);
    task.finally(() => running.delete(task));
    if (cfg.once) break;
  }
  try {
    listener.close();
  } catch { /* closed by SIGINT */ }
  await Promise.all(running);
  return interrupted ? ExitCode.INTERRUPTED : ExitCode.OK;
}
