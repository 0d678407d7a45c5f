/**
 * The two sides' HTTP/2 settings: what the client advertises (and the
 * bounds it puts on what the server controls), and the server's settings as
 * received (RFC 9113 §6.5.2, RFC 8441 §3).
 *
 * @module
 */

import { WebSocketError } from "../errors.ts";
import { connectionError, H2Code } from "./errors.ts";
import {
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_WINDOW,
  MAX_FRAME_SIZE_LIMIT,
  MAX_WINDOW,
  SettingId,
} from "./frames.ts";

/** Options of an HTTP/2 client session; every field has a default. */
export interface Http2SessionOptions {
  /** Our receive window per stream (SETTINGS_INITIAL_WINDOW_SIZE): the most a slow reader buffers per stream. Default 256 KiB. */
  streamWindow?: number;
  /** Our receive window for the connection, refilled as DATA arrives. Default 1 MiB. */
  connectionWindow?: number;
  /** SETTINGS_MAX_FRAME_SIZE we accept. Default 16384. */
  maxFrameSize?: number;
  /** SETTINGS_HEADER_TABLE_SIZE for our HPACK decoder. Default 4096. */
  headerTableSize?: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE: largest decoded response header list. Default 64 KiB. */
  maxHeaderListSize?: number;
  /** Largest compressed header block (HEADERS + CONTINUATION); default twice the list size. */
  maxHeaderBlockSize?: number;
  /** CONTINUATION frames allowed in one header block. Default 32. */
  maxContinuationFrames?: number;
  /** Parameters allowed in one SETTINGS frame. Default 32. */
  maxSettingsEntries?: number;
  /** SETTINGS and PING ACKs queued and not yet taken by `takeOutput`. Default 1000. */
  maxQueuedAcks?: number;
  /** Consecutive DATA frames with no data and no END_STREAM. Default 100. */
  maxEmptyDataFrames?: number;
  /** Informational (1xx) responses allowed on one stream. Default 16. */
  maxInformational?: number;
}

/** The options with their defaults filled in. */
export type Http2Limits = Required<Http2SessionOptions>;

/** Fills in the defaults and checks the ranges; throws INVALID_ARGUMENT. */
export function sessionLimits(options: Http2SessionOptions): Http2Limits {
  const maxHeaderListSize = options.maxHeaderListSize ?? 64 * 1024;
  const limits: Http2Limits = {
    streamWindow: options.streamWindow ?? 256 * 1024,
    connectionWindow: options.connectionWindow ?? 1024 * 1024,
    maxFrameSize: options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE,
    headerTableSize: options.headerTableSize ?? 4096,
    maxHeaderListSize,
    maxHeaderBlockSize: options.maxHeaderBlockSize ?? 2 * maxHeaderListSize,
    maxContinuationFrames: options.maxContinuationFrames ?? 32,
    maxSettingsEntries: options.maxSettingsEntries ?? 32,
    maxQueuedAcks: options.maxQueuedAcks ?? 1000,
    maxEmptyDataFrames: options.maxEmptyDataFrames ?? 100,
    maxInformational: options.maxInformational ?? 16,
  };
  const range = (name: keyof Http2Limits, lo: number, hi: number) => {
    const v = limits[name];
    if (!Number.isInteger(v) || v < lo || v > hi) {
      throw new WebSocketError(
        "INVALID_ARGUMENT",
        `HTTP/2 option ${name} must be an integer in ${lo}..${hi}, not ${v}`,
      );
    }
  };
  range("streamWindow", 1, MAX_WINDOW);
  range("connectionWindow", DEFAULT_WINDOW, MAX_WINDOW);
  range("maxFrameSize", DEFAULT_MAX_FRAME_SIZE, MAX_FRAME_SIZE_LIMIT);
  range("headerTableSize", 0, 0xffffffff);
  range("maxHeaderListSize", 1, 0xffffffff);
  for (
    const k of [
      "maxHeaderBlockSize",
      "maxContinuationFrames",
      "maxSettingsEntries",
      "maxQueuedAcks",
      "maxEmptyDataFrames",
      "maxInformational",
    ] as const
  ) range(k, 0, Number.MAX_SAFE_INTEGER);
  return limits;
}

/** The SETTINGS the client sends in its preface. */
export function clientSettings(limits: Http2Limits): Array<[number, number]> {
  return [
    [SettingId.ENABLE_PUSH, 0],
    [SettingId.INITIAL_WINDOW_SIZE, limits.streamWindow],
    [SettingId.MAX_FRAME_SIZE, limits.maxFrameSize],
    [SettingId.HEADER_TABLE_SIZE, limits.headerTableSize],
    [SettingId.MAX_HEADER_LIST_SIZE, limits.maxHeaderListSize],
  ];
}

