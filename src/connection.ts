/**
 * One WebSocket connection over one byte stream: the facade that every API
 * face uses (connect-only `recv`/`send`, the callback face `perform`,
 * whole messages, async iteration and Web Streams). The work is done by
 * parts that each own one thing:
 *
 * - `io/byte_source.ts`: every read of the stream;
 * - `io/write_queue.ts`: every write;
 * - `conn/piece_reader.ts`: pieces out of the protocol, the read lock;
 * - `conn/frame_sender.ts`: frames into the protocol and the queue;
 * - `conn/lifecycle.ts`: the one state, the failure, `closed`, teardown;
 * - `conn/closing.ts`: the close handshake;
 * - `conn/keepalive.ts`: pings and timeouts;
 * - `conn/messages.ts`, `conn/callback_loop.ts`: the message and callback faces.
 *
 * @module
 */

import { closedError, WebSocketError } from "./errors.ts";
import type { FrameMeta } from "./flags.ts";
import { CloseCode } from "./close.ts";
import { Protocol, type Role } from "./protocol.ts";
import type { ByteStream } from "./io/byte_stream.ts";
import { ByteSource } from "./io/byte_source.ts";
import { WriteQueue } from "./io/write_queue.ts";
import { FrameSender } from "./conn/frame_sender.ts";
import {
  ABNORMAL,
  type CloseInfo,
  type ConnectionState,
  Lifecycle,
} from "./conn/lifecycle.ts";
import { PieceReader } from "./conn/piece_reader.ts";
import { Closing } from "./conn/closing.ts";
import { Keepalive } from "./conn/keepalive.ts";
import { runCallbackLoop } from "./conn/callback_loop.ts";
import { DEFAULT_CLOSE_TIMEOUT, DEFAULT_MAX_MESSAGE_SIZE } from "./limits.ts";
import {
  type Message,
  messageReadable,
  type MessageSource,
  messageWritable,
  receiveMessage,
} from "./conn/messages.ts";

export type { CloseInfo, ConnectionState, Message };
export type {
  ConnectionInit,
  ConnectionOptions,
  HandshakeResponse,
} from "./conn/options.ts";
import type { ConnectionInit, HandshakeResponse } from "./conn/options.ts";

/** The result of {@linkcode WebSocketConnection.recv}. */
export interface RecvResult {
  /** Bytes written into the buffer. */
  n: number;
  /** What those bytes are. */
  meta: FrameMeta;
}

/** Called for every received piece of every frame (see `perform`). */
export type FrameCallback = (
  data: Uint8Array,
  meta: FrameMeta,
  conn: WebSocketConnection,
) => void | Promise<void>;

/**
 * An open WebSocket connection, client or server side.
 *
 * Get one from `connect()` (client) or `acceptWebSocket()` (server). Read it
 * piece by piece with {@linkcode WebSocketConnection.recv} (like
 * `curl_ws_recv`), message by message with `for await` /
 * {@linkcode WebSocketConnection.receive} / `readable`, or through a callback
 * with {@linkcode WebSocketConnection.perform}. Write with
 * {@linkcode WebSocketConnection.send} (like `curl_ws_send`) or `writable`.
 *
 * @example Echo one message
 * ```ts
 * import assert from "node:assert/strict";
 * import { acceptWebSocket, connect } from "../mod.ts";
 *
 * // An echo server on our own codec, on a free port.
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const echo = listener.accept().then(acceptWebSocket).then(async (peer) => {
 *   for await (const message of peer) await peer.send(message);
 * });
 * const conn = await connect(`ws://127.0.0.1:${listener.addr.port}/`);
 * await conn.send("hello");
 * for await (const message of conn) {
 *   assert.equal(message, "hello");
 *   break;
 * }
 * await conn.close();
 * await echo;
 * listener.close();
 * assert.deepEqual(await conn.closed, { code: 1000, reason: "", wasClean: true });
 * ```
 */
export class WebSocketConnection {
  /** The URL connected to. */
  readonly url: URL;
  /** Our role: "client" masks what it sends, "server" does not. */
  readonly role: Role;
  /** The subprotocol the server selected, or "". */
  readonly protocol: string;
  /** The extensions the server accepted (`Sec-WebSocket-Extensions`), or "". */
  readonly extensions: string;
  /**
   * Status and headers of the upgrade response (server role: of the
   * request), and the HTTP version it came over: `"2"` for a WebSocket over
   * HTTP/2 (RFC 8441, status 200), else `"1.1"` (status 101).
   */
  readonly response: HandshakeResponse;
  /** Settles when the socket is closed, however that happened. Never rejects. */
  readonly closed: Promise<CloseInfo>;

