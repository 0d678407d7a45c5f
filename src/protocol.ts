/**
 * The WebSocket protocol state machine, sans I/O: bytes in, frame pieces and
 * bytes out. It enforces RFC 6455's framing, fragmentation, control-frame,
 * UTF-8 and close rules, answers pings, and encodes outgoing frames.
 *
 * @module
 */

import { WebSocketError, type WebSocketErrorCode } from "./errors.ts";
import { type FrameMeta, Opcode, WS } from "./flags.ts";
import {
  DecodeResult,
  FrameDecoder,
  headerSize,
  writeHeader,
} from "./frame.ts";
import { mask, maskInto, MaskKeySource } from "./mask.ts";
import { Utf8Validator } from "./utf8.ts";
import { CloseCode, encodeClosePayload, parseClosePayload } from "./close.ts";
import type { Extension } from "./extension.ts";
import { concat } from "./bytes.ts";

/** Which end of the connection this is: clients mask, servers do not. */
export type Role = "client" | "server";

/** Options of a {@linkcode Protocol}. */
export interface ProtocolOptions {
  /** Our role; decides who masks. */
  role: Role;
  /** Answer pings with pongs automatically (default true). */
  autoPong?: boolean;
  /** Largest frame payload accepted from the peer (default 2^53-1). */
  maxFrameSize?: number;
  /**
   * RSV bits the peer may set on the first frame of a data message besides
   * the extension's; such payloads pass through as they are.
   */
  allowedRsv?: number;
  /**
   * The negotiated extension (permessage-deflate), if any. Messages whose
   * first frame carries its RSV bits are decoded through it, and
   * {@linkcode Protocol.compress} encodes outgoing ones with it.
   */
  extension?: Extension | null;
}

/** One received piece of a frame: a view of the input, and its metadata. */
export interface Piece {
  /**
   * Payload bytes: a view of the fed buffer (valid until the next feed) or
   * of the extension's output (valid until the next read).
   */
  data: Uint8Array;
  /** Metadata in libcurl's terms. */
  meta: FrameMeta;
}

/**
 * Where the close handshake stands: `"open"` while data flows both ways,
 * `"closing"` once we have sent our close frame and wait for the peer's,
 * `"closed"` when both close frames are exchanged (the peer's received and
 * ours queued) or the connection failed. Only the protocol changes it.
 */
export type ProtocolState = "open" | "closing" | "closed";

const CONTROL_MAX = 125;
const EMPTY = new Uint8Array(0);

/**
 * The protocol engine of one connection.
 *
 * Receiving: {@linkcode Protocol.feed} bytes, then call
 * {@linkcode Protocol.read} until it returns null; frames to send in answer
 * (pongs, the close echo) wait in {@linkcode Protocol.takeOutput}.
 * Sending: {@linkcode Protocol.encode} turns payloads into wire bytes.
 *
 * @example Decode a server's text frame as a client
 * ```ts
 * import { Protocol } from "./protocol.ts";
 * const p = new Protocol({ role: "client" });
 * p.feed(new Uint8Array([0x81, 0x02, 0x68, 0x69]));
 * const piece = p.read(1024)!;
 * console.log(new TextDecoder().decode(piece.data), piece.meta.flags); // "hi" 1
 * ```
 */
export class Protocol {
  /** Our role. */
  readonly role: Role;
  /** The peer's close frame, once received. */
  peerClose: { code: number; reason: string } | null = null;
  /** True once we have produced our close frame. */
  closeSent = false;

  #state: ProtocolState = "open";
  #autoPong: boolean;
  #maxFrameSize: number;
  #allowedRsv: number;
  #extension: Extension | null;
  #decoder = new FrameDecoder();
  #keys = new MaskKeySource();

