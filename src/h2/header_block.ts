/**
 * Assembles a header block from HEADERS and its CONTINUATION frames
 * (RFC 9113 §4.3, §6.10), bounding its size and its number of frames.
 *
 * @module
 */

import { concat } from "../bytes.ts";
import { connectionError, H2Code } from "./errors.ts";
import { parseContinuation, parseHeaders, type RawFrame } from "./frames.ts";

/** A complete header block, not yet HPACK-decoded. */
export interface HeaderBlock {
  /** The stream it belongs to. */
  streamId: number;
  /** END_STREAM was set on the HEADERS frame. */
  endStream: boolean;
  /** The HPACK bytes. */
  bytes: Uint8Array;
}

/**
 * Collects one header block at a time. While a block is open, the only
 * legal next frame is a CONTINUATION on the same stream.
 */
export class HeaderBlockAssembler {
  #maxSize: number;
  #maxContinuations: number;
  #open: {
    streamId: number;
    endStream: boolean;
    parts: Uint8Array[];
    size: number;
  } | null = null;

  /** Bounds: compressed bytes per block, CONTINUATION frames per block. */
  constructor(maxSize: number, maxContinuations: number) {
    this.#maxSize = maxSize;
    this.#maxContinuations = maxContinuations;
  }

  /** A block is waiting for CONTINUATION. */
  get open(): boolean {
    return this.#open !== null;
  }

  /** Starts a block with HEADERS; returns it when END_HEADERS is set. */
  headers(f: RawFrame): HeaderBlock | null {
    const h = parseHeaders(f);
    this.#check(h.fragment.length, 0);
    if (h.endHeaders) {
      return {
        streamId: f.streamId,
        endStream: h.endStream,
        bytes: h.fragment,
      };
    }
    // The frame's bytes do not outlive this call: keep a copy.
    this.#open = {
      streamId: f.streamId,
      endStream: h.endStream,
      parts: [h.fragment.slice()],
      size: h.fragment.length,
    };
    return null;
  }

  /** Adds a CONTINUATION; returns the block when END_HEADERS is set. */
  continuation(f: RawFrame): HeaderBlock | null {
    const c = parseContinuation(f);
    const open = this.#open;
    if (!open || open.streamId !== f.streamId) {
      throw connectionError(
        H2Code.PROTOCOL_ERROR,
        `unexpected CONTINUATION on stream ${f.streamId}`,
      );
    }
    this.#check(open.size + c.fragment.length, open.parts.length);
    open.parts.push(c.fragment.slice());
    open.size += c.fragment.length;
    if (!c.endHeaders) return null;
    this.#open = null;
    return {
      streamId: open.streamId,
      endStream: open.endStream,
      bytes: concat(open.parts, open.size),
    };
  }

  /** Forgets a half-received block (the connection is over). */
  clear(): void {
    this.#open = null;
  }

  #check(size: number, continuations: number): void {
    if (size > this.#maxSize) {
      throw connectionError(
        H2Code.ENHANCE_YOUR_CALM,
        `header block larger than ${this.#maxSize} bytes`,
      );
    }
    if (continuations > this.#maxContinuations) {
      throw connectionError(
        H2Code.ENHANCE_YOUR_CALM,
        "flood of CONTINUATION frames",
      );
    }
  }
}
