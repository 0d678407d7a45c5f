/**
 * The WebSocket protocol state machine, sans I/O: bytes in, frame pieces and
 * bytes out. It enforces RFC 6455's framing, fragmentation, control-frame,
 * UTF-8 and close rules, answers pings, and encodes outgoing frames.
 *
 * @module
 */

import { WebSocketError, type WebSocketErrorCode } from "./errors.ts";
import { type FrameMeta, Opcode } from "./flags.ts";
import { CloseCode, encodeClosePayload } from "./close.ts";
import type { Extension } from "./extension.ts";
import { concat } from "./bytes.ts";
import { Receiver } from "./protocol/receiver.ts";
import { Sender } from "./protocol/sender.ts";

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

const EMPTY = new Uint8Array(0);

/**
 * The protocol engine of one connection: a {@linkcode Receiver} and a
 * {@linkcode Sender} (`protocol/`), and what they share: the close
 * handshake's state and the automatic frames (pongs, closes) waiting for a
 * frame boundary.
 *
 * Receiving: {@linkcode Protocol.feed} bytes, then call
 * {@linkcode Protocol.read} until it returns null; frames to send in answer
 * (pongs, the close echo) wait in {@linkcode Protocol.takeOutput}.
 * Sending: {@linkcode Protocol.encode} turns payloads into wire bytes.
 *
 * @example Decode a server's text frame as a client
 * ```ts
 * import assert from "node:assert/strict";
 * import { Protocol } from "./protocol.ts";
 * import { WS } from "./flags.ts";
 * const p = new Protocol({ role: "client" });
 * p.feed(new Uint8Array([0x81, 0x02, 0x68, 0x69])); // FIN + text, unmasked, 2 bytes: "hi"
 * const piece = p.read(1024)!;
 * assert.equal(new TextDecoder().decode(piece.data), "hi");
 * assert.equal(piece.meta.flags, WS.TEXT);
 * ```
 */
export class Protocol {
  /** Our role. */
  readonly role: Role;
  #state: ProtocolState = "open";
  #peerClose: { code: number; reason: string } | null = null;
  readonly #autoPong: boolean;
  readonly #receiver: Receiver;
  readonly #sender: Sender;
  /** Control frames waiting for a frame boundary. */
  #pendingPong: Uint8Array | null = null;
  #pendingControl: Uint8Array[] = [];

  /** Creates the engine for one connection. */
  constructor(options: ProtocolOptions) {
    this.role = options.role;
    this.#autoPong = options.autoPong ?? true;
    const extension = options.extension ?? null;
    this.#receiver = new Receiver({
      role: options.role,
      maxFrameSize: options.maxFrameSize ?? Number.MAX_SAFE_INTEGER,
      allowedRsv: (options.allowedRsv ?? 0) | (extension?.rsv ?? 0),
      extension,
    }, {
      fail: (code, closeCode, message) => this.fail(code, closeCode, message),
      ping: (payload) => this.#onPing(payload),
      close: (peer) => this.#onPeerClose(peer),
    });
    this.#sender = new Sender(options.role, extension, () => {
      this.#pendingPong = null; // no pong after a close (RFC 6455 §5.5.1)
      if (this.#state === "open") this.#state = "closing";
    });
  }

  /** Where the close handshake stands; see {@linkcode ProtocolState}. */
  get state(): ProtocolState {
    return this.#state;
  }

  /** The peer's close frame, once received. */
  get peerClose(): { code: number; reason: string } | null {
    return this.#peerClose;
  }

  /** True when the peer's close frame has been received. */
  get closeReceived(): boolean {
    return this.#peerClose !== null;
  }

  /** True once we have produced our close frame. */
  get closeSent(): boolean {
    return this.#sender.closeSent;
  }

  // ---------------------------------------------------------------- receive

  /** Feeds received bytes. Call {@linkcode Protocol.read} until it returns null first. */
  feed(chunk: Uint8Array): void {
    this.#receiver.feed(chunk);
  }

  /** Bytes fed but not yet consumed. */
  get buffered(): number {
    return this.#receiver.buffered;
  }

  /**
   * Returns the next piece of at most `max` bytes (max >= 1), or null when
   * the fed bytes are used up (or the peer has closed: later bytes are
   * ignored). Throws {@linkcode WebSocketError} when the peer breaks the
   * protocol; the close frame to send is then waiting in
   * {@linkcode Protocol.takeOutput}.
   */
  read(max: number): Piece | null {
    return this.#receiver.read(max);
  }

  #onPing(payload: Uint8Array): void {
    if (this.#autoPong && !this.closeSent) {
      // RFC 6455 §5.5.3: answering only the latest ping is allowed, which
      // keeps a ping flood from queueing pongs without bound.
      this.#pendingPong = this.#sender.encodeControl(Opcode.PONG, payload);
    }
  }

  #onPeerClose(peer: { code: number; reason: string }): void {
    this.#peerClose = peer;
    if (!this.closeSent) {
      // Echo the peer's code (RFC 6455 §5.5.1); an empty close gets an empty one.
      const echo = peer.code === CloseCode.NO_STATUS
        ? EMPTY
        : encodeClosePayload(peer.code);
      this.#queueClose(echo);
    }
    this.#state = "closed";
  }

  /**
   * Fails the connection, for a violation the receiver found or one found
   * outside it (e.g. a message over the size limit): queues a close frame
   * with `closeCode`, stops receiving, and returns the error to throw.
   */
  fail(
    code: WebSocketErrorCode,
    closeCode: number,
    message: string,
  ): WebSocketError {
    if (!this.closeSent) this.#queueClose(encodeClosePayload(closeCode));
    this.#state = "closed";
    this.#receiver.stop();
    return new WebSocketError(code, message, { closeCode });
  }

  // ------------------------------------------------------------------- send

  /** True while a partial frame opened with WS.OFFSET still owes bytes. */
  get inPartialFrame(): boolean {
    return this.#sender.inPartialFrame;
  }

  /** Payload bytes the partial frame in progress still owes (0 when none). */
  get partialFrameLeft(): number {
    return this.#sender.partialFrameLeft;
  }

  /** See {@linkcode Sender.continueUnmasked}. */
  continueUnmasked(data: Uint8Array): Uint8Array {
    return this.#sender.continueUnmasked(data);
  }

  /** See {@linkcode Sender.encode}. */
  encode(
    data: Uint8Array,
    flags: number,
    fragsize = 0,
    out?: Uint8Array,
    rsv = 0,
  ): Uint8Array {
    return this.#sender.encode(data, flags, fragsize, out, rsv);
  }

  /** True while an extension-encoded message is being sent in fragments. */
  get compressingMessage(): boolean {
    return this.#sender.compressingMessage;
  }

  /** See {@linkcode Sender.compress}. */
  compress(
    data: Uint8Array,
    flags: number,
  ): { payload: Uint8Array; rsv: number } {
    return this.#sender.compress(data, flags);
  }

  #queueClose(payload: Uint8Array): void {
    this.#pendingControl.push(this.#sender.encodeClose(payload));
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
    if (this.#sender.inPartialFrame) return null;
    const pong = this.#pendingPong;
    const rest = this.#pendingControl;
    if (pong === null && rest.length === 0) return null;
    this.#pendingPong = null;
    this.#pendingControl = [];
    const parts = pong ? [pong, ...rest] : rest;
    return parts.length === 1 ? parts[0] : concat(parts);
  }
}
