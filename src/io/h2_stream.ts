/**
 * One WebSocket's byte stream over one HTTP/2 stream (RFC 8441): what a
 * {@linkcode WebSocketConnection} reads and writes once the extended CONNECT
 * was answered 200.
 *
 * Backpressure both ways: `read()` reports the bytes it hands over as
 * consumed, so the stream's receive window (and WINDOW_UPDATE) follows the
 * reader; `write()` resolves only when the session has framed all the bytes
 * within the server's windows (the session keeps them uncopied until then).
 *
 * @module
 */

import { WebSocketError } from "../errors.ts";
import type { Http2Error } from "../h2/errors.ts";
import { H2Code } from "../h2/errors.ts";
import type { HeaderField } from "../h2/hpack_table.ts";
import type { Http2ClientSession } from "../h2/session.ts";
import type { Http2Settings } from "../h2/settings.ts";
import type { ByteStream } from "./byte_stream.ts";
import { ChunkQueue } from "./chunk_queue.ts";

/** The response header block of an extended CONNECT. */
export interface StreamResponse {
  /** The response header list (with `:status`). */
  fields: HeaderField[];
  /** The response ended the stream. */
  endStream: boolean;
}

/** What a stream needs from the connection that carries it. */
export interface StreamCarrier {
  /** The session of the HTTP/2 connection. */
  readonly session: Http2ClientSession;
  /** Writes whatever the session has queued. */
  flush(): void;
  /** The stream is finished with (closed by its user or failed). */
  released(stream: Http2ByteStream): void;
}

/**
 * How long a stream we ended waits for the server to end its side before
 * RST_STREAM tells it to stop: a reset right after our END_STREAM makes an
 * intermediary (HAProxy) drop what it still holds for the backend.
 */
const LINGER_MS = 1000;

/** A {@linkcode ByteStream} over one HTTP/2 stream. */
export class Http2ByteStream implements ByteStream {
  /** The HTTP/2 stream identifier. */
  readonly id: number;

  /** The server's settings on this stream's connection. */
  get peerSettings(): Http2Settings {
    return this.#carrier.session.peer;
  }
  /** Resolves with the final response header block; rejects when the stream fails first. */
  readonly response: Promise<StreamResponse>;
  #carrier: StreamCarrier;
  /** Received DATA not read yet (at most the stream window). */
  #received = new ChunkQueue();
  #remoteEnded = false;
  #localClosed = false;
  #error: WebSocketError | null = null;
  #sendError: WebSocketError | null = null;
  #responded = false;
  #resolveResponse!: (r: StreamResponse) => void;
  #rejectResponse!: (e: unknown) => void;
  #readWaiter: (() => void) | null = null;
  #linger: ReturnType<typeof setTimeout> | undefined;
  #drainWaiter: { resolve(): void; reject(e: unknown): void } | null = null;

  /** A stream `id` carried by `carrier`. */
  constructor(carrier: StreamCarrier, id: number) {
    this.#carrier = carrier;
    this.id = id;
    this.response = new Promise<StreamResponse>((resolve, reject) => {
      this.#resolveResponse = resolve;
      this.#rejectResponse = reject;
    });
    this.response.catch(() => {}); // a stream may fail before anyone awaits
  }

  /** DATA bytes received and not yet read. */
  get buffered(): number {
    return this.#received.bytes;
  }

