/**
 * Frame pieces out: the read lock that makes concurrent readers take turns,
 * the synchronous path for pieces already buffered, and raw pieces in raw
 * mode.
 *
 * @module
 */

import { closedError, WebSocketError } from "../errors.ts";
import type { FrameMeta } from "../flags.ts";
import { WS } from "../flags.ts";
import type { Piece, Protocol } from "../protocol.ts";
import type { ByteSource } from "../io/byte_source.ts";
import type { Lifecycle } from "./lifecycle.ts";

/** No limit on a piece's size: whole frames (as far as they have arrived). */
export const ANY_SIZE = Number.MAX_SAFE_INTEGER;

/**
 * FIFO lock, so concurrent readers take turns piece by piece. Taking a free
 * lock costs no promise: `recv()` on the hot path stays cheap.
 */
export class ReadLock {
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

/** What the reader asks of its connection. */
export interface PieceReaderHooks {
  /** A piece was read: queued pongs may go out (unless the writer is backlogged). */
  afterPiece(): void;
  /** The peer's close frame arrived whole. */
  peerClosed(): void;
  /**
   * The peer broke the protocol and the caller is told with `err`: our
   * close goes out (for the first failure), then the connection ends.
   */
  protocolError(err: WebSocketError): Promise<void>;
  /** The stream ended without a close frame (raw: it just ended). */
  streamEnded(): WebSocketError;
}

/** Pulls pieces from the protocol, feeding it from the byte source. */
export class PieceReader {
  readonly lock: ReadLock = new ReadLock();
  #protocol: Protocol;
  #source: ByteSource;
  #lifecycle: Lifecycle;
  #hooks: PieceReaderHooks;
  #raw: boolean;
  /** A protocol error found by pullBuffered, reported by the next pull. */
  #pendingError: unknown = null;
  /** Pieces handed out since the last socket read: more than one is a batch. */
  #piecesSinceRead = 0;

  constructor(
    protocol: Protocol,
    source: ByteSource,
    lifecycle: Lifecycle,
    raw: boolean,
    hooks: PieceReaderHooks,
  ) {
    this.#protocol = protocol;
    this.#source = source;
    this.#lifecycle = lifecycle;
    this.#raw = raw;
    this.#hooks = hooks;
  }

  /** True while the caller works through several pieces of one read. */
  get inBatch(): boolean {
    return this.#protocol.buffered > 0 || this.#piecesSinceRead > 1;
  }

  /**
   * A piece already buffered, without awaiting, or null (then use `pull`).
   * Protocol errors are kept for the next `pull` to report properly. The
   * caller holds the lock.
   */
  pullBuffered(max = ANY_SIZE): Piece | null {
    if (this.#raw || this.#lifecycle.stopped || this.#pendingError !== null) {
      return null;
    }
    try {
      return this.#readBuffered(max);
    } catch (e) {
      this.#pendingError = e;
      return null;
    }
  }

  /** The next piece, reading the socket as needed. The caller holds the lock. */
  async pull(max = ANY_SIZE): Promise<Piece> {
    if (this.#pendingError !== null) {
      const e = this.#pendingError;
      this.#pendingError = null;
      return await this.#failedWith(e);
    }
    const proto = this.#protocol;
    const source = this.#source;
    for (;;) {
      if (this.#lifecycle.stopped) throw this.#lifecycle.takeFailure();
      if (this.#raw) return await this.#rawPiece(max);
      let piece: Piece | null;
      try {
        piece = this.#readBuffered(max);
      } catch (e) {
        return await this.#failedWith(e);
      }
      if (piece) return piece;
      if (proto.closeReceived) throw closedError();
      const bytes = source.takeUnread() ?? await source.read();
      if (bytes === null) throw this.#hooks.streamEnded();
      if (bytes.length > 0) this.#piecesSinceRead = 0;
      proto.feed(bytes);
    }
  }

  /**
   * The next piece from bytes already read, or null when more input is
   * needed; answers pings and closes as a side effect.
   */
  #readBuffered(max: number): Piece | null {
    const piece = this.#protocol.read(max);
    if (piece !== null) this.#piecesSinceRead++;
    this.#hooks.afterPiece();
    if (
      piece !== null && piece.meta.flags & WS.CLOSE &&
      piece.meta.bytesleft === 0
    ) this.#hooks.peerClosed();
    return piece;
  }

  async #rawPiece(max: number): Promise<Piece> {
    const data = await this.#source.read();
    if (data === null) throw this.#hooks.streamEnded();
    // What does not fit the caller's buffer waits for the next call.
    if (data.length > max) this.#source.unread(data.subarray(max));
    const piece = data.length > max ? data.subarray(0, max) : data;
    return { data: piece, meta: rawMeta(piece.length) };
  }

  /** A protocol violation found while reading: send our close, then reject. */
  async #failedWith(e: unknown): Promise<never> {
    if (e instanceof WebSocketError) await this.#hooks.protocolError(e);
    throw e;
  }
}

function rawMeta(len: number): FrameMeta {
  return { age: 0, flags: 0, offset: 0, bytesleft: 0, len };
}
