/**
 * The receiving half of permessage-deflate (RFC 7692 §7.2.2): inflates one
 * message after another, in bounded steps pulled by the reader, so memory
 * stays within a step's output whatever the compression ratio.
 *
 * @module
 */

import { WebSocketError } from "../errors.ts";
import { Z_SYNC_FLUSH, ZlibContext } from "./zlib.ts";
import { WindowHistory } from "./window_history.ts";

/** The empty stored block the sender stripped (RFC 7692 §7.2.1). */
const TAIL = Uint8Array.of(0x00, 0x00, 0xff, 0xff);
const EMPTY = new Uint8Array(0);
/** We always inflate with the largest window: it decodes any smaller one. */
const INFLATE_WINDOW_BITS = 15;
/**
 * Output buffer sizes: a message starts with the small one, and each step
 * that fills its buffer doubles it up to the large one, the most a step
 * inflates. Between messages only a small one is kept.
 */
const MIN_STEP = 16 * 1024;
/** The most bytes one step inflates. */
export const MAX_STEP = 256 * 1024;
/**
 * A message that arrives whole in one piece of at most this many bytes is
 * copied with the tail appended, so zlib takes it in one call; it is also
 * first inflated without a window owed after a BFINAL block (see
 * {@linkcode Inflater}).
 */
const WHOLE_MAX = 4 * 1024;

/** What an {@linkcode Inflater} needs from the agreed parameters. */
export interface InflaterOptions {
  /** The peer resets its compressor after every message. */
  noContextTakeover: boolean;
  /** The peer's LZ77 window, base-2 log (8..15). */
  windowBits: number;
  /** Most bytes one message may inflate to (`Infinity`: no limit). */
  maxMessageSize: number;
}

/**
 * One direction's decompressor. {@linkcode push} a message's compressed
 * pieces, {@linkcode pull} inflated bytes until it returns null (more input
 * needed) or {@linkcode ended} turns true (the message is complete).
 *
 * A message's DEFLATE data may end in a block with BFINAL set (RFC 7692
 * §7.2.3.4). zlib then accepts no more input; resetting it also clears its
 * window, which with context takeover the next message may still refer to.
 * So the last window's bytes are recorded as they are inflated, and given
 * back to a fresh context (as a stored block: `node:zlib` in Deno cannot set
 * a raw inflater's dictionary) before the next compressed message needs it.
 *
 * That restore copies up to 32 KiB, while most senders that end messages
 * with BFINAL start each one afresh and never refer back. So a small message
 * that arrives whole is first inflated without it: a reference into the
 * missing window is an error for zlib ("distance too far back") before any
 * byte is handed out, and then the context is restored and the message
 * inflated again. The window stays owed until a message has to be inflated
 * the long way.
 */
export class Inflater {
  readonly #options: InflaterOptions;
  #z: ZlibContext | null = null;
  #failed: WebSocketError | null = null;

  // The message being inflated.
  #ended = true;
  /** Compressed input not yet consumed: `#input[#inputPos..]`. */
  #input: Uint8Array = EMPTY;
  #inputPos = 0;
  /** The input pushed last ends the message. */
  #last = false;
  /** Nothing is left to add to `#input` (the tail is in, or not needed). */
  #inputDone = false;
  /** Compressed bytes of the message so far. */
  #compressed = 0;
  /** Inflated bytes of the message so far. */
  #inflated = 0;
  /** The last write filled the output room: zlib may hold more output. */
  #moreOutput = false;
  /** The peer's DEFLATE stream ended with a BFINAL block in this message. */
  #streamEnded = false;
  /** zlib saw this message's bytes (a message may bypass it). */
  #touched = false;
  /** `#input` is the whole message with its tail, in `#joined`. */
  #whole = false;
  #joined: Uint8Array | null = null;

  /** Inflated bytes not yet handed out: `#out[#outPos..#outEnd]`. */
  #out: Uint8Array | null = null;
  #outPos = 0;
  #outEnd = 0;

  /** Context takeover only: the last window's bytes. */
  #history: WindowHistory | null = null;
  /** The context was reset after a BFINAL block and needs its window back. */
  #restorePending = false;

  /** Creates the state; the zlib context is made on first use. */
  constructor(options: InflaterOptions) {
    this.#options = options;
  }

