/**
 * The client face: `connect()` opens the transport, performs the upgrade and
 * returns a {@linkcode WebSocketConnection} (libcurl's `CONNECT_ONLY=2`).
 *
 * @module
 */

import { WebSocketError } from "./errors.ts";
import {
  basicAuth,
  buildRequest,
  computeAccept,
  generateKey,
  parseResponseHead,
  type ResponseHead,
  validateResponse,
} from "./handshake.ts";
import { type ConnectionOptions, WebSocketConnection } from "./connection.ts";
import {
  clientDeflate,
  loadCompression,
  offerHeader,
  resolveCompressionOptions,
} from "./deflate.ts";
import { connectOverHttp2, type Http2ConnectOptions } from "./io/h2_connect.ts";
import { openTransport, type TransportOptions } from "./io/transport.ts";
import { mapNetError } from "./io/net_error.ts";
import { parseProxy, proxyFromEnv } from "./io/proxy.ts";
import { parseRoutes, type RouteTable } from "./io/resolve.ts";
import { readHttpHead, withAbort, writeAll } from "./io/stream.ts";
import { checkClientCertificate, explainEarlyEnd } from "./io/tls.ts";

/**
 * The default of {@linkcode ConnectOptions.connectTimeout}: 30 s for TCP,
 * proxy, TLS and the upgrade together, so that a server that accepts the
 * connection and never answers cannot hold `connect()` forever.
 */
export const DEFAULT_CONNECT_TIMEOUT = 30_000;

/** Options of {@linkcode connect}. */
export interface ConnectOptions extends ConnectionOptions, Http2ConnectOptions {
  /** Extra request headers. The handshake's own headers cannot be replaced. */
  headers?: HeadersInit;
  /** Subprotocols to offer (`Sec-WebSocket-Protocol`), in order of preference. */
  protocols?: string[];
  /** `Origin` header. */
  origin?: string;
  /** Extra CA certificates (PEM strings) to trust for `wss://`. */
  caCerts?: string[];
  /**
   * Client certificate chain (PEM) for mutual TLS, sent to a `wss://` server
   * that asks for one; needs `key`.
   */
  cert?: string;
  /** Private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC) of `cert`. */
  key?: string;
  /**
   * Time limit in ms for TCP connect, proxy, TLS and the upgrade together
   * (default {@linkcode DEFAULT_CONNECT_TIMEOUT}, 30 s; 0 for none).
   */
  connectTimeout?: number;
  /** Follow up to this many redirects (default 0: a 3xx is an error). */
  followRedirects?: number;
  /** Allow a redirect from `wss://` to `ws://` (default false). */
  allowInsecureRedirect?: boolean;
  /** Credentials sent as `Authorization: Basic` (also taken from the URL's user:pass@). */
  auth?: { username: string; password: string };
  /** Token sent as `Authorization: Bearer`. */
  bearer?: string;
  /**
   * Proxy to tunnel through: `http://[user:pass@]host[:port]` (CONNECT,
   * default port 1080), `https://…` (TLS to the proxy, then CONNECT inside;
   * default port 443), `socks5://…` (SOCKS5, the target's name resolved
   * here) or `socks5h://…` (the proxy resolves it). Default: `HTTPS_PROXY`
   * (wss) / `HTTP_PROXY` (ws), then `ALL_PROXY`, unless `NO_PROXY` matches,
   * where env access is granted; `false` for none.
   */
  proxy?: string | URL | false;
  /** Proxy credentials (Basic for HTTP(S) proxies, RFC 1929 for SOCKS5); override the proxy URL's user:pass@. Sent to the proxy only. */
  proxyAuth?: { username: string; password: string };
  /** CA certificates (PEM) to trust for an `https://` proxy's own certificate (`caCerts` is for the server). */
  proxyCaCerts?: string[];
  /**
   * curl's `--resolve`: `"HOST:PORT:ADDR[,ADDR…]"` entries that give the
   * addresses of a host and port (`*` for any host or port) instead of DNS.
   * Several addresses are raced (happy eyeballs, RFC 8305). Host header,
   * SNI and the certificate check keep the URL's name.
   */
  resolve?: string[];
  /**
   * curl's `--connect-to`: `"HOST1:PORT1:HOST2:PORT2"` entries; a request
   * for HOST1:PORT1 connects to HOST2:PORT2 instead (an empty part matches
   * any, or keeps the original). Host header, SNI and the certificate check
   * keep the URL's name.
   */
  connectTo?: string[];
  /** Connect to this Unix socket; the URL still gives Host and path. */
  unixSocket?: string;
  /**
   * Called with each upgrade request head (the exact text, CRLF line ends)
   * just before it is written, once per redirect hop: logging like `curl -v`.
   */
  onRequest?(head: string, url: URL): void;
}

