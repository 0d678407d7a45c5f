/**
 * The conformance server's own WebSocket wire code: a frame encoder (server
 * frames, normally unmasked), an incremental decoder for the client's masked
 * frames, a strict UTF-8 checker and the close-code rules of RFC 6455 §7.4.
 *
 * Deliberately independent of the library under test (`src/`), so a bug
 * there cannot hide itself by being shared with the judge.
 *
 * @module
 */

/** RFC 6455 opcodes. */
export const OP = {
  CONT: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

/** Short names of opcodes, for reports. */
export function opName(op: number): string {
  switch (op) {
    case OP.CONT:
      return "CONT";
    case OP.TEXT:
      return "TEXT";
    case OP.BINARY:
      return "BINARY";
    case OP.CLOSE:
      return "CLOSE";
    case OP.PING:
      return "PING";
    case OP.PONG:
      return "PONG";
    default:
      return `OP${op}`;
  }
}

/** What to put in one frame. Every field can be made wrong on purpose. */
export interface FrameSpec {
  opcode: number;
  payload?: Uint8Array | string;
  /** FIN bit; default true. */
  fin?: boolean;
  /** RSV1..3 as a 3-bit number (RSV1 = 4). */
  rsv?: number;
  /** Mask the frame with this key (a server must not; used by the flipped suite). */
  maskKey?: Uint8Array;
  /** In the flipped suite (scripted client), send this frame unmasked on purpose. */
  unmasked?: boolean;
}

const encoder = new TextEncoder();

/** Payload of a spec as bytes. */
export function payloadBytes(p: Uint8Array | string | undefined): Uint8Array {
  if (p === undefined) return new Uint8Array(0);
  return typeof p === "string" ? encoder.encode(p) : p;
}

/** Encodes one frame exactly as specified (no validation: we send bad frames on purpose). */
export function encodeFrame(spec: FrameSpec): Uint8Array {
  const payload = payloadBytes(spec.payload);
  const len = payload.length;
  const masked = spec.maskKey !== undefined;
  const extLen = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = 2 + extLen + (masked ? 4 : 0);
  const out = new Uint8Array(head + len);
  out[0] = ((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) & 7) << 4 |
    (spec.opcode & 0xf);
  const maskBit = masked ? 0x80 : 0;
  if (extLen === 0) {
    out[1] = maskBit | len;
  } else if (extLen === 2) {
    out[1] = maskBit | 126;
    out[2] = len >>> 8;
    out[3] = len & 0xff;
  } else {
    out[1] = maskBit | 127;
    const view = new DataView(out.buffer);
    view.setUint32(2, Math.floor(len / 2 ** 32));
    view.setUint32(6, len >>> 0);
  }
  out.set(payload, head);
  if (masked) {
    const key = spec.maskKey!;
    out.set(key, head - 4);
    for (let i = 0; i < len; i++) out[head + i] ^= key[i & 3];
  }
  return out;
}

/** Encodes a close payload: a 2-byte code and a reason. */
export function closePayload(
  code: number,
  reason: string | Uint8Array = "",
): Uint8Array {
  const r = payloadBytes(reason);
  const out = new Uint8Array(2 + r.length);
  out[0] = code >>> 8;
  out[1] = code & 0xff;
  out.set(r, 2);
  return out;
}

/** Concatenates byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** One frame as the peer sent it, unmasked. */
export interface DecodedFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  /** Declared payload length (the payload itself may be truncated for big frames, see `payload`). */
  length: number;
  payload: Uint8Array;
  /** Length of the 64-bit or 16-bit length field if it was not minimal. */
  nonMinimalLength: boolean;
}

/**
 * Incremental decoder for frames of any chunking. Payloads are gathered in
 * full (the suite's biggest message is 16 MiB, which is fine in memory).
 */
export class FrameReader {
  #buf: Uint8Array = new Uint8Array(0);
  #pending: Uint8Array[] = [];
  #pendingLen = 0;

  /** Feeds bytes and returns every frame completed by them. */
  push(chunk: Uint8Array): DecodedFrame[] {
    this.#pending.push(chunk.slice());
    this.#pendingLen += chunk.length;
    const frames: DecodedFrame[] = [];
    for (;;) {
      const f = this.#tryOne();
      if (!f) break;
      frames.push(f);
    }
    return frames;
  }

