/**
 * Opening the byte stream under a WebSocket: TCP, TLS, an HTTP CONNECT proxy
 * tunnel or a Unix socket, with timeouts, cancellation and errors that say
 * what went wrong (and which permission flag is missing).
 *
 * @module
 */

import { WebSocketError, type WebSocketErrorCode } from "../errors.ts";
import { findHeadEnd, parseResponseHead } from "../handshake.ts";

/** A connected byte stream: what the connection reads from and writes to. */
export type Transport = Deno.Conn;

/** How to reach the server. */
export interface TransportOptions {
  /** Extra CA certificates (PEM) trusted for `wss://`. */
  caCerts?: string[];
  /** Path of a Unix socket to connect to instead of the URL's host. */
  unixSocket?: string;
  /** HTTP proxy URL (`http://[user:pass@]host:port`) to tunnel through with CONNECT. */
  proxy?: string | URL;
  /** Aborts the attempt. */
  signal?: AbortSignal;
}

/** The port of a ws/wss/http/https URL, defaults applied. */
export function urlPort(url: URL): number {
  if (url.port) return Number(url.port);
  return url.protocol === "wss:" || url.protocol === "https:" ? 443 : 80;
}

/** The host name of a URL without IPv6 brackets. */
export function urlHostname(url: URL): string {
  const h = url.hostname;
  return h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1) : h;
}

/** True for `wss:` and `https:` URLs. */
export function isSecure(url: URL): boolean {
  return url.protocol === "wss:" || url.protocol === "https:";
}

/**
 * Turns an error thrown by a Deno network call into a
 * {@linkcode WebSocketError} with a message a person can act on.
 */
export function mapNetError(
  err: unknown,
  what: string,
  signal?: AbortSignal,
): WebSocketError {
  if (err instanceof WebSocketError) return err;
  if (signal?.aborted) {
    const reason = signal.reason;
    if (reason instanceof WebSocketError) return reason;
    return new WebSocketError("ABORTED", `${what}: aborted`, { cause: reason });
  }
  const e = err as Error;
  const msg = e?.message ?? String(err);
  let code: WebSocketErrorCode = "CONNECT_FAILED";
  if (
    e instanceof Deno.errors.NotCapable ||
    e instanceof Deno.errors.PermissionDenied
  ) {
    code = "PERMISSION_DENIED";
    const flag = /run again with the (--allow-[a-z]+) flag/.exec(msg)?.[1];
    const need = /Requires (\w+) access to "([^"]*)"/.exec(msg);
    const hint = need && flag ? ` (run with ${flag}=${need[2]})` : "";
    return new WebSocketError(code, `${what}: permission denied${hint}`, {
      cause: err,
    });
  }
  if (e instanceof Deno.errors.TimedOut) code = "TIMEOUT";
  else if (
    e instanceof Deno.errors.InvalidData ||
    /certificate|tls|handshake|alert/i.test(msg)
  ) code = "TLS_ERROR";
  return new WebSocketError(code, `${what}: ${msg}`, { cause: err });
}

/**
 * Reads an HTTP head (through the blank line) from `conn`. Returns the head's
 * bytes and whatever arrived after it in the same reads, which belongs to
 * the next layer (the first frame bytes after a 101). `peer` names the other
 * side in the error when the stream ends first.
 */
export async function readHttpHead(
  conn: Deno.Conn,
  peer: string,
): Promise<{ head: Uint8Array; rest: Uint8Array }> {
  let buf = new Uint8Array(4096);
  let len = 0;
  for (;;) {
    if (len === buf.length) {
      const bigger = new Uint8Array(buf.length * 2);
      bigger.set(buf);
      buf = bigger;
    }
    const n = await conn.read(buf.subarray(len));
    if (n === null) {
      throw new WebSocketError(
        len === 0 ? "CONNECTION_LOST" : "BAD_HANDSHAKE",
        len === 0
          ? `${peer} closed the connection without answering`
          : `${peer} closed the connection inside the HTTP head`,
      );
    }
    const from = len;
    len += n;
    const end = findHeadEnd(buf.subarray(0, len), from);
    if (end !== -1) {
      return { head: buf.subarray(0, end), rest: buf.slice(end, len) };
    }
  }
}

/** Builds a `Basic` authorization value. */
export function basicAuth(username: string, password: string): string {
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return `Basic ${btoa(s)}`;
}

