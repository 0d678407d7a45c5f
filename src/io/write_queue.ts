/**
 * The only writer of a connection's byte stream: frames are queued in
 * order, small ones encoded straight into staging buffers borrowed from a
 * pool shared by every connection, runs of small frames coalesced into one
 * write, and writes batched per event-loop turn.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { concat } from "../bytes.ts";
import { closedError, type WebSocketError } from "../errors.ts";
import type { ByteStream } from "./byte_stream.ts";

/** The largest frame header: 2 + 8 (64-bit length) + 4 (masking key). */
export const MAX_HEADER = 14;
/** Payloads up to this size are encoded into a staging buffer. */
export const STAGE_PAYLOAD = 64 * 1024;
/** A large staging buffer holds at least one frame of STAGE_PAYLOAD bytes. */
const STAGE_SIZE = STAGE_PAYLOAD + MAX_HEADER;
/**
 * The first staging buffer of a batch is sized to its first frame (a power
 * of two from 1 KiB): a lone small message, the common case and the one
 * many connections send at once, borrows 1 KiB, not 64. A batch that fills
 * it moves on to buffers of STAGE_SIZE.
 */
const MIN_STAGE = 1024;
/** Small frames queued together are copied into one write up to this size. */
const COALESCE_LIMIT = 64 * 1024;
/**
 * Written staging buffers kept for reuse by all connections of this
 * process, per size (at most 4 MiB of full-size ones). A connection holds a
 * staging buffer only while its frames wait for the socket, so an idle
 * connection holds none.
 */
const SHARED_STAGES = 64;
const sharedStages = new Map<number, Uint8Array[]>();

function stageSize(frame: number): number {
  if (frame > STAGE_SIZE / 2) return STAGE_SIZE;
  let size = MIN_STAGE;
  while (size < frame) size *= 2;
  return size;
}

function borrowStage(size: number): Uint8Array {
  return sharedStages.get(size)?.pop() ?? new Uint8Array(size);
}

function returnStage(stage: Uint8Array): void {
  let pool = sharedStages.get(stage.length);
  if (pool === undefined) sharedStages.set(stage.length, pool = []);
  if (pool.length < SHARED_STAGES) pool.push(stage);
}

/** What the queue asks of its owner. */
export interface WriteQueueHooks {
  /**
   * True when the caller is likely to send again in this turn (received
   * frames are still being worked through): then even the first write of
   * the turn waits for the turn's end, and the batch leaves in one write.
   */
  inBatch(): boolean;
  /** A batch was written (a held-back pong may go now). */
  onDrained(): void;
  /**
   * A write failed: the error to reject it and every later write with (the
   * owner also ends the connection).
   */
  writeFailed(cause: unknown): WebSocketError;
  /** True once the connection has ended: writes reject with CLOSED. */
  ended(): boolean;
}

/**
 * Frames for the socket, in order. `write()` resolves when its bytes (and
 * everything queued before them) are written.
 */
export class WriteQueue {
  #stream: ByteStream;
  #hooks: WriteQueueHooks;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #stage: Uint8Array | null = null;
  /** Filled staging buffers whose bytes are in #queue (not yet written). */
  #fullStages: Uint8Array[] = [];
  /** Staged bytes from #stageStart to #stageEnd are not in #queue yet. */
  #stageStart = 0;
  #stageEnd = 0;
  #queueDone: PromiseWithResolvers<void> | null = null;
  #writing = false;
  /** The batch being written (its #queueDone was already taken). */
  #inFlight: Promise<void> | null = null;
  #error: WebSocketError | null = null;
  #writeStarted: number | null = null;
  /** A write started in this event-loop turn; cleared on the next one. */
  #turnBusy = false;
  #wroteThisTurn = false;
  /** The writer waits for the next turn (one setImmediate serves both). */
  #writerDeferred = false;

  constructor(stream: ByteStream, hooks: WriteQueueHooks) {
    this.#stream = stream;
    this.#hooks = hooks;
  }

