/**
 * Whole-message assembly in one growing buffer, bounded by a byte limit.
 *
 * A message of many fragments used to be kept as one copy per fragment,
 * which let a peer spend ~400 bytes of our memory per empty or one-byte
 * fragment while only payload bytes were counted. Here every fragment is
 * copied into one buffer, so a fragment costs exactly its payload: empty
 * fragments cost nothing and the memory a message holds is bounded by the
 * limit (at most twice the limit for the moment the buffer grows).
 *
 * @module
 */

const EMPTY = new Uint8Array(0);

/** The first allocation when a frame's size gives no better hint. */
const MIN_CAPACITY = 1024;

/**
 * Collects the pieces of one message. `append` returns false, leaving the
 * buffer as it was, when the message would pass the limit; the caller fails
 * the connection.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MessageBuffer } from "./message_buffer.ts";
 *
 * const message = new MessageBuffer(5);
 * assert.ok(message.append(new Uint8Array([1, 2]), 3)); // 3 more bytes of this frame follow
 * assert.ok(message.append(new Uint8Array([3, 4, 5]), 0));
 * assert.ok(!message.append(new Uint8Array([6]), 0)); // a sixth byte passes the limit
 * assert.deepEqual(message.take(), new Uint8Array([1, 2, 3, 4, 5]));
 * assert.equal(message.size, 0);
 * ```
 */
export class MessageBuffer {
  #bytes: Uint8Array = EMPTY;
  #size = 0;

  /** @param limit the largest message, in bytes */
  constructor(readonly limit: number) {}

  /** Bytes collected so far. */
  get size(): number {
    return this.#size;
  }

  /**
   * Copies `piece` in. `following` is what the frame still holds after it
   * (`bytesleft`): a message that already announces more than the limit
   * fails here, before its bytes arrive.
   */
  append(piece: Uint8Array, following = 0): boolean {
    const size = this.#size + piece.length;
    const announced = size + following;
    if (announced > this.limit) return false;
    if (piece.length === 0) return true;
    if (size > this.#bytes.length) {
      // Doubling with what has arrived, never sized by an announcement
      // alone (a frame header must not make us allocate its length). Inside
      // a frame, or for a message's first piece, the frame's end caps the
      // growth, so a single-frame message ends in a buffer of its exact size.
      const cap = following > 0 || this.#size === 0 ? announced : this.limit;
      this.#grow(size, cap);
    }
    this.#bytes.set(piece, this.#size);
    this.#size = size;
    return true;
  }

  #grow(needed: number, cap: number): void {
    const doubled = Math.max(this.#bytes.length * 2, MIN_CAPACITY);
    const next = new Uint8Array(Math.min(cap, Math.max(needed, doubled)));
    next.set(this.#bytes.subarray(0, this.#size));
    this.#bytes = next;
  }

  /**
   * The message, and the buffer is empty again. The result is exactly the
   * message's length; it is the buffer itself when that fits, so a
   * single-frame message is copied once.
   */
  take(): Uint8Array {
    const bytes = this.#bytes;
    const size = this.#size;
    this.#bytes = EMPTY;
    this.#size = 0;
    return size === bytes.length ? bytes : bytes.slice(0, size);
  }

  /** The message as text (UTF-8 was checked as it arrived), and the buffer is empty again. */
  takeText(decoder: TextDecoder): string {
    const text = decoder.decode(this.#bytes.subarray(0, this.#size));
    this.#bytes = EMPTY;
    this.#size = 0;
    return text;
  }
}
