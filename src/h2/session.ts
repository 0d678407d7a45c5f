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
  streamError,
} from "./errors.ts";
import { checkResponseFields, fieldSyntaxError } from "./fields.ts";
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
  parseContinuation,
  parseData,
  parseGoaway,
  parseHeaders,
  parsePing,
  parsePriority,
  parseRstStream,
  parseSettings,
  parseWindowUpdate,
  type RawFrame,
} from "./frames.ts";
import { HpackDecoder, HpackEncoder } from "./hpack.ts";
import { entrySize, type HeaderField } from "./hpack_table.ts";
import {
  applyPeerSettings,
  clientSettings,
  defaultPeerSettings,
  type Http2Limits,
  type Http2SessionOptions,
  type PeerSettings,
  sessionLimits,
} from "./settings.ts";
import { H2Stream, type StreamState } from "./stream.ts";

export type { HeaderField } from "./hpack_table.ts";
export type { Http2SessionOptions, PeerSettings } from "./settings.ts";
export type { StreamState } from "./stream.ts";

/** What the session reports; see each member. */
export type Http2Event =
  /** The server's SETTINGS arrived (the first one makes the session usable). */
  | { type: "settings"; settings: PeerSettings }
  /** The server acknowledged our SETTINGS. */
  | { type: "settingsAck" }
  /** A header block on a stream: 1xx, the response, or trailers (endStream). */
  | {
    type: "headers";
    streamId: number;
    fields: HeaderField[];
    endStream: boolean;
  }
  /** DATA payload for the consumer; report it with `consumed` once used. */
  | { type: "data"; streamId: number; data: Uint8Array; endStream: boolean }
  /** Everything queued by `send` on the stream has been framed. */
  | { type: "drained"; streamId: number }
  /** The stream ended abnormally: reset by the server, by us for its fault, GOAWAY, or the connection's end. */
  | { type: "reset"; streamId: number; error: Http2Error }
  /** The server answered our PING. */
  | { type: "pingAck"; data: Uint8Array }
  /** The server closed a stream it had fully answered (RST_STREAM NO_ERROR, RFC 9113 §8.1): our queued DATA was dropped, nothing failed. */
  | { type: "streamClosed"; streamId: number }
  /** The server sent GOAWAY: no new streams; streams above `lastStreamId` were reset. */
  | { type: "goaway"; lastStreamId: number; code: number; debug: Uint8Array }
  /** The session is over; `error` is null after a clean end. */
  | { type: "closed"; error: Http2Error | null };

interface HeaderBlock {
  streamId: number;
  endStream: boolean;
  parts: Uint8Array[];
  size: number;
  frames: number;
}

const MAX_STREAM_ID = 0x7fffffff;

/**
 * The client side of one HTTP/2 connection, without I/O.
 *
 * @example Open an RFC 8441 stream once the server enabled it
 * ```ts
 * import { Http2ClientSession } from "./session.ts";
 * const session = new Http2ClientSession();
 * const preface = session.takeOutput(); // write this to the socket
 * // server SETTINGS with ENABLE_CONNECT_PROTOCOL = 1:
 * session.receive(new Uint8Array([0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 1]));
 * const id = session.openStream([
 *   [":method", "CONNECT"], [":protocol", "websocket"], [":scheme", "https"],
 *   [":path", "/chat"], [":authority", "example.com"], ["sec-websocket-version", "13"],
 * ]);
 * console.log(preface.length > 24, id, session.streamState(id)); // true 1 "open"
 * ```
 */
export class Http2ClientSession {
  /** Our limits and advertised settings. */
  readonly limits: Http2Limits;
  /** The server's settings as last received. */
  readonly peer: PeerSettings = defaultPeerSettings();
  #reader: FrameReader;
  #decoder: HpackDecoder;
  #encoder = new HpackEncoder();
  #streams = new Map<number, H2Stream>();
  /** Streams with bytes or END_STREAM waiting for window, in round-robin order. */
  #sendOrder = new Set<number>();
  #nextStreamId = 1;
  #out: Uint8Array[] = [];
  #events: Http2Event[] = [];
  #queuedAcks = 0;
  #settingsReceived = false;
  #settingsUnacked = 1;
  #connSendWindow = DEFAULT_WINDOW;
  #connRecvWindow: number;
  #connToCredit = 0;
  #block: HeaderBlock | null = null;
  #emptyDataRun = 0;
  #goaway: { lastStreamId: number; code: number } | null = null;
  #closed = false;

