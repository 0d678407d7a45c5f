/**
 * The sending half of the protocol state machine: payloads in, frame bytes
 * out, with libcurl's `send()` conventions (fragments, partial frames with
 * WS.OFFSET), the order rules of RFC 6455 §5.4, masking for a client, and
 * the extension's encoding.
 *
 * @module
 */

import { WebSocketError } from "../errors.ts";
import { Opcode, WS } from "../flags.ts";
import { headerSize, writeHeader } from "../frame.ts";
import { maskInto, MaskKeySource } from "../mask.ts";
import type { Extension } from "../extension.ts";
import type { Role } from "../protocol.ts";

const CONTROL_MAX = 125;

/** Encodes one connection's outgoing frames. */
export class Sender {
  readonly #role: Role;
  readonly #extension: Extension | null;
  readonly #onCloseSent: () => void;
  #keys = new MaskKeySource();
  #closeSent = false;
  /** Type flag of the message being sent in fragments, or 0. */
  #txMessage = 0;
  /** Bytes still owed to a partial frame opened with WS.OFFSET. */
  #txFrameLeft = 0;
  #txFrameKey: Uint8Array = new Uint8Array(4);
  #txFramePhase = 0;
  /** The message being sent in fragments goes through the extension. */
  #txEncoding = false;

  /**
   * @param role a client masks its frames
   * @param extension encodes the messages it chooses
   * @param onCloseSent called once, when our close frame is encoded
   */
  constructor(
    role: Role,
    extension: Extension | null,
    onCloseSent: () => void,
  ) {
    this.#role = role;
    this.#extension = extension;
    this.#onCloseSent = onCloseSent;
  }

  /** True once our close frame has been encoded. */
  get closeSent(): boolean {
    return this.#closeSent;
  }

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
    if (this.#role !== "server") {
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
      if (this.#closeSent) {
        throw new WebSocketError("CLOSED", "a close frame was already sent");
      }
      if (control === WS.CLOSE) return this.encodeClose(data);
      return this.encodeControl(
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
    const key = this.#role === "client" ? this.#keys.next() : null;
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
    if (this.#closeSent) {
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
    if (this.#role === "client") {
      maskInto(frame, 0, data, this.#txFrameKey, this.#txFramePhase);
    } else frame.set(data);
    this.#txFramePhase += data.length;
    this.#txFrameLeft -= data.length;
    return frame;
  }

  /** Encodes a control frame (a pong, say) to send at a frame boundary. */
  encodeControl(opcode: number, payload: Uint8Array): Uint8Array {
    const key = this.#role === "client" ? this.#keys.next() : null;
    const hlen = headerSize(payload.length, key !== null);
    const out = new Uint8Array(hlen + payload.length);
    writeHeader(out, 0, true, 0, opcode, payload.length, key);
    if (key) maskInto(out, hlen, payload, key, 0);
    else out.set(payload, hlen);
    return out;
  }

  /** Encodes our close frame; nothing but its bytes may follow. */
  encodeClose(payload: Uint8Array): Uint8Array {
    this.#closeSent = true;
    this.#onCloseSent();
    return this.encodeControl(Opcode.CLOSE, payload);
  }
}
