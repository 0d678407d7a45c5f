/**
 * `connect()` over HTTP/2 (RFC 8441): pick or dial a pooled HTTP/2
 * connection to the origin (TLS with ALPN `h2`, or cleartext with prior
 * knowledge), send the extended CONNECT, check the answer and run a
 * {@linkcode WebSocketConnection} over the stream.
 *
 * @module
 */

import { type ConnectionOptions, WebSocketConnection } from "../connection.ts";
import {
  clientDeflate,
  type CompressionOptions,
  offerHeader,
} from "../deflate.ts";
import { WebSocketError } from "../errors.ts";
import type { HeaderField } from "../h2/hpack_table.ts";
import type { Http2Settings } from "../h2/settings.ts";
import { buildConnectRequest, checkConnectResponse } from "../h2/websocket.ts";
import { mapNetError } from "./net_error.ts";
import { explainEarlyEnd } from "./tls.ts";
import { closeQuietly, withAbort } from "./stream.ts";
import { isSecure, openTransport, type TransportOptions } from "./transport.ts";
import { http2Pool } from "./h2_pool.ts";
import type { Http2ByteStream } from "./h2_stream.ts";
import { Http2Transport } from "./h2_transport.ts";

/** The `http2` option of `connect()`. */
export type Http2Mode = boolean | "auto" | "prior-knowledge";

/** HTTP/2 options of `connect()`. */
export interface Http2ConnectOptions {
  /**
   * WebSocket over HTTP/2 (RFC 8441). `false` (default): HTTP/1.1 upgrade.
   * `"auto"`: on `wss://` offer ALPN `h2, http/1.1` and use HTTP/2 when the
   * server picks h2 and enables the extended CONNECT, else an HTTP/1.1
   * upgrade on a fresh connection (`ws://`: HTTP/1.1). Proxies, Unix
   * sockets, client certificates, `resolve` and `connectTo` apply to the
   * HTTP/2 connection as to an HTTP/1.1 one.
   * `true`: require HTTP/2 (`BAD_HANDSHAKE` when the server cannot;
   * on `ws://` this means prior knowledge). `"prior-knowledge"`: HTTP/2
   * without negotiation, cleartext (h2c) on `ws://`, ALPN `h2` only on
   * `wss://`. WebSockets to one origin share a connection.
   */
  http2?: Http2Mode;
  /** ms a pooled HTTP/2 connection without WebSockets stays open (default 2000; 0: close with the last). */
  http2IdleTimeout?: number;
  /**
   * Called once per WebSocket opened over HTTP/2, before `onRequest`, with
   * the settings the server sent on the connection its stream uses (a
   * snapshot): logging like `curl -v`.
   */
  onHttp2Settings?(settings: Readonly<Http2Settings>, url: URL): void;
}

/** What `connect()` has prepared when it asks for HTTP/2. */
export interface Http2Plan {
  /** The request URL (no credentials). */
  url: URL;
  /** Request headers, credentials included. */
  headers: [string, string][];
  /** The compression offer, if any (zlib loaded). */
  compression?: boolean | CompressionOptions;
  /** How to reach the server (proxy, Unix socket, TLS, routes). */
  transport: TransportOptions;
}

/** The `connect()` options this module reads. */
export interface Http2Options extends Http2ConnectOptions, ConnectionOptions {
  protocols?: string[];
  origin?: string;
  onRequest?(head: string, url: URL): void;
}

/**
 * Connects over HTTP/2 when `options.http2` asks for it; null means "use
 * the HTTP/1.1 upgrade" (not asked, or `"auto"` and the server cannot).
 */
export async function connectOverHttp2(
  plan: Http2Plan,
  options: Http2Options,
  signal: AbortSignal,
): Promise<WebSocketConnection | null> {
  const mode = options.http2 ?? false;
  if (mode === false) return null;
  if (mode !== true && mode !== "auto" && mode !== "prior-knowledge") {
    throw new WebSocketError(
      "INVALID_ARGUMENT",
      `http2 must be false, true, "auto" or "prior-knowledge", not ${
        JSON.stringify(mode)
      }`,
    );
  }
  const { url } = plan;
  const secure = isSecure(url);
  if (mode === "auto" && !secure) return null; // no ALPN in cleartext
  const fields = buildConnectRequest({
    url,
    protocols: options.protocols,
    origin: options.origin,
    extensions: plan.compression ? offerHeader(plan.compression) : undefined,
    headers: plan.headers,
  });
  const onlyH2 = mode === "prior-knowledge";
  const key = poolKey(url, onlyH2, plan.transport);
  const dial = () =>
    dialHttp2(url, plan.transport, {
      onlyH2,
      idleTimeout: options.http2IdleTimeout,
      signal,
    });
  const opening = http2Pool.openStream(key, dial, fields);
  const opened = await withAbort(opening, signal, () => {
    // A slot granted after the abort is given back at once.
    opening.then((s) => typeof s !== "string" && s.cancel(), () => {});
  });
  if (typeof opened === "string") {
    if (mode === "auto") return null;
    throw new WebSocketError(
      "BAD_HANDSHAKE",
      `WebSocket over HTTP/2 to ${url.host} is not possible: ${opened}`,
    );
  }
  options.onHttp2Settings?.({ ...opened.peerSettings }, url);
  options.onRequest?.(renderFields(fields, opened.id), url);
  return await openWebSocket(opened, plan, options, signal);
}