/** Normalizes a WebSocket URL: ws/wss, or http/https mapped to them. */
export function parseWebSocketUrl(input: string | URL): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new WebSocketError(
      "INVALID_ARGUMENT",
      `invalid URL ${JSON.stringify(String(input))}`,
    );
  }
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new WebSocketError(
      "INVALID_ARGUMENT",
      `unsupported URL scheme ${url.protocol} (use ws:// or wss://)`,
    );
  }
  if (url.hash) {
    throw new WebSocketError(
      "INVALID_ARGUMENT",
      "a WebSocket URL cannot have a #fragment",
    );
  }
  return url;
}

const BODY_PREVIEW = 1024;

/** Header name/value pairs in the caller's spelling, checked for validity. */
function headerPairs(init: HeadersInit | undefined): [string, string][] {
  if (init === undefined) return [];
  try {
    new Headers(init); // throws on invalid names or values
  } catch (e) {
    throw new WebSocketError(
      "INVALID_ARGUMENT",
      `invalid header: ${(e as Error).message}`,
    );
  }
  if (init instanceof Headers) return [...init];
  if (Array.isArray(init)) {
    return init.map(([k, v]) => [k, String(v).trim()] as [string, string]);
  }
  return Object.entries(init as Record<string, string>).map((
    [k, v],
  ) => [k, String(v).trim()] as [string, string]);
}

/**
 * Opens a WebSocket connection: TCP (or a proxy tunnel or Unix socket), TLS
 * for `wss://`, then the HTTP/1.1 upgrade. Any answer but `101` fails with
 * `HTTP_RETURNED_ERROR` carrying the status, headers and the first bytes of
 * the body, even a `200`.
 *
 * @example Connect-only use, like libcurl's CONNECT_ONLY=2
 * ```ts
 * import assert from "node:assert/strict";
 * import { acceptWebSocket, connect, WS } from "../mod.ts";
 *
 * // An echo server that speaks "chat", on a free port.
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const echo = listener.accept()
 *   .then((tcp) => acceptWebSocket(tcp, { protocols: ["chat"] }))
 *   .then(async (peer) => {
 *     for await (const message of peer) await peer.send(message);
 *   });
 * const url = `ws://127.0.0.1:${listener.addr.port}/`;
 * const conn = await connect(url, { protocols: ["chat"] });
 * assert.equal(conn.protocol, "chat");
 * await conn.send("hello");
 * const buf = new Uint8Array(4096);
 * const { n, meta } = await conn.recv(buf);
 * assert.ok(meta.flags & WS.TEXT);
 * assert.equal(new TextDecoder().decode(buf.subarray(0, n)), "hello");
 * await conn.close();
 * await echo;
 * listener.close();
 * ```
 */
