/**
 * Synchronous access to zlib for permessage-deflate. The public `node:zlib`
 * `*Sync` helpers and `_processChunk()` close their context after one call,
 * and the stream API is asynchronous; the sans-I/O protocol needs one
 * context per direction kept for the life of a connection and driven
 * inline. So this drives the native handle behind a `node:zlib` stream
 * directly.
 *
 * `node:zlib` is loaded on first use (see {@linkcode loadZlib}): connections
 * without compression, and the CLI's start-up, never pay for it.
 *
 * @module
 */

import { WebSocketError } from "../errors.ts";

type Zlib = typeof import("node:zlib");
let zlib: Zlib | null = null;

/** zlib flush modes (fixed by zlib.h). */
export const Z_NO_FLUSH = 0;
/** Flush everything, ending in an empty stored block (`00 00 ff ff`). */
export const Z_SYNC_FLUSH = 2;

/** The native handle inside a `node:zlib` stream (Node and Deno share it). */
interface ZlibHandle {
  /**
   * Runs deflate()/inflate() once. Leaves [avail_out, avail_in] in the
   * stream's `_writeState` and reports errors through `onerror`.
   */
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): void;
  reset(): void;
  close(): void;
  onerror: (message: string, errno: number) => void;
}

/** A raw DEFLATE context driven synchronously through its native handle. */
export class ZlibContext {
  readonly #handle: ZlibHandle;
  /** [avail_out, avail_in] after the last write. */
  readonly #state: Uint32Array;
  /** Message of the last zlib error, cleared by {@linkcode write}. */
  error: string | null = null;

  /** Needs {@linkcode loadZlib} to have resolved first. */
  constructor(kind: "deflate" | "inflate", windowBits: number) {
    if (zlib === null) {
      throw new WebSocketError(
        "INVALID_ARGUMENT",
        "compression is not loaded: await loadCompression() first",
      );
    }
    const stream = kind === "deflate"
      ? zlib.createDeflateRaw({ windowBits, memLevel: 8 })
      : zlib.createInflateRaw({ windowBits });
    const internals = stream as unknown as {
      _handle?: ZlibHandle;
      _writeState?: Uint32Array;
    };
    const handle = internals._handle;
    const state = internals._writeState;
    if (
      !handle || typeof handle.writeSync !== "function" ||
      typeof handle.reset !== "function" || !(state instanceof Uint32Array)
    ) {
      throw new Error(
        "node:zlib does not expose a synchronous zlib handle here",
      );
    }
    this.#handle = handle;
    this.#state = state;
    handle.onerror = (message) => {
      this.error = message;
    };
  }

  /**
   * Runs zlib once over `input[inOff, inOff + inLen)` into
   * `out[outOff, outOff + outLen)`. Returns [produced, consumed]; check
   * {@linkcode error} afterwards.
   */
  write(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): [number, number] {
    this.error = null;
    this.#handle.writeSync(flush, input, inOff, inLen, out, outOff, outLen);
    return [outLen - this.#state[0], inLen - this.#state[1]];
  }

  /** Starts a new stream with an empty window (inflateReset/deflateReset). */
  reset(): void {
    this.#handle.reset();
  }

  /** Frees the native context. */
  close(): void {
    this.#handle.close();
  }
}

/** Loads `node:zlib` once; false when this runtime has none. */
export async function loadZlib(): Promise<boolean> {
  if (zlib === null) {
    try {
      zlib = await import("node:zlib");
    } catch {
      return false;
    }
  }
  return true;
}

/** True once {@linkcode loadZlib} has loaded `node:zlib`. */
export function zlibLoaded(): boolean {
  return zlib !== null;
}