  /** Bytes queued and not yet written. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** True while bytes wait for the socket. */
  get writing(): boolean {
    return this.#writing;
  }

  /** Since when the write in flight has waited for the socket (ms since the epoch), or null. */
  get writingSince(): number | null {
    return this.#writeStarted;
  }

  /** The error of a failed write; every later write rejects with it. */
  get error(): WebSocketError | null {
    return this.#error;
  }

  /** Resolves when everything queued so far is written; rejects when that failed. */
  idle(): Promise<void> {
    return this.#queueDone?.promise ??
      (this.#writing ? this.#inFlight : null) ?? Promise.resolve();
  }

  /**
   * Queues bytes for the socket. Frames queued while a write is in flight
   * are coalesced into one write. Resolves when the bytes are written.
   */
  write(bytes: Uint8Array): Promise<void> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#hooks.ended()) return Promise.reject(closedError());
    const stage = this.#stage;
    if (
      stage !== null && bytes.buffer === stage.buffer &&
      bytes.byteOffset === stage.byteOffset + this.#stageEnd
    ) {
      // Encoded in place by room(): just extend the staged run.
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
      // A lone reply (request/response, ping-pong) goes out at once.
      if (this.#hooks.inBatch()) this.#wroteThisTurn = true;
      this.#runWriter();
    }
    return p;
  }

  /**
   * Free space at the end of the staging buffer, to encode a frame of up to
   * `size` bytes into, then hand to write(). When the buffer is too full for
   * it, a fresh one takes over, so frames up to STAGE_SIZE never allocate.
   */
  room(size: number): Uint8Array {
    let full = false;
    if (
      this.#stage !== null && size <= STAGE_SIZE &&
      this.#stageEnd + size > this.#stage.length
    ) {
      this.#sealStage();
      this.#fullStages.push(this.#stage);
      this.#stage = null;
      this.#stageStart = this.#stageEnd = 0;
      full = true;
    }
    this.#stage ??= borrowStage(
      full || this.#fullStages.length > 0 ? STAGE_SIZE : stageSize(size),
    );
    return this.#stage.subarray(this.#stageEnd);
  }

  /** Gives back an unused staging buffer (the connection has ended). */
  release(): void {
    if (this.#stage !== null && this.#stageEnd === 0 && !this.#writing) {
      returnStage(this.#stage);
      this.#stage = null;
    }
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
   * at once (latency) unless the owner says a batch is under way; frames
   * queued after it in the same turn wait for the next turn and leave in
   * one write (fewer ops per message).
   */
  #endTurn = () => {
    this.#turnBusy = false;
    this.#wroteThisTurn = false;
    if (this.#writerDeferred) {
      this.#writerDeferred = false;
      this.#markTurn();
      this.#runWriter();
    }
  };

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
          // Gather the rest of this turn's frames and write them together
          // next turn (#endTurn is scheduled while #turnBusy).
          deferred = true;
          this.#writerDeferred = true;
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
        } catch (e) {
          this.#fail(e, done);
          return;
        }
        for (const p of parts) this.#queuedBytes -= p.length;
        for (const stage of sent) returnStage(stage);
        done.resolve();
        this.#hooks.onDrained();
      }
    } finally {
      if (!deferred) this.#writing = false;
    }
  }

  #fail(e: unknown, done: PromiseWithResolvers<void>): void {
    const err = this.#hooks.writeFailed(e);
    this.#error = err;
    done.reject(err);
    const later = this.#queueDone as PromiseWithResolvers<void> | null;
    later?.promise.catch(() => {});
    later?.reject(err);
    this.#queue = [];
    this.#queueDone = null;
  }

  async #writeParts(parts: Uint8Array[]): Promise<void> {
    const stream = this.#stream;
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
        this.#writeStarted = Date.now();
        try {
          off += await stream.write(off === 0 ? buf : buf.subarray(off));
        } finally {
          this.#writeStarted = null;
        }
      }
    }
  }
}
