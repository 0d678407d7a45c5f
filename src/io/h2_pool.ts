/**
 * HTTP/2 connections shared by the WebSockets to one origin. An origin's
 * key is scheme, host, port and the TLS options; its connections are used
 * while they have room under the server's SETTINGS_MAX_CONCURRENT_STREAMS,
 * and a new one is dialled (only one at a time per origin, the others wait
 * for it) when all are full.
 *
 * @module
 */

import { WebSocketError } from "../errors.ts";
import type { HeaderField } from "../h2/hpack_table.ts";
import type { Http2ByteStream } from "./h2_stream.ts";
import type { Http2Transport } from "./h2_transport.ts";

/**
 * Dials a new connection for an origin: the connection once the server's
 * SETTINGS enabled the extended CONNECT, or a sentence saying why this
 * origin cannot carry WebSockets over HTTP/2 (ALPN chose HTTP/1.1, ...).
 */
export type Http2Dialer = () => Promise<Http2Transport | string>;

interface Origin {
  transports: Set<Http2Transport>;
  dialing: Promise<Http2Transport | string> | null;
}

function isAbortOrTimeout(e: unknown): boolean {
  return e instanceof WebSocketError &&
    (e.code === "ABORTED" || e.code === "TIMEOUT");
}

/** A bound on dial rounds per open, for servers that allow no streams. */
const MAX_DIALS = 8;

/** The HTTP/2 connections of a process (or of a test), by origin. */
export class Http2Pool {
  #origins = new Map<string, Origin>();
  #all = new Set<Http2Transport>();

  /** Connections open or closing (for tests and benchmarks). */
  get connections(): number {
    return this.#all.size;
  }

  /**
   * Opens a stream with `fields` on a connection to the origin `key`,
   * dialling with `dial` when none has room. Returns the reason string when
   * the origin cannot do it.
   */
  async openStream(
    key: string,
    dial: Http2Dialer,
    fields: HeaderField[],
  ): Promise<Http2ByteStream | string> {
    for (let dials = 0; dials < MAX_DIALS;) {
      const origin = this.#origin(key);
      // The room check and openStream are one synchronous step: a stream slot
      // cannot be taken by another caller in between.
      for (const t of origin.transports) {
        if (t.availableStreams > 0) return t.openStream(fields);
      }
      const mine = !origin.dialing;
      if (mine) {
        dials++;
        origin.dialing = this.#dial(key, origin, dial);
      }
      let result: Http2Transport | string;
      try {
        result = await origin.dialing!;
      } catch (e) {
        // Another caller's dial ended with that caller's abort or timeout,
        // which are not ours: dial again, under our own signal.
        if (mine || !isAbortOrTimeout(e)) throw e;
        continue;
      }
      if (typeof result === "string") return result;
    }
    // The key holds the options (credentials among them): not in the message.
    throw new WebSocketError(
      "CONNECT_FAILED",
      "the server allows no HTTP/2 stream for a WebSocket",
    );
  }

  /** Registers a connection made outside `openStream`'s dialling (tests). */
  add(key: string, transport: Http2Transport): void {
    this.#track(key, this.#origin(key), transport);
  }

  /** Closes every connection (GOAWAY) and waits until they are gone. */
  async closeAll(): Promise<void> {
    const all = [...this.#all];
    await Promise.all(all.map((t) => t.close()));
  }

  #origin(key: string): Origin {
    let origin = this.#origins.get(key);
    if (!origin) {
      origin = { transports: new Set(), dialing: null };
      this.#origins.set(key, origin);
    }
    return origin;
  }

  async #dial(
    key: string,
    origin: Origin,
    dial: Http2Dialer,
  ): Promise<Http2Transport | string> {
    try {
      const result = await dial();
      if (typeof result !== "string") this.#track(key, origin, result);
      return result;
    } finally {
      origin.dialing = null;
    }
  }

  #track(key: string, origin: Origin, t: Http2Transport): void {
    if (t.closed) return;
    origin.transports.add(t);
    this.#all.add(t);
    t.done.then(() => {
      origin.transports.delete(t);
      this.#all.delete(t);
      if (
        origin.transports.size === 0 && !origin.dialing &&
        this.#origins.get(key) === origin
      ) {
        this.#origins.delete(key);
      }
    });
  }
}

/** The pool `connect()` uses. */
export const http2Pool: Http2Pool = new Http2Pool();

/**
 * Closes every pooled HTTP/2 connection now (instead of after the idle
 * time) and waits until they are closed: for the end of a program or test.
 */
export function closeHttp2Connections(): Promise<void> {
  return http2Pool.closeAll();
}
