/**
 * A tiny, independent RFC 6455 frame encoder/decoder for the test servers.
 *
 * Deliberately shares no code with `src/`: the tests must not trust the
 * library's own codec to check the library.
 * @module
 */

/** Opcodes of RFC 6455 section 5.2. */
export const OP = {
  CONT: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

/** Description of one frame to encode; every field may be deliberately wrong. */
export interface FrameSpec {
  /** FIN bit; default true. */
  fin?: boolean;
  /** RSV1..RSV3 as a 3-bit number (4 = RSV1, 2 = RSV2, 1 = RSV3); default 0. */
  rsv?: number;
  /** Opcode, 0..15 (invalid ones allowed). */
  opcode: number;
  /** Payload; strings are UTF-8 encoded. Default empty. */
  payload?: Uint8Array | string;
  /** Set the MASK bit and mask the payload (a server must not); default false. */
  mask?: boolean;
  /** Masking key when `mask` is set; default 4 random bytes. */
  maskKey?: Uint8Array;
  /** Value written into the length field instead of the real payload length. */
  length?: number;
  /**
   * Length encoding to use: 7-bit, 16-bit (126) or 64-bit (127). Default: the
   * shortest that fits; a longer one makes a non-minimal (invalid) encoding.
   */
  lengthForm?: 7 | 16 | 64;
}

/** A decoded frame (payload already unmasked). */
export interface Frame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  /** The masking key, when `masked`. */
  maskKey?: Uint8Array;
  payload: Uint8Array;
}

const utf8 = new TextEncoder();

/** Returns `data` as bytes, UTF-8 encoding strings. */
export function toBytes(data: Uint8Array | string | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  return typeof data === "string" ? utf8.encode(data) : data;
}

/** XORs `data` with the 4-byte `key` into a new array. */
export function applyMask(data: Uint8Array, key: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] ^ key[i & 3];
  return out;
}

/** Encodes one frame exactly as described, without any validation. */
export function frameBytes(f: FrameSpec): Uint8Array {
  const payload = toBytes(f.payload);
  const length = f.length ?? payload.length;
  const form = f.lengthForm ?? (length < 126 ? 7 : length < 0x10000 ? 16 : 64);
  const headerLen = 2 + (form === 16 ? 2 : form === 64 ? 8 : 0) +
    (f.mask ? 4 : 0);
  const out = new Uint8Array(headerLen + payload.length);
  out[0] = ((f.fin ?? true) ? 0x80 : 0) | (((f.rsv ?? 0) & 7) << 4) |
    (f.opcode & 0x0f);
  const maskBit = f.mask ? 0x80 : 0;
  const view = new DataView(out.buffer);
  let pos = 2;
  if (form === 7) {
    out[1] = maskBit | (length & 0x7f);
  } else if (form === 16) {
    out[1] = maskBit | 126;
    view.setUint16(2, length & 0xffff);
    pos = 4;
  } else {
    out[1] = maskBit | 127;
    view.setBigUint64(2, BigInt(length));
    pos = 10;
  }
  if (f.mask) {
    const key = f.maskKey ?? crypto.getRandomValues(new Uint8Array(4));
    out.set(key.subarray(0, 4), pos);
    out.set(applyMask(payload, key), pos + 4);
  } else {
    out.set(payload, pos);
  }
  return out;
}

/** Payload of a close frame: 2-byte code followed by a UTF-8 reason. */
export function closePayload(code?: number, reason = ""): Uint8Array {
  if (code === undefined) return new Uint8Array(0);
  const text = utf8.encode(reason);
  const out = new Uint8Array(2 + text.length);
  new DataView(out.buffer).setUint16(0, code);
  out.set(text, 2);
  return out;
}

/** Result of parsing a close frame's payload. */
export interface CloseFrameInfo {
  /** Status code, or undefined for an empty payload. */
  code?: number;
  /** Reason decoded as UTF-8 (lossy: invalid bytes become U+FFFD). */
  reason: string;
  /** The raw payload. */
  payload: Uint8Array;
}

/** Splits a close frame payload into code and reason. */
export function parseClosePayload(payload: Uint8Array): CloseFrameInfo {
  if (payload.length < 2) return { code: undefined, reason: "", payload };
  const code = (payload[0] << 8) | payload[1];
  return {
    code,
    reason: new TextDecoder().decode(payload.subarray(2)),
    payload,
  };
}

/** Parsed fixed part of a frame header (before the payload). */
export interface FrameHeader {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  /** Payload length from the header. */
  length: number;
  /** Total header size in bytes, including the masking key. */
  headerLen: number;
  maskKey?: Uint8Array;
}

/**
 * Parses a frame header from the start of `buf`; null when more bytes are
 * needed. Throws when a 64-bit length exceeds 2^53 - 1.
 */
export function parseFrameHeader(buf: Uint8Array): FrameHeader | null {
  if (buf.length < 2) return null;
  const masked = (buf[1] & 0x80) !== 0;
  const len7 = buf[1] & 0x7f;
  const extLen = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
  const headerLen = 2 + extLen + (masked ? 4 : 0);
  if (buf.length < headerLen) return null;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let length = len7;
  if (len7 === 126) length = view.getUint16(2);
  if (len7 === 127) {
    const big = view.getBigUint64(2);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new Error(`frame length ${big} too large`);
    }
    length = Number(big);
  }
  return {
    fin: (buf[0] & 0x80) !== 0,
    rsv: (buf[0] >> 4) & 7,
    opcode: buf[0] & 0x0f,
    masked,
    length,
    headerLen,
    maskKey: masked ? buf.slice(headerLen - 4, headerLen) : undefined,
  };
}

/** `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455 section 4.2.2). */
export async function acceptValue(key: string): Promise<string> {
  const magic = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  const digest = await crypto.subtle.digest("SHA-1", utf8.encode(magic));
  let bin = "";
  for (const b of new Uint8Array(digest)) bin += String.fromCharCode(b);
  return btoa(bin);
}
