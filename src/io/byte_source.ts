/**
 * The only reader of a connection's byte stream: the bytes left over from
 * the handshake, a read buffer that starts small and grows only while
 * reads fill it, and reading ahead while a callback waits on our writes.
 *
 * @module
 */

import type { WebSocketError } from "../errors.ts";
import type { ByteStream } from "./byte_stream.ts";

/** The read buffer of a quiet connection. */
const MIN_READ = 1024;
/** The read buffer of a busy one: large frames arrive in reads this big. */
const MAX_READ = 256 * 1024;
/** Short reads in a row after which the read buffer shrinks. */
const SHRINK_AFTER = 16;
/**
 * While a perform() callback's promise is pending, delivery pauses. If the
 * callback waits for a send, the socket must still be read: a peer that
 * stops reading while its own writes are blocked (an echo server with
 * backpressure) would otherwise never take our bytes, a deadlock. So while
 * the owner says so (a callback is pending AND our writes wait), the source
 * reads ahead into a queue of at most this many bytes. A callback that is
 * merely slow still pauses reading: backpressure.
 */
export const READ_AHEAD_LIMIT = 64 * 1024 * 1024;
/** Size of each read-ahead buffer. */
const READ_AHEAD_CHUNK = 256 * 1024;
/**
 * Read-ahead buffers kept for reuse while reading ahead (up to 32 MiB):
 * fresh memory costs page faults that dwarf the copying. The pool is
 * dropped after READ_AHEAD_POOL_IDLE ms unused.
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

/** What the source asks of its owner. */
export interface ByteSourceHooks {
  /** True while a read must go on although nobody asked for bytes. */
  mustReadAhead(): boolean;
  /** A read failed: the error to report (the owner ends the connection). */
  readFailed(cause: unknown): WebSocketError;
  /** True once the connection has ended. */
  ended(): boolean;
}

/**
 * Every read of one byte stream. The bytes a read returns are valid until
 * the next read: the buffer is reused.
 */
export class ByteSource {
  #stream: ByteStream;
  #hooks: ByteSourceHooks;
  #unread: Uint8Array | null;
  #buffer: Uint8Array | null = null;
  /** Reads in a row that used little of the buffer. */
  #shortReads = 0;
  /** When bytes last arrived (ms since the epoch). */
  lastRx = Date.now();
  /** Bytes read ahead, in order, not yet handed out. */
  #ahead: Uint8Array[] = [];
  #aheadBytes = 0;
  /** How reading ahead ended: end of stream (null) or a read error. */
  #aheadEnd: { error: unknown } | null | undefined = undefined;
  /** The read-ahead loop, while it runs (at most one read in flight). */
  #aheadRun: Promise<void> | null = null;
  /** Free read-ahead buffers, and the one whose bytes were handed out last. */
  #aheadPool: Uint8Array[] = [];
  #aheadPoolTimer: ReturnType<typeof setTimeout> | undefined;
  #aheadInUse: Uint8Array | null = null;
  /** The caller's read, while it waits. */
  #inFlight: Promise<number | null> | null = null;

  /** @param leftover bytes that arrived with the handshake: the first frames */
  constructor(
    stream: ByteStream,
    leftover: Uint8Array,
    hooks: ByteSourceHooks,
  ) {
    this.#stream = stream;
    this.#hooks = hooks;
    this.#unread = leftover.length > 0 ? leftover.slice() : null;
  }

  /** Bytes that were put back (or left by the handshake), taken without I/O. */
  takeUnread(): Uint8Array | null {
    const bytes = this.#unread;
    this.#unread = null;
    return bytes;
  }

  /** Puts back bytes the caller could not take; the next read returns them. */
  unread(bytes: Uint8Array): void {
    this.#unread = bytes.slice();
  }

