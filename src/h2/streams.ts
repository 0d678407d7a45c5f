/**
 * The client's streams (RFC 9113 §5.1): allocation of odd identifiers, the
 * rules for what the server may send on a stream in each state, and the
 * checks on a request before it opens one.
 *
 * @module
 */

import { WebSocketError } from "../errors.ts";
import { connectionError, H2Code, streamError } from "./errors.ts";
import { checkResponseFields, fieldSyntaxError } from "./fields.ts";
import { entrySize, type HeaderField } from "./hpack_table.ts";
import type { Http2Settings } from "./settings.ts";
import { H2Stream, type StreamState } from "./stream.ts";

const MAX_STREAM_ID = 0x7fffffff;

/** The streams of one session, active ones by id. */
export class StreamTable {
  /** Active streams (not closed), by id. */
  readonly active: Map<number, H2Stream> = new Map();
  #nextId = 1;

  /** The identifier the next stream gets. */
  get nextId(): number {
    return this.#nextId;
  }

  /**
   * Checks a request header list against HTTP/2 and the server's settings
   * before a stream opens; throws a WebSocketError saying why not.
   */
  checkRequest(
    fields: HeaderField[],
    peer: Http2Settings,
    peerReady: boolean,
  ): void {
    let listSize = 0;
    for (const [name, value] of fields) {
      const why = fieldSyntaxError(name, value);
      if (why) throw new WebSocketError("INVALID_ARGUMENT", why);
      listSize += entrySize(name, value);
    }
    if (fields.some(([name]) => name === ":protocol")) {
      if (!peerReady) {
        throw new WebSocketError(
          "INVALID_ARGUMENT",
          "extended CONNECT before the server's SETTINGS arrived",
        );
      }
      if (!peer.enableConnectProtocol) {
        throw new WebSocketError(
          "BAD_HANDSHAKE",
          "the server did not enable SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441)",
        );
      }
    }
    if (listSize > peer.maxHeaderListSize) {
      throw new WebSocketError(
        "INVALID_ARGUMENT",
        `header list of ${listSize} bytes exceeds the server's SETTINGS_MAX_HEADER_LIST_SIZE`,
      );
    }
    if (
      this.active.size >= peer.maxConcurrentStreams ||
      this.#nextId > MAX_STREAM_ID
    ) {
      throw new WebSocketError(
        "INVALID_ARGUMENT",
        `no stream available (SETTINGS_MAX_CONCURRENT_STREAMS ${peer.maxConcurrentStreams})`,
      );
    }
  }

  /** Allocates the next stream, open (or half-closed local after END_STREAM). */
  open(sendWindow: number, recvWindow: number, endStream: boolean): H2Stream {
    const s = new H2Stream(this.#nextId, sendWindow, recvWindow);
    this.#nextId += 2;
    s.state = endStream ? "half-closed-local" : "open";
    this.active.set(s.id, s);
    return s;
  }

  /** The state of a stream by id. */
  state(id: number): StreamState {
    return this.active.get(id)?.state ??
      (id >= this.#nextId ? "idle" : "closed");
  }

  /**
   * The active stream `id` for a frame from the server, or null when it is
   * closed (the frame is then ignored). A frame on a stream we never opened
   * is a connection error PROTOCOL_ERROR (§5.1: idle; servers cannot open
   * streams without push).
   */
  lookup(id: number, what: string): H2Stream | null {
    const s = this.active.get(id);
    if (s) return s;
    if (id % 2 === 0 || id >= this.#nextId) {
      throw connectionError(
        H2Code.PROTOCOL_ERROR,
        `${what} on idle stream ${id}`,
      );
    }
    return null;
  }

  /** Takes a stream out of the table. */
  remove(s: H2Stream): void {
    s.state = "closed";
    this.active.delete(s.id);
  }
}

/**
 * Applies a response header block to a stream (§8.1): 1xx blocks (bounded
 * by `maxInformational`), then one final response, then optional trailers
 * that must end the stream. `fields` is null when the list was over our
 * limit. Throws the stream error the block deserves.
 */
export function acceptResponseBlock(
  s: H2Stream,
  fields: HeaderField[] | null,
  endStream: boolean,
  limits: { maxHeaderListSize: number; maxInformational: number },
): HeaderField[] {
  const bad = (why: string) => streamError(s.id, H2Code.PROTOCOL_ERROR, why);
  if (!s.canReceive) {
    throw streamError(s.id, H2Code.STREAM_CLOSED, "HEADERS after END_STREAM");
  }
  if (fields === null) {
    throw streamError(
      s.id,
      H2Code.ENHANCE_YOUR_CALM,
      `response header list larger than ${limits.maxHeaderListSize} bytes`,
      "MESSAGE_TOO_BIG",
    );
  }
  const status = checkResponseFields(s.id, fields, s.responded);
  if (s.responded) {
    if (!endStream) throw bad("trailers without END_STREAM");
  } else if (status! < 200) {
    if (endStream) throw bad("1xx response with END_STREAM");
    if (++s.informational > limits.maxInformational) {
      throw streamError(
        s.id,
        H2Code.ENHANCE_YOUR_CALM,
        "too many 1xx responses",
      );
    }
  } else s.responded = true;
  if (endStream) s.closeRemote();
  return fields;
}

/** Checks that DATA may arrive on a stream now (§5.1, §8.1). */
export function acceptData(s: H2Stream): void {
  if (!s.canReceive) {
    throw streamError(s.id, H2Code.STREAM_CLOSED, "DATA after END_STREAM");
  }
  if (!s.responded) {
    throw streamError(s.id, H2Code.PROTOCOL_ERROR, "DATA before the response");
  }
}

/** Applies a change of the server's INITIAL_WINDOW_SIZE to every open stream (§6.9.2). */
export function shiftSendWindows(
  streams: Iterable<H2Stream>,
  delta: number,
): void {
  for (const s of streams) {
    s.sendWindow += delta;
    if (s.sendWindow > 0x7fffffff) {
      throw connectionError(
        H2Code.FLOW_CONTROL_ERROR,
        "INITIAL_WINDOW_SIZE overflows a stream window",
      );
    }
  }
}
