/**
 * Proxies: which one to use (the `proxy` option or the environment), and
 * opening a tunnel through it: HTTP CONNECT over TCP (`http://`) or over TLS
 * to the proxy (`https://`), or SOCKS5 (`socks5://` resolves the target name
 * here, `socks5h://` lets the proxy resolve it; curl's distinction).
 *
 * @module
 */

import { lookup } from "node:dns/promises";
import { WebSocketError } from "../errors.ts";
import { basicAuth, parseResponseHead, printable } from "../handshake.ts";
import { openTcp } from "./happy_eyeballs.ts";
import { mapNetError } from "./net_error.ts";
import { isIpLiteral, resolvedAddresses, type RouteTable } from "./resolve.ts";
import { socks5Handshake } from "./socks.ts";
import {
  closeQuietly,
  readHttpHead,
  type ReadWriter,
  withAbort,
  writeAll,
} from "./stream.ts";
import { startClientTls } from "./tls.ts";

/** Username and password for a proxy (Basic for HTTP, RFC 1929 for SOCKS5). */
export interface ProxyAuth {
  username: string;
  password: string;
}

/** A proxy to tunnel through, parsed. */
export interface ProxySpec {
  kind: "http" | "https" | "socks5" | "socks5h";
  /** Host name or IP literal (no brackets). */
  hostname: string;
  port: number;
  /** Credentials: the `proxyAuth` option, else the URL's user:pass@. */
  auth?: ProxyAuth;
  /** `host:port` for messages (never the credentials). */
  name: string;
}

/** curl's default ports: 1080 for http:// and SOCKS, 443 for https://. */
const DEFAULT_PORTS = { http: 1080, https: 443, socks5: 1080, socks5h: 1080 };

/** Parses a proxy URL; an unsupported scheme is `INVALID_ARGUMENT`. */
export function parseProxy(proxy: string | URL, auth?: ProxyAuth): ProxySpec {
  let url: URL;
  try {
    url = new URL(proxy);
  } catch {
    throw new WebSocketError(
      "INVALID_ARGUMENT",
      `invalid proxy URL ${JSON.stringify(String(proxy))}`,
    );
  }
  const kind = url.protocol.slice(0, -1);
  if (!(kind in DEFAULT_PORTS)) {
    throw new WebSocketError(
      "INVALID_ARGUMENT",
      `unsupported proxy scheme ${url.protocol} (use http://, https://, socks5:// or socks5h://)`,
    );
  }
  const k = kind as ProxySpec["kind"];
  const port = url.port ? Number(url.port) : DEFAULT_PORTS[k];
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const fromUrl = url.username
    ? {
      username: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
    }
    : undefined;
  return {
    kind: k,
    hostname,
    port,
    auth: auth ?? fromUrl,
    name: `${url.hostname}:${port}`,
  };
}

// ------------------------------------------------------------ environment

function envGranted(name: string): boolean {
  try {
    return Deno.permissions.querySync({ name: "env", variable: name })
      .state === "granted";
  } catch {
    return false;
  }
}

/** A variable's value, upper case first, then lower case where readable. */
function envValue(name: string): string | undefined {
  for (const n of [name, name.toLowerCase()]) {
    if (!envGranted(n)) continue;
    const v = Deno.env.get(n);
    if (v) return v;
  }
  return undefined;
}

/** True when `NO_PROXY`'s list names `url`'s host (or is `*`). */
export function noProxyMatches(noProxy: string, url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  for (let entry of noProxy.split(",")) {
    entry = entry.trim().toLowerCase().replace(/:\d+$/, "");
    if (entry === "*") return true;
    if (entry === "") continue;
    const bare = entry.replace(/^\[|\]$/g, "").replace(/^\*?\./, "");
    if (host === bare || host.endsWith("." + bare)) return true;
  }
  return false;
}

/**
 * The proxy to use for `url` from the environment (`HTTPS_PROXY` for wss,
 * `HTTP_PROXY` for ws, then `ALL_PROXY`; `NO_PROXY` excludes hosts), read
 * only where env access is granted. Once a proxy is found, every variable
 * that could change the choice (`NO_PROXY`, and the scheme's own variable
 * when `ALL_PROXY` answered) must be readable: otherwise this throws
 * `PERMISSION_DENIED` naming them, rather than route around the caller's
 * exclusions without a word.
 */
