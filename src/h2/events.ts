/**
 * What an HTTP/2 client session reports to its owner.
 *
 * @module
 */

import type { Http2Error } from "./errors.ts";
import type { HeaderField } from "./hpack_table.ts";
import type { Http2Settings } from "./settings.ts";

/** What the session reports; see each member. */
export type Http2Event =
  /** The server's SETTINGS arrived (the first one makes the session usable). */
  | { type: "settings"; settings: Http2Settings }
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
  /** The server closed a stream it had fully answered (RST_STREAM NO_ERROR, RFC 9113 §8.1): our queued DATA was dropped, nothing failed. */
  | { type: "streamClosed"; streamId: number }
  /** The server answered our PING. */
  | { type: "pingAck"; data: Uint8Array }
  /** The server sent GOAWAY: no new streams; streams above `lastStreamId` were reset. */
  | { type: "goaway"; lastStreamId: number; code: number; debug: Uint8Array }
  /** The session is over; `error` is null after a clean end. */
  | { type: "closed"; error: Http2Error | null };
