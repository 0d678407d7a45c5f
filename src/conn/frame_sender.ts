/**
 * Frames in: `send()` in libcurl's terms, raw sends, large frames streamed
 * through one borrowed buffer, and our control frames held to frame
 * boundaries.
 *
 * @module
 */

import { closedError, WebSocketError } from "../errors.ts";
import { WS } from "../flags.ts";
import type { Protocol } from "../protocol.ts";
import {
  MAX_HEADER,
  STAGE_PAYLOAD,
  type WriteQueue,
} from "../io/write_queue.ts";

/**
 * Size of each piece of a large frame, masked (client) into a buffer
 * borrowed for the send. Payloads above STAGE_PAYLOAD stream this way.
 */
const SEND_CHUNK = 1024 * 1024;
/**
 * `send()` resolves as soon as its frame is queued while fewer bytes than
 * this wait for the socket; frames queued behind a write in flight then go
 * out together in one write. Above it, `send()` waits for the socket.
 */
const QUEUE_HIGH_WATER = 256 * 1024;
const CONTROL_FLAGS = WS.CLOSE | WS.PING | WS.PONG;

/** Large-send buffers kept for reuse by all connections of this process. */
const SHARED_SCRATCH = 2;
const sharedScratch: Uint8Array[] = [];

const encoder = new TextEncoder();

/** What the sender asks of its connection. */
export interface FrameSenderHooks {
  /** True once the connection has ended. */
  ended(): boolean;
  /** A send now waits for the socket (a pending callback may need the peer to read). */
  waitingForSocket(): void;
}

/** Encodes and queues our frames, in order, one frame at a time. */
export class FrameSender {
  #protocol: Protocol;
  #queue: WriteQueue;
  #hooks: FrameSenderHooks;
  #raw: boolean;
  #compressing: boolean;
  /** A multi-write send (a large frame) in progress; other sends wait for it. */
  #busy: Promise<void> | null = null;
  /** Woken when a partial frame of ours completes. */
  #boundaryWaiters: (() => void)[] = [];
  /** Payload bytes handed to send() and not yet queued for the socket. */
  #unqueued = 0;

  constructor(
    protocol: Protocol,
    queue: WriteQueue,
    options: { raw: boolean; compressing: boolean },
    hooks: FrameSenderHooks,
  ) {
    this.#protocol = protocol;
    this.#queue = queue;
    this.#raw = options.raw;
    this.#compressing = options.compressing;
    this.#hooks = hooks;
  }

  /** True while a large frame is being written. */
  get busy(): boolean {
    return this.#busy !== null;
  }

  /** Payload bytes handed to send() that are not in the write queue yet (large frames, sends waiting for them). */
  get unqueued(): number {
    return this.#unqueued;
  }

