/**
 * Frame header encoding and an incremental frame decoder (RFC 6455 §5.2).
 *
 * The decoder never buffers payloads: it hands out views of the bytes it was
 * fed, so frames of any size pass through in constant memory.
 *
 * @module
 */

import { WebSocketError } from "./errors.ts";

/** Largest payload length a frame may have here: 2^53 - 1 bytes. */
export const MAX_PAYLOAD_LENGTH: number = Number.MAX_SAFE_INTEGER;

/** The decoded header of one frame. */
export interface FrameHeader {
  /** FIN bit: last frame of a message. */
  fin: boolean;
  /** RSV1..RSV3 as a 3-bit number (RSV1 = 4, RSV2 = 2, RSV3 = 1). */
  rsv: number;
  /** Opcode, 0..15. */
  opcode: number;
  /** Masking key, or null for unmasked frames. */
  maskKey: Uint8Array | null;
  /** Payload length in bytes. */
  length: number;
}

/** Number of header bytes for a payload of `length`, masked or not. */
export function headerSize(length: number, masked: boolean): number {
  const base = length < 126 ? 2 : length < 65536 ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * Writes a frame header into `dst` at `offset` and returns its size.
 *
 * @example The header of an unmasked text frame "Hello" (RFC 6455 §5.7)
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeHeader } from "./frame.ts";
 * const dst = new Uint8Array(2);
 * writeHeader(dst, 0, true, 0, 0x1, 5, null);
 * assert.deepEqual(dst, new Uint8Array([0x81, 5])); // FIN + TEXT, length 5
 * ```
 */
export function writeHeader(
  dst: Uint8Array,
  offset: number,
  fin: boolean,
  rsv: number,
  opcode: number,
  length: number,
  maskKey: Uint8Array | null,
): number {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new WebSocketError(
      "INVALID_ARGUMENT",
      `frame length ${length} is not an integer from 0 to 2^53-1`,
    );
  }
  let o = offset;
  dst[o++] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0xf);
  const maskBit = maskKey ? 0x80 : 0;
  if (length < 126) {
    dst[o++] = maskBit | length;
  } else if (length < 65536) {
    dst[o++] = maskBit | 126;
    dst[o++] = length >>> 8;
    dst[o++] = length & 0xff;
  } else {
    dst[o++] = maskBit | 127;
    const high = Math.floor(length / 0x100000000);
    const low = length >>> 0;
    dst[o++] = 0;
    dst[o++] = (high >>> 16) & 0xff;
    dst[o++] = (high >>> 8) & 0xff;
    dst[o++] = high & 0xff;
    dst[o++] = low >>> 24;
    dst[o++] = (low >>> 16) & 0xff;
    dst[o++] = (low >>> 8) & 0xff;
    dst[o++] = low & 0xff;
  }
  if (maskKey) {
    dst[o++] = maskKey[0];
    dst[o++] = maskKey[1];
    dst[o++] = maskKey[2];
    dst[o++] = maskKey[3];
  }
  return o - offset;
}

/** Results of {@linkcode FrameDecoder.next}. */
export const DecodeResult = {
  /** The fed bytes are used up; feed more. */
  NEED_MORE: 0,
  /** A header was decoded: see {@linkcode FrameDecoder.header}. */
  HEADER: 1,
  /** A payload piece is ready: see {@linkcode FrameDecoder.piece}. */
  DATA: 2,
} as const;

/**
 * Incremental frame decoder. Feed it bytes in any chunking, then call
 * {@linkcode FrameDecoder.next} until it returns `NEED_MORE`.
 *
 * @example Decode a frame fed one byte at a time
 * ```ts
 * import assert from "node:assert/strict";
 * import { DecodeResult, FrameDecoder } from "./frame.ts";
 * const bytes = new Uint8Array([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
 * const dec = new FrameDecoder();
 * let text = "";
 * for (const b of bytes) {
 *   dec.feed(new Uint8Array([b]));
 *   for (let r; (r = dec.next(1 << 16)) !== DecodeResult.NEED_MORE;) {
 *     if (r === DecodeResult.DATA) text += new TextDecoder().decode(dec.piece);
 *   }
 * }
 * assert.equal(text, "Hello");
 * ```
 */
export class FrameDecoder {
  /** Header of the current frame (valid after a HEADER result). */
  header: FrameHeader = {
    fin: true,
    rsv: 0,
    opcode: 0,
    maskKey: null,
    length: 0,
  };
  /** Last payload piece (a view of the fed bytes; valid after a DATA result). */
  piece: Uint8Array = new Uint8Array(0);
  /** Position of {@linkcode FrameDecoder.piece} within the frame payload. */
  pieceOffset = 0;
  /** Payload bytes of the current frame not yet returned. */
  remaining = 0;

  #chunk: Uint8Array = new Uint8Array(0);
  #pos = 0;
  #head = new Uint8Array(14);
  #headLen = 0;
  #inPayload = false;

  /** Feeds the next bytes; the previous ones must have been used up. */
  feed(chunk: Uint8Array): void {
    this.#chunk = chunk;
    this.#pos = 0;
  }

  /** Bytes fed but not yet decoded. */
  get buffered(): number {
    return this.#chunk.length - this.#pos;
  }

  /** True between frames (no header or payload half-read). */
  get atFrameBoundary(): boolean {
    return !this.#inPayload && this.#headLen === 0;
  }

  /**
   * Decodes the next header or payload piece of at most `max` bytes (max > 0).
   * Throws {@linkcode WebSocketError} `PROTOCOL_ERROR` on a malformed length
   * and `MESSAGE_TOO_BIG` on a length above 2^53-1.
   */
  next(max: number): number {
    if (this.#inPayload) {
      const avail = this.#chunk.length - this.#pos;
      if (avail === 0) return DecodeResult.NEED_MORE;
      let n = this.remaining < avail ? this.remaining : avail;
      if (n > max) n = max;
      this.piece = this.#chunk.subarray(this.#pos, this.#pos + n);
      this.pieceOffset = this.header.length - this.remaining;
      this.#pos += n;
      this.remaining -= n;
      if (this.remaining === 0) this.#inPayload = false;
      return DecodeResult.DATA;
    }
    return this.#readHeader();
  }

  #readHeader(): number {
    const chunk = this.#chunk;
    let pos = this.#pos;
    const avail = chunk.length - pos;
    let src: Uint8Array;
    let at: number;
    if (this.#headLen === 0 && avail >= 14) {
      // Fast path: the whole header is in this chunk.
      src = chunk;
      at = pos;
    } else {
      // Gather header bytes across chunks into #head.
      const head = this.#head;
      if (this.#headLen < 2) {
        while (this.#headLen < 2 && pos < chunk.length) {
          head[this.#headLen++] = chunk[pos++];
        }
        if (this.#headLen < 2) {
          this.#pos = pos;
          return DecodeResult.NEED_MORE;
        }
      }
      const need = fullHeaderSize(head[1]);
      while (this.#headLen < need && pos < chunk.length) {
        head[this.#headLen++] = chunk[pos++];
      }
      this.#pos = pos;
      if (this.#headLen < need) return DecodeResult.NEED_MORE;
      this.#headLen = 0;
      this.#parse(head, 0);
      return DecodeResult.HEADER;
    }
    const size = fullHeaderSize(src[at + 1]);
    this.#pos = at + size;
    this.#parse(src, at);
    return DecodeResult.HEADER;
  }

  #parse(b: Uint8Array, at: number): void {
    const h = this.header;
    const b0 = b[at], b1 = b[at + 1];
    h.fin = (b0 & 0x80) !== 0;
    h.rsv = (b0 >>> 4) & 7;
    h.opcode = b0 & 0xf;
    let len = b1 & 0x7f;
    let o = at + 2;
    if (len === 126) {
      len = (b[o] << 8) | b[o + 1];
      o += 2;
      if (len < 126) {
        throw new WebSocketError(
          "PROTOCOL_ERROR",
          "frame length not minimally encoded",
          { closeCode: 1002 },
        );
      }
    } else if (len === 127) {
      if (b[o] & 0x80) {
        throw new WebSocketError(
          "PROTOCOL_ERROR",
          "64-bit frame length has its most significant bit set",
          { closeCode: 1002 },
        );
      }
      const high = ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) |
        b[o + 3]) >>> 0;
      const low = ((b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) |
        b[o + 7]) >>> 0;
      o += 8;
      if (high > 0x1fffff) {
        throw new WebSocketError(
          "MESSAGE_TOO_BIG",
          "frame length above 2^53-1 bytes",
          { closeCode: 1009 },
        );
      }
      len = high * 0x100000000 + low;
      if (len < 65536) {
        throw new WebSocketError(
          "PROTOCOL_ERROR",
          "frame length not minimally encoded",
          { closeCode: 1002 },
        );
      }
    }
    if (b1 & 0x80) {
      // Copy: the key must outlive the chunk it came in.
      const key = h.maskKey && h.maskKey.length === 4
        ? h.maskKey
        : new Uint8Array(4);
      key[0] = b[o];
      key[1] = b[o + 1];
      key[2] = b[o + 2];
      key[3] = b[o + 3];
      h.maskKey = key;
    } else {
      h.maskKey = null;
    }
    h.length = len;
    this.remaining = len;
    this.#inPayload = len > 0;
  }
}

function fullHeaderSize(b1: number): number {
  const len = b1 & 0x7f;
  const base = len < 126 ? 2 : len === 126 ? 4 : 10;
  return b1 & 0x80 ? base + 4 : base;
}

/** Options of {@linkcode encodeFrame}. */
export interface EncodeFrameOptions {
  /** FIN bit; default true. */
  fin?: boolean;
  /** RSV bits as a 3-bit number; default 0. */
  rsv?: number;
  /** Opcode. */
  opcode: number;
  /** Payload; default empty. */
  payload?: Uint8Array;
  /** Masking key; the payload is masked with it. Default: unmasked. */
  maskKey?: Uint8Array | null;
}

/**
 * Encodes a whole frame into a new buffer. The payload is copied (and masked
 * when a key is given); the caller's bytes are not changed.
 *
 * @example RFC 6455 §5.7: a masked text frame "Hello"
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFrame } from "./frame.ts";
 * const frame = encodeFrame({
 *   opcode: 0x1,
 *   payload: new TextEncoder().encode("Hello"),
 *   maskKey: new Uint8Array([0x37, 0xfa, 0x21, 0x3d]),
 * });
 * assert.deepEqual(
 *   frame,
 *   new Uint8Array([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]),
 * ); // RFC 6455 §5.7
 * ```
 */
export function encodeFrame(options: EncodeFrameOptions): Uint8Array {
  const payload = options.payload ?? new Uint8Array(0);
  const key = options.maskKey ?? null;
  const out = new Uint8Array(
    headerSize(payload.length, key !== null) + payload.length,
  );
  const n = writeHeader(
    out,
    0,
    options.fin ?? true,
    options.rsv ?? 0,
    options.opcode,
    payload.length,
    key,
  );
  out.set(payload, n);
  if (key) {
    const body = out.subarray(n);
    for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  }
  return out;
}
