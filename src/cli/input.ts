/**
 * Standard input as units to send: lines, chunks, or everything at once.
 *
 * @module
 */

import { concat } from "../bytes.ts";

/** How stdin is cut into units. */
export type InputMode = "lines" | "chunks" | "all";

/**
 * Splits a byte stream into lines. Each line keeps its `\n` (the last one
 * may have none); the caller decides what to strip.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LineSplitter } from "./input.ts";
 * const s = new LineSplitter();
 * const enc = new TextEncoder();
 * assert.equal(s.push(enc.encode("a\nb")).length, 1); // "a"; "b" waits for its newline
 * assert.equal(s.push(enc.encode("c\n")).length, 1); // "bc"
 * ```
 */
export class LineSplitter {
  #parts: Uint8Array[] = [];
  #size = 0;

  /** Adds bytes; returns the lines they complete. */
  push(chunk: Uint8Array): Uint8Array[] {
    const lines: Uint8Array[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) break;
      lines.push(this.#take(chunk.subarray(start, nl + 1)));
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.#parts.push(chunk.slice(start));
      this.#size += chunk.length - start;
    }
    return lines;
  }

  /** The unterminated rest at EOF, or null when there is none. */
  flush(): Uint8Array | null {
    return this.#size > 0 ? this.#take(new Uint8Array(0)) : null;
  }

  #take(tail: Uint8Array): Uint8Array {
    if (this.#parts.length === 0) return tail.slice();
    const line = concat([...this.#parts, tail]);
    this.#parts = [];
    this.#size = 0;
    return line;
  }
}

/** Removes one trailing `\n` or `\r\n`. */
export function stripNewline(line: Uint8Array): Uint8Array {
  let end = line.length;
  if (end > 0 && line[end - 1] === 0x0a) end--;
  if (end > 0 && line[end - 1] === 0x0d) end--;
  return line.subarray(0, end);
}

/**
 * Stdin cut into units, read only as fast as they are sent (backpressure).
 *
 * A unit read for a connection that ends before sending it is not lost:
 * {@linkcode InputSource.next} hands the same unit out again until
 * {@linkcode InputSource.take} marks it as used. That way listen mode can
 * pass stdin from one connection to the next, and nothing typed before the
 * upgrade completes is dropped.
 */
export class InputSource {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #mode: InputMode;
  #chunkSize: number;
  #splitter = new LineSplitter();
  #ready: Uint8Array[] = [];
  #eof = false;
  #inflight: Promise<Uint8Array | null> | null = null;
  #ended = false;
  /** The last unit `next()` resolved with was the end of input. */
  #atEof = false;

  /** Reads `stream`, cutting it per `mode`; chunks are at most `chunkSize` bytes. */
  constructor(
    stream: ReadableStream<Uint8Array>,
    mode: InputMode,
    chunkSize = 65536,
  ) {
    this.#reader = stream.getReader();
    this.#mode = mode;
    this.#chunkSize = chunkSize;
  }

  /** True once the end of input has been taken. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The next unit, or null at EOF; the same one until `take()` is called. */
  next(): Promise<Uint8Array | null> {
    return this.#inflight ??= this.#produce().then((unit) => {
      this.#atEof = unit === null;
      return unit;
    });
  }

  /** Marks the unit that `next()` resolved with as used. */
  take(): void {
    this.#inflight = null;
    if (this.#atEof) this.#ended = true;
  }

  async #produce(): Promise<Uint8Array | null> {
    for (;;) {
      const unit = this.#ready.shift();
      if (unit) return unit;
      if (this.#eof) return null;
      const { value, done } = await this.#reader.read();
      if (done) {
        this.#eof = true;
        if (this.#mode === "lines") {
          const rest = this.#splitter.flush();
          if (rest) this.#ready.push(rest);
        } else if (this.#mode === "all") {
          // -1 with empty stdin still sends its one (empty) message.
          this.#ready.push(new Uint8Array(0));
        }
        continue;
      }
      if (this.#mode === "lines") {
        this.#ready.push(...this.#splitter.push(value));
      } else if (this.#mode === "chunks") {
        for (let off = 0; off < value.length; off += this.#chunkSize) {
          this.#ready.push(value.subarray(off, off + this.#chunkSize));
        }
      } else {
        await this.#readAll(value);
      }
    }
  }

  async #readAll(first: Uint8Array): Promise<void> {
    const parts = [first];
    for (;;) {
      const { value, done } = await this.#reader.read();
      if (done) break;
      parts.push(value);
    }
    this.#eof = true;
    this.#ready.push(concat(parts));
  }
}
