/**
 * The WHATWG `WebSocketStream` interface (messages through Web Streams, with
 * backpressure both ways) on a wsnc connection, and the standard's
 * `WebSocketError`, exported as {@linkcode WebSocketStreamError} so that it
 * does not clash with the library's own error class.
 *
 * @module
 */

import { connect, type ConnectOptions } from "../client.ts";
import type { WebSocketConnection } from "../connection.ts";
import { closeArgs, subprotocols, webSocketUrl } from "./checks.ts";
import { closeConnection, toFrame } from "./outgoing.ts";

/** The standard's `WebSocketCloseInfo`. */
export interface WebSocketCloseInfo {
  /** 1000 or 3000-4999; absent: a close frame without a code (1000 when a reason is given). */
  closeCode?: number;
  /** At most 123 UTF-8 bytes. */
  reason?: string;
}

/** Options of {@linkcode WebSocketStream}: the standard's plus every {@linkcode ConnectOptions} option. */
export interface WebSocketStreamOptions extends ConnectOptions {
  /** Subprotocols to offer. */
  protocols?: string[];
  /** Aborting it before the connection opens fails the connection. */
  signal?: AbortSignal;
}

/** What {@linkcode WebSocketStream.opened} resolves with. */
export interface WebSocketOpenInfo {
  /** Received messages: strings for text, `Uint8Array`s for binary. */
  readable: ReadableStream<string | Uint8Array>;
  /** Each chunk written is sent as one message (string: text; BufferSource: binary). */
  writable: WritableStream<string | BufferSource>;
  /** The extensions the server accepted. */
  extensions: string;
  /** The subprotocol the server selected. */
  protocol: string;
}

/**
 * The standard's `WebSocketError`: a `DOMException` named "WebSocketError"
 * carrying the close code and reason, used to reject `opened` and `closed`
 * and to error the streams when a connection fails; pass one to
 * `writable.abort()` or `readable.cancel()` to close with its code.
 */
export class WebSocketStreamError extends DOMException {
  /** The close code, or null (the connection failed without one). */
  readonly closeCode: number | null;
  /** The close reason. */
  readonly reason: string;

  /** Checks the code and reason like `close()` (InvalidAccessError, SyntaxError). */
  constructor(message = "", init: WebSocketCloseInfo = {}) {
    const args = closeArgs(init.closeCode, init.reason);
    super(message, "WebSocketError");
    this.closeCode = args.code ?? null;
    this.reason = args.reason;
  }
}

/**
 * A WebSocket client with the WHATWG `WebSocketStream` interface over wsnc's
 * {@linkcode connect}: no unstable flag needed, and every
 * {@linkcode ConnectOptions} option accepted next to `protocols` and
 * `signal`. Reading pulls messages from the connection only as the readable
 * is read; each write resolves when the connection has taken the message.
 *
 * @example Echo through Deno.serve
 * ```ts
 * import assert from "node:assert/strict";
 * import { WebSocketStream } from "@wsnc/wsnc";
 *
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
 *   const { socket, response } = Deno.upgradeWebSocket(req);
 *   socket.onmessage = (e) => socket.send(e.data);
 *   return response;
 * });
 * const wss = new WebSocketStream(`ws://127.0.0.1:${server.addr.port}/`);
 * const { readable, writable } = await wss.opened;
 * const writer = writable.getWriter();
 * const reader = readable.getReader();
 * await writer.write("ping");
 * assert.equal((await reader.read()).value, "ping");
 * wss.close({ closeCode: 1000, reason: "done" });
 * assert.deepEqual(await wss.closed, { closeCode: 1000, reason: "done" });
 * await server.shutdown();
 * ```
 */
export class WebSocketStream {
  #url: URL;
  /** Resolves once the opening handshake succeeded. */
  readonly opened: Promise<WebSocketOpenInfo>;
  /** Resolves after a clean close; rejects with a {@linkcode WebSocketStreamError} otherwise. */
  readonly closed: Promise<{ closeCode: number; reason: string }>;
  #conn: WebSocketConnection | null = null;
  #abort = new AbortController();
  #closeRequested: WebSocketCloseInfo | null = null;

