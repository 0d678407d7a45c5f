/**
 * One WebSocket connection over one transport: the read loop, the write
 * queue, and both API faces (connect-only `recv`/`send`, the callback face
 * `perform`, plus whole messages, async iteration and Web Streams).
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { WebSocketError } from "./errors.ts";
import { concat } from "./bytes.ts";
import { type FrameMeta, WS } from "./flags.ts";
import { CloseCode, encodeClosePayload } from "./close.ts";
import { type Piece, Protocol, type Role } from "./protocol.ts";
import type { CompressionOptions, PerMessageDeflate } from "./deflate.ts";

/** How a connection ended. */
export interface CloseInfo {
  /** The peer's close code; 1005 when its close frame had none, 1006 when none arrived. */
  code: number;
  /** The peer's close reason. */
  reason: string;
  /** True when close frames went both ways before the socket closed. */
  wasClean: boolean;
}

/** The result of {@linkcode WebSocketConnection.recv}. */
export interface RecvResult {
  /** Bytes written into the buffer. */
  n: number;
  /** What those bytes are. */
  meta: FrameMeta;
}

/** A whole received message: text as a string, binary as bytes. */
export type Message = string | Uint8Array;

/** Called for every received piece of every frame (see `perform`). */
export type FrameCallback = (
  data: Uint8Array,
  meta: FrameMeta,
  conn: WebSocketConnection,
) => void | Promise<void>;

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
  response: { status: number; headers: Headers };
  /** Bytes that arrived after the handshake: the first frame bytes. */
  leftover: Uint8Array;
  /** Negotiated permessage-deflate state, if any. */
  deflate?: PerMessageDeflate | null;
  /** Behaviour options. */
  options: ConnectionOptions;
}

const DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024;
const READ_BUFFER_SIZE = 256 * 1024;
/** Payloads above this are masked piece by piece into a reusable buffer. */
const STREAM_SEND_MIN = 64 * 1024;
/**
 * Size of the reusable send buffer (made on the first large send) and of
 * each piece of a large frame. 1 MiB rather than 256 KiB: fewer, larger
 * writes moved about 1.4x the MB/s on the 1 MiB echo benchmark.
 */
const SEND_CHUNK = 1024 * 1024;
/**
 * `send()` resolves as soon as its frame is queued while fewer bytes than
 * this wait for the socket; frames queued behind a write in flight then go
 * out together in one write. Above it, `send()` waits for the socket.
 */
const QUEUE_HIGH_WATER = 256 * 1024;
/**
 * While a perform() callback's promise is pending, delivery pauses. If the
 * callback waits for a send, the socket must still be read: a peer that
 * stops reading while its own writes are blocked (an echo server with
 * backpressure) would otherwise never take our bytes, a deadlock. So while a
 * callback is pending AND our writes wait for the socket, the connection
 * reads ahead into a queue of at most this many bytes. A callback that is
 * merely slow (no writes waiting) still pauses reading: backpressure.
 */
const READ_AHEAD_LIMIT = 64 * 1024 * 1024;
/** Size of each read-ahead buffer. */
const READ_AHEAD_CHUNK = 256 * 1024;
/**
 * Read-ahead buffers kept for reuse while reading ahead (up to 32 MiB):
 * fresh memory costs page faults that dwarf the copying (a 1 MiB echo
 * through perform() took 2.4 ms of CPU per message with 16 kept, 1.5 ms
 * with 128). The pool is dropped after READ_AHEAD_POOL_IDLE ms unused.
 */
const READ_AHEAD_POOL = 128;
const READ_AHEAD_POOL_IDLE = 1000;

/**
 * What a read-ahead chunk counts against READ_AHEAD_LIMIT: its bytes, but
 * at least 1 KiB, for the per-object overhead of many tiny reads.
 */
function aheadCost(chunk: Uint8Array): number {
  return Math.max(chunk.length, 1024);
}
/** Small frames queued together are copied into one write up to this size. */
const COALESCE_LIMIT = 64 * 1024;
/** The largest frame header: 2 + 8 (64-bit length) + 4 (masking key). */
const MAX_HEADER = 14;
/**
 * Frames up to this size (any frame of at most STREAM_SEND_MIN payload) are
 * encoded straight into a staging buffer that is written as a whole: no
 * allocation per frame and no copy to coalesce them. Buffers rotate through
 * a small pool: one fills while others are being written.
 */
const STAGE_SIZE = STREAM_SEND_MIN + MAX_HEADER;
/** Written staging buffers kept for reuse. */
const STAGE_POOL = 4;
const MAX_PIECE = Number.MAX_SAFE_INTEGER;
const CONTROL_FLAGS = WS.CLOSE | WS.PING | WS.PONG;

const encoder = new TextEncoder();
// ignoreBOM: a leading U+FEFF is message content, not a byte order mark.
const textDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * FIFO lock, so concurrent readers take turns piece by piece. Taking a free
 * lock costs no promise: `recv()` on the hot path stays cheap.
 */
class Lock {
  #held = false;
  #waiters: (() => void)[] = [];
  /** Takes the lock if it is free; true on success. */
  tryAcquire(): boolean {
    if (this.#held) return false;
    this.#held = true;
    return true;
  }
  /** Waits for the lock (ownership passes directly from the releaser). */
  acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#held = false;
  }
}