async function connectViaProxy(
  target: URL,
  proxy: URL,
  signal?: AbortSignal,
): Promise<Deno.TcpConn> {
  if (proxy.protocol !== "http:") {
    throw new WebSocketError(
      "INVALID_ARGUMENT",
      `unsupported proxy scheme ${proxy.protocol} (use http://)`,
    );
  }
  const conn = await Deno.connect({
    hostname: urlHostname(proxy),
    port: proxy.port ? Number(proxy.port) : 1080, // curl's default proxy port
    signal,
  });
  // The proxy may accept the TCP connection and never answer: the CONNECT
  // exchange must stay abortable (connectTimeout and the caller's signal).
  return await withAbort(
    tunnel(conn, target, proxy),
    signal,
    () => conn.close(),
  );
}

/** Sends CONNECT on `conn` and checks the proxy's answer; closes `conn` on failure. */
async function tunnel(
  conn: Deno.TcpConn,
  target: URL,
  proxy: URL,
): Promise<Deno.TcpConn> {
  try {
    const authority = `${target.hostname}:${urlPort(target)}`;
    let req = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n`;
    if (proxy.username) {
      req += `Proxy-Authorization: ${
        basicAuth(
          decodeURIComponent(proxy.username),
          decodeURIComponent(proxy.password),
        )
      }\r\n`;
    }
    await writeAll(conn, new TextEncoder().encode(req + "\r\n"));
    const { head, rest } = await readHttpHead(conn, "proxy");
    const res = parseResponseHead(head, head.length);
    if (res.status < 200 || res.status > 299) {
      throw new WebSocketError(
        "CONNECT_FAILED",
        `proxy refused CONNECT ${authority}: HTTP ${res.status} ${res.statusText}`
          .trim(),
        {
          status: res.status,
          statusText: res.statusText,
          headers: res.headers,
        },
      );
    }
    if (rest.length > 0) {
      throw new WebSocketError(
        "CONNECT_FAILED",
        "proxy sent bytes before the tunnel was used",
      );
    }
    return conn;
  } catch (e) {
    try {
      conn.close();
    } catch { /* already closed by an abort */ }
    throw e;
  }
}

/** Writes all of `bytes`. */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/**
 * Opens the transport for a WebSocket URL: a Unix socket, a proxy tunnel, or
 * a direct TCP connection, then TLS for `wss://` with the host name checked.
 */
export async function openTransport(
  url: URL,
  options: TransportOptions = {},
): Promise<Transport> {
  const { signal } = options;
  const secure = isSecure(url);
  const hostname = urlHostname(url);
  const port = urlPort(url);
  const where = options.unixSocket
    ? `connect to unix:${options.unixSocket}`
    : `connect to ${url.host}`;
  let conn: Deno.Conn;
  try {
    signal?.throwIfAborted();
    if (options.unixSocket) {
      // Deno.connect takes no signal for Unix sockets: a connection that
      // completes after an abort is closed as soon as it arrives.
      const pending = Deno.connect({
        transport: "unix",
        path: options.unixSocket,
      });
      conn = await withAbort(pending, signal, () => {
        pending.then((c) => c.close(), () => {});
      });
    } else if (options.proxy) {
      const proxy = new URL(options.proxy);
      conn = await connectViaProxy(url, proxy, signal);
    } else if (secure) {
      conn = await Deno.connect({ hostname, port, signal });
    } else {
      return await Deno.connect({ hostname, port, signal });
    }
  } catch (e) {
    throw mapNetError(e, where, signal);
  }
  if (!secure) return conn;
  // startTls takes over the TCP resource: from then on only the TLS
  // connection can (and must) be closed, or it leaks after a failed handshake.
  let tls: Deno.TlsConn | undefined;
  try {
    tls = await Deno.startTls(conn as Deno.TcpConn, {
      hostname,
      caCerts: options.caCerts,
    });
    const handshaking = tls;
    await withAbort(handshaking.handshake(), signal, () => handshaking.close());
    return tls;
  } catch (e) {
    try {
      (tls ?? conn).close();
    } catch { /* already closed (by the abort) */ }
    const err = mapNetError(e, `TLS with ${url.host}`, signal);
    if (err.code === "CONNECT_FAILED") {
      return Promise.reject(
        new WebSocketError("TLS_ERROR", err.message, { cause: e }),
      );
    }
    throw err;
  }
}

/**
 * Awaits `promise`, but rejects as soon as `signal` aborts (calling
 * `onAbort`, which should release what the promise waits on).
 */
export function withAbort<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  onAbort: () => void,
): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    onAbort();
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      try {
        onAbort();
      } catch { /* ignore */ }
      promise.catch(() => {});
      reject(signal.reason);
    };
    signal.addEventListener("abort", abort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", abort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", abort);
        reject(e);
      },
    );
  });
}
