/**
 * HTTP/2 framing (RFC 9113 §4 and §6): the frame reader, a parser per frame
 * type that checks the rules a single frame can break, and the encoders the
 * client needs. Bytes only; no I/O.
 *
 * @module
 */

import { connectionError, H2Code, streamError } from "./errors.ts";

/** Frame types (RFC 9113 §6). */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

/** Frame flags; their meaning depends on the frame type. */
export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** SETTINGS parameters (RFC 9113 §6.5.2, RFC 8441 §3). */
export const SettingId = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
  ENABLE_CONNECT_PROTOCOL: 0x8,
} as const;

/** Size of the fixed frame header. */
export const FRAME_HEADER_SIZE = 9;
/** SETTINGS_MAX_FRAME_SIZE until changed, and its smallest legal value. */
export const DEFAULT_MAX_FRAME_SIZE = 16384;
/** The largest legal SETTINGS_MAX_FRAME_SIZE (2^24-1). */
export const MAX_FRAME_SIZE_LIMIT = 0xffffff;
/** The initial flow-control window of a stream and of the connection. */
export const DEFAULT_WINDOW = 65535;
/** The largest flow-control window (2^31-1). */
export const MAX_WINDOW = 0x7fffffff;

/** The client connection preface (RFC 9113 §3.4), sent before SETTINGS. */
export const CLIENT_PREFACE: Uint8Array = new TextEncoder().encode(
  "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
);

/** One frame as read: header fields and the raw payload. */
export interface RawFrame {
  /** Frame type; unknown types must be ignored. */
  type: number;
  /** Flags byte. */
  flags: number;
  /** Stream identifier (reserved bit cleared). */
  streamId: number;
  /** Payload; a view valid until the next {@linkcode FrameReader.next}. */
  payload: Uint8Array;
}

/**
 * Splits a byte stream into frames. Holds at most one partial frame, so its
 * memory is bounded by `maxFrameSize`; a longer frame is a connection error
 * FRAME_SIZE_ERROR.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameReader } from "./frames.ts";
 * const r = new FrameReader(16384);
 * r.push(new Uint8Array([0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]));
 * assert.equal(r.next()?.type, 6); // PING
 * ```
 */
export class FrameReader {
  /** The largest payload accepted (our SETTINGS_MAX_FRAME_SIZE). */
  maxFrameSize: number;
  #chunk: Uint8Array = new Uint8Array(0);
  #pos = 0;
  #carry: Uint8Array = new Uint8Array(0);
  #carryLen = 0;

  /** Creates a reader that accepts payloads up to `maxFrameSize` bytes. */
  constructor(maxFrameSize: number = DEFAULT_MAX_FRAME_SIZE) {
    this.maxFrameSize = maxFrameSize;
  }

  /** Feeds the next bytes; call {@linkcode next} until it returns null first. */
  push(chunk: Uint8Array): void {
    this.#chunk = chunk;
    this.#pos = 0;
  }

  /** Bytes held that do not make a whole frame yet. */
  get buffered(): number {
    return this.#carryLen + this.#chunk.length - this.#pos;
  }

  /** The next whole frame, or null when more bytes are needed. */
  next(): RawFrame | null {
    if (this.#carryLen > 0) return this.#fromCarry();
    const chunk = this.#chunk, pos = this.#pos;
    const avail = chunk.length - pos;
    if (avail >= FRAME_HEADER_SIZE) {
      const len = this.#length(chunk, pos);
      if (avail >= FRAME_HEADER_SIZE + len) {
        this.#pos = pos + FRAME_HEADER_SIZE + len;
        return frameAt(chunk, pos, len);
      }
    }
    if (avail > 0) this.#stash(avail);
    return null;
  }

  #length(b: Uint8Array, at: number): number {
    const len = (b[at] << 16) | (b[at + 1] << 8) | b[at + 2];
    if (len > this.maxFrameSize) {
      throw connectionError(
        H2Code.FRAME_SIZE_ERROR,
        `frame of ${len} bytes exceeds SETTINGS_MAX_FRAME_SIZE ${this.maxFrameSize}`,
      );
    }
    return len;
  }

  #stash(n: number): void {
    if (this.#carry.length < this.#carryLen + n) {
      const grown = new Uint8Array(
        Math.max(this.#carryLen + n, FRAME_HEADER_SIZE * 2),
      );
      grown.set(this.#carry.subarray(0, this.#carryLen));
      this.#carry = grown;
    }
    this.#carry.set(
      this.#chunk.subarray(this.#pos, this.#pos + n),
      this.#carryLen,
    );
    this.#carryLen += n;
    this.#pos += n;
  }