  // Receive state.
  /** Type flag (WS.TEXT / WS.BINARY) of the message being received, or 0. */
  #rxMessage = 0;
  /** Flags of the frame being received (for data frames). */
  #rxFlags = 0;
  #rxIsControl = false;
  #rxUtf8 = new Utf8Validator();
  #controlBuf = new Uint8Array(CONTROL_MAX);
  #controlLen = 0;
  /**
   * The message being received goes through the extension (its RSV bits on
   * the first frame) and it may still have bytes to hand out.
   */
  #rxDecoding = false;
  /** A received control frame being handed out in pieces. */
  #controlOut: Uint8Array | null = null;
  #controlOutPos = 0;
  #controlOutFlags = 0;

  // Send state.
  /** Type flag of the message being sent in fragments, or 0. */
  #txMessage = 0;
  /** Bytes still owed to a partial frame opened with WS.OFFSET. */
  #txFrameLeft = 0;
  #txFrameKey: Uint8Array = new Uint8Array(4);
  #txFramePhase = 0;
  /** The message being sent in fragments goes through the extension. */
  #txEncoding = false;
  /** Control frames waiting for a frame boundary. */
  #pendingPong: Uint8Array | null = null;
  #pendingControl: Uint8Array[] = [];

  /** Creates the engine for one connection. */
  constructor(options: ProtocolOptions) {
    this.role = options.role;
    this.#autoPong = options.autoPong ?? true;
    this.#maxFrameSize = options.maxFrameSize ?? Number.MAX_SAFE_INTEGER;
    this.#extension = options.extension ?? null;
    this.#allowedRsv = (options.allowedRsv ?? 0) |
      (this.#extension?.rsv ?? 0);
  }

  /** Where the close handshake stands; see {@linkcode ProtocolState}. */
  get state(): ProtocolState {
    return this.#state;
  }

  // ---------------------------------------------------------------- receive

  /** Feeds received bytes. Call {@linkcode Protocol.read} until it returns null first. */
  feed(chunk: Uint8Array): void {
    this.#decoder.feed(chunk);
  }

  /** Bytes fed but not yet consumed. */
  get buffered(): number {
    return this.#decoder.buffered;
  }

  /** True when the peer's close frame has been received. */
  get closeReceived(): boolean {
    return this.peerClose !== null;
  }

  /**
   * Returns the next piece of at most `max` bytes (max >= 1), or null when
   * the fed bytes are used up (or the peer has closed: later bytes are
   * ignored). Throws {@linkcode WebSocketError} when the peer breaks the
   * protocol; the close frame to send is then waiting in
   * {@linkcode Protocol.takeOutput}.
   */
  read(max: number): Piece | null {
    if (this.#controlOut) return this.#nextControlPiece(max);
    if (this.#rxDecoding) {
      const piece = this.#decodedPiece(max);
      if (piece !== null) return piece;
    }
    if (this.peerClose !== null || this.#state === "closed") {
      // RFC 6455 §5.5.1: nothing after a close frame is processed.
      this.#decoder.feed(EMPTY);
      return null;
    }
    const dec = this.#decoder;
    for (;;) {
      let r: number;
      try {
        r = dec.next(this.#rxIsControl ? CONTROL_MAX : max);
      } catch (e) {
        if (e instanceof WebSocketError) {
          throw this.#fail(
            e.code,
            e.closeCode ?? CloseCode.PROTOCOL_ERROR,
            e.message,
          );
        }
        throw e;
      }
      if (r === DecodeResult.NEED_MORE) return null;
      if (r === DecodeResult.HEADER) {
        this.#onHeader();
        if (dec.header.length === 0) {
          if (this.#rxIsControl) {
            return this.#onControlComplete(EMPTY, max);
          }
          if (this.#rxDecoding) {
            const piece = this.#decode(EMPTY, 0, max);
            if (piece !== null) return piece;
            continue;
          }
          return this.#dataPiece(EMPTY, 0, 0);
        }
        continue;
      }
      // DATA
      const data = dec.piece;
      const key = dec.header.maskKey;
      if (key) mask(data, key, dec.pieceOffset);
      if (this.#rxIsControl) {
        this.#controlBuf.set(data, this.#controlLen);
        this.#controlLen += data.length;
        if (dec.remaining === 0) {
          const payload = this.#controlBuf.slice(0, this.#controlLen);
          return this.#onControlComplete(payload, max);
        }
        continue;
      }
      if (this.#rxDecoding) {
        const piece = this.#decode(data, dec.remaining, max);
        if (piece !== null) return piece;
        continue;
      }
      return this.#dataPiece(data, dec.pieceOffset, dec.remaining);
    }
  }

  /**
   * Gives one payload piece of an extension-encoded message to the
   * extension; returns the first decoded piece, or null when it needs more.
   */
  #decode(data: Uint8Array, bytesleft: number, max: number): Piece | null {
    const last = (this.#rxFlags & WS.CONT) === 0 && bytesleft === 0;
    try {
      this.#extension!.decode(data, last);
    } catch (e) {
      throw this.#extensionFailed(e);
    }
    return this.#decodedPiece(max);
  }

  /**
   * The extension's next decoded bytes as a piece, its text validated, or
   * null when it needs more input. Each decoded piece is presented like a
   * frame of its own (`offset` 0, `bytesleft` 0), with the message's type
   * flag on every piece and CONT on all but the message's last, so
   * "bytesleft 0 and no CONT" still marks the end of a message.
   */
  #decodedPiece(max: number): Piece | null {
    const ext = this.#extension!;
    let data: Uint8Array | null;
    try {
      data = ext.pull(max);
    } catch (e) {
      throw this.#extensionFailed(e);
    }
    if (data === null) return null;
    const end = ext.messageEnded;
    if (this.#rxMessage === WS.TEXT) {
      if (this.#rxUtf8.push(data) !== -1) {
        throw this.#fail(
          "INVALID_PAYLOAD",
          CloseCode.INVALID_PAYLOAD,
          `invalid UTF-8 in a ${ext.name} text message`,
        );
      }
      if (end && !this.#rxUtf8.complete) {
        throw this.#fail(
          "INVALID_PAYLOAD",
          CloseCode.INVALID_PAYLOAD,
          `${ext.name} text message ends inside a UTF-8 sequence`,
        );
      }
    }
    let flags = this.#rxMessage | WS.CONT;
    if (end) {
      flags = this.#rxMessage;
      this.#rxDecoding = false;
      this.#rxMessage = 0;
    }
    return {
      data,
      meta: { age: 0, flags, offset: 0, bytesleft: 0, len: data.length },
    };
  }

  /** Fails the connection for an extension's error (1007 unless it says). */
  #extensionFailed(e: unknown): unknown {
    if (!(e instanceof WebSocketError)) return e;
    return this.#fail(
      e.code,
      e.closeCode ?? CloseCode.INVALID_PAYLOAD,
      e.message,
    );
  }

  #onHeader(): void {
    const h = this.#decoder.header;
    const op = h.opcode;
    const control = op >= 0x8;
    if (
      op !== Opcode.CONTINUATION && op !== Opcode.TEXT &&
      op !== Opcode.BINARY &&
      op !== Opcode.CLOSE && op !== Opcode.PING && op !== Opcode.PONG
    ) {
      throw this.#fail(
        "PROTOCOL_ERROR",
        CloseCode.PROTOCOL_ERROR,
        `reserved opcode 0x${op.toString(16)}`,
      );
    }
    if ((h.maskKey !== null) !== (this.role === "server")) {
      throw this.#fail(
        "PROTOCOL_ERROR",
        CloseCode.PROTOCOL_ERROR,
        this.role === "client"
          ? "server sent a masked frame"
          : "client sent an unmasked frame",
      );
    }
    if (h.rsv !== 0) {
      const allowed = !control && op !== Opcode.CONTINUATION
        ? this.#allowedRsv
        : 0;
      if ((h.rsv & ~allowed) !== 0) {
        throw this.#fail(
          "PROTOCOL_ERROR",
          CloseCode.PROTOCOL_ERROR,
          `reserved bits 0b${
            h.rsv.toString(2).padStart(3, "0")
          } set without an extension`,
        );
      }
    }
    if (control) {
      if (!h.fin) {
        throw this.#fail(
          "PROTOCOL_ERROR",
          CloseCode.PROTOCOL_ERROR,
          "fragmented control frame",
        );
      }
      if (h.length > CONTROL_MAX) {
        throw this.#fail(
          "PROTOCOL_ERROR",
          CloseCode.PROTOCOL_ERROR,
          `control frame of ${h.length} bytes (at most 125)`,
        );
      }
      this.#rxIsControl = true;
      this.#controlLen = 0;
      return;
    }
    this.#rxIsControl = false;
    if (op === Opcode.CONTINUATION) {
      if (this.#rxMessage === 0) {
        throw this.#fail(
          "PROTOCOL_ERROR",
          CloseCode.PROTOCOL_ERROR,
          "continuation frame without a message to continue",
        );
      }
    } else {
      if (this.#rxMessage !== 0) {
        throw this.#fail(
          "PROTOCOL_ERROR",
          CloseCode.PROTOCOL_ERROR,
          "new data frame inside an unfinished fragmented message",
        );
      }
      this.#rxMessage = op === Opcode.TEXT ? WS.TEXT : WS.BINARY;
      const ext = this.#extension;
      this.#rxDecoding = ext !== null && (h.rsv & ext.rsv) !== 0;
      if (this.#rxMessage === WS.TEXT) this.#rxUtf8.reset();
    }
    if (h.length > this.#maxFrameSize) {
      throw this.#fail(
        "MESSAGE_TOO_BIG",
        CloseCode.MESSAGE_TOO_BIG,
        `frame of ${h.length} bytes exceeds maxFrameSize ${this.#maxFrameSize}`,
      );
    }
    this.#rxFlags = this.#rxMessage | (h.fin ? 0 : WS.CONT);
  }

  #dataPiece(data: Uint8Array, offset: number, bytesleft: number): Piece {
    const fin = (this.#rxFlags & WS.CONT) === 0;
    if (this.#rxMessage === WS.TEXT) {
      const bad = this.#rxUtf8.push(data);
      if (bad !== -1) {
        throw this.#fail(
          "INVALID_PAYLOAD",
          CloseCode.INVALID_PAYLOAD,
          `invalid UTF-8 in text message at frame offset ${offset + bad}`,
        );
      }
      if (fin && bytesleft === 0 && !this.#rxUtf8.complete) {
        throw this.#fail(
          "INVALID_PAYLOAD",
          CloseCode.INVALID_PAYLOAD,
          "text message ends inside a UTF-8 sequence",
        );
      }
    }
    const piece: Piece = {
      data,
      meta: {
        age: 0,
        flags: this.#rxFlags,
        offset,
        bytesleft,
        len: data.length,
      },
    };
    if (fin && bytesleft === 0) this.#rxMessage = 0;
    return piece;
  }

  /** Handles a complete control frame; returns its first piece to deliver. */
  #onControlComplete(payload: Uint8Array, max: number): Piece {
    const op = this.#decoder.header.opcode;
    this.#rxIsControl = false;
    let flags: number;
    if (op === Opcode.PING) {
      flags = WS.PING;
      if (this.#autoPong && !this.closeSent) {
        // RFC 6455 §5.5.3: answering only the latest ping is allowed, which
        // keeps a ping flood from queueing pongs without bound.
        this.#pendingPong = this.#encodeControl(Opcode.PONG, payload);
      }
    } else if (op === Opcode.PONG) {
      flags = WS.PONG;
    } else {
      flags = WS.CLOSE;
      let parsed;
      try {
        parsed = parseClosePayload(payload);
      } catch (e) {
        const err = e as WebSocketError;
        throw this.#fail(
          err.code,
          err.closeCode ?? CloseCode.PROTOCOL_ERROR,
          err.message,
        );
      }
      this.peerClose = parsed;
      if (!this.closeSent) {
        // Echo the peer's code (RFC 6455 §5.5.1); an empty close gets an empty one.
        const echo = parsed.code === CloseCode.NO_STATUS
          ? EMPTY
          : encodeClosePayload(parsed.code);
        this.#queueClose(echo);
      }
      this.#state = "closed";
    }
    this.#controlOut = payload;
    this.#controlOutPos = 0;
    this.#controlOutFlags = flags;
    return this.#nextControlPiece(max);
  }

  #nextControlPiece(max: number): Piece {
    const payload = this.#controlOut!;
    const pos = this.#controlOutPos;
    const n = Math.min(max, payload.length - pos);
    const data = payload.subarray(pos, pos + n);
    this.#controlOutPos = pos + n;
    const bytesleft = payload.length - this.#controlOutPos;
    if (bytesleft === 0) this.#controlOut = null;
    return {
      data,
      meta: {
        age: 0,
        flags: this.#controlOutFlags,
        offset: pos,
        bytesleft,
        len: n,
      },
    };
  }

  /**
   * Fails the connection: queues a close frame with `closeCode` and returns
   * the error to throw.
   */
  #fail(
    code: WebSocketErrorCode,
    closeCode: number,
    message: string,
  ): WebSocketError {
    if (!this.closeSent) {
      this.#queueClose(encodeClosePayload(closeCode));
    }
    this.#state = "closed";
    this.#decoder.feed(EMPTY);
    return new WebSocketError(code, message, { closeCode });
  }

  /**
   * Fails the connection from outside the decoder (e.g. a message over the
   * size limit). Returns the error to throw.
   */
  fail(
    code: WebSocketErrorCode,
    closeCode: number,
    message: string,
  ): WebSocketError {
    return this.#fail(code, closeCode, message);
  }

  // ------------------------------------------------------------------- send

  /** True while a partial frame opened with WS.OFFSET still owes bytes. */
  get inPartialFrame(): boolean {
    return this.#txFrameLeft > 0;
  }

  /** Payload bytes the partial frame in progress still owes (0 when none). */
  get partialFrameLeft(): number {
    return this.#txFrameLeft;
  }

  /**
   * Server role only: takes `data` as the next bytes of the partial frame in
   * progress and returns it as it is, since unmasked payload needs no copy.
   * The caller must keep `data` unchanged until it has been written.
   */
  continueUnmasked(data: Uint8Array): Uint8Array {
    if (this.role !== "server") {
      throw new WebSocketError(
        "INVALID_ARGUMENT",
        "a client's payload must be masked",
      );
    }
    this.#checkPartial(data.length);
    this.#txFramePhase += data.length;
    this.#txFrameLeft -= data.length;
    return data;
  }

  #checkPartial(length: number): void {
    if (length > this.#txFrameLeft) {
      throw new WebSocketError(
        "INVALID_ARGUMENT",
        `${length} bytes sent past the end of the partial frame (${this.#txFrameLeft} left)`,
      );
    }
  }

  /**
   * Encodes the frame bytes for one `send(data, flags, fragsize)` call, with
   * libcurl's conventions (see `WebSocketConnection.send`). Returns the bytes
   * to write; the caller's `data` is never modified.
   */
  encode(
    data: Uint8Array,
    flags: number,
    fragsize = 0,
    out?: Uint8Array,
    rsv = 0,
  ): Uint8Array {
    if (this.#txFrameLeft > 0) {
      if ((flags & WS.OFFSET) === 0) {
        throw new WebSocketError(
          "INVALID_ARGUMENT",
          `a partial frame still needs ${this.#txFrameLeft} bytes; continue it with WS.OFFSET`,
        );
      }
      return this.#continuePartial(data, out);
    }
    const control = flags & (WS.CLOSE | WS.PING | WS.PONG);
    const type = flags & (WS.TEXT | WS.BINARY);
    if (
      (control !== 0 && type !== 0) || (control & (control - 1)) !== 0 ||
      type === (WS.TEXT | WS.BINARY)
    ) {
      throw new WebSocketError(
        "INVALID_ARGUMENT",
        `flags 0x${flags.toString(16)} name more than one frame type`,
      );
    }
    if (control !== 0) {
      if (flags & (WS.CONT | WS.OFFSET)) {
        throw new WebSocketError(
          "INVALID_ARGUMENT",
          "control frames cannot be fragmented or partial",
        );
      }
      if (data.length > CONTROL_MAX) {
        throw new WebSocketError(
          "INVALID_ARGUMENT",
          `control frame payload of ${data.length} bytes (at most 125)`,
        );
      }
      if (this.closeSent) {
        throw new WebSocketError("CLOSED", "a close frame was already sent");
      }
      if (control === WS.CLOSE) {
        this.#markCloseSent();
        return this.#encodeControl(Opcode.CLOSE, data);
      }
      return this.#encodeControl(
        control === WS.PING ? Opcode.PING : Opcode.PONG,
        data,
      );
    }
    this.#checkDataFlags(flags);
    const opcode = this.#txMessage !== 0
      ? Opcode.CONTINUATION
      : type === WS.TEXT
      ? Opcode.TEXT
      : Opcode.BINARY;
    const fin = (flags & WS.CONT) === 0;
    let total = data.length;
    if (flags & WS.OFFSET) {
      if (!Number.isSafeInteger(fragsize) || fragsize < data.length) {
        throw new WebSocketError(
          "INVALID_ARGUMENT",
          `fragsize ${fragsize} is smaller than the ${data.length} bytes given`,
        );
      }
      total = fragsize;
    }
    this.#txMessage = fin ? 0 : type;
    const key = this.role === "client" ? this.#keys.next() : null;
    const hlen = headerSize(total, key !== null);
    const size = hlen + data.length;
    const frame = out && out.length >= size
      ? out.subarray(0, size)
      : new Uint8Array(size);
    writeHeader(frame, 0, fin, rsv, opcode, total, key);
    if (key) maskInto(frame, hlen, data, key, 0);
    else frame.set(data, hlen);
    if (total > data.length) {
      this.#txFrameLeft = total - data.length;
      if (key) this.#txFrameKey.set(key);
      this.#txFramePhase = data.length;
    }
    return frame;
  }

  /** True while an extension-encoded message is being sent in fragments. */
  get compressingMessage(): boolean {
    return this.#txEncoding;
  }

  /**
   * Runs the payload of one data frame through the extension: a message's
   * first frame decides whether the message is encoded (permessage-deflate:
   * at least `threshold` bytes), and then every fragment of it is. Returns
   * the payload to send and the RSV bits for its frame (the extension's on
   * the first frame of an encoded message only). Control frames, partial
   * frames and connections without an extension pass through.
   */
  compress(
    data: Uint8Array,
    flags: number,
  ): { payload: Uint8Array; rsv: number } {
    const ext = this.#extension;
    if (ext === null || flags & (WS.CLOSE | WS.PING | WS.PONG | WS.OFFSET)) {
      return { payload: data, rsv: 0 };
    }
    // Reject bad flags before the extension's state moves on.
    this.#checkDataFlags(flags);
    const fin = (flags & WS.CONT) === 0;
    if (this.#txMessage !== 0) {
      // A continuation: encoded exactly when its message is.
      if (!this.#txEncoding) return { payload: data, rsv: 0 };
      if (fin) this.#txEncoding = false;
      return { payload: ext.encode(data, false, fin)!, rsv: 0 };
    }
    const payload = ext.encode(data, true, fin);
    if (payload === null) return { payload: data, rsv: 0 };
    this.#txEncoding = !fin;
    return { payload, rsv: ext.rsv };
  }

  /** Throws for a data frame `flags` that cannot be sent now. */
  #checkDataFlags(flags: number): void {
    if (this.#txFrameLeft > 0) {
      throw new WebSocketError(
        "INVALID_ARGUMENT",
        `a partial frame still needs ${this.#txFrameLeft} bytes; continue it with WS.OFFSET`,
      );
    }
    if (this.closeSent) {
      throw new WebSocketError(
        "CLOSED",
        "cannot send data after a close frame",
      );
    }
    const type = flags & (WS.TEXT | WS.BINARY);
    if (type === 0 || type === (WS.TEXT | WS.BINARY)) {
      throw new WebSocketError(
        "INVALID_ARGUMENT",
        type === 0
          ? "flags name no frame type (TEXT, BINARY, CLOSE, PING or PONG)"
          : `flags 0x${flags.toString(16)} name more than one frame type`,
      );
    }
    if (this.#txMessage !== 0 && type !== this.#txMessage) {
      throw new WebSocketError(
        "INVALID_ARGUMENT",
        "fragment type differs from the message being sent",
      );
    }
  }

  #continuePartial(data: Uint8Array, out?: Uint8Array): Uint8Array {
    this.#checkPartial(data.length);
    const frame = out && out.length >= data.length
      ? out.subarray(0, data.length)
      : new Uint8Array(data.length);
    if (this.role === "client") {
      maskInto(frame, 0, data, this.#txFrameKey, this.#txFramePhase);
    } else frame.set(data);
    this.#txFramePhase += data.length;
    this.#txFrameLeft -= data.length;
    return frame;
  }

  #encodeControl(opcode: number, payload: Uint8Array): Uint8Array {
    const key = this.role === "client" ? this.#keys.next() : null;
    const hlen = headerSize(payload.length, key !== null);
    const out = new Uint8Array(hlen + payload.length);
    writeHeader(out, 0, true, 0, opcode, payload.length, key);
    if (key) maskInto(out, hlen, payload, key, 0);
    else out.set(payload, hlen);
    return out;
  }

  /** Bookkeeping of our close frame, however it is sent. */
  #markCloseSent(): void {
    this.closeSent = true;
    this.#pendingPong = null; // no pong after a close (RFC 6455 §5.5.1)
    if (this.#state === "open") this.#state = "closing";
  }

  #queueClose(payload: Uint8Array): void {
    this.#markCloseSent();
    this.#pendingControl.push(this.#encodeControl(Opcode.CLOSE, payload));
  }

  /**
   * Encodes our close frame for `close(code, reason)` and queues it behind
   * any frame in progress. Returns false when a close was already sent.
   */
  queueClose(code?: number, reason = ""): boolean {
    if (this.closeSent) return false;
    this.#queueClose(encodeClosePayload(code, reason));
    return true;
  }

  /** True when automatic frames (pongs, close) wait to be written. */
  get hasOutput(): boolean {
    return this.#pendingPong !== null || this.#pendingControl.length > 0;
  }

  /**
   * Takes the automatic frames waiting to be written, or null. They are held
   * back while a partial frame is open, so they never land inside one.
   */
  takeOutput(): Uint8Array | null {
    if (this.#txFrameLeft > 0) return null;
    const pong = this.#pendingPong;
    const rest = this.#pendingControl;
    if (pong === null && rest.length === 0) return null;
    this.#pendingPong = null;
    this.#pendingControl = [];
    const parts = pong ? [pong, ...rest] : rest;
    return parts.length === 1 ? parts[0] : concat(parts);
  }
}
