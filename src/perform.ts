/**
 * The callback face: `perform()` connects and delivers every frame piece to
 * a callback, like libcurl's write callback with `curl_ws_meta()`.
 *
 * @module
 */

import { connect, type ConnectOptions } from "./client.ts";
import type {
  CloseInfo,
  FrameCallback,
  WebSocketConnection,
} from "./connection.ts";

/** Options of {@linkcode perform}. */
export interface PerformOptions extends ConnectOptions {
  /**
   * Called for every piece of every frame with its metadata. `data` is valid
   * until the call returns; a returned promise pauses delivery until it
   * settles. `conn.send()` and `conn.close()` may be awaited inside: while
   * they wait for the socket, the connection reads ahead (see
   * `WebSocketConnection.perform`).
   */
  onFrame: FrameCallback;
  /** Called once the upgrade is done, before any frame is delivered. */
  onOpen?(conn: WebSocketConnection): void | Promise<void>;
}

/**
 * Connects to `url`, then calls `options.onFrame` for every piece of every
 * frame until the connection closes. Resolves with how it closed (`wasClean`
 * says whether close frames were exchanged); rejects with `WebSocketError`
 * when the upgrade fails or the peer breaks the protocol.
 *
 * @example Print every text message and answer "bye" to the first
 * ```ts
 * import assert from "node:assert/strict";
 * import { acceptWebSocket, perform, WS } from "../mod.ts";
 *
 * // An echo server to talk to.
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const echo = listener.accept().then(acceptWebSocket).then(async (peer) => {
 *   for await (const message of peer) await peer.send(message);
 * });
 *
 * const received: string[] = [];
 * const info = await perform(`ws://127.0.0.1:${listener.addr.port}/`, {
 *   onOpen: (conn) => conn.send("hello").then(() => {}),
 *   onFrame: async (data, meta, conn) => {
 *     if (meta.flags & WS.TEXT) {
 *       received.push(new TextDecoder().decode(data));
 *       await conn.close(1000, "bye");
 *     }
 *   },
 * });
 * assert.deepEqual(received, ["hello"]);
 * assert.equal(info.code, 1000);
 * await echo;
 * listener.close();
 * ```
 */
export async function perform(
  url: string | URL,
  options: PerformOptions,
): Promise<CloseInfo> {
  const conn = await connect(url, options);
  try {
    await options.onOpen?.(conn);
  } catch (e) {
    await conn.close(1011).catch(() => {});
    throw e;
  }
  return await conn.perform(options.onFrame);
}
