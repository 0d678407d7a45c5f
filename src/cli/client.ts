/**
 * Client mode: connect to a URL, then run a {@linkcode Session}.
 *
 * @module
 */

import {
  connect,
  type ConnectOptions,
  type Http2Settings,
  type WebSocketConnection,
  WebSocketError,
} from "../../mod.ts";
import type { Config } from "./args.ts";
import { escapeControls } from "./escape.ts";
import { CliError, ExitCode, reportError } from "./exit.ts";
import type { InputSource } from "./input.ts";
import type { Output } from "./output.ts";
import { Session, sessionExitCode, type SessionOutcome } from "./session.ts";
import { type Trace, traceFor } from "./trace.ts";

/** What the CLI's entry point hands to a mode. */
export interface ModeContext {
  /** Stdin units, or null when stdin is not read. */
  input: InputSource | null;
  /** Stdout and stderr. */
  output: Output;
  /** Set by the mode: what the first SIGINT does. */
  onInterrupt: (() => void) | null;
  /** Set by client mode: how the last session ended (for --reconnect). */
  outcome?: SessionOutcome;
}

/**
 * Reads the PEM file of `--flag`; a missing file, or one without what the
 * flag needs in it (a certificate, or for --key a private key), is a usage
 * error naming the file.
 */
async function readPemFile(flag: string, path: string): Promise<string> {
  let pem: string;
  try {
    pem = await Deno.readTextFile(path);
  } catch (e) {
    if (
      e instanceof Deno.errors.NotCapable ||
      e instanceof Deno.errors.PermissionDenied
    ) {
      throw new CliError(
        ExitCode.ERROR,
        `cannot read --${flag} ${path}: run with --allow-read=${path}`,
      );
    }
    throw new CliError(
      ExitCode.USAGE,
      `cannot read --${flag} ${path}: ${(e as Error).message}`,
    );
  }
  if (flag === "key") {
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
      throw new CliError(
        ExitCode.USAGE,
        `--key ${path} holds no PEM private key (-----BEGIN PRIVATE KEY-----)`,
      );
    }
  } else if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new CliError(
      ExitCode.USAGE,
      `--${flag} ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)${
        /PRIVATE KEY-----/.test(pem) ? "; it is a private key" : ""
      }`,
    );
  }
  return pem;
}

/**
 * A Unix socket needs three permissions; name every missing one at once
 * rather than one per run.
 */
function unixSocketPermissions(path: string): CliError | null {
  const needed: [Deno.PermissionDescriptor, string][] = [
    [{ name: "read", path }, `--allow-read=${path}`],
    [{ name: "write", path }, `--allow-write=${path}`],
    [{ name: "net", host: `unix:${path}` }, `--allow-net=unix:${path}`],
  ];
  const missing = needed.filter(([descriptor]) => {
    try {
      return Deno.permissions.querySync(descriptor).state !== "granted";
    } catch {
      return true;
    }
  }).map(([, flag]) => flag);
  if (missing.length === 0) return null;
  return new CliError(
    ExitCode.ERROR,
    `connecting to unix:${path} needs permissions: run with ${
      missing.join(" ")
    }`,
  );
}

/** The library options the flags ask for. */
export async function connectOptions(
  cfg: Config,
  signal: AbortSignal,
): Promise<ConnectOptions> {
  const options: ConnectOptions = {
    headers: cfg.headers,
    protocols: cfg.protocols,
    signal,
    rawMode: cfg.raw,
  };
  if (cfg.compress) options.compression = true;
  if (cfg.http2) options.http2 = cfg.http2;
  if (cfg.origin !== undefined) options.origin = cfg.origin;
  if (cfg.user) options.auth = cfg.user;
  if (cfg.proxy !== undefined) options.proxy = cfg.proxy;
  if (cfg.proxyUser) options.proxyAuth = cfg.proxyUser;
  if (cfg.proxyCacert !== undefined) {
    options.proxyCaCerts = [await readPemFile("proxy-cacert", cfg.proxyCacert)];
  }
  if (cfg.unixSocket !== undefined) {
    const denied = unixSocketPermissions(cfg.unixSocket);
    if (denied) throw denied;
    options.unixSocket = cfg.unixSocket;
  }
  if (cfg.cacert !== undefined) {
    options.caCerts = [await readPemFile("cacert", cfg.cacert)];
  }
  if (cfg.cert !== undefined && cfg.key !== undefined) {
    options.cert = await readPemFile("cert", cfg.cert);
    options.key = await readPemFile("key", cfg.key);
  }
  if (cfg.resolve.length > 0) options.resolve = cfg.resolve;
  if (cfg.connectTo.length > 0) options.connectTo = cfg.connectTo;
  if (cfg.connectTimeout !== undefined) {
    options.connectTimeout = cfg.connectTimeout;
  }
  if (cfg.closeTimeout !== undefined) options.closeTimeout = cfg.closeTimeout;
  if (cfg.idleTimeout !== undefined) options.idleTimeout = cfg.idleTimeout;
  if (cfg.sendTimeout !== undefined) options.sendTimeout = cfg.sendTimeout;
  if (cfg.followRedirects > 0) options.followRedirects = cfg.followRedirects;
  return options;
}

/** -v: where we connect, and each upgrade request exactly as written. */
function traceConnect(cfg: Config, out: Output): void {
  const url = new URL(cfg.url);
  out.trace(
    `* connecting to ${
      cfg.unixSocket ? `unix:${cfg.unixSocket} for ` : ""
    }${url.protocol}//${url.host}${
      cfg.proxy ? ` through proxy ${new URL(cfg.proxy).host}` : ""
    }`,
  );
}