  /**
   * The next bytes: what was put back, then what was read ahead, else one
   * read into the read buffer. Null at the end of the stream; rejects with
   * the owner's error when the read fails.
   */
  async read(): Promise<Uint8Array | null> {
    const unread = this.takeUnread();
    if (unread !== null) return unread;
    // Bytes read ahead come first, then a read-ahead read still in flight
    // (it is the next read), and only then a read of our own.
    while (this.#ahead.length === 0 && this.#aheadRun !== null) {
      await this.#aheadRun;
    }
    // Asking for more input means the bytes handed out last were consumed,
    // so their buffer can be reused.
    if (this.#aheadInUse !== null) {
      this.#poolAhead(this.#aheadInUse);
      this.#aheadInUse = null;
    }
    const ahead = this.#ahead.shift();
    if (ahead !== undefined) {
      this.#aheadBytes -= aheadCost(ahead);
      if (ahead.buffer.byteLength === READ_AHEAD_CHUNK) {
        this.#aheadInUse = new Uint8Array(ahead.buffer);
      }
      return ahead;
    }
    if (this.#aheadEnd !== undefined) {
      if (this.#aheadEnd === null) return null;
      throw this.#hooks.readFailed(this.#aheadEnd.error);
    }
    const buffer = this.#buffer ??= new Uint8Array(MIN_READ);
    let n: number | null;
    try {
      n = await (this.#inFlight = this.#stream.read(buffer));
    } catch (e) {
      throw this.#hooks.readFailed(e);
    } finally {
      this.#inFlight = null;
    }
    if (n === null) return null;
    this.lastRx = Date.now();
    this.#resize(n);
    return buffer.subarray(0, n);
  }

  /**
   * A read that filled the buffer makes the next one four times larger;
   * SHRINK_AFTER reads in a row that used less than an eighth of a grown
   * buffer shrink it, so a quiet connection comes back to MIN_READ bytes
   * while a busy one, whose reads vary, does not churn buffers. (The old
   * buffer stays valid for the bytes just returned.)
   */
  #resize(n: number): void {
    const size = this.#buffer!.length;
    if (n === size) {
      this.#shortReads = 0;
      if (size < MAX_READ) {
        this.#buffer = new Uint8Array(Math.min(size * 4, MAX_READ));
      }
    } else if (n >= size / 8 || size === MIN_READ) {
      this.#shortReads = 0;
    } else if (++this.#shortReads >= SHRINK_AFTER) {
      this.#shortReads = 0;
      this.#buffer = new Uint8Array(Math.max(size / 4, MIN_READ));
    }
  }

  /** True while a read-ahead run is going on. */
  get readingAhead(): boolean {
    return this.#aheadRun !== null;
  }

  /** Starts reading ahead when the owner's condition holds (see READ_AHEAD_LIMIT). */
  maybeReadAhead(): void {
    if (this.#aheadRun === null && this.#shouldReadAhead()) {
      this.#aheadRun = this.#readAheadLoop();
    }
  }

  #shouldReadAhead(): boolean {
    return this.#hooks.mustReadAhead() && !this.#hooks.ended() &&
      this.#aheadEnd === undefined && this.#aheadBytes < READ_AHEAD_LIMIT;
  }

  async #readAheadLoop(): Promise<void> {
    // Let maybeReadAhead store this run first: the finally below clears it
    // in the same step as the last check, so no send can find a run that
    // is about to end (and not start one).
    await undefined;
    try {
      while (this.#shouldReadAhead()) {
        const buf = this.#aheadPool.pop() ?? new Uint8Array(READ_AHEAD_CHUNK);
        let n: number | null;
        try {
          n = await this.#stream.read(buf);
        } catch (e) {
          this.#aheadEnd = { error: e };
          return;
        }
        if (n === null) {
          this.#aheadEnd = null;
          return;
        }
        this.lastRx = Date.now();
        let chunk = buf.subarray(0, n);
        if (n < READ_AHEAD_CHUNK / 4) {
          // A short read gets a buffer its size, so that many small reads
          // cannot each hold a whole chunk; the big buffer reads again.
          chunk = buf.slice(0, n);
          this.#poolAhead(buf);
        }
        this.#ahead.push(chunk);
        this.#aheadBytes += aheadCost(chunk);
      }
    } finally {
      this.#aheadRun = null;
    }
  }

  /** Keeps a free read-ahead buffer, and arms the timer that drops the pool. */
  #poolAhead(buf: Uint8Array): void {
    if (this.#aheadPool.length < READ_AHEAD_POOL) this.#aheadPool.push(buf);
    if (this.#aheadPoolTimer === undefined && !this.#hooks.ended()) {
      this.#aheadPoolTimer = setTimeout(
        this.#dropAheadPool,
        READ_AHEAD_POOL_IDLE,
      );
    }
  }

  /** Frees the pool once reading ahead has stopped (else checks again later). */
  #dropAheadPool = (): void => {
    this.#aheadPoolTimer = undefined;
    if (this.#aheadRun !== null || this.#ahead.length > 0) {
      if (!this.#hooks.ended()) {
        this.#aheadPoolTimer = setTimeout(
          this.#dropAheadPool,
          READ_AHEAD_POOL_IDLE,
        );
      }
      return;
    }
    this.#aheadPool = [];
  };

  /** Reads and drops everything until the end of the stream or the connection ends. */
  async drain(): Promise<void> {
    // A read already waiting is the next read: its bytes go to its caller.
    await this.#inFlight?.catch(() => {});
    const buffer = this.#buffer ??= new Uint8Array(MIN_READ);
    while (!this.#hooks.ended()) {
      if (await this.#stream.read(buffer) === null) break;
    }
  }

  /** Stops the pool timer and lets the buffers go. */
  close(): void {
    clearTimeout(this.#aheadPoolTimer);
    this.#aheadPool = [];
    this.#buffer = null;
  }
}