function closedError(): WebSocketError {
  return new WebSocketError("CLOSED", "the connection is closed");
}

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
 * ```ts ignore
 * import { connect } from "../mod.ts";
 * const conn = await connect("ws://127.0.0.1:8080/");
 * await conn.send("hello");
 * for await (const message of conn) {
 *   console.log(message);
 *   break;
 * }
 * await conn.close();
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
  /** Status and headers of the upgrade response (server role: of the request). */
  readonly response: { status: number; headers: Headers };
  /** Settles when the socket is closed, however that happened. Never rejects. */
  readonly closed: Promise<CloseInfo>;

  #conn: Deno.Conn;
  #proto: Protocol;
  #deflate: PerMessageDeflate | null;
  #raw: boolean;
  #maxMessageSize: number;
  #closeTimeout: number;
  #signal?: AbortSignal;
  #onAbort?: () => void;

  #readBuf = new Uint8Array(READ_BUFFER_SIZE);
  #leftover: Uint8Array | null;
  #readLock = new Lock();
  #performing = false;
  /** A read error found by #pullBuffered, reported by the next #pull. */
  #pendingError: unknown = null;
  #meta: FrameMeta | null = null;
  /** Pieces handed out since the last socket read: more than one is a batch. */
  #piecesSinceRead = 0;
  /** A perform() callback's promise is pending. */
  #callbackPending = false;
  /** Bytes read while a callback was pending, in order, not yet fed. */
  #readAhead: Uint8Array[] = [];
  #readAheadBytes = 0;
  /** How reading ahead ended: end of stream (null) or a read error. */
  #readAheadEnd: { error: unknown } | null | undefined = undefined;
  /** The read-ahead loop, while it runs (at most one read in flight). */
  #readAheadRun: Promise<void> | null = null;
  /** Free read-ahead buffers, and the one whose bytes were handed out last. */
  #aheadPool: Uint8Array[] = [];
  #aheadPoolTimer: ReturnType<typeof setTimeout> | undefined;
  #aheadInUse: Uint8Array | null = null;

  /** First error a caller saw; later calls get CLOSED. */
  #failure: WebSocketError | null = null;
  #failureReported = false;
  #finished = false;
  #resolveClosed!: (info: CloseInfo) => void;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;

  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #scratch: Uint8Array | null = null;
  #stage: Uint8Array | null = null;
  /** Filled staging buffers whose bytes are in #queue (not yet written). */
  #fullStages: Uint8Array[] = [];
  /** Written staging buffers, ready for reuse. */
  #stagePool: Uint8Array[] = [];
  /** Staged bytes from #stageStart to #stageEnd are not in #queue yet. */
  #stageStart = 0;
  #stageEnd = 0;
  #queueDone: PromiseWithResolvers<void> | null = null;
  #writing = false;
  /** The batch being written (its #queueDone was already taken). */
  #inFlight: Promise<void> | null = null;
  /** Woken when a partial frame of ours completes. */
  #boundaryWaiters: (() => void)[] = [];
  #writeError: WebSocketError | null = null;
  /** A multi-write send (a large frame) in progress; other sends wait for it. */
  #txBusy: Promise<void> | null = null;

  #lastRx = Date.now();
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #pongTimer: ReturnType<typeof setTimeout> | undefined;

  #readable?: ReadableStream<Message>;
  #writable?: WritableStream<Message>;

  /** Wraps a transport whose opening handshake is done. Use `connect()` or `acceptWebSocket()` instead. */
  constructor(conn: Deno.Conn, init: ConnectionInit) {
    this.#conn = conn;
    this.url = init.url;
    this.role = init.role;
    this.protocol = init.protocol;
    this.extensions = init.extensions;
    this.response = init.response;
    const o = init.options;
    this.#raw = o.rawMode ?? false;
    this.#maxMessageSize = o.maxMessageSize ?? DEFAULT_MAX_MESSAGE;
    this.#closeTimeout = o.closeTimeout ?? 5000;
    this.#proto = new Protocol({
      role: init.role,
      autoPong: o.autoPong ?? true,
      maxFrameSize: o.maxFrameSize,
      extension: this.#raw ? null : init.deflate,
    });
    this.#deflate = init.deflate ?? null;
    this.#leftover = init.leftover.length > 0 ? init.leftover.slice() : null;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    try {
      (conn as Deno.TcpConn).setNoDelay?.(true);
    } catch { /* not TCP */ }
    if (o.pingInterval !== undefined && o.pingInterval > 0 && !this.#raw) {
      this.#startKeepalive(o.pingInterval, o.pongTimeout ?? o.pingInterval);
    }
    if (o.signal) {
      const signal = o.signal;
      this.#signal = signal;
      this.#onAbort = () =>
        this.#fatal(
          new WebSocketError("ABORTED", "the connection was aborted", {
            cause: signal.reason,
          }),
        );
      if (signal.aborted) queueMicrotask(this.#onAbort);
      else signal.addEventListener("abort", this.#onAbort, { once: true });
    }
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
   * ```ts ignore
   * const buf = new Uint8Array(65536);
   * for (;;) {
   *   const { n, meta } = await conn.recv(buf);
   *   await file.write(buf.subarray(0, n));
   *   if (meta.bytesleft === 0 && !(meta.flags & WS.CONT)) break;
   * }
   * ```
   */
  recv(buffer: Uint8Array): Promise<RecvResult> {
    if (this.#performing) {
      return Promise.reject(
        new WebSocketError(
          "INVALID_ARGUMENT",
          "recv() cannot be used while perform() delivers frames",
        ),
      );
    }
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
    const lock = this.#readLock;
    if (!this.#raw && !this.#failure && !this.#finished && lock.tryAcquire()) {
      let piece: Piece | null;
      try {
        piece = this.#readBuffered(buffer.length);
      } catch (e) {
        lock.release();
        return this.#readFailedWith(e);
      }
      lock.release();
      if (piece) {
        buffer.set(piece.data);
        return Promise.resolve({ n: piece.data.length, meta: piece.meta });
      }
    }
    return this.#recvSlow(buffer);
  }

  async #recvSlow(buffer: Uint8Array): Promise<RecvResult> {
    const lock = this.#readLock;
    if (!lock.tryAcquire()) await lock.acquire();
    try {
      const piece = await this.#pull(buffer.length);
      buffer.set(piece.data);
      return { n: piece.data.length, meta: piece.meta };
    } finally {
      lock.release();
    }
  }

  /**
   * Receives the next whole data message: a string for text, bytes for
   * binary; control frames are handled and skipped. Resolves null once the
   * peer has closed. Messages above `maxMessageSize` fail the connection
   * with 1009.
   *
   * @example
   * ```ts ignore
   * const message = await conn.receive();
   * ```
   */
  async receive(): Promise<Message | null> {
    if (this.#performing) {
      throw new WebSocketError(
        "INVALID_ARGUMENT",
        "receive() cannot be used while perform() delivers frames",
      );
    }
    const lock = this.#readLock;
    if (!lock.tryAcquire()) await lock.acquire();
    try {
      return await this.#receiveMessage();
    } finally {
      lock.release();
    }
  }

  async #receiveMessage(): Promise<Message | null> {
    let parts: Uint8Array[] | null = null;
    let size = 0;
    for (;;) {
      let piece: Piece;
      try {
        piece = this.#pullBuffered() ?? await this.#pull(MAX_PIECE);
      } catch (e) {
        // A finished close handshake ends the message stream quietly.
        if (
          e instanceof WebSocketError && e.code === "CLOSED" &&
          this.#proto.closeReceived
        ) return null;
        throw e;
      }
      const flags = piece.meta.flags;
      if (flags & CONTROL_FLAGS) {
        if (flags & WS.CLOSE) return null;
        continue;
      }
      const last = piece.meta.bytesleft === 0 && (flags & WS.CONT) === 0;
      if (this.#raw) return piece.data.slice();
      if (last && parts === null) {
        if (piece.data.length > this.#maxMessageSize) {
          this.#tooBig(piece.data.length);
        }
        return flags & WS.TEXT
          ? textDecoder.decode(piece.data)
          : piece.data.slice();
      }
      size += piece.data.length;
      if (size > this.#maxMessageSize) this.#tooBig(size);
      (parts ??= []).push(piece.data.slice());
      if (last) {
        const whole = concat(parts, size);
        return flags & WS.TEXT ? textDecoder.decode(whole) : whole;
      }
    }
  }

  #tooBig(size: number): never {
    const err = this.#proto.fail(
      "MESSAGE_TOO_BIG",
      CloseCode.MESSAGE_TOO_BIG,
      `message of at least ${size} bytes exceeds maxMessageSize ${this.#maxMessageSize}`,
    );
    this.#failureReported = true;
    this.#onProtocolError(err);
    throw err;
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
    return this.#readable ??= new ReadableStream<Message>({
      pull: async (controller) => {
        const message = await this.receive();
        if (message === null) controller.close();
        else controller.enqueue(message);
      },
      cancel: () => this.close(),
    }, { highWaterMark: 0 });
  }

  /** A stream that sends each chunk as one message; closing it closes the connection. */
  get writable(): WritableStream<Message> {
    return this.#writable ??= new WritableStream<Message>({
      write: async (message) => {
        await this.send(message);
      },
      close: () => this.close(),
      abort: () => this.close(CloseCode.GOING_AWAY),
    });
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
   * ```ts ignore
   * await conn.perform(async (data, meta, conn) => {
   *   if (meta.flags & WS.TEXT) await conn.send(data, meta.flags & (WS.TEXT | WS.CONT));
   * });
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
    await this.#readLock.acquire();
    let callbackError: { error: unknown } | null = null;
    try {
      for (;;) {
        let piece: Piece;
        try {
          piece = this.#pullBuffered() ?? await this.#pull(MAX_PIECE);
        } catch (e) {
          if (
            e instanceof WebSocketError &&
            (e.code === "CLOSED" || e.code === "CONNECTION_LOST")
          ) break;
          throw e;
        }
        this.#meta = piece.meta;
        try {
          const r = onFrame(piece.data, piece.meta, this);
          if (r instanceof Promise) {
            this.#callbackPending = true;
            // Writes made before the callback returned may be waiting
            // already; read ahead only if the promise is still pending once
            // its settled reactions have run (often it resolved at once).
            let settled = false;
            r.then(() => settled = true, () => settled = true);
            queueMicrotask(() => {
              if (!settled) this.#maybeReadAhead();
            });
            try {
              await r;
            } finally {
              this.#callbackPending = false;
            }
          }
        } catch (e) {
          callbackError = { error: e };
          break;
        } finally {
          this.#meta = null;
        }
        if (piece.meta.flags & WS.CLOSE) break;
      }
    } finally {
      this.#readLock.release();
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

  /** Next piece from the transport (the caller holds the read lock). */
  async #pull(max: number): Promise<Piece> {
    if (this.#pendingError !== null) {
      const e = this.#pendingError;
      this.#pendingError = null;
      return await this.#readFailedWith(e);
    }
    for (;;) {
      if (this.#failure || this.#finished) throw this.#takeFailure();
      if (this.#raw) {
        const data = this.#leftover ?? await this.#readRaw();
        // What does not fit the caller's buffer waits for the next call (a
        // copy: the read buffer is reused).
        this.#leftover = data.length > max ? data.slice(max) : null;
        const piece = data.length > max ? data.subarray(0, max) : data;
        return { data: piece, meta: rawMeta(piece.length) };
      }
      let piece: Piece | null;
      try {
        piece = this.#readBuffered(max);
      } catch (e) {
        return await this.#readFailedWith(e);
      }
      if (piece) return piece;
      if (this.#proto.closeReceived) throw closedError();
      if (this.#leftover) {
        this.#proto.feed(this.#leftover);
        this.#leftover = null;
        continue;
      }
      await this.#fill();
    }
  }

  /**
   * The next piece from bytes already read, or null when more input is
   * needed; answers pings and closes as a side effect. Throws the protocol
   * engine's errors (see #readFailedWith).
   */
  #readBuffered(max: number): Piece | null {
    const piece = this.#proto.read(max);
    if (piece !== null) this.#piecesSinceRead++;
    // Pongs wait while the writer is backlogged: the engine keeps only the
    // latest (RFC 6455 §5.5.3), so a ping flood cannot grow the queue.
    if (
      this.#proto.hasOutput &&
      (this.#proto.closeSent || this.#queuedBytes < COALESCE_LIMIT)
    ) this.#flushControl();
    if (
      piece !== null && piece.meta.flags & WS.CLOSE &&
      piece.meta.bytesleft === 0
    ) this.#onPeerClose();
    return piece;
  }

  /**
   * A buffered piece without awaiting, or null (then use #pull). Protocol
   * errors are left in the engine for #pull to report properly.
   */
  #pullBuffered(): Piece | null {
    if (this.#raw || this.#failure || this.#finished) return null;
    try {
      return this.#readBuffered(MAX_PIECE);
    } catch (e) {
      this.#pendingError = e;
      return null;
    }
  }

  /** A protocol violation found while reading: send our close, then reject. */
  async #readFailedWith(e: unknown): Promise<never> {
    if (e instanceof WebSocketError) {
      this.#failureReported = true;
      await this.#onProtocolError(e);
    }
    throw e;
  }

  /** Returns the error for a call after the connection failed or closed. */
  #takeFailure(): WebSocketError {
    if (this.#failure && !this.#failureReported) {
      this.#failureReported = true;
      return this.#failure;
    }
    return closedError();
  }

  async #fill(): Promise<void> {
    const chunk = await this.#readChunk();
    if (chunk === null) throw this.#lost();
    this.#proto.feed(chunk);
  }

  /**
   * The next bytes from the transport: what was read ahead first, else one
   * read into the read buffer. Null at the end of the stream.
   */
  async #readChunk(): Promise<Uint8Array | null> {
    // Bytes read ahead come first, then a read-ahead read still in flight
    // (it is the next read), and only then a read of our own.
    while (this.#readAhead.length === 0 && this.#readAheadRun !== null) {
      await this.#readAheadRun;
    }
    // Asking for more input means the bytes handed out last were consumed
    // (the engine keeps no views of them), so their buffer can be reused.
    if (this.#aheadInUse !== null) {
      this.#poolAhead(this.#aheadInUse);
      this.#aheadInUse = null;
    }
    const ahead = this.#readAhead.shift();
    if (ahead !== undefined) {
      this.#readAheadBytes -= aheadCost(ahead);
      if (ahead.buffer.byteLength === READ_AHEAD_CHUNK) {
        this.#aheadInUse = new Uint8Array(ahead.buffer);
      }
      return ahead;
    }
    if (this.#readAheadEnd !== undefined) {
      if (this.#readAheadEnd === null) return null;
      throw this.#readFailed(this.#readAheadEnd.error);
    }
    let n: number | null;
    try {
      n = await this.#conn.read(this.#readBuf);
    } catch (e) {
      throw this.#readFailed(e);
    }
    if (n === null) return null;
    this.#lastRx = Date.now();
    this.#piecesSinceRead = 0;
    return this.#readBuf.subarray(0, n);
  }

  /**
   * Starts reading ahead if a callback is pending while our writes wait for
   * the socket (see READ_AHEAD_LIMIT); called when either begins.
   */
  #maybeReadAhead(): void {
    if (this.#readAheadRun === null && this.#mustReadAhead()) {
      this.#readAheadRun = this.#readAheadLoop();
    }
  }

  /** Keeps a free read-ahead buffer, and arms the timer that drops the pool. */
  #poolAhead(buf: Uint8Array): void {
    if (this.#aheadPool.length < READ_AHEAD_POOL) this.#aheadPool.push(buf);
    if (this.#aheadPoolTimer === undefined && !this.#finished) {
      this.#aheadPoolTimer = setTimeout(
        this.#dropAheadPool,
        READ_AHEAD_POOL_IDLE,
      );
    }
  }

  /** Frees the pool once reading ahead has stopped (else checks again later). */
  #dropAheadPool = (): void => {
    this.#aheadPoolTimer = undefined;
    if (this.#readAheadRun !== null || this.#readAhead.length > 0) {
      if (!this.#finished) {
        this.#aheadPoolTimer = setTimeout(
          this.#dropAheadPool,
          READ_AHEAD_POOL_IDLE,
        );
      }
      return;
    }
    this.#aheadPool = [];
  };

  /** A callback is pending while our bytes (or a large frame) wait to be written. */
  #mustReadAhead(): boolean {
    return this.#callbackPending && (this.#writing || this.#txBusy !== null) &&
      !this.#finished && this.#readAheadEnd === undefined &&
      this.#readAheadBytes < READ_AHEAD_LIMIT;
  }

  async #readAheadLoop(): Promise<void> {
    // Let #maybeReadAhead store this run first: the finally below clears it
    // in the same step as the last check, so no send can find a run that
    // is about to end (and not start one).
    await undefined;
    try {
      while (this.#mustReadAhead()) {
        const buf = this.#aheadPool.pop() ?? new Uint8Array(READ_AHEAD_CHUNK);
        let n: number | null;
        try {
          n = await this.#conn.read(buf);
        } catch (e) {
          this.#readAheadEnd = { error: e };
          return;
        }
        if (n === null) {
          this.#readAheadEnd = null;
          return;
        }
        this.#lastRx = Date.now();
        let chunk = buf.subarray(0, n);
        if (n < READ_AHEAD_CHUNK / 4) {
          // A short read gets a buffer its size, so that many small reads
          // cannot each hold a whole chunk; the big buffer reads again.
          chunk = buf.slice(0, n);
          this.#poolAhead(buf);
        }
        this.#readAhead.push(chunk);
        this.#readAheadBytes += aheadCost(chunk);
      }
    } finally {
      this.#readAheadRun = null;
    }
  }

  /** Pings when the line is idle; fails with TIMEOUT when the peer goes silent. */
  #startKeepalive(interval: number, pongTimeout: number): void {
    this.#pingTimer = setInterval(() => {
      if (
        this.#finished || this.#proto.closeSent || this.#pongTimer !== undefined
      ) return;
      if (
        Date.now() - this.#lastRx < interval || this.#proto.inPartialFrame ||
        this.#txBusy
      ) return;
      const sentAt = Date.now();
      this.#write(this.#proto.encode(new Uint8Array(0), WS.PING)).catch(
        () => {},
      );
      this.#pongTimer = setTimeout(() => {
        this.#pongTimer = undefined;
        if (this.#lastRx >= sentAt) return;
        this.#fatal(
          new WebSocketError(
            "TIMEOUT",
            `no answer from the peer within ${pongTimeout} ms of a ping`,
          ),
        );
      }, pongTimeout);
    }, interval);
  }

  async #readRaw(): Promise<Uint8Array> {
    const chunk = await this.#readChunk();
    if (chunk === null) {
      this.#finish({ code: CloseCode.ABNORMAL, reason: "", wasClean: false });
      throw closedError();
    }
    return chunk;
  }

  #readFailed(e: unknown): WebSocketError {
    if (this.#failure || this.#finished) return this.#takeFailure();
    const err = new WebSocketError(
      "CONNECTION_LOST",
      `read failed: ${(e as Error)?.message ?? e}`,
      { cause: e },
    );
    this.#fatal(err);
    this.#failureReported = true;
    return err;
  }

  #lost(): WebSocketError {
    const err = new WebSocketError(
      "CONNECTION_LOST",
      "the connection ended without a close frame",
      { closeCode: CloseCode.ABNORMAL },
    );
    this.#failure ??= err;
    this.#failureReported = true;
    this.#finish({ code: CloseCode.ABNORMAL, reason: "", wasClean: false });
    return err;
  }

  /** The peer's close frame arrived: once our answer is out, close the socket. */
  #onPeerClose(): void {
    const peer = this.#proto.peerClose!;
    const info = { code: peer.code, reason: peer.reason, wasClean: true };
    // Everything queued, and our close (held back while a frame of ours is
    // half-sent), must reach the socket before it closes; closeTimeout
    // bounds the wait.
    this.#armCloseTimer({ ...info, wasClean: false });
    const written = (async () => {
      while (this.#txBusy) await this.#txBusy;
      while (this.#proto.inPartialFrame && !this.#finished) {
        await new Promise<void>((resolve) =>
          this.#boundaryWaiters.push(resolve)
        );
      }
      await this.#flushControl();
      await (this.#queueDone?.promise ??
        (this.#writing ? this.#inFlight : null));
    })();
    written.then(
      () => this.#finish(info),
      () => this.#finish({ ...info, wasClean: false }),
    );
  }

  /** The peer broke the protocol: send our close frame, then shut down. */
  async #onProtocolError(err: WebSocketError): Promise<void> {
    if (this.#failure) return;
    this.#failure = err;
    try {
      const out = this.#proto.takeOutput();
      if (out) await this.#write(out);
    } catch { /* the transport is gone; nothing more to tell the peer */ }
    this.#drainThenClose({
      code: CloseCode.ABNORMAL,
      reason: "",
      wasClean: false,
    });
  }

  /**
   * Reads and drops what the peer still sends until it closes the stream or
   * closeTimeout passes, then closes the socket. Closing at once could reset
   * the connection and destroy our close frame before the peer reads it.
   */
  #drainThenClose(info: CloseInfo): void {
    this.#armCloseTimer(info);
    const drain = async () => {
      while (!this.#finished) {
        const n = await this.#conn.read(this.#readBuf);
        if (n === null) break;
      }
    };
    drain().catch(() => {}).finally(() => this.#finish(info));
  }

  #armCloseTimer(info: CloseInfo): void {
    if (this.#closeTimer !== undefined || this.#finished) return;
    this.#closeTimer = setTimeout(() => {
      this.#closeTimer = undefined;
      this.#finish(info);
    }, this.#closeTimeout);
  }

  /** Ends the connection now, for an abort or a broken transport. */
  #fatal(err: WebSocketError): void {
    if (this.#finished) return;
    this.#failure ??= err;
    this.#finish({ code: CloseCode.ABNORMAL, reason: "", wasClean: false });
  }

  #finish(info: CloseInfo): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#closeTimer !== undefined) {
      clearTimeout(this.#closeTimer);
      this.#closeTimer = undefined;
    }
    clearInterval(this.#pingTimer);
    clearTimeout(this.#pongTimer);
    clearTimeout(this.#aheadPoolTimer);
    this.#aheadPool = [];
    this.#deflate?.close();
    if (this.#signal && this.#onAbort) {
      this.#signal.removeEventListener("abort", this.#onAbort);
    }
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    this.#resolveClosed(info);
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
   * ```ts ignore
   * await conn.send(new Uint8Array(4), WS.BINARY | WS.OFFSET, 10);
   * await conn.send(new Uint8Array(6), WS.BINARY | WS.OFFSET, 0);
   * ```
   */
  send(
    data: Uint8Array | string,
    flags?: number,
    fragsize = 0,
  ): Promise<number> {
    // Not an async function: a frame that only needs queueing resolves
    // without extra promise hops (the hot path of small messages).
    try {
      const bytes = typeof data === "string" ? encoder.encode(data) : data;
      if (this.#finished || this.#writeError) {
        throw this.#writeError ?? closedError();
      }
      // Raw bytes are queued as they are, and a send waiting for a large
      // frame runs later: both keep their own copy (see keptForLater).
      if (this.#raw) {
        return this.#write(keptForLater(bytes, data)).then(() => bytes.length);
      }
      flags ??= typeof data === "string" ? WS.TEXT : WS.BINARY;
      if (this.#txBusy) {
        return this.#sendWhenIdle(keptForLater(bytes, data), flags, fragsize);
      }
      const proto = this.#proto;
      if (flags & CONTROL_FLAGS && proto.inPartialFrame) {
        throw new WebSocketError(
          "INVALID_ARGUMENT",
          "finish the partial frame (WS.OFFSET) before sending a control frame",
        );
      }
      let payload = bytes, rsv = 0;
      if (this.#deflate !== null) {
        if (flags & WS.OFFSET && proto.compressingMessage) {
          throw new WebSocketError(
            "INVALID_ARGUMENT",
            "a compressed fragmented message cannot continue with a partial frame",
          );
        }
        // With permessage-deflate the payload may shrink into a compressed one.
        ({ payload, rsv } = proto.compress(bytes, flags));
      }
      if (
        payload.length > STREAM_SEND_MIN && !(flags & CONTROL_FLAGS) &&
        this.#canStream(payload.length, flags, fragsize)
      ) {
        return this.#sendLarge(payload, flags, fragsize, rsv).then(() =>
          bytes.length
        );
      }
      const frame = proto.encode(
        payload,
        flags,
        fragsize,
        this.#stageRoom(MAX_HEADER + payload.length),
        rsv,
      );
      const written = this.#write(frame);
      if (!proto.inPartialFrame) this.#atFrameBoundary();
      // Below the high-water mark the caller may queue more, to share the
      // next write; a write error then surfaces on the next call.
      if (this.#queuedBytes <= QUEUE_HIGH_WATER) {
        return Promise.resolve(bytes.length);
      }
      this.#maybeReadAhead();
      return written.then(() => bytes.length);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** send() after the large frame in progress has been written. */
  async #sendWhenIdle(
    bytes: Uint8Array,
    flags: number,
    fragsize: number,
  ): Promise<number> {
    while (this.#txBusy) await this.#txBusy;
    return await this.send(bytes, flags, fragsize);
  }

  /**
   * True when a big send can take the streaming path of #sendLarge: a whole
   * frame, or a partial one (WS.OFFSET, uncompressed) whose sizes add up, so
   * that no piece can fail validation after earlier pieces went out.
   */
  #canStream(length: number, flags: number, fragsize: number): boolean {
    const proto = this.#proto;
    if ((flags & WS.OFFSET) === 0) return !proto.inPartialFrame;
    if (this.#deflate !== null) return false;
    if (proto.inPartialFrame) return length <= proto.partialFrameLeft;
    return Number.isSafeInteger(fragsize) && fragsize >= length;
  }

  /**
   * Sends a big payload (a whole frame, or a piece of a partial one) without
   * an allocation its size, and resolves once the socket has taken it. A
   * client masks it piece by piece into one reusable buffer, each piece
   * written before the buffer is reused; a server writes what follows the
   * first piece straight from the caller's bytes.
   */
  async #sendLarge(
    bytes: Uint8Array,
    flags: number,
    fragsize: number,
    rsv: number,
  ): Promise<void> {
    const done = Promise.withResolvers<void>();
    this.#txBusy = done.promise;
    this.#maybeReadAhead();
    try {
      const proto = this.#proto;
      const total = flags & WS.OFFSET ? fragsize : bytes.length;
      const scratch = this.#scratch ??= new Uint8Array(SEND_CHUNK + MAX_HEADER);
      // The first SEND_CHUNK bytes are copied (masked, for a client) before
      // send() returns, so a caller that does not wait for it, like an echo
      // of a perform() piece, may reuse its buffer; only beyond that are the
      // caller's bytes read until the promise settles.
      let off = Math.min(bytes.length, SEND_CHUNK);
      await this.#write(
        proto.encode(
          bytes.subarray(0, off),
          flags | WS.OFFSET,
          proto.inPartialFrame ? 0 : total,
          scratch,
          rsv,
        ),
      );
      if (this.role === "server" && off < bytes.length) {
        // Unmasked: the rest goes from the caller's bytes, with no copy.
        await this.#write(proto.continueUnmasked(bytes.subarray(off)));
        off = bytes.length;
      }
      while (off < bytes.length) {
        const end = Math.min(off + SEND_CHUNK, bytes.length);
        await this.#write(
          proto.encode(bytes.subarray(off, end), flags | WS.OFFSET, 0, scratch),
        );
        off = end;
      }
      if (!proto.inPartialFrame) this.#atFrameBoundary();
    } finally {
      this.#txBusy = null;
      done.resolve();
    }
  }

  /** Our frame is complete: held-back pongs and waiters for a boundary go. */
  #atFrameBoundary(): void {
    if (this.#proto.hasOutput) this.#flushControl();
    if (this.#boundaryWaiters.length > 0) {
      for (const wake of this.#boundaryWaiters.splice(0)) wake();
    }
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
   * ```ts ignore
   * await conn.close(1000, "bye");
   * console.log(await conn.closed); // { code: 1000, reason: "bye", wasClean: true }
   * ```
   */
  async close(code: number = CloseCode.NORMAL, reason = ""): Promise<void> {
    encodeClosePayload(code, reason); // throws INVALID_ARGUMENT for bad input
    if (this.#finished) return;
    const timedOut = { code: CloseCode.ABNORMAL, reason: "", wasClean: false };
    // closeTimeout bounds everything below, even writes the peer never reads.
    this.#armCloseTimer(timedOut);
    if (this.#raw) {
      // No close handshake in raw mode: let queued bytes out, then close.
      await (this.#queueDone?.promise ??
        (this.#writing ? this.#inFlight : null))
        ?.catch(() => {});
      this.#finish(timedOut);
      return;
    }
    while (this.#txBusy) await this.#txBusy;
    if (this.#finished) return;
    const proto = this.#proto;
    if (proto.inPartialFrame) {
      throw new WebSocketError(
        "INVALID_ARGUMENT",
        "finish the partial frame (WS.OFFSET) before closing",
      );
    }
    if (proto.queueClose(code, reason)) {
      try {
        await this.#flushControl();
      } catch {
        this.#fatal(closedError());
        return;
      }
    }
    if (this.#finished) return;
    if (proto.closeReceived) return void await this.closed;
    if (this.#performing) {
      // The perform() loop reads the peer's answer; inside its callback we must not wait for it.
      if (this.#meta === null) await this.closed;
      return;
    }
    // Read (and drop) until the peer's close frame, taking turns with any
    // pending recv() so that it still gets the frames it waits for.
    while (!this.#finished && !proto.closeReceived) {
      await this.#readLock.acquire();
      try {
        if (!this.#finished && !proto.closeReceived) {
          await this.#pull(MAX_PIECE);
        }
      } catch {
        break;
      } finally {
        this.#readLock.release();
      }
    }
    await this.closed;
  }

  // ------------------------------------------------------------ the writer

  /** Writes the automatic frames (pongs, close) that the protocol queued. */
  #flushControl(): Promise<void> {
    const out = this.#proto.takeOutput();
    if (!out) return Promise.resolve();
    const p = this.#write(out);
    p.catch(() => {});
    return p;
  }

  /**
   * Queues bytes for the socket. Frames queued while a write is in flight
   * are coalesced into one write. Resolves when the bytes are written.
   */
  #write(bytes: Uint8Array): Promise<void> {
    if (this.#writeError) return Promise.reject(this.#writeError);
    if (this.#finished) return Promise.reject(closedError());
    const stage = this.#stage;
    if (
      stage !== null && bytes.buffer === stage.buffer &&
      bytes.byteOffset === stage.byteOffset + this.#stageEnd
    ) {
      // Encoded in place by #stageRoom(): just extend the staged run.
      this.#stageEnd += bytes.length;
    } else {
      this.#sealStage();
      this.#queue.push(bytes);
    }
    this.#queuedBytes += bytes.length;
    if (this.#queueDone === null) {
      this.#queueDone = Promise.withResolvers<void>();
      // Callers that do not wait for the write learn of errors on their
      // next call; the batch's rejection is handled here once.
      this.#queueDone.promise.catch(() => {});
    }
    const p = this.#queueDone.promise;
    if (!this.#writing) {
      this.#markTurn();
      // Frames still buffered on the receive side mean the caller is
      // working through a batch and will likely send again in this turn:
      // then the first write waits too, and the batch leaves in one write.
      // A lone reply (request/response, ping-pong) goes out at once.
      if (this.#proto.buffered > 0 || this.#piecesSinceRead > 1) {
        this.#wroteThisTurn = true;
      }
      this.#runWriter();
    }
    // Whatever a pending callback now waits for may need the peer to read.
    if (this.#callbackPending) this.#maybeReadAhead();
    return p;
  }

  /**
   * Free space at the end of the staging buffer, to encode a frame of up to
   * `size` bytes into. When the buffer is too full for it, a fresh one (from
   * the pool) takes over, so frames up to STAGE_SIZE never allocate.
   */
  #stageRoom(size: number): Uint8Array {
    if (
      this.#stage !== null && size <= STAGE_SIZE &&
      this.#stageEnd + size > STAGE_SIZE
    ) {
      this.#sealStage();
      this.#fullStages.push(this.#stage);
      this.#stage = null;
      this.#stageStart = this.#stageEnd = 0;
    }
    this.#stage ??= this.#stagePool.pop() ?? new Uint8Array(STAGE_SIZE);
    return this.#stage.subarray(this.#stageEnd);
  }

  /** Moves the staged run into the queue, keeping frames in order. */
  #sealStage(): void {
    if (this.#stageEnd > this.#stageStart) {
      this.#queue.push(this.#stage!.subarray(this.#stageStart, this.#stageEnd));
      this.#stageStart = this.#stageEnd;
    }
  }

  /**
   * Write coalescing by event-loop turn: the first write of a turn goes out
   * at once (latency) unless received frames are still buffered (see
   * #write); frames queued after it in the same turn wait for the next turn
   * and leave in one write (fewer ops per message).
   */
  #turnBusy = false;
  #wroteThisTurn = false;
  /** The writer waits for the next turn (one setImmediate serves both). */
  #writerDeferred = false;
  #endTurn = () => {
    this.#turnBusy = false;
    this.#wroteThisTurn = false;
    if (this.#writerDeferred) {
      this.#writerDeferred = false;
      this.#markTurn();
      this.#runWriter();
    }
  };
  /** Notes that a write starts in this turn; the flag clears on the next one. */
  #markTurn(): void {
    if (!this.#turnBusy) {
      this.#turnBusy = true;
      setImmediate(this.#endTurn);
    }
  }

  async #runWriter(): Promise<void> {
    this.#writing = true;
    let deferred = false;
    try {
      while (this.#queue.length > 0 || this.#stageEnd > this.#stageStart) {
        if (this.#turnBusy && this.#wroteThisTurn) {
          // Frames queued while the last write was in flight: gather the
          // rest of this turn's frames and write them together next turn.
          deferred = true;
          this.#writerDeferred = true; // #endTurn is scheduled: #turnBusy
          return;
        }
        this.#wroteThisTurn = true;
        this.#sealStage();
        const parts = this.#queue;
        const done = this.#queueDone!;
        this.#queue = [];
        this.#queueDone = null;
        this.#inFlight = done.promise;
        // The staging buffers go out with this batch; fill another one.
        const sent = this.#fullStages;
        this.#fullStages = [];
        if (this.#stageEnd > 0) {
          sent.push(this.#stage!);
          this.#stage = null;
          this.#stageStart = this.#stageEnd = 0;
        }
        try {
          await this.#writeParts(parts);
          for (const p of parts) this.#queuedBytes -= p.length;
          for (const stage of sent) {
            if (this.#stagePool.length < STAGE_POOL) {
              this.#stagePool.push(stage);
            }
          }
          done.resolve();
          // A pong held back by the backlog goes out now.
          if (this.#proto.hasOutput && !this.#txBusy) this.#flushControl();
        } catch (e) {
          const err = this.#finished
            ? (this.#failure ?? closedError())
            : new WebSocketError(
              "CONNECTION_LOST",
              `write failed: ${(e as Error)?.message ?? e}`,
              { cause: e },
            );
          this.#writeError = err;
          done.reject(err);
          const later = this.#queueDone as PromiseWithResolvers<void> | null;
          later?.promise.catch(() => {});
          later?.reject(err);
          this.#queue = [];
          this.#queueDone = null;
          this.#fatal(err);
          return;
        }
      }
    } finally {
      if (!deferred) this.#writing = false;
    }
  }

  async #writeParts(parts: Uint8Array[]): Promise<void> {
    const conn = this.#conn;
    let i = 0;
    while (i < parts.length) {
      let buf = parts[i];
      if (buf.length < COALESCE_LIMIT && i + 1 < parts.length) {
        // Gather a run of small frames into one write.
        let size = 0, j = i;
        while (j < parts.length && size + parts[j].length <= COALESCE_LIMIT) {
          size += parts[j++].length;
        }
        if (j > i + 1) {
          buf = concat(parts.slice(i, j), size);
          i = j;
        } else i++;
      } else i++;
      let off = 0;
      while (off < buf.length) {
        off += await conn.write(off === 0 ? buf : buf.subarray(off));
      }
    }
  }
}

/**
 * The bytes a send may read after it returned: a copy of the caller's
 * buffer up to SEND_CHUNK (the caller may reuse it at once), the buffer
 * itself beyond that (read until the send settles), and encoded text as is.
 */
function keptForLater(
  bytes: Uint8Array,
  data: Uint8Array | string,
): Uint8Array {
  return bytes === data && bytes.length <= SEND_CHUNK ? bytes.slice() : bytes;
}

function rawMeta(len: number): FrameMeta {
  return { age: 0, flags: 0, offset: 0, bytesleft: 0, len };
}
