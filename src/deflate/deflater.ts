/**
 * The sending half of permessage-deflate (RFC 7692 §7.2.1): compresses
 * messages, whole or piece by piece, into one DEFLATE stream kept across
 * messages unless context takeover is off.
 *
 * @module
 */

import { Z_NO_FLUSH, Z_SYNC_FLUSH, ZlibContext } from "./zlib.ts";

/** The empty stored block a sync flush ends with (RFC 7692 §7.2.1). */
const TAIL = Uint8Array.of(0x00, 0x00, 0xff, 0xff);
/** Scratch size for deflate output. */
const OUTPUT_CHUNK = 64 * 1024;

/** One direction's compressor; the zlib context is made on first use. */
export class Deflater {
  readonly #windowBits: number;
  readonly #noContextTakeover: boolean;
  #z: ZlibContext | null = null;
  #out: Uint8Array | null = null;
  #inMessage = false;

  /**
   * @param windowBits the negotiated window for our direction (9..15)
   * @param noContextTakeover reset the stream after every message
   */
  constructor(windowBits: number, noContextTakeover: boolean) {
    this.#windowBits = windowBits;
    this.#noContextTakeover = noContextTakeover;
  }

  /** True between the first and the last piece of a message. */
  get inMessage(): boolean {
    return this.#inMessage;
  }

  /**
   * Compresses the next piece of a message. The final piece (`last`) is
   * sync-flushed and loses the `00 00 ff ff` tail; other pieces are
   * sync-flushed when `flush` is true, so that the peer can inflate
   * everything so far, and may come back empty when it is false.
   */
  write(chunk: Uint8Array, last: boolean, flush: boolean): Uint8Array {
    const z = this.#z ??= new ZlibContext("deflate", this.#windowBits);
    this.#inMessage = true;
    const mode = last || flush ? Z_SYNC_FLUSH : Z_NO_FLUSH;
    const chunks: Uint8Array[] = [];
    let total = 0;
    let off = 0;
    let len = chunk.length;
    for (;;) {
      const buf = this.#out ??= new Uint8Array(OUTPUT_CHUNK);
      const [produced, consumed] = z.write(
        mode,
        chunk,
        off,
        len,
        buf,
        0,
        buf.length,
      );
      if (z.error !== null) throw new Error(`deflate failed: ${z.error}`);
      off += consumed;
      len -= consumed;
      total += produced;
      if (produced === buf.length) { // full: hand it over, zlib may have more
        chunks.push(buf);
        this.#out = null;
        continue;
      }
      if (produced > 0) chunks.push(buf.subarray(0, produced));
      break;
    }
    let end = total;
    if (last) {
      this.#inMessage = false;
      if (this.#noContextTakeover) z.reset();
      // A second sync flush without new input emits nothing. The payload of
      // an empty message is then the header byte of an empty stored block,
      // which the receiver's appended tail completes (RFC 7692 §7.2.3.6).
      if (total === 0) return Uint8Array.of(0x00);
      if (!endsWithTail(chunks, total)) {
        throw new Error("deflate output lacks the sync-flush tail");
      }
      end = total - TAIL.length;
    }
    // Copy out of the reused scratch buffer (and drop the tail).
    const result = new Uint8Array(end);
    let pos = 0;
    for (const c of chunks) {
      const n = Math.min(c.length, end - pos);
      result.set(n === c.length ? c : c.subarray(0, n), pos);
      pos += n;
      if (pos === end) break;
    }
    return result;
  }

  /** Frees the zlib context. */
  close(): void {
    this.#z?.close();
    this.#z = null;
    this.#out = null;
  }
}

function endsWithTail(chunks: Uint8Array[], total: number): boolean {
  if (total < TAIL.length) return false;
  let matched = 0;
  for (let i = chunks.length - 1; i >= 0 && matched < TAIL.length; i--) {
    const c = chunks[i];
    for (let j = c.length - 1; j >= 0 && matched < TAIL.length; j--) {
      if (c[j] !== TAIL[TAIL.length - 1 - matched]) return false;
      matched++;
    }
  }
  return matched === TAIL.length;
}