export async function connect(
  url: string | URL,
  options: ConnectOptions = {},
): Promise<WebSocketConnection> {
  let target = parseWebSocketUrl(url);
  const original = target;
  resolveCompressionOptions(options.compression); // INVALID_ARGUMENT early
  checkClientCertificate(options.cert, options.key);
  const routes = parseRoutes(options.resolve, options.connectTo);
  if (options.proxy) parseProxy(options.proxy, options.proxyAuth);
  const limit = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT;
  if (!(limit >= 0)) {
    throw new WebSocketError(
      "INVALID_ARGUMENT",
      `connectTimeout must be 0 (none) or more ms, got ${options.connectTimeout}`,
    );
  }
  const controller = new AbortController();
  const signal = controller.signal;
  const onAbort = () => controller.abort(options.signal!.reason);
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Infinity (like 0) is no limit; setTimeout cannot wait longer than 2^31-1 ms.
  if (limit > 0 && limit < 2 ** 31) {
    const which = options.connectTimeout === undefined
      ? "the default connectTimeout"
      : "connectTimeout";
    timer = setTimeout(
      () =>
        controller.abort(
          new WebSocketError(
            "TIMEOUT",
            `connect to ${target.host} timed out after ${limit} ms (${which})`,
          ),
        ),
      limit,
    );
  }
  try {
    const redirectsAllowed = options.followRedirects ?? 0;
    for (let redirects = 0;; redirects++) {
      try {
        return await attempt(target, original, options, routes, signal);
      } catch (e) {
        if (
          !(e instanceof WebSocketError) || e.code !== "HTTP_RETURNED_ERROR" ||
          !isRedirect(e.status!) || redirects >= redirectsAllowed
        ) {
          if (
            e instanceof WebSocketError && e.code === "HTTP_RETURNED_ERROR" &&
            isRedirect(e.status!) && redirectsAllowed > 0
          ) {
            throw new WebSocketError(
              "HTTP_RETURNED_ERROR",
              `${e.message} (more than ${redirectsAllowed} redirects)`,
              e,
            );
          }
          throw e;
        }
        target = redirectTarget(
          target,
          e,
          options.allowInsecureRedirect ?? false,
        );
      }
    }
  } catch (e) {
    throw mapNetError(e, `connect to ${target.host}`, signal);
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
  }
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 ||
    status === 308;
}

function redirectTarget(
  from: URL,
  err: WebSocketError,
  allowInsecure: boolean,
): URL {
  const location = err.headers?.get("location");
  if (!location) {
    throw new WebSocketError(
      "HTTP_RETURNED_ERROR",
      `${err.message} without a Location header`,
      err,
    );
  }
  let next: URL;
  try {
    next = parseWebSocketUrl(
      new URL(location, from.href.replace(/^ws/, "http")),
    );
  } catch {
    throw new WebSocketError(
      "BAD_HANDSHAKE",
      `redirect to an unusable Location ${JSON.stringify(location)}`,
    );
  }
  if (from.protocol === "wss:" && next.protocol === "ws:" && !allowInsecure) {
    throw new WebSocketError(
      "BAD_HANDSHAKE",
      `refusing redirect from wss:// to ${next.href} (allowInsecureRedirect)`,
    );
  }
  return next;
}