async function openWebSocket(
  stream: Http2ByteStream,
  plan: Http2Plan,
  options: Http2Options,
  signal: AbortSignal,
): Promise<WebSocketConnection> {
  try {
    const response = await withAbort(stream.response, signal, () => {});
    const agreed = checkConnectResponse(response.fields, response.endStream, {
      protocols: options.protocols,
      offeredExtensions: plan.compression !== undefined,
    });
    return new WebSocketConnection(stream, {
      url: plan.url,
      role: "client",
      protocol: agreed.protocol,
      extensions: agreed.extensions,
      response: { status: 200, headers: agreed.headers, httpVersion: "2" },
      leftover: new Uint8Array(0),
      options,
      deflate: clientDeflate(
        agreed.extensions,
        plan.compression,
        options.maxMessageSize,
      ),
    });
  } catch (e) {
    stream.cancel();
    throw e;
  }
}

/**
 * What makes two HTTP/2 connections interchangeable: the origin, the ALPN
 * offer, and every option that changes how the connection is reached or
 * who we are to the server (a WebSocket with another client certificate or
 * proxy must not ride on this one).
 */
function poolKey(url: URL, onlyH2: boolean, t: TransportOptions): string {
  const secure = isSecure(url);
  // Cleartext h2 has no ALPN offer and no TLS options to tell apart.
  return JSON.stringify([
    url.protocol,
    url.host,
    secure && onlyH2,
    secure ? t.caCerts ?? [] : [],
    secure ? t.cert ?? null : null,
    secure ? t.key ?? null : null,
    t.unixSocket ?? null,
    t.proxy ?? null,
    t.proxyCaCerts ?? [],
    t.routes ?? null,
  ]);
}

interface DialOptions {
  onlyH2: boolean;
  idleTimeout?: number;
  signal: AbortSignal;
}

/** The connection (TLS with ALPN on `wss://`), then the server's SETTINGS. */
async function dialHttp2(
  url: URL,
  how: TransportOptions,
  o: DialOptions,
): Promise<Http2Transport | string> {
  const { signal } = o;
  const secure = isSecure(url);
  const { conn, alpnProtocol } = await openTransport(url, {
    ...how,
    alpnProtocols: o.onlyH2 ? ["h2"] : ["h2", "http/1.1"], // wss:// only
    signal,
  });
  if (secure && alpnProtocol !== "h2") {
    closeQuietly(conn);
    return `the server chose ${
      alpnProtocol ? JSON.stringify(alpnProtocol) : "no protocol"
    } in ALPN, not h2`;
  }
  const transport = new Http2Transport(conn, { idleTimeout: o.idleTimeout });
  // A TLS server that wants (or rejects) our client certificate ends the
  // connection right after the handshake: say so, as over HTTP/1.1.
  const early = (err: WebSocketError) =>
    secure
      ? explainEarlyEnd(err, how.cert !== undefined, `TLS with ${url.host}`)
      : err;
  let settings: boolean;
  try {
    settings = await withAbort(transport.ready(), signal, () => {
      transport.close();
    });
  } catch (e) {
    await transport.close();
    throw early(mapNetError(e, `HTTP/2 with ${url.host}`, signal));
  }
  if (!settings) {
    await transport.close();
    throw early(
      new WebSocketError(
        "CONNECTION_LOST",
        `${url.host} closed the HTTP/2 connection before its SETTINGS`,
      ),
    );
  }
  if (!transport.session.peer.enableConnectProtocol) {
    await transport.close();
    return "the server did not enable the extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC 8441)";
  }
  return transport;
}

/** The request as text for `onRequest` (curl -v style), one field a line. */
function renderFields(fields: HeaderField[], streamId: number): string {
  let text = `[HTTP/2 stream ${streamId}]\r\n`;
  for (const [name, value] of fields) text += `${name}: ${value}\r\n`;
  return text + "\r\n";
}
