/**
 * A sans-I/O HTTP/2 client session (RFC 9113): bytes from the server go in
 * through {@linkcode Http2ClientSession.receive}, which returns events;
 * bytes for the server come out of {@linkcode Http2ClientSession.takeOutput}.
 * It owns stream states, both directions of flow control, SETTINGS, PING and
 * GOAWAY, and bounds everything the server controls.
 *
 * Flow control: the stream window is refilled only as the consumer reports
 * bytes consumed ({@linkcode Http2ClientSession.consumed}), so a slow reader
 * stops the server on its own stream; the connection window is refilled as
 * DATA arrives, so it never stops the other streams. Buffered received data
 * is therefore at most `streamWindow` per stream.
 *
 * @module
 */

import { concat } from "../bytes.ts";
import { WebSocketError } from "../errors.ts";
import {
  connectionError,
  H2Code,
  h2CodeName,
  Http2Error,
  lostStream,
  streamError,
} from "./errors.ts";
import type { Http2Event } from "./events.ts";
import {
  CLIENT_PREFACE,
  DEFAULT_WINDOW,
  encodeFrame,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeWindowUpdate,
  Flag,
  FrameReader,
  FrameType,
  MAX_WINDOW,
  parseData,
  parseGoaway,
  parsePing,
  parsePriority,
  parseRstStream,
  parseSettings,
  parseWindowUpdate,
  type RawFrame,
} from "./frames.ts";
import { type HeaderBlock, HeaderBlockAssembler } from "./header_block.ts";
import { HpackDecoder, HpackEncoder } from "./hpack.ts";
import type { HeaderField } from "./hpack_table.ts";
import { ReceiveWindows } from "./receive_windows.ts";
import { SendScheduler } from "./send_scheduler.ts";
import {
  clientSettings,
  type Http2Limits,
  type Http2SessionOptions,
  type Http2Settings,
  sessionLimits,
  SettingsExchange,
} from "./settings.ts";
import type { H2Stream, StreamState } from "./stream.ts";
import {
  acceptData,
  acceptResponseBlock,
  shiftSendWindows,
  StreamTable,
} from "./streams.ts";

export type { Http2Event } from "./events.ts";
export type { HeaderField } from "./hpack_table.ts";
export type { Http2SessionOptions, Http2Settings } from "./settings.ts";
export type { StreamState } from "./stream.ts";

/**
 * The client side of one HTTP/2 connection, without I/O.
 *
 * @example Open an RFC 8441 stream once the server enabled it
 * ```ts
 * import assert from "node:assert/strict";
 * import { Http2ClientSession } from "./session.ts";
 * const session = new Http2ClientSession();
 * const preface = session.takeOutput(); // write this to the socket
 * // server SETTINGS with ENABLE_CONNECT_PROTOCOL = 1:
 * session.receive(new Uint8Array([0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 1]));
 * const id = session.openStream([
 *   [":method", "CONNECT"], [":protocol", "websocket"], [":scheme", "https"],
 *   [":path", "/chat"], [":authority", "example.com"], ["sec-websocket-version", "13"],
 * ]);
 * assert.ok(preface!.length > 24); // the client preface, then our SETTINGS
 * assert.equal(id, 1);
 * assert.equal(session.streamState(id), "open");
 * ```
 */
export class Http2ClientSession {
  /** Our limits and advertised settings. */
  readonly limits: Http2Limits;
  /** The server's settings as last received. */
  readonly peer: Http2Settings;
  #reader: FrameReader;
  #decoder: HpackDecoder;
  #encoder = new HpackEncoder();
  #blocks: HeaderBlockAssembler;
  #recv: ReceiveWindows;
  #send: SendScheduler;
  #streams = new StreamTable();
  #out: Uint8Array[] = [];
  #events: Http2Event[] = [];
  #queuedAcks = 0;
  #settings: SettingsExchange;
  #goaway: { lastStreamId: number; code: number } | null = null;
  #closed = false;