  /** Creates a session and queues the preface, our SETTINGS and the connection window. */
  constructor(options: Http2SessionOptions = {}) {
    this.limits = sessionLimits(options);
    this.#reader = new FrameReader(this.limits.maxFrameSize);
    this.#decoder = new HpackDecoder({
      maxTableSize: Math.max(4096, this.limits.headerTableSize),
      maxHeaderListSize: this.limits.maxHeaderListSize,
    });
    this.#connRecvWindow = this.limits.connectionWindow;
    this.#out.push(CLIENT_PREFACE, encodeSettings(clientSettings(this.limits)));
    if (this.limits.connectionWindow > DEFAULT_WINDOW) {
      this.#out.push(
        encodeWindowUpdate(0, this.limits.connectionWindow - DEFAULT_WINDOW),
      );
    }
  }

  /** The session ended (connection error, GOAWAY sent, or transport closed). */
  get closed(): boolean {
    return this.#closed;
  }

  /** The server's SETTINGS arrived. */
  get ready(): boolean {
    return this.#settingsReceived;
  }

  /** How many more streams may be opened now (SETTINGS_MAX_CONCURRENT_STREAMS). */
  get availableStreams(): number {
    if (this.#closed || this.#goaway) return 0;
    return Math.max(0, this.peer.maxConcurrentStreams - this.#streams.size);
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
          this.#guard(() => this.#frame(f!));
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
      const error = new Http2Error(
        "CONNECTION_LOST",
        why,
        g?.code ?? H2Code.NO_ERROR,
        0,
      );
      this.#end(this.#streams.size > 0 || this.#block ? error : null);
    }
    return this.#takeEvents();
  }

  /** Sends GOAWAY and ends the session; active streams are reported reset. */
  close(code: number = H2Code.NO_ERROR, message = ""): Http2Event[] {
    if (!this.#closed) {
      this.#out.push(encodeGoaway(0, code, new TextEncoder().encode(message)));
      const error = new Http2Error(
        "CLOSED",
        `HTTP/2 session closed ${message}`.trim(),
        code,
        0,
      );
      this.#end(this.#streams.size > 0 ? error : null);
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
    let listSize = 0;
    for (const [name, value] of fields) {
      const why = fieldSyntaxError(name, value);
      if (why) throw new WebSocketError("INVALID_ARGUMENT", why);
      listSize += entrySize(name, value);
    }
    if (fields.some(([name]) => name === ":protocol")) {
      if (!this.#settingsReceived) {
        throw new WebSocketError(
          "INVALID_ARGUMENT",
          "extended CONNECT before the server's SETTINGS arrived",
        );
      }
      if (!this.peer.enableConnectProtocol) {
        throw new WebSocketError(
          "BAD_HANDSHAKE",
          "the server did not enable SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441)",
        );
      }
    }
    if (listSize > this.peer.maxHeaderListSize) {
      throw new WebSocketError(
        "INVALID_ARGUMENT",
        `header list of ${listSize} bytes exceeds the server's SETTINGS_MAX_HEADER_LIST_SIZE`,
      );
    }
    if (this.availableStreams === 0 || this.#nextStreamId > MAX_STREAM_ID) {
      throw new WebSocketError(
        "INVALID_ARGUMENT",
        `no stream available (SETTINGS_MAX_CONCURRENT_STREAMS ${this.peer.maxConcurrentStreams})`,
      );
    }
    const id = this.#nextStreamId;
    this.#nextStreamId += 2;
    const block = this.#encoder.encode(fields);
    this.#out.push(encodeHeaders(id, block, endStream, this.peer.maxFrameSize));
    const s = new H2Stream(
      id,
      this.peer.initialWindowSize,
      this.limits.streamWindow,
    );
    s.state = endStream ? "half-closed-local" : "open";
    this.#streams.set(id, s);
    return id;
  }

  /**
   * Queues DATA on a stream and frames as much as the windows allow. The
   * session keeps `data` (without copying) until it is framed: do not change
   * it before. Returns the bytes still waiting for window on this stream; a
   * `drained` event follows when they are all framed.
   */
  send(streamId: number, data: Uint8Array, endStream = false): number {
    const s = this.#streams.get(streamId);
    if (!s || !s.canSend || s.endQueued) {
      throw new WebSocketError(
        "CLOSED",
        `HTTP/2 stream ${streamId} cannot send`,
      );
    }
    if (data.length > 0) {
      s.queue.push(data);
      s.pending += data.length;
    }
    s.endQueued = endStream;
    this.#sendOrder.add(streamId);
    this.#flush();
    if (s.pending > 0 || s.endQueued) s.blocked = true;
    return s.pending;
  }

  /** Ends our side of a stream (END_STREAM after anything queued). */
  end(streamId: number): void {
    this.send(streamId, new Uint8Array(0), true);
  }

  /** Resets a stream (RST_STREAM); nothing more is sent or reported for it. */
  reset(streamId: number, code: number = H2Code.CANCEL): void {
    const s = this.#streams.get(streamId);
    if (!s || this.#closed) return;
    this.#out.push(encodeRstStream(streamId, code));
    this.#remove(s);
  }

  /**
   * Reports `n` bytes of a stream's DATA as used by the consumer: the
   * stream window is returned to the server (WINDOW_UPDATE at half the window).
   */
  consumed(streamId: number, n: number): void {
    const s = this.#streams.get(streamId);
    if (!s) return;
    if (!(n >= 0 && n <= s.unconsumed)) {
      throw new WebSocketError(
        "INVALID_ARGUMENT",
        `consumed(${n}) on stream ${streamId} with ${s.unconsumed} bytes delivered`,
      );
    }
    s.unconsumed -= n;
    this.#creditStream(s, n);
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
    const s = this.#streams.get(streamId);
    if (s) return s.state;
    return streamId >= this.#nextStreamId ? "idle" : "closed";
  }

  /** Bytes queued on a stream and waiting for window. */
  pendingBytes(streamId: number): number {
    return this.#streams.get(streamId)?.pending ?? 0;
  }

  /** How many more DATA bytes the server currently accepts on a stream (both windows). */
  sendWindow(streamId: number): number {
    const s = this.#streams.get(streamId);
    return s ? Math.max(0, Math.min(s.sendWindow, this.#connSendWindow)) : 0;
  }

  // ------------------------------------------------------------ receiving

  /** Runs a frame handler; a stream error resets that stream, a connection error propagates. */
  #guard(handle: () => void): void {
    try {
      handle();
    } catch (e) {
      if (!(e instanceof Http2Error) || e.streamId === 0) throw e;
      const s = this.#streams.get(e.streamId);
      if (!s) return; // a fault on a stream already gone: nothing to reset
      this.#out.push(encodeRstStream(s.id, e.http2Code));
      this.#remove(s);
      this.#events.push({ type: "reset", streamId: s.id, error: e });
    }
  }

  #frame(f: RawFrame): void {
    if (
      !this.#settingsReceived &&
      (f.type !== FrameType.SETTINGS || f.flags & Flag.ACK)
    ) {
      throw connectionError(
        H2Code.PROTOCOL_ERROR,
        "the server's first frame is not SETTINGS",
      );
    }
    if (this.#block && f.type !== FrameType.CONTINUATION) {
      throw connectionError(
        H2Code.PROTOCOL_ERROR,
        "frame inside a header block",
      );
    }
    switch (f.type) {
      case FrameType.DATA:
        return this.#data(f);
      case FrameType.HEADERS:
        return this.#headers(f);
      case FrameType.CONTINUATION:
        return this.#continuation(f);
      case FrameType.PRIORITY:
        return parsePriority(f);
      case FrameType.RST_STREAM:
        return this.#rstStream(f);
      case FrameType.SETTINGS:
        return this.#settings(f);
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

  /** The active stream `id`, null when it is closed; a frame on an idle stream is a connection error. */
  #stream(id: number, what: string): H2Stream | null {
    const s = this.#streams.get(id);
    if (s) return s;
    if (id % 2 === 0 || id >= this.#nextStreamId) {
      throw connectionError(
        H2Code.PROTOCOL_ERROR,
        `${what} on idle stream ${id}`,
      );
    }
    return null;
  }

  #data(f: RawFrame): void {
    const d = parseData(f);
    if (d.flowLength > this.#connRecvWindow) {
      throw connectionError(
        H2Code.FLOW_CONTROL_ERROR,
        "DATA beyond the connection window",
      );
    }
    this.#connRecvWindow -= d.flowLength;
    this.#creditConnection(d.flowLength);
    if (d.data.length === 0 && !d.endStream) {
      if (++this.#emptyDataRun > this.limits.maxEmptyDataFrames) {
        throw connectionError(
          H2Code.ENHANCE_YOUR_CALM,
          "flood of empty DATA frames",
        );
      }
    } else this.#emptyDataRun = 0;
    const s = this.#stream(f.streamId, "DATA");
    if (!s) return;
    if (!s.canReceive) {
      throw streamError(s.id, H2Code.STREAM_CLOSED, "DATA after END_STREAM");
    }
    if (!s.responded) {
      throw streamError(
        s.id,
        H2Code.PROTOCOL_ERROR,
        "DATA before the response",
      );
    }
    // Until our SETTINGS are acknowledged the server may still count from 65535.
    const slack = this.#settingsUnacked > 0
      ? Math.max(0, DEFAULT_WINDOW - this.limits.streamWindow)
      : 0;
    if (d.flowLength > s.recvWindow + slack) {
      throw streamError(
        s.id,
        H2Code.FLOW_CONTROL_ERROR,
        "DATA beyond the stream window",
      );
    }
    s.recvWindow -= d.flowLength;
    s.unconsumed += d.data.length;
    if (d.endStream) s.closeRemote();
    this.#creditStream(s, d.flowLength - d.data.length); // padding is never consumed
    this.#events.push({
      type: "data",
      streamId: s.id,
      data: d.data.slice(),
      endStream: d.endStream,
    });
    this.#removeIfClosed(s);
  }

  #headers(f: RawFrame): void {
    const h = parseHeaders(f);
    const block = {
      streamId: f.streamId,
      endStream: h.endStream,
      parts: [h.fragment],
      size: 0,
      frames: 0,
    };
    this.#grow(block, h.fragment.length);
    if (h.endHeaders) return this.#headerBlock(block);
    block.parts[0] = h.fragment.slice(); // the frame's bytes do not outlive this call
    this.#block = block;
  }

  #continuation(f: RawFrame): void {
    const c = parseContinuation(f);
    const block = this.#block;
    if (!block || block.streamId !== f.streamId) {
      throw connectionError(
        H2Code.PROTOCOL_ERROR,
        `unexpected CONTINUATION on stream ${f.streamId}`,
      );
    }
    block.parts.push(c.fragment.slice());
    this.#grow(block, c.fragment.length);
    if (c.endHeaders) {
      this.#block = null;
      this.#headerBlock(block);
    }
  }

  #grow(block: HeaderBlock, n: number): void {
    block.size += n;
    if (block.size > this.limits.maxHeaderBlockSize) {
      throw connectionError(
        H2Code.ENHANCE_YOUR_CALM,
        `header block larger than ${this.limits.maxHeaderBlockSize} bytes`,
      );
    }
    if (++block.frames > this.limits.maxContinuationFrames + 1) {
      throw connectionError(
        H2Code.ENHANCE_YOUR_CALM,
        "flood of CONTINUATION frames",
      );
    }
  }

  #headerBlock(block: HeaderBlock): void {
    const bytes = block.parts.length === 1
      ? block.parts[0]
      : concat(block.parts, block.size);
    // Decode first, whatever the stream: the HPACK table must stay in step.
    const fields = this.#decoder.decode(bytes);
    const s = this.#stream(block.streamId, "HEADERS");
    if (!s) return;
    if (!s.canReceive) {
      throw streamError(s.id, H2Code.STREAM_CLOSED, "HEADERS after END_STREAM");
    }
    if (fields === null) {
      throw streamError(
        s.id,
        H2Code.ENHANCE_YOUR_CALM,
        `response header list larger than ${this.limits.maxHeaderListSize} bytes`,
        "MESSAGE_TOO_BIG",
      );
    }
    const status = checkResponseFields(s.id, fields, s.responded);
    if (s.responded) {
      if (!block.endStream) {
        throw streamError(
          s.id,
          H2Code.PROTOCOL_ERROR,
          "trailers without END_STREAM",
        );
      }
    } else if (status! < 200) {
      if (block.endStream) {
        throw streamError(
          s.id,
          H2Code.PROTOCOL_ERROR,
          "1xx response with END_STREAM",
        );
      }
      if (++s.informational > this.limits.maxInformational) {
        throw streamError(
          s.id,
          H2Code.ENHANCE_YOUR_CALM,
          "too many 1xx responses",
        );
      }
    } else s.responded = true;
    if (block.endStream) s.closeRemote();
    this.#events.push({
      type: "headers",
      streamId: s.id,
      fields,
      endStream: block.endStream,
    });
    this.#removeIfClosed(s);
  }

  #rstStream(f: RawFrame): void {
    const code = parseRstStream(f);
    const s = this.#stream(f.streamId, "RST_STREAM");
    if (!s) return;
    const answered = s.responded && !s.canReceive;
    this.#remove(s);
    if (code === H2Code.NO_ERROR && answered) {
      // RFC 9113 §8.1: after a complete response this only asks us to stop
      // sending; the response stands.
      this.#events.push({ type: "streamClosed", streamId: s.id });
      return;
    }
    const error = new Http2Error(
      "CONNECTION_LOST",
      `HTTP/2 stream ${s.id} reset by the server: ${h2CodeName(code)}`,
      code,
      s.id,
    );
    this.#events.push({ type: "reset", streamId: s.id, error });
  }

  #settings(f: RawFrame): void {
    const entries = parseSettings(f);
    if (entries === null) {
      if (this.#settingsUnacked === 0) {
        throw connectionError(
          H2Code.PROTOCOL_ERROR,
          "SETTINGS ACK for no SETTINGS of ours",
        );
      }
      this.#settingsUnacked--;
      this.#decoder.maxTableSize = this.limits.headerTableSize;
      this.#events.push({ type: "settingsAck" });
      return;
    }
    if (entries.length > this.limits.maxSettingsEntries) {
      throw connectionError(
        H2Code.ENHANCE_YOUR_CALM,
        `SETTINGS with ${entries.length} parameters`,
      );
    }
    const oldWindow = this.peer.initialWindowSize;
    applyPeerSettings(this.peer, entries);
    const delta = this.peer.initialWindowSize - oldWindow;
    for (const s of this.#streams.values()) {
      s.sendWindow += delta;
      if (s.sendWindow > MAX_WINDOW) {
        throw connectionError(
          H2Code.FLOW_CONTROL_ERROR,
          "INITIAL_WINDOW_SIZE overflows a stream window",
        );
      }
    }
    this.#encoder.setMaxTableSize(this.peer.headerTableSize);
    this.#settingsReceived = true;
    this.#queueAck(encodeFrame(FrameType.SETTINGS, Flag.ACK, 0));
    this.#events.push({ type: "settings", settings: { ...this.peer } });
    this.#flush();
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
      this.#goaway?.lastStreamId ?? MAX_STREAM_ID,
    );
    this.#goaway = { lastStreamId: last, code: g.code };
    this.#events.push({
      type: "goaway",
      lastStreamId: last,
      code: g.code,
      debug: g.debug.slice(),
    });
    for (const s of [...this.#streams.values()]) {
      if (s.id <= last) continue;
      this.#remove(s);
      const error = new Http2Error(
        "CONNECTION_LOST",
        `HTTP/2 stream ${s.id} refused by GOAWAY ${h2CodeName(g.code)}`,
        g.code,
        s.id,
      );
      this.#events.push({ type: "reset", streamId: s.id, error });
    }
  }

  #windowUpdate(f: RawFrame): void {
    const increment = parseWindowUpdate(f);
    if (f.streamId === 0) {
      this.#connSendWindow += increment;
      if (this.#connSendWindow > MAX_WINDOW) {
        throw connectionError(
          H2Code.FLOW_CONTROL_ERROR,
          "connection window above 2^31-1",
        );
      }
    } else {
      const s = this.#stream(f.streamId, "WINDOW_UPDATE");
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
    this.#flush();
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

  #creditConnection(n: number): void {
    this.#connToCredit += n;
    if (this.#connToCredit >= this.limits.connectionWindow / 2) {
      this.#out.push(encodeWindowUpdate(0, this.#connToCredit));
      this.#connRecvWindow += this.#connToCredit;
      this.#connToCredit = 0;
    }
  }

  #creditStream(s: H2Stream, n: number): void {
    s.toCredit += n;
    if (
      s.canReceive && s.toCredit > 0 &&
      s.toCredit >= this.limits.streamWindow / 2
    ) {
      this.#out.push(encodeWindowUpdate(s.id, s.toCredit));
      s.recvWindow += s.toCredit;
      s.toCredit = 0;
    }
  }

  /** Frames queued DATA, one frame per stream per round, while windows allow. */
  #flush(): void {
    for (let progress = true; progress && !this.#closed;) {
      progress = false;
      for (const id of this.#sendOrder) {
        const s = this.#streams.get(id)!;
        const room = Math.min(
          s.sendWindow,
          this.#connSendWindow,
          this.peer.maxFrameSize,
        );
        if (s.pending > 0 && room > 0) {
          const piece = s.take(room);
          s.sendWindow -= piece.length;
          this.#connSendWindow -= piece.length;
          const last = s.pending === 0 && s.endQueued;
          this.#out.push(
            encodeFrame(FrameType.DATA, last ? Flag.END_STREAM : 0, id, piece),
          );
          if (last) s.endQueued = false;
          if (last) s.closeLocal();
          progress = true;
        } else if (s.pending === 0 && s.endQueued) {
          this.#out.push(encodeFrame(FrameType.DATA, Flag.END_STREAM, id));
          s.endQueued = false;
          s.closeLocal();
        }
        if (s.pending > 0 || s.endQueued) continue;
        this.#sendOrder.delete(id);
        if (s.blocked) {
          s.blocked = false;
          this.#events.push({ type: "drained", streamId: id });
        }
        this.#removeIfClosed(s);
      }
    }
  }

  #removeIfClosed(s: H2Stream): void {
    if (s.state === "closed") this.#remove(s);
  }

  #remove(s: H2Stream): void {
    s.state = "closed";
    s.clearQueue();
    this.#streams.delete(s.id);
    this.#sendOrder.delete(s.id);
  }

  #fail(error: Http2Error): void {
    const debug = new TextEncoder().encode(error.message.slice(0, 200));
    this.#out.push(encodeGoaway(0, error.http2Code, debug));
    this.#end(error);
  }

  #end(error: Http2Error | null): void {
    this.#closed = true;
    for (const s of [...this.#streams.values()]) {
      this.#remove(s);
      this.#events.push({ type: "reset", streamId: s.id, error: error! });
    }
    this.#block = null;
    this.#events.push({ type: "closed", error });
  }

  #takeEvents(): Http2Event[] {
    const events = this.#events;
    this.#events = [];
    return events;
  }
}
