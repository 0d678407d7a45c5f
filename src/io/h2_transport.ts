/**
 * The I/O side of one HTTP/2 connection: one reader loop feeds the socket
 * into an {@linkcode Http2ClientSession}, one writer drains the session's
 * output in order (coalescing what queued up meanwhile), and each WebSocket
 * gets an {@linkcode Http2ByteStream} to run over.
 *
 * When the last stream is released the connection stays open for
 * `idleTimeout` ms for the next WebSocket to the same origin, then sends
 * GOAWAY and closes. While idle the socket and the timer do not keep the
 * process alive.
 *
 * @module
 */

import { concat } from "../bytes.ts";
import { WebSocketError } from "../errors.ts";
import type { HeaderField } from "../h2/hpack_table.ts";
import {
  Http2ClientSession,
  type Http2Event,
  type Http2SessionOptions,
} from "../h2/session.ts";
import { Http2ByteStream, type StreamCarrier } from "./h2_stream.ts";

/** Default time an HTTP/2 connection without streams stays open, in ms. */
export const DEFAULT_HTTP2_IDLE_TIMEOUT = 2000;

/** How an {@linkcode Http2Transport} behaves. */
export interface Http2TransportOptions {
  /** ms an idle connection stays open (0: close with the last stream). */
  idleTimeout?: number;
  /** Session limits. */
  session?: Http2SessionOptions;
}

/** One HTTP/2 connection carrying WebSocket streams. */
export class Http2Transport implements StreamCarrier {
  /** The sans-I/O session. */
  readonly session: Http2ClientSession;
  /** Resolves when the reader loop has stopped and the socket is closed. */
  readonly done: Promise<void>;
  #conn: Deno.Conn;
  #streams = new Map<number, Http2ByteStream>();
  #out: Uint8Array[] = [];
  #writing = false;
  #closed = false;
  #idleTimeout: number;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #settled!: (ok: boolean) => void;
  #settings: Promise<boolean>;
  #refd = true;

  /** Binds a new session to `conn` and writes the preface. */
  constructor(conn: Deno.Conn, options: Http2TransportOptions = {}) {
    this.#conn = conn;
    this.#idleTimeout = options.idleTimeout ?? DEFAULT_HTTP2_IDLE_TIMEOUT;
    this.session = new Http2ClientSession(options.session);
    this.#settings = new Promise((r) => this.#settled = r);
    this.flush();
    this.done = this.#readLoop();
  }

  /** Waits for the server's SETTINGS; false when the connection ended first. */
  ready(): Promise<boolean> {
    return this.#settings;
  }

  /** The connection is over. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Streams in use. */
  get streamCount(): number {
    return this.#streams.size;
  }

  /** How many more streams may be opened now. */
  get availableStreams(): number {
    return this.#closed ? 0 : this.session.availableStreams;
  }

  /** Opens a stream with a request header list; its response arrives on `stream.response`. */
  openStream(fields: HeaderField[]): Http2ByteStream {
    if (this.#closed) {
      throw new WebSocketError("CLOSED", "HTTP/2 connection is closed");
    }
    const id = this.session.openStream(fields);
    const stream = new Http2ByteStream(this, id);
    this.#streams.set(id, stream);
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#ref(true);
    this.flush();
    return stream;
  }

  /** Writes whatever the session has queued, in order. */
  flush(): void {
    if (this.#closed || !this.session.hasOutput) return;
    this.#out.push(this.session.takeOutput());
    if (!this.#writing) this.#writeLoop();
  }

  /** @internal A stream is finished with: close the connection after the idle time. */
  released(stream: Http2ByteStream): void {
    if (this.#streams.get(stream.id) !== stream) return;
    this.#streams.delete(stream.id);
    if (this.#streams.size > 0 || this.#closed) return;
    if (this.#idleTimeout <= 0 || this.session.availableStreams === 0) {
      this.close();
      return;
    }
    this.#ref(false);
    this.#idleTimer = setTimeout(() => this.close(), this.#idleTimeout);
    Deno.unrefTimer(this.#idleTimer);
  }

  /** Sends GOAWAY, closes the socket and waits for the reader to stop. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#dispatch(this.session.close());
      this.#out.push(this.session.takeOutput());
      this.#shutdown(false);
    }
    return this.done;
  }

  async #writeLoop(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#out.length > 0) {
        const bytes = this.#out.length === 1 ? this.#out[0] : concat(this.#out);
        this.#out = [];
        for (let off = 0; off < bytes.length;) {
          off += await this.#conn.write(bytes.subarray(off));
        }
      }
    } catch {
      this.#shutdown(true);
    } finally {
      this.#writing = false;
    }
    if (this.#closed) this.#closeSocket();
  }

  async #readLoop(): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        this.#dispatch(this.session.receive(buf.subarray(0, n)));
        this.flush();
        if (this.session.closed) break;
      }
    } catch { /* the socket failed or was closed by us */ }
    this.#shutdown(true);
    this.#settled(false);
  }

  /** Ends the connection; `lost`: the transport failed (streams see CONNECTION_LOST). */
  #shutdown(lost: boolean): void {
    if (lost) this.#dispatch(this.session.transportClosed());
    if (this.#closed) return;
    // What the session queued last (its GOAWAY after a connection error)
    // goes out before the socket closes: flush() stops once closed.
    if (!lost && this.session.hasOutput) {
      this.#out.push(this.session.takeOutput());
    }
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    if (this.#out.length > 0 && !lost) {
      if (!this.#writing) this.#writeLoop(); // GOAWAY, then the socket closes
    } else if (!this.#writing) this.#closeSocket();
  }

  #closeSocket(): void {
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  #ref(on: boolean): void {
    if (this.#refd === on) return;
    this.#refd = on;
    try {
      if (on) this.#conn.ref();
      else this.#conn.unref();
    } catch { /* not every Conn can */ }
  }

  #dispatch(events: Http2Event[]): void {
    for (const e of events) {
      switch (e.type) {
        case "settings":
          this.#settled(true);
          break;
        case "headers":
          this.#streams.get(e.streamId)?.headers(e.fields, e.endStream);
          break;
        case "data":
          this.#streams.get(e.streamId)?.data(e.data, e.endStream);
          break;
        case "drained":
          this.#streams.get(e.streamId)?.drained();
          break;
        case "streamClosed":
          this.#streams.get(e.streamId)?.stopped();
          break;
        case "reset":
          this.#streams.get(e.streamId)?.reset(e.error);
          break;
        case "closed":
          if (!this.#closed) this.#shutdown(false);
          break;
      }
    }
  }
}
