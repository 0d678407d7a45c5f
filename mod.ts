/**
 * **wsnc**: a WebSocket (RFC 6455) client and server library for Deno, after
 * libcurl's design, with frames of any size streamed in both directions.
 *
 * Two faces on one connection object:
 *
 * - **connect-only** (libcurl's `CONNECT_ONLY=2` with `curl_ws_recv` /
 *   `curl_ws_send`): {@linkcode connect} performs the upgrade and returns a
 *   {@linkcode WebSocketConnection}; call `recv()` and `send()` on it, or
 *   iterate whole messages with `for await`.
 * - **callback** (libcurl's write callback with `curl_ws_meta`):
 *   {@linkcode perform} delivers every frame piece with its
 *   {@linkcode FrameMeta} to a callback that may `send()` from inside.
 *
 * {@linkcode acceptWebSocket} plays the server side on a `Deno.Conn`.
 *
 * Code written for the web platform switches with one import: the WHATWG
 * {@linkcode WebSocket} and {@linkcode WebSocketStream} interfaces run on the
 * same connection and take every {@linkcode ConnectOptions} option.
 *
 * Permissions: `--allow-net` for the hosts you connect to (plus
 * `--allow-read`, `--allow-write` and `--allow-net=unix:/path` for a Unix
 * socket).
 *
 * @example Send a message and print the reply
 * ```ts
 * import assert from "node:assert/strict";
 * import { acceptWebSocket, connect } from "./mod.ts";
 *
 * // A server of our own to talk to: it echoes every message.
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const echo = listener.accept().then(acceptWebSocket).then(async (peer) => {
 *   for await (const message of peer) await peer.send(message);
 * });
 *
 * const conn = await connect(`ws://127.0.0.1:${listener.addr.port}/`);
 * await conn.send("hello");
 * assert.equal(await conn.receive(), "hello");
 * await conn.close();
 * await echo;
 * listener.close();
 * ```
 *
 * @module
 */

export { flagNames, type FrameMeta, Opcode, WS } from "./src/flags.ts";
export {
  WebSocketError,
  type WebSocketErrorCode,
  type WebSocketErrorInit,
} from "./src/errors.ts";
export { CloseCode, isValidCloseCode } from "./src/close.ts";
export { connect, type ConnectOptions } from "./src/client.ts";
export type { Http2ConnectOptions, Http2Mode } from "./src/io/h2_connect.ts";
export type { Http2Settings } from "./src/h2/settings.ts";
export { closeHttp2Connections } from "./src/io/h2_pool.ts";
export {
  type CloseInfo,
  type ConnectionInit,
  type ConnectionOptions,
  type ConnectionState,
  type FrameCallback,
  type HandshakeResponse,
  type Message,
  type RecvResult,
  WebSocketConnection,
} from "./src/connection.ts";
export { perform, type PerformOptions } from "./src/perform.ts";
export { type AcceptOptions, acceptWebSocket } from "./src/accept.ts";
export type { RequestHead } from "./src/handshake.ts";
export {
  type CompressionOptions,
  type DeflateParams,
  loadCompression,
  PerMessageDeflate,
  type PerMessageDeflateOptions,
} from "./src/deflate.ts";
export type { Role } from "./src/protocol.ts";
export {
  WebSocket,
  type WebSocketData,
  type WebSocketEventHandler,
  type WebSocketEventMap,
  type WebSocketOptions,
} from "./src/web/websocket.ts";
export {
  type WebSocketCloseInfo,
  type WebSocketOpenInfo,
  WebSocketStream,
  WebSocketStreamError,
  type WebSocketStreamOptions,
} from "./src/web/websocket_stream.ts";
