/**
 * A programmable raw-TCP WebSocket server for tests, in the spirit of curl's
 * test server: each accepted connection runs a handler that reads and writes
 * exact bytes (HTTP heads, frames, garbage) through a {@linkcode ScriptedPeer}.
 *
 * Independent of the wsnc library on purpose: it has its own frame codec
 * (`wire.ts`), so the library is checked against bytes it did not produce.
 *
 * ```ts
 * const server = startScriptedServer(async (peer) => {
 *   await peer.readRequest();
 *   await peer.accept();
 *   await peer.sendFrame({ opcode: OP.TEXT, payload: "hi" });
 *   await peer.expectClose();
 * });
 * // ... connect to server.url ...
 * await server.close();
 * ```
 * @module
 */

import { hostPort, testCerts } from "./certs.ts";
import { ConnReader, parseRequestHead, type RequestHead } from "./reader.ts";
import {
  acceptValue,
  applyMask,
  type CloseFrameInfo,
  closePayload,
  type Frame,
  frameBytes,
  type FrameSpec,
  OP,
  parseClosePayload,
  parseFrameHeader,
  toBytes,
} from "./wire.ts";

export {
  acceptValue,
  type CloseFrameInfo,
  closePayload,
  type Frame,
  frameBytes,
  type FrameSpec,
  OP,
  parseClosePayload,
  type RequestHead,
};
export { ReadTimeoutError } from "./reader.ts";

/** Default timeout of every read helper, in ms; reads are always bounded. */
export const DEFAULT_READ_TIMEOUT = 5000;

/** Options of {@linkcode ScriptedPeer.accept}. */
export interface AcceptOptions {
  /** `Sec-WebSocket-Protocol` value to send. */
  protocol?: string;
  /** `Sec-WebSocket-Extensions` value to send. */
  extensions?: string;
  /** Extra header lines, each `"Name: value"` without CRLF. */
  extraHeaders?: string[];
  /** Send a wrong (but well-formed) `Sec-WebSocket-Accept`. */
  badAccept?: boolean;
  /** Send exactly this `Sec-WebSocket-Accept` value (overrides the computed one). */
  acceptValue?: string;
  /** Bytes glued after the 101 response in the same write (e.g. a first frame). */
  trailing?: Uint8Array | string;
}

/** A message reassembled by {@linkcode ScriptedPeer.readMessage}. */
export interface Message {
  /** Opcode of the first frame (TEXT or BINARY, or whatever the peer sent). */
  opcode: number;
  /** Concatenated payloads of all its data frames. */
  payload: Uint8Array;
  /** Every frame read, data and control, in order. */
  frames: Frame[];
}

/** One accepted connection, driven by the test's handler. */
export class ScriptedPeer {
  /** The underlying connection (TCP or TLS). */
  readonly conn: Deno.Conn;
  /** 0-based number of this connection on its server (to script per connection). */
  readonly index: number;
  /** The last request read by {@linkcode readRequest}. */
  request?: RequestHead;
  #reader: ConnReader;
  #closed = false;

  constructor(conn: Deno.Conn, index: number) {
    this.conn = conn;
    this.index = index;
    this.#reader = new ConnReader(conn);
  }

  /** True once {@linkcode close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Reads one HTTP request head (through CRLFCRLF); throws on EOF or timeout. */
  async readRequest(timeoutMs = DEFAULT_READ_TIMEOUT): Promise<RequestHead> {
    const head = await this.#reader.readHead(timeoutMs);
    if (head === null) {
      throw new Error("connection ended before a full request head");
    }
    this.request = parseRequestHead(head);
    return this.request;
  }