  /** Creates a session and queues the preface, our SETTINGS and the connection window. */
  constructor(options: Http2SessionOptions = {}) {
    const limits = this.limits = sessionLimits(options);
    this.#settings = new SettingsExchange(limits.maxSettingsEntries);
    this.peer = this.#settings.peer;
    const write = (frame: Uint8Array) => this.#out.push(frame);
    this.#reader = new FrameReader(limits.maxFrameSize);
    this.#decoder = new HpackDecoder({
      maxTableSize: Math.max(4096, limits.headerTableSize),
      maxHeaderListSize: limits.maxHeaderListSize,
    });
    this.#blocks = new HeaderBlockAssembler(
      limits.maxHeaderBlockSize,
      limits.maxContinuationFrames,
    );
    this.#recv = new ReceiveWindows(limits, write);
    this.#send = new SendScheduler(this.peer.maxFrameSize, {
      write,
      drained: (s) => this.#events.push({ type: "drained", streamId: s.id }),
      ended: (s) => this.#removeIfClosed(s),
    });
    write(CLIENT_PREFACE);
    write(encodeSettings(clientSettings(limits)));
    if (limits.connectionWindow > DEFAULT_WINDOW) {
      write(encodeWindowUpdate(0, limits.connectionWindow - DEFAULT_WINDOW));
    }
  }

  /** The session ended (connection error, GOAWAY sent, or transport closed). */
  get closed(): boolean {
    return this.#closed;
  }

  /** The server's SETTINGS arrived. */
  get ready(): boolean {
    return this.#settings.received;
  }

  /** How many more streams may be opened now (SETTINGS_MAX_CONCURRENT_STREAMS). */
  get availableStreams(): number {
    if (this.#closed || this.#goaway) return 0;
    return Math.max(
      0,
      this.peer.maxConcurrentStreams - this.#streams.active.size,
    );
  }

  /** Bytes to write to the server, in order; empty when there are none. */
  takeOutput(): Uint8Array {
    const parts = this.#out;
    this.#out = [];
    this.#queuedAcks = 0;
    return parts.length === 1 ? parts[0] : concat(parts);
  }

  /** There are bytes to write. */
  get hasOutput(): boolean {
    return this.#out.length > 0;
  }

  /**
   * Consumes bytes from the server and returns what happened. A connection
   * error queues GOAWAY and ends with a `closed` event; a stream error queues
   * RST_STREAM and reports `reset`. Never throws for anything the peer sends.
   */
  receive(bytes: Uint8Array): Http2Event[] {
    if (!this.#closed) {
      this.#reader.push(bytes);
      try {
        for (let f; !this.#closed && (f = this.#reader.next()) !== null;) {
          this.#guard(f);
        }
      } catch (e) {
        if (!(e instanceof Http2Error)) throw e;
        this.#fail(e);
      }
    }
    return this.#takeEvents();
  }

  /** The transport ended: every stream still active fails with CONNECTION_LOST. */
  transportClosed(): Http2Event[] {
    if (!this.#closed) {
      const g = this.#goaway;
      const why = g
        ? `connection closed after GOAWAY ${h2CodeName(g.code)}`
        : "connection closed by the server";
      const code = g?.code ?? H2Code.NO_ERROR;
      this.#end(
        this.#streams.active.size > 0
          ? new Http2Error("CONNECTION_LOST", why, code, 0)
          : null,
      );
    }
    return this.#takeEvents();
  }

  /** Sends GOAWAY and ends the session; active streams are reported reset. */
  close(code: number = H2Code.NO_ERROR, message = ""): Http2Event[] {
    if (!this.#closed) {
      this.#out.push(encodeGoaway(0, code, new TextEncoder().encode(message)));
      const why = `HTTP/2 session closed ${message}`.trim();
      this.#end(
        this.#streams.active.size > 0
          ? new Http2Error("CLOSED", why, code, 0)
          : null,
      );
    }
    return this.#takeEvents();
  }

  /**
   * Opens a stream with a request header list (HEADERS + CONTINUATION).
   * An extended CONNECT (`:protocol`) needs the server's
   * SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3): before its SETTINGS this
   * throws INVALID_ARGUMENT, when it did not enable it BAD_HANDSHAKE.
   */
  openStream(fields: HeaderField[], endStream = false): number {
    if (this.#closed) {
      throw new WebSocketError("CLOSED", "HTTP/2 session is closed");
    }
    if (this.#goaway) {
      throw new WebSocketError(
        "CONNECTION_LOST",
        "the server sent GOAWAY: open a new connection",
      );
    }
    this.#streams.checkRequest(fields, this.peer, this.#settings.received);
    const s = this.#streams.open(
      this.peer.initialWindowSize,
      this.limits.streamWindow,
      endStream,
    );
    const block = this.#encoder.encode(fields);
    this.#out.push(
      encodeHeaders(s.id, block, endStream, this.peer.maxFrameSize),
    );
    return s.id;
  }

  /**
   * Queues DATA on a stream and frames as much as the windows allow. The
   * session keeps `data` (without copying) until the output carrying it has
   * been taken ({@linkcode Http2ClientSession.takeOutput}, which makes the
   * one copy): do not change it before. Returns the bytes still waiting for
   * window on this stream; a `drained` event follows when they are all
   * framed (take the output then, before reusing `data`).
   */
  send(streamId: number, data: Uint8Array, endStream = false): number {
    const s = this.#streams.active.get(streamId);
    if (!s || !s.canSend || s.endQueued) {
      throw new WebSocketError(
        "CLOSED",
        `HTTP/2 stream ${streamId} cannot send`,
      );
    }
    return this.#send.queue(s, data, endStream);
  }

  /** Ends our side of a stream (END_STREAM after anything queued). */
  end(streamId: number): void {
    this.send(streamId, new Uint8Array(0), true);
  }

  /** Resets a stream (RST_STREAM); nothing more is sent or reported for it. */
  reset(streamId: number, code: number = H2Code.CANCEL): void {
    const s = this.#streams.active.get(streamId);
    if (!s || this.#closed) return;
    this.#out.push(encodeRstStream(streamId, code));
    this.#remove(s);
  }

  /**
   * Reports `n` bytes of a stream's DATA as used by the consumer: the
   * stream window is returned to the server (WINDOW_UPDATE at half the window).
   */
  consumed(streamId: number, n: number): void {
    const s = this.#streams.active.get(streamId);
    if (!s) return;
    if (!(n >= 0 && n <= s.unconsumed)) {
      throw new WebSocketError(
        "INVALID_ARGUMENT",
        `consumed(${n}) on stream ${streamId} with ${s.unconsumed} bytes delivered`,
      );
    }
    s.unconsumed -= n;
    this.#recv.credit(s, n);
  }

  /** Sends a PING with 8 bytes of `data`; a `pingAck` event answers it. */
  ping(data: Uint8Array = new Uint8Array(8)): void {
    if (data.length !== 8) {
      throw new WebSocketError("INVALID_ARGUMENT", "PING data must be 8 bytes");
    }
    if (!this.#closed) this.#out.push(encodePing(data));
  }

  /** The state of a stream (RFC 9113 §5.1). */
  streamState(streamId: number): StreamState {
    return this.#streams.state(streamId);
  }

  /** Bytes queued on a stream and waiting for window. */
  pendingBytes(streamId: number): number {
    return this.#streams.active.get(streamId)?.pending ?? 0;
  }

  /** How many more DATA bytes the server currently accepts on a stream (both windows). */
  sendWindow(streamId: number): number {
    const s = this.#streams.active.get(streamId);
    const conn = this.#send.connectionWindow;
    return s ? Math.max(0, Math.min(s.sendWindow, conn)) : 0;
  }

  // ------------------------------------------------------------ receiving

  /** Handles a frame; a stream error resets that stream, a connection error propagates. */
  #guard(f: RawFrame): void {
    try {
      this.#frame(f);
    } catch (e) {
      if (!(e instanceof Http2Error) || e.streamId === 0) throw e;
      const s = this.#streams.active.get(e.streamId);
      if (!s) return; // a fault on a stream already gone: nothing to reset
      this.#out.push(encodeRstStream(s.id, e.http2Code));
      this.#remove(s);
      this.#events.push({ type: "reset", streamId: s.id, error: e });
    }
  }

  #frame(f: RawFrame): void {
    if (
      !this.#settings.received &&
      (f.type !== FrameType.SETTINGS || f.flags & Flag.ACK)
    ) {
      throw connectionError(
        H2Code.PROTOCOL_ERROR,
        "the server's first frame is not SETTINGS",
      );
    }
    if (this.#blocks.open && f.type !== FrameType.CONTINUATION) {
      throw connectionError(
        H2Code.PROTOCOL_ERROR,
        "frame inside a header block",
      );
    }
    switch (f.type) {
      case FrameType.DATA:
        return this.#data(f);
      case FrameType.HEADERS:
        return this.#headerBlock(this.#blocks.headers(f));
      case FrameType.CONTINUATION:
        return this.#headerBlock(this.#blocks.continuation(f));
      case FrameType.PRIORITY:
        return parsePriority(f);
      case FrameType.RST_STREAM:
        return this.#rstStream(f);
      case FrameType.SETTINGS:
        return this.#settingsFrame(f);
      case FrameType.PUSH_PROMISE:
        throw connectionError(
          H2Code.PROTOCOL_ERROR,
          "PUSH_PROMISE although we disabled push",
        );
      case FrameType.PING:
        return this.#ping(f);
      case FrameType.GOAWAY:
        return this.#goawayFrame(f);
      case FrameType.WINDOW_UPDATE:
        return this.#windowUpdate(f);
    }
    // Unknown frame types are ignored (RFC 9113 §4.1).
  }

  #data(f: RawFrame): void {
    const d = parseData(f);
    this.#recv.connectionData(d.flowLength);
    this.#recv.countEmpty(d.data.length === 0 && !d.endStream);
    const s = this.#streams.lookup(f.streamId, "DATA");
    if (!s) return;
    acceptData(s);
    this.#recv.streamData(s, d.flowLength, d.data.length);
    if (d.endStream) s.closeRemote();
    const data = d.data.slice();
    this.#events.push({
      type: "data",
      streamId: s.id,
      data,
      endStream: d.endStream,
    });
    this.#removeIfClosed(s);
  }

  #headerBlock(block: HeaderBlock | null): void {
    if (block === null) return;
    // Decode first, whatever the stream: the HPACK table must stay in step.
    const decoded = this.#decoder.decode(block.bytes);
    const s = this.#streams.lookup(block.streamId, "HEADERS");
    if (!s) return;
    const { endStream } = block;
    const fields = acceptResponseBlock(s, decoded, endStream, this.limits);
    this.#events.push({ type: "headers", streamId: s.id, fields, endStream });
    this.#removeIfClosed(s);
  }

  #rstStream(f: RawFrame): void {
    const code = parseRstStream(f);
    const s = this.#streams.lookup(f.streamId, "RST_STREAM");
    if (!s) return;
    const answered = s.responded && !s.canReceive;
    this.#remove(s);
    if (code === H2Code.NO_ERROR && answered) {
      // RFC 9113 §8.1: after a complete response this only asks us to stop
      // sending; the response stands.
      this.#events.push({ type: "streamClosed", streamId: s.id });
      return;
    }
    const error = lostStream(s.id, code, "reset by the server:");
    this.#events.push({ type: "reset", streamId: s.id, error });
  }

  #settingsFrame(f: RawFrame): void {
    const result = this.#settings.receive(parseSettings(f));
    if (result.ack) {
      this.#recv.settingsPending = !result.allAcked;
      this.#decoder.maxTableSize = this.limits.headerTableSize;
      this.#events.push({ type: "settingsAck" });
      return;
    }
    shiftSendWindows(this.#streams.active.values(), result.windowDelta);
    this.#encoder.setMaxTableSize(this.peer.headerTableSize);
    this.#queueAck(encodeFrame(FrameType.SETTINGS, Flag.ACK, 0));
    this.#events.push({ type: "settings", settings: { ...this.peer } });
    this.#send.maxFrameSize = this.peer.maxFrameSize;
    this.#send.flush();
  }

  #ping(f: RawFrame): void {
    const p = parsePing(f);
    if (p.ack) this.#events.push({ type: "pingAck", data: p.data.slice() });
    else this.#queueAck(encodePing(p.data, true));
  }

  #goawayFrame(f: RawFrame): void {
    const g = parseGoaway(f);
    // A later GOAWAY may only lower the last stream id; never let it raise it.
    const last = Math.min(
      g.lastStreamId,
      this.#goaway?.lastStreamId ?? 0x7fffffff,
    );
    this.#goaway = { lastStreamId: last, code: g.code };
    this.#events.push({
      type: "goaway",
      lastStreamId: last,
      code: g.code,
      debug: g.debug.slice(),
    });
    for (const s of [...this.#streams.active.values()]) {
      if (s.id <= last) continue;
      this.#remove(s);
      const error = lostStream(s.id, g.code, "refused by GOAWAY");
      this.#events.push({ type: "reset", streamId: s.id, error });
    }
  }

  #windowUpdate(f: RawFrame): void {
    const increment = parseWindowUpdate(f);
    if (f.streamId === 0) {
      this.#send.connectionWindow += increment;
      if (this.#send.connectionWindow > MAX_WINDOW) {
        throw connectionError(
          H2Code.FLOW_CONTROL_ERROR,
          "connection window above 2^31-1",
        );
      }
    } else {
      const s = this.#streams.lookup(f.streamId, "WINDOW_UPDATE");
      if (!s) return;
      s.sendWindow += increment;
      if (s.sendWindow > MAX_WINDOW) {
        throw streamError(
          s.id,
          H2Code.FLOW_CONTROL_ERROR,
          "stream window above 2^31-1",
        );
      }
    }
    this.#send.flush();
  }

  // -------------------------------------------------------------- helpers

  #queueAck(frame: Uint8Array): void {
    if (++this.#queuedAcks > this.limits.maxQueuedAcks) {
      throw connectionError(
        H2Code.ENHANCE_YOUR_CALM,
        "flood of SETTINGS or PING frames",
      );
    }
    this.#out.push(frame);
  }

  #removeIfClosed(s: H2Stream): void {
    if (s.state === "closed") this.#remove(s);
  }

  #remove(s: H2Stream): void {
    this.#streams.remove(s);
    this.#send.forget(s);
  }

  #fail(error: Http2Error): void {
    const debug = new TextEncoder().encode(error.message.slice(0, 200));
    this.#out.push(encodeGoaway(0, error.http2Code, debug));
    this.#end(error);
  }

  #end(error: Http2Error | null): void {
    this.#closed = true;
    for (const s of [...this.#streams.active.values()]) {
      this.#remove(s);
      this.#events.push({ type: "reset", streamId: s.id, error: error! });
    }
    this.#blocks.clear();
    this.#events.push({ type: "closed", error });
  }

  #takeEvents(): Http2Event[] {
    const events = this.#events;
    this.#events = [];
    return events;
  }
}
