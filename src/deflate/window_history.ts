/**
 * The last bytes an inflater produced, kept so that a zlib context reset
 * after a BFINAL block can be given its LZ77 window back (see
 * `inflater.ts`).
 *
 * @module
 */

/** Bytes of a stored block's header: BFINAL/BTYPE, LEN, NLEN. */
const HEADER = 5;

/**
 * The last `size` bytes written to it, held in one buffer of twice that
 * size (plus a block header) so that recording is a plain copy and
 * compacting happens at most once per `size` bytes, and so that the bytes
 * can be handed to zlib as a stored block without another copy.
 */
export class WindowHistory {
  readonly #size: number;
  readonly #buf: Uint8Array;
  #start = HEADER;
  #end = HEADER;

  /** @param size the peer's LZ77 window in bytes (at most 32 KiB) */
  constructor(size: number) {
    this.#size = size;
    this.#buf = new Uint8Array(HEADER + 2 * size);
  }

  /** Bytes kept (at most the window size). */
  get length(): number {
    return this.#end - this.#start;
  }

  /** Appends `bytes`, keeping only the last window's worth. */
  record(bytes: Uint8Array): void {
    const size = this.#size;
    const buf = this.#buf;
    if (bytes.length >= size) {
      buf.set(bytes.subarray(bytes.length - size), HEADER);
      this.#start = HEADER;
      this.#end = HEADER + size;
      return;
    }
    if (this.#end + bytes.length > buf.length) {
      // Move what stays in the window to the front.
      const keep = Math.min(this.#end - this.#start, size - bytes.length);
      buf.copyWithin(HEADER, this.#end - keep, this.#end);
      this.#start = HEADER;
      this.#end = HEADER + keep;
    }
    buf.set(bytes, this.#end);
    this.#end += bytes.length;
    if (this.#end - this.#start > size) this.#start = this.#end - size;
  }

  /**
   * The kept bytes as one non-final stored DEFLATE block (RFC 1951 §3.2.4),
   * a view whose header overwrites older bytes that no longer count. Valid
   * until the next {@linkcode record}.
   */
  storedBlock(): Uint8Array {
    const n = this.#end - this.#start;
    const at = this.#start - HEADER;
    const buf = this.#buf;
    buf[at] = 0x00; // BFINAL=0, BTYPE=00 (stored), padding
    buf[at + 1] = n & 0xff;
    buf[at + 2] = n >>> 8;
    buf[at + 3] = ~n & 0xff;
    buf[at + 4] = (~n >>> 8) & 0xff;
    return buf.subarray(at, this.#end);
  }
}