async function attempt(
  url: URL,
  original: URL,
  options: ConnectOptions,
  routes: RouteTable,
  signal: AbortSignal,
): Promise<WebSocketConnection> {
  let headers = headerPairs(options.headers);
  const has = (name: string) => headers.some(([k]) => k.toLowerCase() === name);
  // Credentials go only to the host the caller named (curl's rule), and
  // never over a redirect from wss:// down to ws://.
  const downgraded = original.protocol === "wss:" && url.protocol === "ws:";
  if (url.host === original.host && !downgraded) {
    let authorization: string | undefined;
    if (original.username) {
      authorization = basicAuth(
        decodeURIComponent(original.username),
        decodeURIComponent(original.password),
      );
    } else if (options.auth) {
      authorization = basicAuth(options.auth.username, options.auth.password);
    } else if (options.bearer) {
      authorization = `Bearer ${options.bearer}`;
    }
    if (authorization && !has("authorization")) {
      headers.push(["Authorization", authorization]);
    }
  } else {
    headers = headers.filter(([k]) =>
      !["authorization", "cookie"].includes(k.toLowerCase())
    );
  }
  const requestUrl = new URL(url);
  requestUrl.username = "";
  requestUrl.password = "";
  // Offer compression only where this runtime's zlib can do it synchronously.
  const compression = (options.compression && await loadCompression())
    ? options.compression
    : undefined;
  const proxy = options.proxy === false || options.unixSocket
    ? undefined
    : options.proxy ?? proxyFromEnv(url);
  const transport: TransportOptions = {
    caCerts: options.caCerts,
    cert: options.cert,
    key: options.key,
    unixSocket: options.unixSocket,
    proxy: proxy ? parseProxy(proxy, options.proxyAuth) : undefined,
    proxyCaCerts: options.proxyCaCerts,
    routes,
  };
  const viaHttp2 = await connectOverHttp2(
    { url: requestUrl, headers, compression, transport },
    options,
    signal,
  );
  if (viaHttp2) return viaHttp2;
  // Built (and its headers checked) before any byte of it is sent.
  const key = generateKey();
  const request = buildRequest({
    url: requestUrl,
    key,
    protocols: options.protocols,
    origin: options.origin,
    extensions: compression ? offerHeader(compression) : undefined,
    headers,
  });
  const expectedAccept = computeAccept(key);
  const { conn } = await openTransport(url, { ...transport, signal });
  try {
    return await withAbort(
      (async () => {
        options.onRequest?.(request, requestUrl);
        // A server that rejects our certificate after the handshake resets
        // the connection: our request's write or the read of the answer
        // sees it, whichever comes first.
        const early = (e: unknown): never => {
          if (url.protocol !== "wss:") throw e;
          throw explainEarlyEnd(
            mapNetError(e, `TLS with ${url.host}`),
            options.cert !== undefined,
            `TLS with ${url.host}`,
          );
        };
        await writeAll(conn, new TextEncoder().encode(request)).catch(early);
        const raw = await readHttpHead(conn, "server").catch(early);
        const head = parseResponseHead(raw.head, raw.head.length);
        const rest = raw.rest;
        if (head.status !== 101) {
          const body = await readBodyPreview(conn, head, rest);
          const err = (() => {
            try {
              validateResponse(head, { accept: "", offeredExtensions: false });
            } catch (e) {
              return e as WebSocketError;
            }
          })()!;
          throw new WebSocketError(err.code, err.message, {
            status: head.status,
            statusText: head.statusText,
            headers: head.headers,
            body,
          });
        }
        const agreed = validateResponse(head, {
          accept: expectedAccept,
          protocols: options.protocols,
          offeredExtensions: compression !== undefined,
        });
        return new WebSocketConnection(conn, {
          url: requestUrl,
          role: "client",
          protocol: agreed.protocol,
          extensions: agreed.extensions,
          response: {
            status: head.status,
            headers: head.headers,
            httpVersion: "1.1",
          },
          leftover: rest,
          options,
          deflate: clientDeflate(
            agreed.extensions,
            compression,
            options.maxMessageSize,
          ),
        });
      })(),
      signal,
      () => conn.close(),
    );
  } catch (e) {
    try {
      conn.close();
    } catch { /* closed by the abort */ }
    if (signal.aborted) throw mapNetError(e, `connect to ${url.host}`, signal);
    if (e instanceof WebSocketError) throw e;
    throw mapNetError(e, `upgrade with ${url.host}`, signal);
  }
}

/** Reads up to BODY_PREVIEW bytes of a refused upgrade's body, briefly. */
async function readBodyPreview(
  conn: Deno.Conn,
  head: ResponseHead,
  rest: Uint8Array,
): Promise<Uint8Array> {
  const declared = Number(head.headers.get("content-length") ?? NaN);
  const want = Number.isFinite(declared) ? Math.min(declared, BODY_PREVIEW) : 0;
  let body = rest.subarray(0, BODY_PREVIEW);
  if (body.length >= want) return body.slice();
  const buf = new Uint8Array(want);
  buf.set(body);
  let len = body.length;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((r) =>
    timer = setTimeout(() => r(null), 1000)
  );
  try {
    while (len < want) {
      const n = await Promise.race([conn.read(buf.subarray(len)), timeout]);
      if (n === null) break;
      len += n;
    }
  } catch {
    /* the preview is best effort */
  } finally {
    clearTimeout(timer);
  }
  body = buf.subarray(0, len);
  return body;
}
