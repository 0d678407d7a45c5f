/**
 * Flow control of what we send (RFC 9113 §5.2, §6.9): queued DATA is framed
 * while both the server's connection window and the stream's window allow,
 * one frame per stream per round so that no stream starves the others.
 *
 * @module
 */

import {
  DEFAULT_WINDOW,
  Flag,
  FRAME_HEADER_SIZE,
  FrameType,
  writeFrameHeader,
} from "./frames.ts";
import type { H2Stream } from "./stream.ts";

/** What the scheduler tells its owner. */
export interface SchedulerHooks {
  /**
   * Queues bytes for the server: a frame, or a DATA frame's header and then
   * its payload as a view of the caller's data (the one copy of it is made
   * when the output is taken).
   */
  write(bytes: Uint8Array): void;
  /** A stream whose `send` had to wait has framed everything. */
  drained(s: H2Stream): void;
  /** A stream sent END_STREAM. */
  ended(s: H2Stream): void;
}

/** The send side of every stream of a session. */
export class SendScheduler {
  /** The server's connection window for our DATA. */
  connectionWindow: number = DEFAULT_WINDOW;
  /** The largest frame the server accepts. */
  maxFrameSize: number;
  /** Streams with bytes or END_STREAM waiting, in round-robin order. */
  #waiting = new Set<H2Stream>();
  #hooks: SchedulerHooks;

  /** A scheduler writing through `hooks`. */
  constructor(maxFrameSize: number, hooks: SchedulerHooks) {
    this.maxFrameSize = maxFrameSize;
    this.#hooks = hooks;
  }

  /** Queues `data` (kept, not copied) and frames what fits; returns the bytes left. */
  queue(s: H2Stream, data: Uint8Array, end: boolean): number {
    if (data.length > 0) {
      s.queue.push(data);
      s.pending += data.length;
    }
    s.endQueued = end;
    this.#waiting.add(s);
    this.flush();
    if (s.pending > 0 || s.endQueued) s.blocked = true;
    return s.pending;
  }

  /** Drops a stream that was reset or closed. */
  forget(s: H2Stream): void {
    s.clearQueue();
    this.#waiting.delete(s);
  }

  /** Frames queued DATA while the windows allow. */
  flush(): void {
    for (let progress = true; progress;) {
      progress = false;
      for (const s of this.#waiting) {
        const room = Math.min(
          s.sendWindow,
          this.connectionWindow,
          this.maxFrameSize,
        );
        if (s.pending > 0 && room > 0) {
          const piece = s.take(room);
          s.sendWindow -= piece.length;
          this.connectionWindow -= piece.length;
          this.#frame(s, piece);
          progress = true;
        } else if (s.pending === 0 && s.endQueued) {
          this.#frame(s, new Uint8Array(0));
        }
        if (s.pending > 0 || s.endQueued) continue;
        this.#waiting.delete(s);
        if (s.blocked) {
          s.blocked = false;
          this.#hooks.drained(s);
        }
      }
    }
  }

  #frame(s: H2Stream, piece: Uint8Array): void {
    // END_STREAM rides on the last queued bytes.
    const last = s.pending === 0 && s.endQueued;
    const header = new Uint8Array(FRAME_HEADER_SIZE);
    writeFrameHeader(
      header,
      0,
      piece.length,
      FrameType.DATA,
      last ? Flag.END_STREAM : 0,
      s.id,
    );
    this.#hooks.write(header);
    if (piece.length > 0) this.#hooks.write(piece);
    if (!last) return;
    s.endQueued = false;
    s.closeLocal();
    this.#hooks.ended(s);
  }
}