  #engine: Protocol;
  #raw: boolean;
  #maxMessageSize: number;
  #lifecycle: Lifecycle;
  #source: ByteSource;
  #queue: WriteQueue;
  #sender: FrameSender;
  #reader: PieceReader;
  #closing: Closing;
  #keepalive: Keepalive | null = null;
  #performing = false;
  /** A perform() callback's promise is pending. */
  #callbackPending = false;
  #meta: FrameMeta | null = null;
  #messageSource: MessageSource | null = null;
  #readable?: ReadableStream<Message>;
  #writable?: WritableStream<Message>;

  /** Wraps a byte stream whose opening handshake is done. Use `connect()` or `acceptWebSocket()` instead. */
  constructor(stream: ByteStream, init: ConnectionInit) {
    this.url = init.url;
    this.role = init.role;
    this.protocol = init.protocol;
    this.extensions = init.extensions;
    this.response = init.response;
    const o = init.options;
    const raw = this.#raw = o.rawMode ?? false;
    this.#maxMessageSize = o.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    const deflate = init.deflate ?? null;
    const engine = this.#engine = new Protocol({
      role: init.role,
      autoPong: o.autoPong ?? true,
      maxFrameSize: o.maxFrameSize,
      extension: raw ? null : deflate,
    });
    const lifecycle = this.#lifecycle = new Lifecycle(
      o.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT,
      () => {
        this.#keepalive?.stop();
        this.#source.close();
        this.#queue.release();
        this.#sender.ended();
        deflate?.close();
        try {
          stream.close();
        } catch { /* already closed */ }
      },
      o.signal,
    );
    this.closed = lifecycle.closed;
    const ended = () => lifecycle.ended;
    this.#source = new ByteSource(stream, init.leftover, {
      mustReadAhead: () =>
        this.#callbackPending && (this.#queue.writing || this.#sender.busy),
      readFailed: (e) => this.#readFailed(e),
      ended,
    });
    this.#queue = new WriteQueue(stream, {
      inBatch: () => this.#reader.inBatch,
      onDrained: () => this.#sender.drained(),
      writeFailed: (e) => {
        const err = lifecycle.ended
          ? (lifecycle.failure ?? closedError())
          : new WebSocketError(
            "CONNECTION_LOST",
            `write failed: ${(e as Error)?.message ?? e}`,
            { cause: e },
          );
        lifecycle.fatal(err);
        return err;
      },
      ended,
    });
    this.#sender = new FrameSender(engine, this.#queue, {
      raw,
      compressing: !raw && deflate !== null,
    }, { ended, waitingForSocket: () => this.#source.maybeReadAhead() });
    this.#reader = new PieceReader(engine, this.#source, lifecycle, raw, {
      afterPiece: () => {
        // Pongs wait while the writer is backlogged: the engine keeps only
        // the latest (RFC 6455 §5.5.3), so a ping flood cannot grow the queue.
        if (
          engine.hasOutput &&
          (engine.closeSent || this.#queue.queuedBytes < PONG_BACKLOG)
        ) this.#sender.flushControl();
      },
      peerClosed: () => this.#closing.peerClosed(),
      protocolError: (err) => this.#closing.protocolError(err),
      streamEnded: () => this.#streamEnded(),
    });
    this.#closing = new Closing({
      protocol: engine,
      lifecycle,
      source: this.#source,
      queue: this.#queue,
      sender: this.#sender,
      reader: this.#reader,
      raw,
    });
    try {
      stream.setNoDelay?.(true);
    } catch { /* not TCP after all */ }
    if (!raw && (o.pingInterval || o.idleTimeout || o.sendTimeout)) {
      this.#keepalive = new Keepalive(o, {
        lastRx: () => this.#source.lastRx,
        writingSince: () => this.#queue.writingSince,
        ping: () => this.#sender.ping(),
        timedOut: (err, idle) => {
          if (idle) this.#closing.failWith(err, CloseCode.GOING_AWAY, false);
          else lifecycle.fatal(err);
        },
      });
    }
  }

  /**
   * Bytes handed to `send()` that have not reached the socket yet: frames in
   * the write queue (with their headers, after compression) plus payload
   * still waiting behind a large frame. Like the WHATWG `bufferedAmount`.
   */
  get bufferedAmount(): number {
    return this.#queue.queuedBytes + this.#sender.unqueued;
  }

  /** Where the connection is: "open", "closing" (a close frame went one way) or "closed". */
  get state(): ConnectionState {
    return this.#lifecycle.state;
  }

  // ------------------------------------------------------------- receiving

  /**
   * Receives the next piece of a frame into `buffer`, like `curl_ws_recv`:
   * at most `buffer.length` bytes of the current frame's payload, with
   * `meta.offset` (where the piece starts in the frame) and `meta.bytesleft`
   * (what remains of the frame). `meta.flags` has TEXT or BINARY on every
   * fragment of a message and CONT on every fragment but the last; a message
   * is complete at the piece with `bytesleft === 0` and no CONT. Control
   * frames come as PING, PONG or CLOSE pieces (pings are still answered when
   * `autoPong` is on; a close is answered, then the socket closes).
   *
   * Rejects with `PROTOCOL_ERROR`, `INVALID_PAYLOAD` or `MESSAGE_TOO_BIG`
   * (after our close frame went out) when the peer breaks the rules,
   * `CONNECTION_LOST` when the stream ends without a close, and `CLOSED`
   * afterwards.
   *
   * @example Read a large frame in 64 KiB pieces
   * ```ts
   * import assert from "node:assert/strict";
   * import { acceptWebSocket, connect, WS } from "../mod.ts";
   *
   * // An echo server on our own codec, on a free port.
   * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
   * const echo = listener.accept().then(acceptWebSocket).then(async (peer) => {
   *   for await (const message of peer) await peer.send(message);
   * });
   * const conn = await connect(`ws://127.0.0.1:${listener.addr.port}/`);
   * await conn.send(new Uint8Array(100_000).fill(7)); // echoed as one frame
   * const buf = new Uint8Array(65536);
   * let total = 0;
   * for (;;) {
   *   const { n, meta } = await conn.recv(buf);
   *   total += n; // a file would take buf.subarray(0, n) here
   *   if (meta.bytesleft === 0 && !(meta.flags & WS.CONT)) break;
   * }
   * assert.equal(total, 100_000);
   * await conn.close();
   * await echo;
   * listener.close();
   * ```
   */
  recv(buffer: Uint8Array): Promise<RecvResult> {
    if (this.#performing) return Promise.reject(performingError("recv()"));
    if (buffer.length === 0) {
      return Promise.reject(
        new WebSocketError(
          "INVALID_ARGUMENT",
          "recv() needs a buffer of at least 1 byte",
        ),
      );
    }
    // Fast path: a piece already buffered is handed over without I/O or
    // extra promise hops.
    const reader = this.#reader;
    if (reader.lock.tryAcquire()) {
      const piece = reader.pullBuffered(buffer.length);
      if (piece) {
        reader.lock.release();
        buffer.set(piece.data);
        return Promise.resolve({ n: piece.data.length, meta: piece.meta });
      }
      return this.#recvLocked(buffer);
    }
    return reader.lock.acquire().then(() => this.#recvLocked(buffer));
  }

  async #recvLocked(buffer: Uint8Array): Promise<RecvResult> {
    try {
      const piece = await this.#reader.pull(buffer.length);
      buffer.set(piece.data);
      return { n: piece.data.length, meta: piece.meta };
    } finally {
      this.#reader.lock.release();
    }
  }

  /**
   * Receives the next whole data message: a string for text, bytes for
   * binary; control frames are handled and skipped. Resolves null once the
   * peer has closed. Messages above `maxMessageSize` fail the connection
   * with 1009.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { acceptWebSocket, connect } from "../mod.ts";
   *
   * // An echo server on our own codec, on a free port.
   * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
   * const echo = listener.accept().then(acceptWebSocket).then(async (peer) => {
   *   for await (const message of peer) await peer.send(message);
   * });
   * const conn = await connect(`ws://127.0.0.1:${listener.addr.port}/`);
   * await conn.send(new Uint8Array([1, 2, 3]));
   * assert.deepEqual(await conn.receive(), new Uint8Array([1, 2, 3]));
   * await conn.close();
   * await echo;
   * listener.close();
   * ```
   */
  async receive(): Promise<Message | null> {
    if (this.#performing) throw performingError("receive()");
    const reader = this.#reader;
    if (!reader.lock.tryAcquire()) await reader.lock.acquire();
    try {
      return await receiveMessage(
        this.#messageSource ??= this.#newMessageSource(),
        this.#maxMessageSize,
        this.#raw,
      );
    } finally {
      reader.lock.release();
    }
  }

  /** Where receive() takes pieces from: made once, on the first receive(). */
  #newMessageSource(): MessageSource {
    const reader = this.#reader;
    return {
      pullBuffered: () => reader.pullBuffered(),
      pull: () => reader.pull(),
      closeReceived: () => this.#engine.closeReceived,
      tooBig: (size) => {
        throw this.#closing.failWith(
          new WebSocketError(
            "MESSAGE_TOO_BIG",
            `message of at least ${size} bytes exceeds maxMessageSize ${this.#maxMessageSize}`,
          ),
          CloseCode.MESSAGE_TOO_BIG,
          true,
        );
      },
    };
  }

  /** Whole messages until the peer closes; see {@linkcode WebSocketConnection.receive}. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Message, void, void> {
    for (;;) {
      const message = await this.receive();
      if (message === null) return;
      yield message;
    }
  }

  /** Received messages as a stream; cancelling it closes the connection. */
  get readable(): ReadableStream<Message> {
    return this.#readable ??= messageReadable(
      () => this.receive(),
      () => this.close(),
    );
  }

  /** A stream that sends each chunk as one message; closing it closes the connection. */
  get writable(): WritableStream<Message> {
    return this.#writable ??= messageWritable(
      (message) => this.send(message),
      () => this.close(),
      () => this.close(CloseCode.GOING_AWAY),
    );
  }

  /**
   * The callback face on this connection: calls `onFrame` for every piece of
   * every frame as it arrives, until the connection closes. `data` is a view
   * of the read buffer, valid until the callback returns (copy it to keep
   * it). A callback that returns a promise pauses delivery until it settles,
   * and reading too (backpressure) unless our own writes wait for the
   * socket: then the connection reads ahead, at most 64 MiB, so that a
   * callback awaiting `send()` or `close()` cannot deadlock with a peer that
   * stops reading while its own writes wait.
   * Resolves with how the connection closed; rejects on a protocol error.
   *
   * @example Reply to every message from inside the callback
   * ```ts
   * import assert from "node:assert/strict";
   * import { acceptWebSocket, connect, WS } from "../mod.ts";
   *
   * // A server that greets, then takes the echo of its greeting.
   * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
   * const server = listener.accept().then(acceptWebSocket).then(async (peer) => {
   *   await peer.send("hi");
   *   const reply = await peer.receive();
   *   await peer.close(1000, "done");
   *   return reply;
   * });
   * const conn = await connect(`ws://127.0.0.1:${listener.addr.port}/`);
   * const info = await conn.perform(async (data, meta, conn) => {
   *   if (meta.flags & WS.TEXT) await conn.send(data, meta.flags & (WS.TEXT | WS.CONT));
   * });
   * assert.equal(await server, "hi");
   * assert.deepEqual(info, { code: 1000, reason: "done", wasClean: true });
   * listener.close();
   * ```
   */
  async perform(onFrame: FrameCallback): Promise<CloseInfo> {
    if (this.#performing) {
      throw new WebSocketError(
        "INVALID_ARGUMENT",
        "perform() is already running",
      );
    }
    this.#performing = true;
    let callbackError: { error: unknown } | null;
    try {
      callbackError = await runCallbackLoop(this.#reader, {
        deliver: (data, meta) => onFrame(data, meta, this),
        setMeta: (meta) => this.#meta = meta,
        setPending: (pending) => this.#callbackPending = pending,
        maybeReadAhead: () => this.#source.maybeReadAhead(),
      });
    } finally {
      this.#performing = false;
    }
    if (callbackError) {
      // The read loop has stopped, so close() reads the peer's answer itself.
      await this.close(CloseCode.INTERNAL_ERROR).catch(() => {});
      throw callbackError.error;
    }
    return await this.closed;
  }

  /**
   * Metadata of the piece being delivered to a `perform()` callback, like
   * `curl_ws_meta()`; null outside a callback.
   */
  meta(): FrameMeta | null {
    return this.#meta;
  }

  // --------------------------------------------------------------- sending

  /**
   * Sends one frame, like `curl_ws_send`. `flags` defaults to TEXT for
   * strings and BINARY for bytes; PING, PONG and CLOSE send control frames.
   *
   * Fragmented messages follow libcurl: every fragment but the last carries
   * `WS.CONT` and each carries the message's type flag, so
   * `send("Hel", WS.TEXT | WS.CONT)` then `send("lo", WS.TEXT)` sends one
   * text message. Partial frames: pass `WS.OFFSET` with `fragsize` = the
   * frame's total payload size on the first call, then `WS.OFFSET` with
   * `fragsize` 0 until the frame is complete. Payloads above 64 KiB stream:
   * a client masks them 1 MiB at a time through one reusable buffer, a
   * server writes them from the caller's buffer, so memory stays flat.
   *
   * Resolves with the number of payload bytes sent (after compression, the
   * caller's bytes). A frame of up to 64 KiB resolves as soon as it is
   * queued while less than 256 KiB waits for the socket, so that frames sent
   * together share one write; otherwise, and for larger payloads always, it
   * waits until the socket has taken the bytes (backpressure). A write error
   * then rejects the next call. What is needed of the first 1 MiB of
   * `data` is copied before send() returns, so a caller that does not wait
   * may reuse its buffer; bytes beyond that are read until the promise
   * settles.
   *
   * @example A 10-byte frame sent in two calls
   * ```ts
   * import assert from "node:assert/strict";
   * import { acceptWebSocket, connect, WS } from "../mod.ts";
   *
   * // An echo server on our own codec, on a free port.
   * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
   * const echo = listener.accept().then(acceptWebSocket).then(async (peer) => {
   *   for await (const message of peer) await peer.send(message);
   * });
   * const conn = await connect(`ws://127.0.0.1:${listener.addr.port}/`);
   * await conn.send(new Uint8Array(4), WS.BINARY | WS.OFFSET, 10);
   * await conn.send(new Uint8Array(6), WS.BINARY | WS.OFFSET, 0);
   * const echoed = await conn.receive();
   * assert.equal((echoed as Uint8Array).length, 10);
   * await conn.close();
   * await echo;
   * listener.close();
   * ```
   */
  send(
    data: Uint8Array | string,
    flags?: number,
    fragsize = 0,
  ): Promise<number> {
    return this.#sender.send(data, flags, fragsize);
  }

  /**
   * Starts the close handshake: sends a close frame with `code` and `reason`
   * (default 1000, ""), then waits for the peer's close frame (at most
   * `closeTimeout`) and closes the socket. Frames that arrive meanwhile still
   * go to a pending `recv()`. Called inside a `perform()` callback, it
   * resolves once our close frame is written; `perform()` then resolves when
   * the peer answers. Calling it again, or after the connection ended, does
   * nothing.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { acceptWebSocket, connect } from "../mod.ts";
   *
   * // An echo server on our own codec, on a free port.
   * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
   * const echo = listener.accept().then(acceptWebSocket).then(async (peer) => {
   *   for await (const message of peer) await peer.send(message);
   * });
   * const conn = await connect(`ws://127.0.0.1:${listener.addr.port}/`);
   * await conn.close(1000, "bye");
   * // The echo server's iterator ends; its close answers ours with our code,
   * // and `closed` reports the peer's close.
   * assert.deepEqual(await conn.closed, { code: 1000, reason: "", wasClean: true });
   * await echo;
   * listener.close();
   * ```
   */
  close(code: number = CloseCode.NORMAL, reason = ""): Promise<void> {
    return this.#closing.close(code, reason, {
      running: this.#performing,
      inCallback: this.#meta !== null,
    });
  }

  // ---------------------------------------------------------- the endings

  /** A read failed: the connection is lost (reported to this caller). */
  #readFailed(e: unknown): WebSocketError {
    const lifecycle = this.#lifecycle;
    if (lifecycle.stopped) return lifecycle.takeFailure();
    const err = new WebSocketError(
      "CONNECTION_LOST",
      `read failed: ${(e as Error)?.message ?? e}`,
      { cause: e },
    );
    lifecycle.fatal(err);
    lifecycle.fail(err, true);
    return err;
  }

  /** The stream ended: without a close frame that is CONNECTION_LOST; raw mode just ends. */
  #streamEnded(): WebSocketError {
    const lifecycle = this.#lifecycle;
    if (this.#raw || lifecycle.stopped) {
      lifecycle.finish(ABNORMAL);
      return lifecycle.takeFailure();
    }
    const err = new WebSocketError(
      "CONNECTION_LOST",
      "the connection ended without a close frame",
      { closeCode: CloseCode.ABNORMAL },
    );
    lifecycle.fail(err, true);
    lifecycle.finish(ABNORMAL);
    return err;
  }
}

/** The writer's backlog above which automatic pongs wait. */
const PONG_BACKLOG = 64 * 1024;

function performingError(what: string): WebSocketError {
  return new WebSocketError(
    "INVALID_ARGUMENT",
    `${what} cannot be used while perform() delivers frames`,
  );
}
