/**
 * Opening the byte stream under a WebSocket: TCP (with `resolve` /
 * `connectTo` mappings and happy eyeballs), an HTTP(S) CONNECT or SOCKS5
 * proxy tunnel, or a Unix socket; then TLS for `wss://`, with a client
 * certificate when given. Timeouts, cancellation and errors that say what
 * went wrong (and which permission flag is missing).
 *
 * @module
 */

import { openTcp } from "./happy_eyeballs.ts";
import { mapNetError } from "./net_error.ts";
import { openTunnel, type ProxySpec } from "./proxy.ts";
import { applyConnectTo, type RouteTable } from "./resolve.ts";
import { withAbort } from "./stream.ts";
import { type ClientTls, startClientTls } from "./tls.ts";

/** A connected byte stream: what the connection reads from and writes to. */
export type Transport = Deno.Conn;

/** How to reach the server. */
export interface TransportOptions {
  /** Extra CA certificates (PEM) trusted for `wss://`. */
  caCerts?: string[];
  /** Client certificate chain (PEM) for `wss://` servers that ask for one. */
  cert?: string;
  /** Private key of `cert` (PEM). */
  key?: string;
  /** Path of a Unix socket to connect to instead of the URL's host. */
  unixSocket?: string;
  /** Proxy to tunnel through (see {@linkcode parseProxy}). */
  proxy?: ProxySpec;
  /** CA certificates (PEM) trusted for an `https://` proxy's own certificate. */
  proxyCaCerts?: string[];
  /** Parsed `resolve` and `connectTo` entries. */
  routes?: RouteTable;
  /** ALPN protocols to offer on `wss://`, most wanted first (none: no ALPN). */
  alpnProtocols?: string[];
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

const NO_ROUTES: RouteTable = { resolve: [], connectTo: [] };

/**
 * Opens the transport for a WebSocket URL: a Unix socket, a proxy tunnel, or
 * a direct TCP connection, then TLS for `wss://` with the URL's host name
 * checked (never the address a `resolve` or `connectTo` entry chose).
 * Resolves with the stream and the protocol ALPN chose (null on `ws://`).
 */
export async function openTransport(
  url: URL,
  options: TransportOptions = {},
): Promise<ClientTls> {
  const { signal } = options;
  const routes = options.routes ?? NO_ROUTES;
  const hostname = urlHostname(url);
  const to = applyConnectTo(routes, hostname, urlPort(url));
  const mapped = to.host !== hostname || to.port !== urlPort(url)
    ? ` (connect-to ${
      to.host.includes(":") ? `[${to.host}]` : to.host
    }:${to.port})`
    : "";
  const where = options.unixSocket
    ? `connect to unix:${options.unixSocket}`
    : options.proxy
    ? `connect to ${url.host}${mapped} through proxy ${options.proxy.name}`
    : `connect to ${url.host}${mapped}`;
  let conn: Deno.Conn;
  let tcp = true;
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
      tcp = false;
    } else if (options.proxy) {
      ({ conn, tcp } = await openTunnel(options.proxy, to.host, to.port, {
        routes,
        proxyCaCerts: options.proxyCaCerts,
        signal,
      }));
    } else {
      conn = await openTcp(to.host, to.port, routes, signal);
    }
  } catch (e) {
    throw mapNetError(e, where, signal);
  }
  // Set on the socket before TLS takes it over: a TLS connection has no
  // setNoDelay, and Nagle would hold a small frame for the previous one's ACK
  // (and, over HTTP/2, one stream's frames for another's).
  if (tcp) {
    try {
      (conn as Deno.TcpConn).setNoDelay(true);
    } catch { /* already reset: the first read or write says so */ }
  }
  if (!isSecure(url)) return { conn, alpnProtocol: null };
  return await startClientTls(conn, tcp, {
    hostname,
    caCerts: options.caCerts,
    cert: options.cert,
    key: options.key,
    alpnProtocols: options.alpnProtocols,
    signal,
    what: `TLS with ${url.host}`,
  });
}