export function proxyFromEnv(url: URL): string | undefined {
  const names = [
    url.protocol === "wss:" ? "HTTPS_PROXY" : "HTTP_PROXY",
    "ALL_PROXY",
  ];
  const unreadable: string[] = [];
  let proxy: string | undefined;
  let from = "";
  for (const name of names) {
    if (!envGranted(name)) {
      unreadable.push(name);
      continue;
    }
    proxy = envValue(name);
    if (proxy) {
      from = name;
      break;
    }
  }
  if (!proxy) return undefined;
  const missing = unreadable.filter((n) => n !== "ALL_PROXY");
  if (!envGranted("NO_PROXY")) missing.push("NO_PROXY");
  if (missing.length > 0) {
    throw new WebSocketError(
      "PERMISSION_DENIED",
      `${from} names a proxy but ${
        missing.join(" and ")
      } cannot be read, so the proxy choice is unknown: run with --allow-env=${
        [...missing, from].join(",")
      } (or grant none of the proxy variables)`,
    );
  }
  const noProxy = envValue("NO_PROXY");
  if (noProxy && noProxyMatches(noProxy, url)) return undefined;
  return proxy;
}

// ----------------------------------------------------------------- tunnel

/** What opening a tunnel needs besides the proxy and the target. */
export interface TunnelContext {
  /** `resolve` entries: they apply to the proxy's name, and to the target for socks5://. */
  routes: RouteTable;
  /** CA certificates for an `https://` proxy's own certificate. */
  proxyCaCerts?: string[];
  signal?: AbortSignal;
}

/**
 * Opens a tunnel to `host:port` through `proxy`. Returns the stream and
 * whether it is a plain TCP connection (`Deno.startTls` can only run on one).
 */
export async function openTunnel(
  proxy: ProxySpec,
  host: string,
  port: number,
  ctx: TunnelContext,
): Promise<{ conn: Deno.Conn; tcp: boolean }> {
  const { signal } = ctx;
  let conn: Deno.Conn = await openTcp(
    proxy.hostname,
    proxy.port,
    ctx.routes,
    signal,
  );
  let tcp = true;
  if (proxy.kind === "https") {
    ({ conn } = await startClientTls(conn, true, {
      hostname: proxy.hostname,
      caCerts: ctx.proxyCaCerts,
      signal,
      what: `TLS with proxy ${proxy.name}`,
    }));
    tcp = false;
  }
  // The proxy may accept the connection and never answer: the exchange must
  // stay abortable (connectTimeout and the caller's signal).
  const open = conn;
  try {
    await withAbort(
      proxy.kind === "socks5" || proxy.kind === "socks5h"
        ? (async () => {
          const target = proxy.kind === "socks5"
            ? await resolveHere(host, port, ctx.routes)
            : host;
          await socks5Handshake(open, target, port, proxy.auth, proxy.name);
        })()
        : httpConnect(open, host, port, proxy),
      signal,
      () => closeQuietly(open),
    );
  } catch (e) {
    closeQuietly(open);
    throw e;
  }
  return { conn, tcp };
}

/** The address socks5:// sends for `host`: a literal, a `resolve` entry, or a lookup here. */
async function resolveHere(
  host: string,
  port: number,
  routes: RouteTable,
): Promise<string> {
  if (isIpLiteral(host)) return host;
  const mapped = resolvedAddresses(routes, host, port);
  if (mapped) return mapped[0];
  try {
    return (await lookup(host)).address;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "EPERM") {
      throw new WebSocketError(
        "PERMISSION_DENIED",
        `resolve ${host} for a socks5:// proxy: permission denied (run with --allow-net=${host}, or use socks5h:// to let the proxy resolve it)`,
        { cause: e },
      );
    }
    throw mapNetError(e, `resolve ${host} for a socks5:// proxy`);
  }
}

/** Sends CONNECT on `conn` and checks the proxy's answer. */
async function httpConnect(
  conn: ReadWriter,
  host: string,
  port: number,
  proxy: ProxySpec,
): Promise<void> {
  const authority = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  let req = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n`;
  if (proxy.auth) {
    req += `Proxy-Authorization: ${
      basicAuth(proxy.auth.username, proxy.auth.password)
    }\r\n`;
  }
  await writeAll(conn, new TextEncoder().encode(req + "\r\n"));
  const { head, rest } = await readHttpHead(conn, `proxy ${proxy.name}`);
  const res = parseResponseHead(head, head.length);
  if (res.status < 200 || res.status > 299) {
    // 407 is the rule; some proxies (tinyproxy) answer bad credentials with 401.
    const why = res.status === 407 || res.status === 401
      ? proxy.auth
        ? " (the proxy refused our credentials)"
        : " (the proxy wants credentials: user:pass@ in the proxy URL or proxyAuth)"
      : "";
    throw new WebSocketError(
      "CONNECT_FAILED",
      `proxy ${proxy.name} refused CONNECT ${authority}: HTTP ${res.status} ${
        printable(res.statusText)
      }`
        .trim() + why,
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
      `proxy ${proxy.name} sent bytes before the tunnel was used`,
    );
  }
}