  /** True from the message's last pulled piece until the next push(). */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Takes the next compressed piece of a message (pieces of any size,
   * across fragments and partial frames; the final one, `last`, may be
   * empty). The piece is read, not copied, until pull() returns null or the
   * message ends; only a small message that comes whole is copied, to join
   * it with its tail.
   */
  push(piece: Uint8Array, last: boolean): void {
    if (this.#failed) throw this.#failed;
    if (this.#ended) this.#startMessage();
    if (last && this.#compressed === 0 && isEmptyFinalBlock(piece)) {
      // A whole message `03 00` is an empty fixed-Huffman block with BFINAL:
      // what zlib's Z_FINISH makes of nothing. It inflates to nothing, so
      // skipping zlib leaves the same window without a reset and restore.
      this.#last = true;
      this.#inputDone = true;
      return;
    }
    this.#last = last;
    if (this.#streamEnded) return; // what follows a BFINAL block is ignored
    this.#inputPos = 0;
    if (
      last && this.#compressed === 0 && piece.length > 0 &&
      piece.length <= WHOLE_MAX
    ) {
      const joined = this.#joined ??= new Uint8Array(WHOLE_MAX + TAIL.length);
      joined.set(piece);
      joined.set(TAIL, piece.length);
      this.#input = joined.subarray(0, piece.length + TAIL.length);
      this.#compressed = piece.length;
      this.#inputDone = true; // the tail is in
      this.#whole = true;
      return;
    }
    this.#input = piece;
    this.#compressed += piece.length;
  }

  /**
   * The next inflated bytes, at most `max` (max >= 1): a view valid until
   * the next call. Null when the pushed input is used up before the
   * message's end; once the message's last piece (possibly empty) has been
   * returned, {@linkcode ended} is true.
   *
   * @throws {WebSocketError} `INVALID_PAYLOAD` (closeCode 1007) for corrupt
   *   data, `MESSAGE_TOO_BIG` (closeCode 1009) as soon as the message
   *   inflates past `maxMessageSize`; every later call throws it again
   */
  pull(max: number): Uint8Array | null {
    if (this.#failed) throw this.#failed;
    if (this.#ended) return null;
    if (this.#outPos === this.#outEnd && !this.#allInflated()) {
      try {
        this.#step();
      } catch (err) {
        if (err instanceof WebSocketError) this.#failed = err;
        throw err;
      }
    }
    const n = Math.min(max, this.#outEnd - this.#outPos);
    const piece = n > 0
      ? this.#out!.subarray(this.#outPos, this.#outPos + n)
      : EMPTY;
    this.#outPos += n;
    if (this.#outPos === this.#outEnd && this.#allInflated()) {
      this.#endMessage();
      return piece;
    }
    return n > 0 ? piece : null;
  }

  /** Frees the zlib context. */
  close(): void {
    this.#z?.close();
    this.#z = null;
    this.#out = null;
    this.#history = null;
    this.#input = EMPTY;
  }

  #startMessage(): void {
    this.#ended = false;
    this.#inputDone = false;
    this.#compressed = 0;
    this.#inflated = 0;
    this.#moreOutput = false;
    this.#streamEnded = false;
    this.#touched = false;
    this.#whole = false;
  }

  /** zlib holds nothing more of the message and will get nothing more. */
  #allInflated(): boolean {
    return this.#last && this.#inputDone && !this.#moreOutput &&
      this.#inputPos === this.#input.length;
  }

  #endMessage(): void {
    this.#ended = true;
    this.#input = EMPTY;
    this.#inputPos = 0;
    // Keep only a small output buffer between messages.
    if (this.#out !== null && this.#out.length > MIN_STEP) this.#out = null;
    if (!this.#touched) return;
    if (this.#options.noContextTakeover) {
      this.#z!.reset();
    } else if (this.#streamEnded) {
      this.#z!.reset();
      this.#restorePending = this.#history!.length > 0;
    }
  }

  /** One inflate step into the output buffer (it may produce nothing). */
  #step(): void {
    const z = this.#z ??= new ZlibContext("inflate", INFLATE_WINDOW_BITS);
    if (!this.#options.noContextTakeover) {
      this.#history ??= new WindowHistory(1 << this.#options.windowBits);
    }
    let out = this.#out;
    if (out === null || (this.#moreOutput && out.length < MAX_STEP)) {
      // A buffer the previous step filled is outgrown: the data is big.
      const size = out === null ? MIN_STEP : out.length * 2;
      out = this.#out = new Uint8Array(size);
    }
    this.#outPos = 0;
    this.#outEnd = 0;
    if (this.#restorePending && this.#speculate(z, out)) return;
    const limit = this.#options.maxMessageSize;
    while (this.#outEnd < out.length) {
      let len = this.#input.length - this.#inputPos;
      if (len === 0 && !this.#moreOutput) {
        if (!this.#last || this.#inputDone) break; // wait for input / done
        // The message is in: append the tail, unless there was no byte at
        // all (RFC 7692 asks for 0x00, but some senders send nothing; the
        // tail alone would leave zlib inside a stored-block header).
        this.#inputDone = true;
        if (this.#compressed === 0) break;
        this.#input = TAIL;
        this.#inputPos = 0;
        len = TAIL.length;
      }
      // Never let zlib produce more than one byte past the limit.
      const free = out.length - this.#outEnd;
      const left = limit - this.#inflated + 1;
      const room = left < free ? left : free;
      if (this.#restorePending) this.#restoreWindow(z, out); // outEnd is 0
      this.#touched = true;
      const [produced, consumed] = z.write(
        Z_SYNC_FLUSH,
        this.#input,
        this.#inputPos,
        len,
        out,
        this.#outEnd,
        room,
      );
      if (z.error !== null) {
        throw new WebSocketError(
          "INVALID_PAYLOAD",
          `invalid compressed data: ${z.error}`,
          { closeCode: 1007 },
        );
      }
      if (produced > 0) {
        this.#history?.record(
          out.subarray(this.#outEnd, this.#outEnd + produced),
        );
      }
      this.#outEnd += produced;
      this.#inflated += produced;
      this.#inputPos += consumed;
      if (this.#inflated > limit) {
        throw new WebSocketError(
          "MESSAGE_TOO_BIG",
          `message inflates to more than ${limit} bytes`,
          { closeCode: 1009 },
        );
      }
      this.#moreOutput = produced === room;
      if (produced < room && consumed < len) {
        // With output room left, zlib stops short of the input only at the
        // end of the DEFLATE stream (a BFINAL block). What follows is
        // ignored, like the 0x00 after the final block in RFC 7692 §7.2.3.4.
        this.#streamEnded = true;
        this.#inputDone = true;
        this.#inputPos = this.#input.length;
      }
    }
    if (this.#inputPos === this.#input.length) {
      this.#input = EMPTY; // used up: keep no view of the caller's bytes
      this.#inputPos = 0;
    }
  }

  /**
   * Inflates a whole small message on a context that lacks the window, into
   * `out`. Returns false, with the context reset, when the message is not
   * whole and small, refers back into the window, is corrupt or does not
   * fit: the caller then restores the window and inflates it the long way.
   */
  #speculate(z: ZlibContext, out: Uint8Array): boolean {
    if (!this.#whole) return false;
    const input = this.#input;
    const left = this.#options.maxMessageSize + 1;
    const room = left < out.length ? left : out.length;
    this.#touched = true;
    const [produced, consumed] = z.write(
      Z_SYNC_FLUSH,
      input,
      0,
      input.length,
      out,
      0,
      room,
    );
    if (z.error !== null || produced === room) {
      z.reset();
      return false;
    }
    this.#history!.record(out.subarray(0, produced));
    this.#outEnd = produced;
    this.#inflated = produced;
    // Stopping short of the input (and tail) means a BFINAL block.
    this.#streamEnded = consumed < input.length;
    this.#input = EMPTY;
    return true;
  }

  /**
   * Gives the context the window it had, by resetting it and inflating the
   * recorded bytes as a stored block into `sink`.
   */
  #restoreWindow(z: ZlibContext, sink: Uint8Array): void {
    this.#restorePending = false;
    z.reset();
    const block = this.#history!.storedBlock();
    let off = 0;
    while (off < block.length) {
      const [produced, consumed] = z.write(
        Z_SYNC_FLUSH,
        block,
        off,
        block.length - off,
        sink,
        0,
        sink.length,
      );
      if (z.error !== null || (produced === 0 && consumed === 0)) {
        throw new Error(`could not restore the inflate window: ${z.error}`);
      }
      off += consumed;
    }
  }
}

/** `03 00`, or `03 00 00` as RFC 7692 §7.2.3.4 pads it. */
function isEmptyFinalBlock(piece: Uint8Array): boolean {
  return (piece.length === 2 || (piece.length === 3 && piece[2] === 0)) &&
    piece[0] === 0x03 && piece[1] === 0x00;
}
