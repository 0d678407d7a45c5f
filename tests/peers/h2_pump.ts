/**
 * Test-only I/O around the sans-I/O session: one reader loop feeds the
 * socket into the session, one write chain drains its output, and each
 * stream gets a queue of DATA that is reported consumed as the test reads
 * it (so a test that does not read applies backpressure). A sketch of what
 * the connection core will do when it binds a WebSocket to an HTTP/2 stream.
 *
 * It also counts the frames of each type seen in both directions, so tests
 * can check that WINDOW_UPDATEs really flowed.
 *
 * @module
 */
import { FrameReader, FrameType } from "../../src/h2/frames.ts";
import type { Http2Error } from "../../src/h2/errors.ts";
import {
  type HeaderField,
  Http2ClientSession,
  type Http2Event,
} from "../../src/h2/session.ts";

/** What a test sees of one stream. */
export class PumpStream {
  readonly id: number;
  headers: HeaderField[] | null = null;
  headersEnded = false;
  ended = false;
  error: Http2Error | null = null;
  #chunks: Uint8Array[] = [];
  #wake: Array<() => void> = [];
  #pump: H2Pump;

  constructor(pump: H2Pump, id: number) {
    this.#pump = pump;
    this.id = id;
  }

  /** @internal */
  notify(): void {
    for (const w of this.#wake.splice(0)) w();
  }

  /** @internal */
  push(data: Uint8Array): void {
    if (data.length > 0) this.#chunks.push(data);
  }

  /** Waits until `ready()` holds or the stream/connection ends. */
  async until(ready: () => boolean): Promise<void> {
    while (!ready() && !this.error && !this.#pump.closed) {
      await new Promise<void>((r) => this.#wake.push(r));
    }
  }

  /** The response header list (waits for it). */
  async response(): Promise<HeaderField[]> {
    await this.until(() => this.headers !== null);
    if (this.error) throw this.error;
    return this.headers!;
  }

  /** The next DATA payload, or null at END_STREAM; reports it consumed. */
  async read(): Promise<Uint8Array | null> {
    await this.until(() => this.#chunks.length > 0 || this.ended);
    const chunk = this.#chunks.shift();
    if (chunk) {
      this.#pump.session.consumed(this.id, chunk.length);
      this.#pump.flush();
      return chunk;
    }
    if (this.error) throw this.error;
    return null;
  }

  /** Sends bytes and waits until the session has framed them all (backpressure). */
  async write(data: Uint8Array, end = false): Promise<void> {
    const pending = this.#pump.session.send(this.id, data, end);
    this.#pump.flush();
    if (pending > 0) {
      await this.until(() => this.#pump.session.pendingBytes(this.id) === 0);
    }
    if (this.error) throw this.error;
  }
}

/** A session bound to a Deno connection. */
export class H2Pump {
  readonly session: Http2ClientSession;
  readonly conn: Deno.Conn;
  readonly streams: Map<number, PumpStream> = new Map();
  /** Frames the server sent, by type. */
  readonly received: Map<number, number> = new Map();
  /** Frames we sent, by type. */
  readonly sentFrames: Map<number, number> = new Map();
  closed = false;
  readonly done: Promise<void>;
  events: Http2Event[] = [];
  #writes: Promise<void> = Promise.resolve();
  #inTap = new FrameReader(1 << 24);
  #outTap = new FrameReader(1 << 24);
  #outPreface = 24;
  #waiters: Array<() => void> = [];

  constructor(conn: Deno.Conn, session = new Http2ClientSession()) {
    this.conn = conn;
    this.session = session;
    this.flush();
    this.done = this.#readLoop();
  }

  /** Waits until the server's SETTINGS arrived. */
  async ready(): Promise<void> {
    while (!this.session.ready && !this.closed) {
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  /** Opens a stream with `fields`. */
  open(fields: HeaderField[]): PumpStream {
    const id = this.session.openStream(fields);
    const s = new PumpStream(this, id);
    this.streams.set(id, s);
    this.flush();
    return s;
  }

  /** Writes whatever the session has queued, in order. */
  flush(): void {
    if (!this.session.hasOutput) return;
    const out = this.session.takeOutput();
    this.#count(this.#outTap, out, this.sentFrames, true);
    this.#writes = this.#writes.then(async () => {
      for (let o = 0; o < out.length;) {
        o += await this.conn.write(out.subarray(o));
      }
    }).catch(() => {});
  }

  /** Closes the session and the socket and waits for the reader loop. */
  async close(): Promise<void> {
    this.#dispatch(this.session.close());
    this.flush();
    await this.#writes;
    try {
      this.conn.close();
    } catch { /* already closed */ }
    await this.done;
  }

  async #readLoop(): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await this.conn.read(buf);
        if (n === null) break;
        const bytes = buf.slice(0, n);
        this.#count(this.#inTap, bytes, this.received, false);
        this.#dispatch(this.session.receive(bytes));
        this.flush();
        if (this.session.closed) break;
      }
    } catch { /* socket closed under us */ }
    this.#dispatch(this.session.transportClosed());
    this.closed = true;
    for (const s of this.streams.values()) s.notify();
    for (const w of this.#waiters.splice(0)) w();
  }

  #dispatch(events: Http2Event[]): void {
    for (const e of events) {
      this.events.push(e);
      if (e.type === "settings") {
        for (const w of this.#waiters.splice(0)) w();
      }
      if (!("streamId" in e)) continue;
      const s = this.streams.get(e.streamId);
      if (!s) continue;
      if (e.type === "headers") {
        const status = Number(
          e.fields.find(([n]) => n === ":status")?.[1] ?? 0,
        );
        if (status >= 200 || status === 0) {
          s.headers ??= e.fields;
          if (e.endStream) s.ended = s.headersEnded = true;
        }
      } else if (e.type === "data") {
        s.push(e.data);
        if (e.endStream) s.ended = true;
      } else if (e.type === "streamClosed") {
        s.ended = true;
      } else if (e.type === "reset") {
        s.error = e.error;
        s.ended = true;
      }
      s.notify();
    }
  }

  #count(
    tap: FrameReader,
    bytes: Uint8Array,
    counts: Map<number, number>,
    out: boolean,
  ): void {
    if (out && this.#outPreface > 0) {
      const skip = Math.min(this.#outPreface, bytes.length);
      this.#outPreface -= skip;
      bytes = bytes.subarray(skip);
    }
    tap.push(bytes);
    for (let f; (f = tap.next()) !== null;) {
      counts.set(f.type, (counts.get(f.type) ?? 0) + 1);
    }
  }
}

/** Frames of `type` counted in `counts`. */
export function count(counts: Map<number, number>, type: number): number {
  return counts.get(type) ?? 0;
}

export { FrameType };