function traceRequest(out: Output, head: string): void {
  for (const line of head.split("\r\n").slice(0, -1)) {
    // Credentials stay off the terminal.
    out.trace(
      `>${line ? " " : ""}${
        line.replace(/^(authorization:\s*\S+).*/i, "$1 (hidden)")
      }`,
    );
  }
}

/** -v: the server's HTTP/2 settings, once per WebSocket over HTTP/2. */
function traceSettings(out: Output, s: Http2Settings): void {
  const n = (v: number) => v === Infinity ? "unlimited" : String(v);
  out.trace(
    `* HTTP/2 server SETTINGS: HEADER_TABLE_SIZE=${
      n(s.headerTableSize)
    } MAX_CONCURRENT_STREAMS=${n(s.maxConcurrentStreams)} INITIAL_WINDOW_SIZE=${
      n(s.initialWindowSize)
    } MAX_FRAME_SIZE=${n(s.maxFrameSize)} MAX_HEADER_LIST_SIZE=${
      n(s.maxHeaderListSize)
    } ENABLE_CONNECT_PROTOCOL=${s.enableConnectProtocol ? 1 : 0}`,
  );
}

/** A response head to show: HTTP/2 has no reason phrase. */
interface ShownHead {
  httpVersion: "1.1" | "2";
  status: number;
  statusText?: string;
  headers: Headers;
}

function statusLine(h: ShownHead): string {
  if (h.httpVersion === "2") return `HTTP/2 ${h.status}`;
  const text = h.statusText ??
    (h.status === 101 ? "Switching Protocols" : "");
  return `HTTP/1.1 ${h.status}${text ? " " + text : ""}`;
}

/** The response head as text (rebuilt: the library keeps no raw copy). */
function responseHead(h: ShownHead): string {
  let text = statusLine(h) + "\r\n";
  for (const [name, value] of h.headers) text += `${name}: ${value}\r\n`;
  return text + "\r\n";
}

/** `-I`: the response head on stdout, like `curl -I`. */
async function printHead(out: Output, h: ShownHead): Promise<void> {
  // The head is metadata, not message data: escaped even when piped.
  const lines = responseHead(h).split("\r\n");
  await out.write(lines.map((l) => escapeControls(l, true)).join("\r\n"));
}

function traceResponse(out: Output, h: ShownHead): void {
  out.trace(`< ${statusLine(h)}`);
  for (const [name, value] of h.headers) out.trace(`< ${name}: ${value}`);
  out.trace("<");
}

/** Connects and runs the session; returns the exit code. */
export async function runClient(
  cfg: Config,
  ctx: ModeContext,
): Promise<number> {
  const out = ctx.output;
  const controller = new AbortController();
  let session: Session | null = null;
  ctx.onInterrupt = () => {
    if (session) session.interrupt();
    else controller.abort(new WebSocketError("ABORTED", "interrupted"));
  };
  let maxTimer: ReturnType<typeof setTimeout> | undefined;
  if (cfg.maxTime !== undefined) {
    maxTimer = setTimeout(() => {
      controller.abort(
        new WebSocketError(
          "TIMEOUT",
          `operation timed out after ${cfg.maxTime! / 1000} s (--max-time)`,
        ),
      );
    }, cfg.maxTime);
  }
  try {
    const options = await connectOptions(cfg, controller.signal);
    const trace: Trace | null = traceFor(cfg.trace, "client");
    if (cfg.verbose) traceConnect(cfg, out);
    else if (out.interactive) out.note(`connecting to ${cfg.url} ...`);
    // The version of the latest request: onHttp2Settings comes just before
    // each one over HTTP/2, and a redirect may go from one to the other.
    let httpVersion = "1.1" as "1.1" | "2";
    let settingsSeen = false;
    options.onHttp2Settings = (settings) => {
      settingsSeen = true;
      if (cfg.verbose) traceSettings(out, settings);
    };
    options.onRequest = (head) => {
      httpVersion = settingsSeen ? "2" : "1.1";
      settingsSeen = false;
      if (cfg.verbose) traceRequest(out, head);
      trace?.head("send", head);
    };
    const show = async (h: ShownHead) => {
      trace?.head("recv", responseHead(h));
      if (cfg.verbose) traceResponse(out, h);
      if (cfg.head) await printHead(out, h);
    };
    let conn: WebSocketConnection;
    try {
      conn = await connect(cfg.url, options);
    } catch (e) {
      if (e instanceof WebSocketError && e.headers && e.status !== undefined) {
        await show({
          httpVersion,
          status: e.status,
          statusText: e.statusText,
          headers: e.headers,
        });
      }
      throw e;
    }
    await show(conn.response);
    out.note(
      `connected to ${cfg.url}${
        conn.protocol ? ` (subprotocol ${conn.protocol})` : ""
      }`,
    );
    if (cfg.verbose && conn.protocol) {
      out.trace(`* subprotocol: ${conn.protocol}`);
    }
    if (cfg.verbose && conn.extensions) {
      out.trace(`* extensions: ${conn.extensions}`);
    }
    session = new Session(conn, cfg, ctx.input, out, controller, trace);
    const outcome = await session.run();
    ctx.outcome = outcome;
    return sessionExitCode(outcome, out, "server");
  } catch (e) {
    const report = reportError(e);
    for (const line of report.lines) out.error(line);
    return report.code;
  } finally {
    clearTimeout(maxTimer);
  }
}
