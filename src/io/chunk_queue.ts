/**
 * Received bytes waiting for their reader, as a queue of chunks. A peer
 * decides how small its chunks are (an HTTP/2 server may send DATA frames
 * of one byte), and an object per chunk costs far more than one byte: small
 * chunks are therefore copied into shared runs, so the memory held stays
 * within about twice the bytes held plus one run, whatever their sizes.
 *
 * @module
 */

/** Chunks smaller than this are copied into a run instead of kept as they are. */
const SMALL = 1024;
/** The size of a run. */
const RUN_SIZE = 16 * 1024;

/** A byte queue that holds small chunks in shared buffers. */
export class ChunkQueue {
  #chunks: Uint8Array[] = [];
  /** Read position in `#chunks[0]`. */
  #offset = 0;
  /** The run small chunks are copied into; its filled part is the last chunk. */
  #run: Uint8Array | null = null;
  #runUsed = 0;
  #bytes = 0;

  /** Bytes queued and not yet taken. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Chunks held (for tests of the bound). */
  get chunkCount(): number {
    return this.#chunks.length;
  }

  /**
   * Bytes of the buffers behind the chunks held: at most about twice
   * {@linkcode ChunkQueue.bytes}, plus one run (16 KiB), plus the buffer of
   * a large chunk being read (it is held whole until read to its end),
   * whatever the sizes of the chunks pushed. A chunk of 1 KiB or more counts
   * at the size of its own buffer: the callers push chunks in buffers of
   * their own (HTTP/2 DATA payloads, decrypted TLS records).
   */
  get footprint(): number {
    let n = 0;
    for (const c of this.#chunks) n += c.buffer.byteLength;
    return n;
  }

  /** Queues `data`; chunks of 1 KiB or more are kept, not copied. */
  push(data: Uint8Array): void {
    if (data.length === 0) return;
    this.#bytes += data.length;
    if (data.length >= SMALL) {
      this.#sealRun();
      this.#chunks.push(data);
      return;
    }
    if (this.#run === null || this.#runUsed + data.length > RUN_SIZE) {
      this.#sealRun();
      this.#run = new Uint8Array(RUN_SIZE);
      this.#runUsed = 0;
      this.#chunks.push(this.#run.subarray(0, 0));
    }
    this.#run.set(data, this.#runUsed);
    this.#runUsed += data.length;
    // Same start as before: a read position in it stays valid.
    this.#chunks[this.#chunks.length - 1] = this.#run.subarray(
      0,
      this.#runUsed,
    );
  }

  /** Moves up to `into.length` bytes into `into`; returns how many. */
  take(into: Uint8Array): number {
    let n = 0;
    while (n < into.length && this.#chunks.length > 0) {
      const chunk = this.#chunks[0];
      const count = Math.min(into.length - n, chunk.length - this.#offset);
      into.set(chunk.subarray(this.#offset, this.#offset + count), n);
      n += count;
      this.#offset += count;
      if (this.#offset === chunk.length) {
        this.#chunks.shift();
        this.#offset = 0;
        if (this.#run !== null && chunk.buffer === this.#run.buffer) {
          this.#run = null; // read to its end: the next small chunk starts a new one
        }
      }
    }
    this.#bytes -= n;
    return n;
  }

  /**
   * Ends the current run. One that is less than half full is replaced by a
   * copy of its filled part, so that a small chunk between large ones does
   * not keep a whole run alive.
   */
  #sealRun(): void {
    if (this.#run === null) return;
    if (this.#runUsed < RUN_SIZE / 2) {
      this.#chunks[this.#chunks.length - 1] = this.#run.slice(
        0,
        this.#runUsed,
      );
    }
    this.#run = null;
  }
}