  /** Bytes received that are not (yet) a whole frame. */
  get buffered(): number {
    return this.#buf.length + this.#pendingLen;
  }

  #gather(n: number): boolean {
    if (this.#buf.length >= n) return true;
    if (this.#buf.length + this.#pendingLen < n) return false;
    // Merge everything pending at once: avoids quadratic copying for big frames.
    this.#buf = concat([this.#buf, ...this.#pending]);
    this.#pending = [];
    this.#pendingLen = 0;
    return true;
  }

  #tryOne(): DecodedFrame | null {
    if (!this.#gather(2)) return null;
    let b = this.#buf;
    const masked = (b[1] & 0x80) !== 0;
    const len7 = b[1] & 0x7f;
    const ext = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    const head = 2 + ext + (masked ? 4 : 0);
    if (!this.#gather(head)) return null;
    b = this.#buf;
    let length = len7;
    let nonMinimal = false;
    if (ext === 2) {
      length = (b[2] << 8) | b[3];
      nonMinimal = length < 126;
    } else if (ext === 8) {
      const view = new DataView(b.buffer, b.byteOffset, 10);
      length = view.getUint32(2) * 2 ** 32 + view.getUint32(6);
      nonMinimal = length < 65536;
    }
    if (!this.#gather(head + length)) return null;
    b = this.#buf;
    const payload = b.slice(head, head + length);
    if (masked) {
      const k = b.subarray(head - 4, head);
      for (let i = 0; i < payload.length; i++) payload[i] ^= k[i & 3];
    }
    const frame: DecodedFrame = {
      fin: (b[0] & 0x80) !== 0,
      rsv: (b[0] >>> 4) & 7,
      opcode: b[0] & 0xf,
      masked,
      length,
      payload,
      nonMinimalLength: nonMinimal,
    };
    this.#buf = b.subarray(head + length);
    return frame;
  }
}

/**
 * Position of the first byte at which `bytes` stops being a prefix of valid
 * UTF-8 (RFC 3629), `bytes.length` if the bytes are a valid prefix but end
 * inside a code point, or -1 if the bytes are complete, valid UTF-8.
 *
 * This is where a fail-fast client must notice the error.
 */
export function utf8FailIndex(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    let need: number, lo = 0x80, hi = 0xbf;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0; // overlong
      if (b === 0xed) hi = 0x9f; // surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90; // overlong
      if (b === 0xf4) hi = 0x8f; // above U+10FFFF
    } else return i;
    i++;
    for (let k = 0; k < need; k++, i++) {
      if (i >= bytes.length) return bytes.length;
      const c = bytes[i];
      if (c < lo || c > hi) return i;
      lo = 0x80;
      hi = 0xbf;
    }
  }
  return -1;
}

/** True if `bytes` is complete, valid UTF-8. */
export function isUtf8(bytes: Uint8Array): boolean {
  return utf8FailIndex(bytes) === -1;
}

/**
 * True if a close frame may carry `code` on the wire (RFC 6455 §7.4.1,
 * §7.4.2 and the IANA registry: 1000-1003, 1007-1014, 3000-4999).
 */
export function isValidCloseCode(code: number): boolean {
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}

/** Hex dump of the first `max` bytes, for reports. */
export function hex(bytes: Uint8Array, max = 48): string {
  const shown = Array.from(
    bytes.subarray(0, max),
    (b) => b.toString(16).padStart(2, "0"),
  ).join(
    " ",
  );
  return bytes.length > max ? `${shown} … (${bytes.length} bytes)` : shown;
}

/** Printable preview of a payload: text if it is short valid UTF-8, else hex. */
export function preview(bytes: Uint8Array, max = 48): string {
  if (bytes.length <= max && isUtf8(bytes)) {
    const s = new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
    // Invisible characters (controls, BOM, noncharacters…) are shown as hex.
    if (!/[\p{C}\uFEFF]/u.test(s)) return JSON.stringify(s);
  }
  return `0x[${hex(bytes, max)}]`;
}