  #fromCarry(): RawFrame | null {
    const avail = this.#chunk.length - this.#pos;
    if (this.#carryLen < FRAME_HEADER_SIZE) {
      const n = Math.min(FRAME_HEADER_SIZE - this.#carryLen, avail);
      this.#stash(n);
      if (this.#carryLen < FRAME_HEADER_SIZE) return null;
    }
    const len = this.#length(this.#carry, 0);
    const missing = FRAME_HEADER_SIZE + len - this.#carryLen;
    const take = Math.min(missing, this.#chunk.length - this.#pos);
    if (take > 0) this.#stash(take);
    if (take < missing) return null;
    this.#carryLen = 0;
    // The carry is reused for the next partial frame: the view stays valid
    // until then, which is what RawFrame promises.
    const frame = frameAt(this.#carry, 0, len);
    if (this.#carry.length > 4 * DEFAULT_MAX_FRAME_SIZE) {
      this.#carry = new Uint8Array(0); // do not keep a big frame's buffer
    }
    return frame;
  }
}

function frameAt(b: Uint8Array, at: number, len: number): RawFrame {
  return {
    type: b[at + 3],
    flags: b[at + 4],
    streamId: ((b[at + 5] & 0x7f) << 24 | b[at + 6] << 16 | b[at + 7] << 8 |
      b[at + 8]) >>> 0,
    payload: b.subarray(at + FRAME_HEADER_SIZE, at + FRAME_HEADER_SIZE + len),
  };
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>>
    0;
}

function requireStream(f: RawFrame, name: string): void {
  if (f.streamId === 0) {
    throw connectionError(H2Code.PROTOCOL_ERROR, `${name} on stream 0`);
  }
}

function requireConnection(f: RawFrame, name: string): void {
  if (f.streamId !== 0) {
    throw connectionError(
      H2Code.PROTOCOL_ERROR,
      `${name} on stream ${f.streamId}`,
    );
  }
}

/** Removes the padding of a PADDED frame (RFC 9113 §6.1). */
function unpad(f: RawFrame, name: string): Uint8Array {
  const p = f.payload;
  if ((f.flags & Flag.PADDED) === 0) return p;
  if (p.length < 1 || p[0] > p.length - 1) {
    throw connectionError(
      H2Code.PROTOCOL_ERROR,
      `${name} padding longer than its payload`,
    );
  }
  return p.subarray(1, p.length - p[0]);
}

/** A parsed DATA frame. */
export interface DataFrame {
  /** Application bytes (padding removed). */
  data: Uint8Array;
  /** END_STREAM flag. */
  endStream: boolean;
  /** The whole payload length, padding included: what flow control counts. */
  flowLength: number;
}

/** Parses DATA (RFC 9113 §6.1). */
export function parseData(f: RawFrame): DataFrame {
  requireStream(f, "DATA");
  return {
    data: unpad(f, "DATA"),
    endStream: (f.flags & Flag.END_STREAM) !== 0,
    flowLength: f.payload.length,
  };
}

/** A header block fragment from HEADERS or CONTINUATION. */
export interface HeaderFragment {
  /** The HPACK bytes of this frame (padding and priority removed). */
  fragment: Uint8Array;
  /** END_STREAM flag (HEADERS only). */
  endStream: boolean;
  /** END_HEADERS flag: the block is complete. */
  endHeaders: boolean;
}

/** Parses HEADERS (RFC 9113 §6.2); the priority fields are read and ignored. */
export function parseHeaders(f: RawFrame): HeaderFragment {
  requireStream(f, "HEADERS");
  let fragment = unpad(f, "HEADERS");
  if (f.flags & Flag.PRIORITY) {
    if (fragment.length < 5) {
      throw connectionError(
        H2Code.FRAME_SIZE_ERROR,
        "HEADERS too short for its priority fields",
      );
    }
    checkSelfDependency(f.streamId, u32(fragment, 0) & 0x7fffffff);
    fragment = fragment.subarray(5);
  }
  return {
    fragment,
    endStream: (f.flags & Flag.END_STREAM) !== 0,
    endHeaders: (f.flags & Flag.END_HEADERS) !== 0,
  };
}

/** Parses CONTINUATION (RFC 9113 §6.10). */
export function parseContinuation(f: RawFrame): HeaderFragment {
  requireStream(f, "CONTINUATION");
  return {
    fragment: f.payload,
    endStream: false,
    endHeaders: (f.flags & Flag.END_HEADERS) !== 0,
  };
}

function checkSelfDependency(streamId: number, dependency: number): void {
  if (dependency === streamId) {
    throw streamError(
      streamId,
      H2Code.PROTOCOL_ERROR,
      "stream depends on itself",
    );
  }
}

/** Checks PRIORITY (RFC 9113 §6.3); its content is deprecated and ignored. */
export function parsePriority(f: RawFrame): void {
  requireStream(f, "PRIORITY");
  if (f.payload.length !== 5) {
    throw streamError(
      f.streamId,
      H2Code.FRAME_SIZE_ERROR,
      `PRIORITY of ${f.payload.length} bytes`,
    );
  }
  checkSelfDependency(f.streamId, u32(f.payload, 0) & 0x7fffffff);
}

/** Parses RST_STREAM (RFC 9113 §6.4): the error code. */
export function parseRstStream(f: RawFrame): number {
  requireStream(f, "RST_STREAM");
  if (f.payload.length !== 4) {
    throw connectionError(
      H2Code.FRAME_SIZE_ERROR,
      `RST_STREAM of ${f.payload.length} bytes`,
    );
  }
  return u32(f.payload, 0);
}

/**
 * Parses SETTINGS (RFC 9113 §6.5): null for an ACK, else the parameters in
 * order, each value checked against its legal range. Unknown ids are kept
 * (the caller ignores them).
 */
export function parseSettings(f: RawFrame): Array<[number, number]> | null {
  requireConnection(f, "SETTINGS");
  const p = f.payload;
  if (f.flags & Flag.ACK) {
    if (p.length !== 0) {
      throw connectionError(
        H2Code.FRAME_SIZE_ERROR,
        "SETTINGS ACK with a payload",
      );
    }
    return null;
  }
  if (p.length % 6 !== 0) {
    throw connectionError(
      H2Code.FRAME_SIZE_ERROR,
      `SETTINGS of ${p.length} bytes is not a multiple of 6`,
    );
  }
  const out: Array<[number, number]> = [];
  for (let i = 0; i < p.length; i += 6) {
    const id = (p[i] << 8) | p[i + 1];
    const value = u32(p, i + 2);
    checkSetting(id, value);
    out.push([id, value]);
  }
  return out;
}

function checkSetting(id: number, value: number): void {
  const bad = (code: number, why: string) => {
    throw connectionError(code, `SETTINGS ${why} (${value})`);
  };
  switch (id) {
    case SettingId.ENABLE_PUSH:
    case SettingId.ENABLE_CONNECT_PROTOCOL:
      if (value > 1) {
        bad(H2Code.PROTOCOL_ERROR, `parameter ${id} is not 0 or 1`);
      }
      break;
    case SettingId.INITIAL_WINDOW_SIZE:
      if (value > MAX_WINDOW) {
        bad(H2Code.FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE above 2^31-1");
      }
      break;
    case SettingId.MAX_FRAME_SIZE:
      if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_FRAME_SIZE_LIMIT) {
        bad(H2Code.PROTOCOL_ERROR, "MAX_FRAME_SIZE outside 16384..16777215");
      }
      break;
  }
}

/** A parsed PING. */
export interface PingFrame {
  /** ACK flag: this answers our ping. */
  ack: boolean;
  /** The 8 opaque bytes. */
  data: Uint8Array;
}

/** Parses PING (RFC 9113 §6.7). */
export function parsePing(f: RawFrame): PingFrame {
  requireConnection(f, "PING");
  if (f.payload.length !== 8) {
    throw connectionError(
      H2Code.FRAME_SIZE_ERROR,
      `PING of ${f.payload.length} bytes`,
    );
  }
  return { ack: (f.flags & Flag.ACK) !== 0, data: f.payload };
}

/** A parsed GOAWAY. */
export interface GoawayFrame {
  /** The highest stream id the peer may still process. */
  lastStreamId: number;
  /** The error code. */
  code: number;
  /** Opaque diagnostic bytes. */
  debug: Uint8Array;
}

/** Parses GOAWAY (RFC 9113 §6.8). */
export function parseGoaway(f: RawFrame): GoawayFrame {
  requireConnection(f, "GOAWAY");
  const p = f.payload;
  if (p.length < 8) {
    throw connectionError(
      H2Code.FRAME_SIZE_ERROR,
      `GOAWAY of ${p.length} bytes`,
    );
  }
  return {
    lastStreamId: u32(p, 0) & 0x7fffffff,
    code: u32(p, 4),
    debug: p.subarray(8),
  };
}

/** Parses WINDOW_UPDATE (RFC 9113 §6.9): the increment. */
export function parseWindowUpdate(f: RawFrame): number {
  if (f.payload.length !== 4) {
    throw connectionError(
      H2Code.FRAME_SIZE_ERROR,
      `WINDOW_UPDATE of ${f.payload.length} bytes`,
    );
  }
  const increment = u32(f.payload, 0) & 0x7fffffff;
  if (increment === 0) {
    const why = "WINDOW_UPDATE with an increment of 0";
    throw f.streamId === 0
      ? connectionError(H2Code.PROTOCOL_ERROR, why)
      : streamError(f.streamId, H2Code.PROTOCOL_ERROR, why);
  }
  return increment;
}

// ---------------------------------------------------------------- encoders

/** Writes a frame header at `offset` of `dst`. */
export function writeFrameHeader(
  dst: Uint8Array,
  offset: number,
  length: number,
  type: number,
  flags: number,
  streamId: number,
): void {
  dst[offset] = length >>> 16;
  dst[offset + 1] = (length >>> 8) & 0xff;
  dst[offset + 2] = length & 0xff;
  dst[offset + 3] = type;
  dst[offset + 4] = flags;
  dst[offset + 5] = (streamId >>> 24) & 0x7f;
  dst[offset + 6] = (streamId >>> 16) & 0xff;
  dst[offset + 7] = (streamId >>> 8) & 0xff;
  dst[offset + 8] = streamId & 0xff;
}

/**
 * Encodes any frame; with `padLength` the PADDED flag, the pad length byte
 * and that many zero bytes are added (RFC 9113 §6.1).
 *
 * @example A SETTINGS ACK
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFrame, Flag, FrameType } from "./frames.ts";
 * assert.deepEqual(
 *   encodeFrame(FrameType.SETTINGS, Flag.ACK, 0),
 *   new Uint8Array([0, 0, 0, 4, 1, 0, 0, 0, 0]),
 * );
 * ```
 */
export function encodeFrame(
  type: number,
  flags: number,
  streamId: number,
  payload: Uint8Array = new Uint8Array(0),
  padLength?: number,
): Uint8Array {
  const pad = padLength === undefined ? 0 : padLength + 1;
  const out = new Uint8Array(FRAME_HEADER_SIZE + pad + payload.length);
  writeFrameHeader(
    out,
    0,
    pad + payload.length,
    type,
    pad ? flags | Flag.PADDED : flags,
    streamId,
  );
  if (pad) out[FRAME_HEADER_SIZE] = padLength!;
  out.set(payload, FRAME_HEADER_SIZE + (pad ? 1 : 0));
  return out;
}

function u32Bytes(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint32(i * 4, v >>> 0));
  return out;
}

/** Encodes SETTINGS with the given parameters. */
export function encodeSettings(settings: Array<[number, number]>): Uint8Array {
  const payload = new Uint8Array(settings.length * 6);
  const view = new DataView(payload.buffer);
  settings.forEach(([id, value], i) => {
    view.setUint16(i * 6, id);
    view.setUint32(i * 6 + 2, value);
  });
  return encodeFrame(FrameType.SETTINGS, 0, 0, payload);
}

/** Encodes a PING (8 bytes of `data`) or its ACK. */
export function encodePing(data: Uint8Array, ack = false): Uint8Array {
  return encodeFrame(FrameType.PING, ack ? Flag.ACK : 0, 0, data);
}

/** Encodes GOAWAY. */
export function encodeGoaway(
  lastStreamId: number,
  code: number,
  debug: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const payload = new Uint8Array(8 + debug.length);
  payload.set(u32Bytes(lastStreamId & 0x7fffffff, code));
  payload.set(debug, 8);
  return encodeFrame(FrameType.GOAWAY, 0, 0, payload);
}

/** Encodes RST_STREAM. */
export function encodeRstStream(streamId: number, code: number): Uint8Array {
  return encodeFrame(FrameType.RST_STREAM, 0, streamId, u32Bytes(code));
}

/** Encodes WINDOW_UPDATE (stream 0 for the connection). */
export function encodeWindowUpdate(
  streamId: number,
  increment: number,
): Uint8Array {
  return encodeFrame(
    FrameType.WINDOW_UPDATE,
    0,
    streamId,
    u32Bytes(increment & 0x7fffffff),
  );
}

/**
 * Encodes a header block as HEADERS followed by as many CONTINUATION frames
 * as `maxFrameSize` requires, in one buffer (they must not be interleaved
 * with other frames).
 */
export function encodeHeaders(
  streamId: number,
  block: Uint8Array,
  endStream: boolean,
  maxFrameSize: number,
): Uint8Array {
  const frames = Math.max(1, Math.ceil(block.length / maxFrameSize));
  const out = new Uint8Array(frames * FRAME_HEADER_SIZE + block.length);
  let o = 0;
  for (let i = 0; i < frames; i++) {
    const piece = block.subarray(i * maxFrameSize, (i + 1) * maxFrameSize);
    const last = i === frames - 1;
    const flags = (last ? Flag.END_HEADERS : 0) |
      (i === 0 && endStream ? Flag.END_STREAM : 0);
    const type = i === 0 ? FrameType.HEADERS : FrameType.CONTINUATION;
    writeFrameHeader(out, o, piece.length, type, flags, streamId);
    out.set(piece, o + FRAME_HEADER_SIZE);
    o += FRAME_HEADER_SIZE + piece.length;
  }
  return out;
}