  /** Resolves once no large frame is being written. */
  async idle(): Promise<void> {
    while (this.#busy) await this.#busy;
  }

  /** Resolves once our frame in progress (a WS.OFFSET frame) is complete, or the connection ended. */
  async frameBoundary(): Promise<void> {
    await this.idle();
    while (this.#protocol.inPartialFrame && !this.#hooks.ended()) {
      await new Promise<void>((resolve) => this.#boundaryWaiters.push(resolve));
    }
  }

  /** See `WebSocketConnection.send`. */
  send(
    data: Uint8Array | string,
    flags?: number,
    fragsize = 0,
  ): Promise<number> {
    // Not an async function: a frame that only needs queueing resolves
    // without extra promise hops (the hot path of small messages).
    try {
      const bytes = typeof data === "string" ? encoder.encode(data) : data;
      if (this.#hooks.ended() || this.#queue.error) {
        throw this.#queue.error ?? closedError();
      }
      // Raw bytes are queued as they are, and a send waiting for a large
      // frame runs later: both keep their own copy (see keptForLater).
      if (this.#raw) {
        return this.#queue.write(keptForLater(bytes, data)).then(() =>
          bytes.length
        );
      }
      flags ??= typeof data === "string" ? WS.TEXT : WS.BINARY;
      if (this.#busy) {
        return this.#sendWhenIdle(keptForLater(bytes, data), flags, fragsize);
      }
      const proto = this.#protocol;
      if (flags & CONTROL_FLAGS && proto.inPartialFrame) {
        throw new WebSocketError(
          "INVALID_ARGUMENT",
          "finish the partial frame (WS.OFFSET) before sending a control frame",
        );
      }
      let payload = bytes, rsv = 0;
      if (this.#compressing) {
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
        payload.length > STAGE_PAYLOAD && !(flags & CONTROL_FLAGS) &&
        this.#canStream(payload.length, flags, fragsize)
      ) {
        return this.#sendLarge(payload, flags, fragsize, rsv).then(() =>
          bytes.length
        );
      }
      const queue = this.#queue;
      const frame = proto.encode(
        payload,
        flags,
        fragsize,
        queue.room(MAX_HEADER + payload.length),
        rsv,
      );
      const written = queue.write(frame);
      if (!proto.inPartialFrame) this.#atFrameBoundary();
      // Below the high-water mark the caller may queue more, to share the
      // next write; a write error then surfaces on the next call.
      if (queue.queuedBytes <= QUEUE_HIGH_WATER) {
        return Promise.resolve(bytes.length);
      }
      this.#hooks.waitingForSocket();
      return written.then(() => bytes.length);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Writes the automatic frames (pongs, close) that the protocol queued. */
  flushControl(): Promise<void> {
    const out = this.#protocol.takeOutput();
    if (!out) return Promise.resolve();
    const p = this.#queue.write(out);
    p.catch(() => {});
    return p;
  }

  /** After a batch was written: a pong held back by the backlog goes now. */
  drained(): void {
    if (this.#protocol.hasOutput && !this.#busy) this.flushControl();
  }

  /** Sends a keepalive ping unless a frame of ours is half-sent; false then. */
  ping(): boolean {
    if (this.#protocol.closeSent) return false;
    if (this.#protocol.inPartialFrame || this.#busy) return false;
    this.#queue.write(this.#protocol.encode(new Uint8Array(0), WS.PING))
      .catch(() => {});
    return true;
  }

  /** send() after the large frame in progress has been written. */
  async #sendWhenIdle(
    bytes: Uint8Array,
    flags: number,
    fragsize: number,
  ): Promise<number> {
    this.#unqueued += bytes.length;
    try {
      await this.idle();
    } finally {
      this.#unqueued -= bytes.length;
    }
    return await this.send(bytes, flags, fragsize);
  }

  /**
   * True when a big send can take the streaming path of #sendLarge: a whole
   * frame, or a partial one (WS.OFFSET, uncompressed) whose sizes add up, so
   * that no piece can fail validation after earlier pieces went out.
   */
  #canStream(length: number, flags: number, fragsize: number): boolean {
    const proto = this.#protocol;
    if ((flags & WS.OFFSET) === 0) return !proto.inPartialFrame;
    if (this.#compressing) return false;
    if (proto.inPartialFrame) return length <= proto.partialFrameLeft;
    return Number.isSafeInteger(fragsize) && fragsize >= length;
  }

  /**
   * Sends a big payload (a whole frame, or a piece of a partial one) without
   * an allocation its size, and resolves once the socket has taken it. A
   * client masks it piece by piece into one borrowed buffer, each piece
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
    this.#busy = done.promise;
    this.#unqueued += bytes.length;
    let queued = 0;
    this.#hooks.waitingForSocket();
    const scratch = sharedScratch.pop() ??
      new Uint8Array(SEND_CHUNK + MAX_HEADER);
    try {
      const proto = this.#protocol;
      const queue = this.#queue;
      const total = flags & WS.OFFSET ? fragsize : bytes.length;
      // The first SEND_CHUNK bytes are copied (masked, for a client) before
      // send() returns, so a caller that does not wait for it, like an echo
      // of a perform() piece, may reuse its buffer; only beyond that are the
      // caller's bytes read until the promise settles.
      let off = Math.min(bytes.length, SEND_CHUNK);
      const first = queue.write(
        proto.encode(
          bytes.subarray(0, off),
          flags | WS.OFFSET,
          proto.inPartialFrame ? 0 : total,
          scratch,
          rsv,
        ),
      );
      this.#unqueued -= off - queued;
      queued = off;
      await first;
      if (proto.role === "server" && off < bytes.length) {
        // Unmasked: the rest goes from the caller's bytes, with no copy.
        const rest = queue.write(proto.continueUnmasked(bytes.subarray(off)));
        off = bytes.length;
        this.#unqueued -= off - queued;
        queued = off;
        await rest;
      }
      while (off < bytes.length) {
        const end = Math.min(off + SEND_CHUNK, bytes.length);
        const piece = queue.write(
          proto.encode(bytes.subarray(off, end), flags | WS.OFFSET, 0, scratch),
        );
        this.#unqueued -= end - queued;
        queued = off = end;
        await piece;
      }
      if (!proto.inPartialFrame) this.#atFrameBoundary();
      // Only a buffer whose bytes were all written goes back to the pool.
      if (sharedScratch.length < SHARED_SCRATCH) sharedScratch.push(scratch);
    } finally {
      this.#unqueued -= bytes.length - queued;
      this.#busy = null;
      done.resolve();
    }
  }

  /** Our frame is complete: held-back pongs and waiters for a boundary go. */
  #atFrameBoundary(): void {
    if (this.#protocol.hasOutput) this.flushControl();
    if (this.#boundaryWaiters.length > 0) {
      for (const wake of this.#boundaryWaiters.splice(0)) wake();
    }
  }

  /** Wakes waiters for a frame boundary when the connection ends. */
  ended(): void {
    for (const wake of this.#boundaryWaiters.splice(0)) wake();
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