  /**
   * Writes a `101 Switching Protocols` answering the last request's
   * `Sec-WebSocket-Key` (reads the request first if none was read yet).
   */
  async accept(opts: AcceptOptions = {}): Promise<void> {
    const request = this.request ?? await this.readRequest();
    const key = request.headers.get("sec-websocket-key") ?? "";
    let accept = opts.acceptValue ?? await acceptValue(key);
    if (opts.badAccept) accept = await acceptValue(key + "x");
    const lines = [
      "HTTP/1.1 101 Switching Protocols",
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Accept: ${accept}`,
    ];
    if (opts.protocol !== undefined) {
      lines.push(`Sec-WebSocket-Protocol: ${opts.protocol}`);
    }
    if (opts.extensions !== undefined) {
      lines.push(`Sec-WebSocket-Extensions: ${opts.extensions}`);
    }
    lines.push(...(opts.extraHeaders ?? []));
    const head = toBytes(lines.join("\r\n") + "\r\n\r\n");
    const trailing = toBytes(opts.trailing);
    await this.writeRaw(concat([head, trailing]));
  }

  /** Writes bytes as one write call (strings are UTF-8 encoded). */
  async writeRaw(bytes: Uint8Array | string): Promise<void> {
    const data = toBytes(bytes);
    let off = 0;
    while (off < data.length) off += await this.conn.write(data.subarray(off));
  }

  /**
   * Writes `bytes` in pieces of `chop` bytes, one write call each (TCP_NODELAY
   * is on). Give `delayMs` (e.g. 2) to pause between pieces so that the client
   * very likely receives them in separate reads; default 0.
   */
  async writeChopped(
    bytes: Uint8Array | string,
    chop: number,
    delayMs = 0,
  ): Promise<void> {
    const data = toBytes(bytes);
    if (chop < 1) throw new RangeError("chop must be >= 1");
    for (let off = 0; off < data.length; off += chop) {
      if (off > 0 && delayMs > 0) await sleep(delayMs);
      await this.writeRaw(data.subarray(off, off + chop));
    }
  }

  /** Encodes and writes one frame (unmasked unless `mask` is set). */
  sendFrame(f: FrameSpec): Promise<void> {
    return this.writeRaw(frameBytes(f));
  }

  /** Encodes several frames and writes them glued together in one write. */
  sendFrames(frames: FrameSpec[]): Promise<void> {
    return this.writeRaw(concat(frames.map(frameBytes)));
  }

  /** Sends one unfragmented text frame. */
  sendText(text: string): Promise<void> {
    return this.sendFrame({ opcode: OP.TEXT, payload: text });
  }

  /** Sends one unfragmented binary frame. */
  sendBinary(data: Uint8Array): Promise<void> {
    return this.sendFrame({ opcode: OP.BINARY, payload: data });
  }

  /** Sends a close frame; no code means an empty payload. */
  sendClose(code?: number, reason = ""): Promise<void> {
    return this.sendFrame({
      opcode: OP.CLOSE,
      payload: closePayload(code, reason),
    });
  }

  /** Sends a ping frame. */
  sendPing(payload: Uint8Array | string = ""): Promise<void> {
    return this.sendFrame({ opcode: OP.PING, payload });
  }

  /** Sends a pong frame. */
  sendPong(payload: Uint8Array | string = ""): Promise<void> {
    return this.sendFrame({ opcode: OP.PONG, payload });
  }

  /**
   * Reads one frame and unmasks its payload. Null on EOF before a frame
   * starts; throws on EOF inside a frame or on timeout.
   */
  async readFrame(timeoutMs = DEFAULT_READ_TIMEOUT): Promise<Frame | null> {
    const deadline = Date.now() + timeoutMs;
    const reader = this.#reader;
    let header = parseFrameHeader(reader.buffered);
    while (header === null) {
      if (!await reader.fill(deadline, "a frame header", timeoutMs)) {
        if (reader.buffered.length === 0) return null;
        throw new Error(
          `EOF inside a frame header (${reader.buffered.length} bytes)`,
        );
      }
      header = parseFrameHeader(reader.buffered);
    }
    const total = header.headerLen + header.length;
    while (reader.buffered.length < total) {
      if (!await reader.fill(deadline, "a frame payload", timeoutMs)) {
        throw new Error(
          `EOF inside a frame payload (${reader.buffered.length}/${total} bytes)`,
        );
      }
    }
    const raw = reader.consume(total).subarray(header.headerLen);
    const payload = header.maskKey ? applyMask(raw, header.maskKey) : raw;
    return {
      fin: header.fin,
      rsv: header.rsv,
      opcode: header.opcode,
      masked: header.masked,
      maskKey: header.maskKey,
      payload,
    };
  }

  /** Like {@linkcode readFrame} but throws on EOF. */
  async expectFrame(timeoutMs = DEFAULT_READ_TIMEOUT): Promise<Frame> {
    const frame = await this.readFrame(timeoutMs);
    if (frame === null) {
      throw new Error("connection ended where a frame was expected");
    }
    return frame;
  }

  /**
   * Reads frames until a data message is complete (a data frame with FIN).
   * Control frames in between are only collected in `frames`. Null on EOF
   * before any frame.
   */
  async readMessage(timeoutMs = DEFAULT_READ_TIMEOUT): Promise<Message | null> {
    const deadline = Date.now() + timeoutMs;
    const frames: Frame[] = [];
    const parts: Uint8Array[] = [];
    let opcode: number | undefined;
    for (;;) {
      const frame = await this.readFrame(Math.max(1, deadline - Date.now()));
      if (frame === null) {
        if (frames.length === 0) return null;
        throw new Error("connection ended inside a message");
      }
      frames.push(frame);
      if (frame.opcode >= 8) continue;
      opcode ??= frame.opcode;
      parts.push(frame.payload);
      if (frame.fin) return { opcode, payload: concat(parts), frames };
    }
  }

  /** Reads the next frame and requires it to be a close frame. */
  async expectClose(timeoutMs = DEFAULT_READ_TIMEOUT): Promise<CloseFrameInfo> {
    const frame = await this.expectFrame(timeoutMs);
    if (frame.opcode !== OP.CLOSE) {
      throw new Error(`expected a close frame, got opcode ${frame.opcode}`);
    }
    return parseClosePayload(frame.payload);
  }

  /**
   * Acts as a plain echo server until the client closes: echoes every data
   * frame as-is (same FIN/RSV/opcode, unmasked), answers pings with pongs,
   * ignores pongs, and answers a close with the same close payload. Returns
   * that close, or null if the connection ended without one.
   * `timeoutMs` bounds the wait for each frame.
   */
  async echoUntilClose(
    timeoutMs = DEFAULT_READ_TIMEOUT,
  ): Promise<CloseFrameInfo | null> {
    for (;;) {
      const frame = await this.readFrame(timeoutMs);
      if (frame === null) return null;
      if (frame.opcode === OP.CLOSE) {
        await this.sendFrame({ opcode: OP.CLOSE, payload: frame.payload });
        return parseClosePayload(frame.payload);
      }
      if (frame.opcode === OP.PING) {
        await this.sendFrame({ opcode: OP.PONG, payload: frame.payload });
      } else if (frame.opcode !== OP.PONG) {
        await this.sendFrame({
          fin: frame.fin,
          rsv: frame.rsv,
          opcode: frame.opcode,
          payload: frame.payload,
        });
      }
    }
  }

  /** Reads exactly `n` raw bytes; throws on EOF or timeout. */
  async readBytes(
    n: number,
    timeoutMs = DEFAULT_READ_TIMEOUT,
  ): Promise<Uint8Array> {
    const bytes = await this.#reader.readExactly(n, timeoutMs);
    if (bytes === null) throw new Error(`connection ended before ${n} bytes`);
    return bytes;
  }

  /** Reads all remaining bytes until the client closes; throws on timeout. */
  readUntilEof(timeoutMs = DEFAULT_READ_TIMEOUT): Promise<Uint8Array> {
    return this.#reader.readUntilEof(timeoutMs);
  }

  /** Sends FIN (TCP) or close_notify (TLS) while still allowing reads. */
  async closeWrite(): Promise<void> {
    await this.conn.closeWrite();
  }

  /**
   * Graceful end: half-closes, then drains input until the client closes or
   * `lingerMs` passes, then closes. Draining avoids a TCP reset that could
   * destroy bytes the client has not read yet. Never throws.
   */
  async end(lingerMs = 1000): Promise<void> {
    if (this.#closed) return;
    try {
      await this.conn.closeWrite();
      await this.#reader.readUntilEof(lingerMs);
    } catch {
      // Already reset, or the client kept its side open: close anyway.
    }
    this.close();
  }

  /** Closes the connection at once (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed by the other side's failure path.
    }
  }
}

/** Options of {@linkcode startScriptedServer}. */
export interface ScriptedServerOptions {
  /** Address to listen on; default "127.0.0.1". */
  hostname?: string;
  /** Port; default 0 (any free port). */
  port?: number;
  /** Serve TLS: `true` uses the fixture server certificate, or give PEMs. */
  tls?: boolean | { cert: string; key: string };
}

/** A running scripted server. */
export interface ScriptedServer {
  readonly hostname: string;
  readonly port: number;
  /** `ws://host:port` (or `wss://`); add a path as needed. */
  readonly url: string;
  /** Number of connections accepted so far. */
  readonly connections: number;
  /** Errors thrown by handlers (recorded, never rethrown). */
  readonly errors: unknown[];
  /** Waits until every handler started so far has finished. */
  settled(): Promise<void>;
  /** Stops listening, closes every connection at once and waits for the handlers. */
  close(): Promise<void>;
}

/** Handler run once per accepted connection. */
export type ScriptedHandler = (peer: ScriptedPeer) => void | Promise<void>;

/**
 * Starts a scripted server. `handler` runs for every accepted connection;
 * when it returns, the connection is ended gracefully ({@linkcode ScriptedPeer.end}),
 * and when it throws, the error goes to `errors` and the connection is closed.
 */
export function startScriptedServer(
  handler: ScriptedHandler,
  opts: ScriptedServerOptions = {},
): ScriptedServer {
  const hostname = opts.hostname ?? "127.0.0.1";
  const tls = opts.tls === true ? testCerts() : opts.tls || undefined;
  const listener: Deno.Listener = tls
    ? Deno.listenTls({
      hostname,
      port: opts.port ?? 0,
      cert: tls.cert,
      key: tls.key,
    })
    : Deno.listen({ hostname, port: opts.port ?? 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const peers = new Set<ScriptedPeer>();
  const running = new Set<Promise<void>>();
  const errors: unknown[] = [];
  let connections = 0;
  let closing = false;

  const runPeer = async (peer: ScriptedPeer) => {
    try {
      await handler(peer);
      await peer.end();
    } catch (err) {
      if (!closing) errors.push(err);
      peer.close();
    } finally {
      peers.delete(peer);
    }
  };

  const acceptLoop = (async () => {
    try {
      for await (const conn of listener) {
        if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
        const peer = new ScriptedPeer(conn, connections++);
        if (closing) {
          peer.close();
          continue;
        }
        peers.add(peer);
        const task = runPeer(peer);
        running.add(task);
        task.finally(() => running.delete(task));
      }
    } catch (err) {
      if (!closing) errors.push(err);
    }
  })();

  return {
    hostname,
    port,
    url: `${tls ? "wss" : "ws"}://${hostPort(hostname, port)}`,
    get connections() {
      return connections;
    },
    errors,
    async settled() {
      while (running.size > 0) await Promise.all([...running]);
    },
    async close() {
      if (closing) return;
      closing = true;
      listener.close();
      await acceptLoop;
      for (const peer of peers) peer.close();
      await Promise.all([...running]);
    },
  };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
