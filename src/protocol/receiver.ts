/**
 * The receiving half of the protocol state machine: fed bytes in, frame
 * pieces out. It enforces RFC 6455's framing, fragmentation, control-frame
 * and UTF-8 rules and decodes messages through the negotiated extension;
 * what concerns the whole connection (a ping to answer, the peer's close, a
 * violation to fail with) goes to the {@linkcode ReceiverHooks}.
 *
 * @module
 */

import { WebSocketError, type WebSocketErrorCode } from "../errors.ts";
import { Opcode, WS } from "../flags.ts";
import { DecodeResult, FrameDecoder } from "../frame.ts";
import { mask } from "../mask.ts";
import { Utf8Validator } from "../utf8.ts";
import { CloseCode, parseClosePayload } from "../close.ts";
import type { Extension } from "../extension.ts";
import type { Piece, Role } from "../protocol.ts";

const CONTROL_MAX = 125;
const EMPTY = new Uint8Array(0);

/** What a {@linkcode Receiver} reports to the protocol. */
export interface ReceiverHooks {
  /**
   * The peer broke the protocol: fail the connection with `closeCode` and
   * return the error the receiver throws. The receiver is stopped then.
   */
  fail(
    code: WebSocketErrorCode,
    closeCode: number,
    message: string,
  ): WebSocketError;
  /** A complete ping arrived (its piece is delivered as well). */
  ping(payload: Uint8Array): void;
  /** The peer's close frame arrived, its payload valid; nothing follows. */
  close(peer: { code: number; reason: string }): void;
}

/** Options of a {@linkcode Receiver}. */
export interface ReceiverOptions {
  /** Our role: a server expects masked frames, a client unmasked ones. */
  role: Role;
  /** Largest frame payload accepted. */
  maxFrameSize: number;
  /** RSV bits allowed on a data message's first frame. */
  allowedRsv: number;
  /** Decodes the messages marked with its RSV bits. */
  extension: Extension | null;
}

/** Decodes one connection's incoming frames into pieces. */
export class Receiver {
  readonly #role: Role;
  readonly #maxFrameSize: number;
  readonly #allowedRsv: number;
  readonly #extension: Extension | null;
  readonly #hooks: ReceiverHooks;
  #decoder = new FrameDecoder();
  /** A close frame arrived or the connection failed: read nothing more. */
  #stopped = false;

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

  /** Creates the receiving state of one connection. */
  constructor(options: ReceiverOptions, hooks: ReceiverHooks) {
    this.#role = options.role;
    this.#maxFrameSize = options.maxFrameSize;
    this.#allowedRsv = options.allowedRsv;
    this.#extension = options.extension;
    this.#hooks = hooks;
  }

  /** Feeds received bytes. Call {@linkcode read} until it returns null first. */
  feed(chunk: Uint8Array): void {
    this.#decoder.feed(chunk);
  }

  /** Bytes fed but not yet consumed. */
  get buffered(): number {
    return this.#decoder.buffered;
  }

  /** Processes nothing more: buffered bytes are dropped, later ones ignored. */
  stop(): void {
    this.#stopped = true;
    this.#decoder.feed(EMPTY);
  }

  /**
   * Returns the next piece of at most `max` bytes (max >= 1), or null when
   * the fed bytes are used up (or after {@linkcode stop}: later bytes are
   * ignored). Throws the error of {@linkcode ReceiverHooks.fail} when the
   * peer breaks the protocol.
   */
  read(max: number): Piece | null {
    if (this.#controlOut) return this.#nextControlPiece(max);
    if (this.#rxDecoding) {
      const piece = this.#decodedPiece(max);
      if (piece !== null) return piece;
    }
    if (this.#stopped) {
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
          throw this.#hooks.fail(
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
        throw this.#hooks.fail(
          "INVALID_PAYLOAD",
          CloseCode.INVALID_PAYLOAD,
          `invalid UTF-8 in a ${ext.name} text message`,
        );
      }
      if (end && !this.#rxUtf8.complete) {
        throw this.#hooks.fail(
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
    return this.#hooks.fail(
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
      throw this.#hooks.fail(
        "PROTOCOL_ERROR",
        CloseCode.PROTOCOL_ERROR,
        `reserved opcode 0x${op.toString(16)}`,
      );
    }
    if ((h.maskKey !== null) !== (this.#role === "server")) {
      throw this.#hooks.fail(
        "PROTOCOL_ERROR",
        CloseCode.PROTOCOL_ERROR,
        this.#role === "client"
          ? "server sent a masked frame"
          : "client sent an unmasked frame",
      );
    }
    if (h.rsv !== 0) {
      const allowed = !control && op !== Opcode.CONTINUATION
        ? this.#allowedRsv
        : 0;
      if ((h.rsv & ~allowed) !== 0) {
        throw this.#hooks.fail(
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
        throw this.#hooks.fail(
          "PROTOCOL_ERROR",
          CloseCode.PROTOCOL_ERROR,
          "fragmented control frame",
        );
      }
      if (h.length > CONTROL_MAX) {
        throw this.#hooks.fail(
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
        throw this.#hooks.fail(
          "PROTOCOL_ERROR",
          CloseCode.PROTOCOL_ERROR,
          "continuation frame without a message to continue",
        );
      }
    } else {
      if (this.#rxMessage !== 0) {
        throw this.#hooks.fail(
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
      throw this.#hooks.fail(
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
        throw this.#hooks.fail(
          "INVALID_PAYLOAD",
          CloseCode.INVALID_PAYLOAD,
          `invalid UTF-8 in text message at frame offset ${offset + bad}`,
        );
      }
      if (fin && bytesleft === 0 && !this.#rxUtf8.complete) {
        throw this.#hooks.fail(
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
      this.#hooks.ping(payload);
    } else if (op === Opcode.PONG) {
      flags = WS.PONG;
    } else {
      flags = WS.CLOSE;
      let parsed;
      try {
        parsed = parseClosePayload(payload);
      } catch (e) {
        const err = e as WebSocketError;
        throw this.#hooks.fail(
          err.code,
          err.closeCode ?? CloseCode.PROTOCOL_ERROR,
          err.message,
        );
      }
      this.#stopped = true;
      this.#hooks.close(parsed);
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
}