  /**
   * Reads DATA into `buffer`; null once the server ended the stream (or we
   * closed it). Fills it from as many received DATA frames as fit, as a
   * socket read would: small messages arrive a DATA frame each, and a
   * read per frame would cost a promise round trip and a flush each.
   */
  async read(buffer: Uint8Array): Promise<number | null> {
    for (;;) {
      if (this.#received.bytes > 0) {
        const n = this.#received.take(buffer);
        if (!this.#localClosed && !this.#error) {
          this.#carrier.session.consumed(this.id, n);
          this.#carrier.flush();
        }
        return n;
      }
      if (this.#error) throw this.#error;
      if (this.#remoteEnded || this.#localClosed) return null;
      await new Promise<void>((r) => this.#readWaiter = r);
    }
  }

  /** Queues `data` on the stream; resolves when all of it is framed. */
  async write(data: Uint8Array): Promise<number> {
    if (this.#error ?? this.#sendError) throw this.#error ?? this.#sendError;
    if (this.#localClosed) {
      throw new WebSocketError("CLOSED", `HTTP/2 stream ${this.id} is closed`);
    }
    let pending: number;
    try {
      pending = this.#carrier.session.send(this.id, data);
    } catch (e) {
      throw this.#error ?? e;
    }
    this.#carrier.flush();
    if (pending > 0) {
      await new Promise<void>((resolve, reject) =>
        this.#drainWaiter = { resolve, reject }
      );
    }
    return data.length;
  }

  /**
   * Ends our side with END_STREAM (after our close frame went out). If the
   * server has not ended its side within {@linkcode LINGER_MS}, RST_STREAM
   * NO_ERROR then tells it to stop sending (RFC 9113 §8.1), so the stream
   * does not stay open for ever; until then it still counts as open.
   */
  close(): void {
    if (this.#localClosed) return;
    this.#localClosed = true;
    const { session } = this.#carrier;
    if (!this.#error) {
      const state = session.streamState(this.id);
      try {
        if (state === "open" || state === "half-closed-remote") {
          session.end(this.id);
        }
      } catch { /* the stream cannot send any more */ }
      this.#carrier.flush();
    }
    this.#fail(new WebSocketError("CLOSED", "HTTP/2 stream closed"), false);
    if (!this.#error && session.streamState(this.id) !== "closed") {
      this.#linger = setTimeout(() => this.#endLinger(true), LINGER_MS);
      Deno.unrefTimer(this.#linger);
      return;
    }
    this.#carrier.released(this);
  }

  /** The server ended its side, or the wait is over (`reset`). */
  #endLinger(reset: boolean): void {
    if (this.#linger === undefined) return;
    clearTimeout(this.#linger);
    this.#linger = undefined;
    const { session } = this.#carrier;
    if (reset && session.streamState(this.id) !== "closed") {
      session.reset(this.id, H2Code.NO_ERROR);
      this.#carrier.flush();
    }
    this.#carrier.released(this);
  }

  /** Aborts the stream (RST_STREAM CANCEL), e.g. when the handshake is abandoned. */
  cancel(): void {
    if (this.#localClosed) return;
    this.#localClosed = true;
    this.#carrier.session.reset(this.id, H2Code.CANCEL);
    this.#carrier.flush();
    this.#fail(
      new WebSocketError("ABORTED", "HTTP/2 stream cancelled"),
      false,
    );
    this.#carrier.released(this);
  }

  // ------------------------------------------------ events from the session

  /** @internal A header block arrived. */
  headers(fields: HeaderField[], endStream: boolean): void {
    const status = Number(fields.find(([n]) => n === ":status")?.[1] ?? 0);
    if (!this.#responded && status >= 100 && status < 200) return; // interim
    if (!this.#responded) {
      this.#responded = true;
      this.#resolveResponse({ fields, endStream });
    }
    if (endStream) this.ended();
  }

  /** @internal DATA arrived. */
  data(data: Uint8Array, endStream: boolean): void {
    if (this.#localClosed) {
      this.#carrier.session.consumed(this.id, data.length);
    } else this.#received.push(data);
    if (endStream) this.ended();
    this.#wakeReader();
  }

  /** @internal All queued bytes are framed. */
  drained(): void {
    const w = this.#drainWaiter;
    this.#drainWaiter = null;
    w?.resolve();
  }

  /** @internal The server ended its side (END_STREAM, or RST_STREAM NO_ERROR after the response). */
  ended(): void {
    this.#remoteEnded = true;
    this.#endLinger(false);
    if (!this.#responded) {
      this.#rejectResponse(
        new WebSocketError(
          "BAD_HANDSHAKE",
          `HTTP/2 stream ${this.id} ended without a response`,
        ),
      );
    }
    this.#wakeReader();
  }

  /**
   * @internal The server closed the stream after its full response
   * (RST_STREAM NO_ERROR): reading ends normally, sending is over.
   */
  stopped(): void {
    this.ended();
    this.#sendError = new WebSocketError(
      "CONNECTION_LOST",
      `the server closed HTTP/2 stream ${this.id}`,
    );
    const w = this.#drainWaiter;
    this.#drainWaiter = null;
    w?.reject(this.#sendError);
  }

  /** @internal The stream was reset, refused by GOAWAY, or its connection ended. */
  reset(error: Http2Error): void {
    this.#fail(error, true);
    this.#endLinger(false);
    if (!this.#localClosed) {
      this.#localClosed = true;
      this.#carrier.released(this);
    }
  }

  #fail(error: WebSocketError, reportToReader: boolean): void {
    if (reportToReader && !this.#error) this.#error = error;
    this.#rejectResponse(error);
    const w = this.#drainWaiter;
    this.#drainWaiter = null;
    w?.reject(this.#error ?? error);
    this.#wakeReader();
  }

  #wakeReader(): void {
    const w = this.#readWaiter;
    this.#readWaiter = null;
    w?.();
  }
}
