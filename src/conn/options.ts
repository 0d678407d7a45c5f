/**
 * The options a connection takes, and what the handshake hands it.
 *
 * @module
 */

import type { Role } from "../protocol.ts";
import type { CompressionOptions, PerMessageDeflate } from "../deflate.ts";

/** The HTTP side of an opened WebSocket. */
export interface HandshakeResponse {
  /** 101 over HTTP/1.1, 200 over HTTP/2. */
  status: number;
  /** The response headers (server role: the request's). */
  headers: Headers;
  /** The HTTP version of the handshake. */
  httpVersion: "1.1" | "2";
}

/** Behaviour options shared by the client and server faces. */
export interface ConnectionOptions {
  /** Answer pings automatically (default true); like libcurl's `CURLWS_NOAUTOPONG` when false. */
  autoPong?: boolean;
  /** Largest frame accepted from the peer; bigger ones close with 1009. Default: no limit. */
  maxFrameSize?: number;
  /** Largest whole message assembled by `receive()`, iteration and `readable` (default 64 MiB); 1009 above it. */
  maxMessageSize?: number;
  /** How long `close()` waits for the peer's close frame, in ms (default 5000). */
  closeTimeout?: number;
  /** Hand over all traffic undecoded and answer nothing (libcurl's `CURLWS_RAW_MODE`). */
  rawMode?: boolean;
  /** Aborting it closes the connection at once; pending calls reject with `ABORTED`. */
  signal?: AbortSignal;
  /**
   * Send a ping after this many ms without receiving anything (default: off).
   * Liveness is judged by what the reader sees, so keep a reader running
   * (`recv`, `receive`, iteration or `perform`).
   */
  pingInterval?: number;
  /** With `pingInterval`: fail with `TIMEOUT` when nothing arrives this many ms after a ping (default: pingInterval). */
  pongTimeout?: number;
  /**
   * Fail with `TIMEOUT` after this many ms in which nothing arrived (default:
   * off): we send close 1001 and shut down. With `pingInterval` below it, a
   * live peer's pongs keep the connection open.
   */
  idleTimeout?: number;
  /**
   * Fail with `TIMEOUT` when a write has waited this many ms for the peer to
   * take our bytes (default: off): a peer that stops reading cannot pin a
   * send, or the memory behind it, for longer. The socket is closed (1006):
   * no close frame can pass a peer that does not read.
   */
  sendTimeout?: number;
  /**
   * permessage-deflate (RFC 7692), off by default. `true` offers
   * `permessage-deflate; client_max_window_bits`; an object tunes the offer
   * (clients) or the answer (servers). Received messages are inflated with
   * their size checked against `maxMessageSize` while inflating; messages of
   * at least `threshold` bytes (default 1 KiB) are sent compressed. With
   * compression, `recv()` delivers inflated bytes: each inflated chunk is
   * reported like a frame of its own (`offset`/`bytesleft` within the
   * chunk, CONT on all but the message's last piece).
   */
  compression?: boolean | CompressionOptions;
}

/** What the opening handshake established; used to build a connection. */
export interface ConnectionInit {
  /** The URL that was connected to (the request URL for servers). */
  url: URL;
  /** Our role. */
  role: Role;
  /** Negotiated subprotocol, or "". */
  protocol: string;
  /** Negotiated extensions header, or "". */
  extensions: string;
  /** Status and headers of the upgrade response (server role: of the request). */
  response: HandshakeResponse;
  /** Bytes that arrived after the handshake: the first frame bytes. */
  leftover: Uint8Array;
  /** Negotiated permessage-deflate state, if any. */
  deflate?: PerMessageDeflate | null;
  /** Behaviour options. */
  options: ConnectionOptions;
}