  /** Checks `url` and `options.protocols` (SyntaxError) and starts connecting. */
  constructor(url: string | URL, options: WebSocketStreamOptions = {}) {
    this.#url = webSocketUrl(url);
    const protocols = subprotocols(options.protocols);
    const opened = Promise.withResolvers<WebSocketOpenInfo>();
    const closed = Promise.withResolvers<
      { closeCode: number; reason: string }
    >();
    this.opened = opened.promise;
    this.closed = closed.promise;
    // Unhandled rejections of promises nobody asked for must not crash.
    this.opened.catch(() => {});
    this.closed.catch(() => {});
    const userSignal = options.signal;
    if (userSignal?.aborted) {
      opened.reject(userSignal.reason);
      closed.reject(userSignal.reason);
      return;
    }
    const onAbort = () => {
      opened.reject(userSignal!.reason);
      closed.reject(userSignal!.reason);
      this.#abort.abort(userSignal!.reason);
    };
    userSignal?.addEventListener("abort", onAbort, { once: true });
    connect(this.#url, {
      ...options,
      protocols,
      signal: this.#abort.signal,
    }).then(
      (conn) => {
        userSignal?.removeEventListener("abort", onAbort);
        if (this.#closeRequested) {
          conn.close(1001).catch(() => {});
          const err = failure("closed before the connection opened");
          opened.reject(err);
          closed.reject(err);
          return;
        }
        this.#conn = conn;
        opened.resolve(this.#streams(conn, closed));
      },
      () => {
        userSignal?.removeEventListener("abort", onAbort);
        const err = failure("the connection could not be established");
        opened.reject(err);
        closed.reject(err);
      },
    );
  }

  /** The URL, after http(s) became ws(s). */
  get url(): string {
    return this.#url.href;
  }

  /**
   * Starts the closing handshake with the given code and reason (checked
   * like `WebSocket.close()`); while connecting it fails the connection.
   */
  close(closeInfo: WebSocketCloseInfo = {}): void {
    const args = closeArgs(closeInfo.closeCode, closeInfo.reason);
    if (this.#closeRequested) return;
    this.#closeRequested = closeInfo;
    const conn = this.#conn;
    if (conn === null) {
      this.#abort.abort(failure("close() before the connection opened"));
      return;
    }
    closeConnection(conn, args.code, args.reason);
  }

  #streams(
    conn: WebSocketConnection,
    closed: PromiseWithResolvers<{ closeCode: number; reason: string }>,
  ): WebSocketOpenInfo {
    let readableController!: ReadableStreamDefaultController<
      string | Uint8Array
    >;
    let writableController!: WritableStreamDefaultController;
    let failed: WebSocketStreamError | null = null;
    const readable = new ReadableStream<string | Uint8Array>({
      start: (c) => void (readableController = c),
      // Pull-based: a message is taken from the connection only when the
      // queue has room, so a slow reader holds the peer back (backpressure).
      pull: async (c) => {
        let message;
        try {
          message = await conn.receive();
        } catch {
          return; // the connection failed: `closed` below errors the streams
        }
        if (message === null) return; // closing: `closed` closes the stream
        c.enqueue(message);
      },
      cancel: (reason) => this.#closeWith(reason),
    }, { highWaterMark: 1 });
    const writable = new WritableStream<string | BufferSource>({
      start: (c) => void (writableController = c),
      write: async (chunk) => {
        if (typeof chunk !== "string" && !isBufferSource(chunk)) {
          throw new TypeError("write a string or a BufferSource");
        }
        const { bytes, flags } = toFrame(chunk);
        await conn.send(bytes, flags);
      },
      close: () => this.close(),
      abort: (reason) => this.#closeWith(reason),
    });
    conn.closed.then((info) => {
      if (info.wasClean) {
        closed.resolve({ closeCode: info.code, reason: info.reason });
        try {
          readableController.close();
        } catch { /* already closed or cancelled */ }
        writableController.error(new TypeError("the connection is closed"));
        return;
      }
      failed = failure("the connection failed", info.code);
      closed.reject(failed);
      readableController.error(failed);
      writableController.error(failed);
    });
    return {
      readable,
      writable,
      extensions: conn.extensions,
      protocol: conn.protocol,
    };
  }

  /** `abort()`/`cancel()`: a WebSocketStreamError's code and reason, else no code. */
  #closeWith(reason: unknown): void {
    if (reason instanceof WebSocketStreamError) {
      this.close({
        closeCode: reason.closeCode ?? undefined,
        reason: reason.reason,
      });
    } else this.close();
  }
}

function failure(message: string, code = 1006): WebSocketStreamError {
  const err = new WebSocketStreamError(message);
  // The standard reports the code a failed connection ended with (1006),
  // which its own constructor would refuse.
  Object.defineProperty(err, "closeCode", { value: code });
  return err;
}

function isBufferSource(x: unknown): x is BufferSource {
  return ArrayBuffer.isView(x) || x instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer !== "undefined" &&
      x instanceof SharedArrayBuffer);
}
