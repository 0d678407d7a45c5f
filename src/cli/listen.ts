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
import type { Output, SyncSink } from "./output.ts";
import { openTraceSink, Trace } from "./trace.ts";
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

/**
 * The 101 we answered, line by line. The library does not hand out the
 * response as written, so it is rebuilt from what was agreed.
 */
async function responseLines(
  key: string,
  conn: { protocol: string; extensions: string },
  extra: [string, string][],
): Promise<string[]> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
  );
  const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
  const lines = [
    "HTTP/1.1 101 Switching Protocols",
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Accept: ${accept}`,
  ];
  if (conn.protocol) lines.push(`Sec-WebSocket-Protocol: ${conn.protocol}`);
  if (conn.extensions) {
    lines.push(`Sec-WebSocket-Extensions: ${conn.extensions}`);
  }
  for (const [name, value] of extra) lines.push(`${name}: ${value}`);
  return lines;
}

/** The request head as text, for --trace. */
function requestText(head: RequestHead): string {
  let text = `${head.method} ${head.target} ${head.version}\r\n`;
  for (const [name, value] of head.headers) text += `${name}: ${value}\r\n`;
  return text + "\r\n";
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
  let traceSink: SyncSink | null;
  try {
    bridge = listenBridge(cfg, out);
    traceSink = cfg.trace ? openTraceSink(cfg.trace.path) : null;
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
    const trace = traceSink && new Trace(traceSink, cfg.trace!.ascii, "server");
    let key = "";
    let conn;
    try {
      conn = await acceptWebSocket(tcp, {
        ...bridge.acceptOptions,
        protocols: cfg.protocols,
        headers: cfg.headers,
        signal: controller.signal,
        closeTimeout: cfg.closeTimeout,
        idleTimeout: cfg.idleTimeout,
        sendTimeout: cfg.sendTimeout,
        rawMode: cfg.raw,
        compression: cfg.compress,
        onRequest: async (head) => {
          key = head.headers.get("sec-websocket-key") ?? "";
          if (cfg.verbose) traceRequest(out, head, from);
          trace?.head("recv", requestText(head));
          await link?.prepare();
        },
      });
    } catch (e) {
      link?.abandon();
      const report = reportError(e);
      out.error(`upgrade from ${from} failed: ${report.lines.join(": ")}`);
      return report.code;
    }
    if (cfg.verbose || trace) {
      const lines = await responseLines(key, conn, cfg.headers);
      if (cfg.verbose) {
        for (const line of [...lines, ""]) out.trace(`> ${line}`.trimEnd());
      }
      trace?.head("send", lines.join("\r\n") + "\r\n\r\n");
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
      trace,
    );
    sessions.add(session);
    try {
      return sessionExitCode(await session.run(), out, "client");
    } finally {
      sessions.delete(session);
    }
  };

  let last: number = ExitCode.OK;
  // Stdin feeds the clients: when it ends before one connects (Ctrl-D,
  // </dev/null), there is nothing to serve, so stop at once.
  const input = !cfg.echo && !cfg.noClose ? ctx.input : null;
  while (!stopping) {
    let tcp: Deno.Conn;
    try {
      const accepted = listener.accept();
      const first = input === null ? await accepted : await Promise.race([
        accepted,
        input.next().then((unit) => unit === null ? null : accepted),
      ]);
      if (first === null) {
        accepted.catch(() => {}); // rejected when the listener closes
        input!.take();
        out.note("end of input with no client connected; not listening");
        break;
      }
      tcp = first;
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