/** The server's settings as last received (defaults until its SETTINGS arrive). */
export interface Http2Settings {
  /** SETTINGS_HEADER_TABLE_SIZE: the table our encoder may use. */
  headerTableSize: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS: how many streams we may have open. */
  maxConcurrentStreams: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE: each stream's initial send window. */
  initialWindowSize: number;
  /** SETTINGS_MAX_FRAME_SIZE: the largest frame we may send. */
  maxFrameSize: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE: advisory limit on our header lists. */
  maxHeaderListSize: number;
  /** SETTINGS_ENABLE_CONNECT_PROTOCOL: extended CONNECT (RFC 8441) allowed. */
  enableConnectProtocol: boolean;
}

/** The settings in force before the server's first SETTINGS frame. */
export function defaultPeerSettings(): Http2Settings {
  return {
    headerTableSize: 4096,
    maxConcurrentStreams: Infinity,
    initialWindowSize: DEFAULT_WINDOW,
    maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
    maxHeaderListSize: Infinity,
    enableConnectProtocol: false,
  };
}

/**
 * Applies one received SETTINGS frame to `peer` (values were range-checked
 * by the parser); throws for a server that enables push or takes back
 * extended CONNECT.
 */
export function applyPeerSettings(
  peer: Http2Settings,
  entries: Array<[number, number]>,
): void {
  for (const [id, value] of entries) {
    switch (id) {
      case SettingId.HEADER_TABLE_SIZE:
        peer.headerTableSize = value;
        break;
      case SettingId.ENABLE_PUSH:
        if (value !== 0) {
          // RFC 9113 §6.5.2: a server must not send 1.
          throw connectionError(
            H2Code.PROTOCOL_ERROR,
            "server sent SETTINGS_ENABLE_PUSH 1",
          );
        }
        break;
      case SettingId.MAX_CONCURRENT_STREAMS:
        peer.maxConcurrentStreams = value;
        break;
      case SettingId.INITIAL_WINDOW_SIZE:
        peer.initialWindowSize = value;
        break;
      case SettingId.MAX_FRAME_SIZE:
        peer.maxFrameSize = value;
        break;
      case SettingId.MAX_HEADER_LIST_SIZE:
        peer.maxHeaderListSize = value;
        break;
      case SettingId.ENABLE_CONNECT_PROTOCOL:
        if (value === 0 && peer.enableConnectProtocol) {
          // RFC 8441 §3: once 1, never 0.
          throw connectionError(
            H2Code.PROTOCOL_ERROR,
            "server withdrew SETTINGS_ENABLE_CONNECT_PROTOCOL",
          );
        }
        peer.enableConnectProtocol = value === 1;
        break;
    }
  }
}

/** What one received SETTINGS frame did. */
export type SettingsResult =
  /** The server acknowledged our SETTINGS; `allAcked`: none are outstanding. */
  | { ack: true; allAcked: boolean }
  /** New server settings; `windowDelta` is the change of INITIAL_WINDOW_SIZE. */
  | { ack: false; windowDelta: number };

/**
 * Both directions of the SETTINGS exchange (RFC 9113 §6.5.3): our one
 * SETTINGS waiting for its ACK, and the server's settings as received.
 */
export class SettingsExchange {
  /** The server's settings as last received. */
  readonly peer: Http2Settings = defaultPeerSettings();
  /** The server's first SETTINGS arrived. */
  received = false;
  /** Our SETTINGS frames not yet acknowledged (the preface sends one). */
  unacked = 1;
  #maxEntries: number;

  /** An exchange refusing frames of more than `maxEntries` parameters. */
  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  /** Handles a SETTINGS frame's parsed entries (null for an ACK). */
  receive(entries: Array<[number, number]> | null): SettingsResult {
    if (entries === null) {
      if (this.unacked === 0) {
        throw connectionError(
          H2Code.PROTOCOL_ERROR,
          "SETTINGS ACK for no SETTINGS of ours",
        );
      }
      this.unacked--;
      return { ack: true, allAcked: this.unacked === 0 };
    }
    if (entries.length > this.#maxEntries) {
      throw connectionError(
        H2Code.ENHANCE_YOUR_CALM,
        `SETTINGS with ${entries.length} parameters`,
      );
    }
    const oldWindow = this.peer.initialWindowSize;
    applyPeerSettings(this.peer, entries);
    this.received = true;
    return { ack: false, windowDelta: this.peer.initialWindowSize - oldWindow };
  }
}
