/**
 * One test-case connection on the server side: sends crafted frames with
 * chosen TCP chopping and delays, and records everything the client sends
 * back with timestamps, checking each client frame against RFC 6455 as it
 * arrives.
 *
 * @module
 */

import {
  closePayload,
  concat,
  type DecodedFrame,
  encodeFrame,
  FrameReader,
  type FrameSpec,
  hex,
  isUtf8,
  isValidCloseCode,
  OP,
  opName,
  payloadBytes,
  preview,
} from "./wire.ts";
import { writeAll } from "./handshake.ts";
import type { UpgradeRequest } from "./handshake.ts";
import type { DeflateCodec } from "./deflate.ts";

/** One line of a case's trace: what was sent (tx), received (rx), or a note. */
export interface TraceEntry {
  /** Milliseconds since the connection was accepted. */
  t: number;
  dir: "tx" | "rx" | "note";
  text: string;
}

/** A whole data message received from the client. */
export interface ReceivedMessage {
  t: number;
  opcode: number;
  payload: Uint8Array;
}

/** The client's close frame. */
export interface ReceivedClose {
  t: number;
  /** Status code, or null for an empty close payload. */
  code: number | null;
  reason: string;
  raw: Uint8Array;
}

/** How to put bytes on the wire. */
export interface SendOptions {
  /** Write the bytes in pieces of this many bytes (TCP chops). */
  chop?: number;
  /** Wait this long between pieces (and between frames when `perFrame`). */
  delayMs?: number;
  /** Write each frame separately (Autobahn's "frame-wise"). */
  perFrame?: boolean;
  /** Trace text to use instead of the per-frame description. */
  note?: string;
  /** Leave no trace line (for the 1000-round-trip cases). */
  silent?: boolean;
}

const MAX_TRACE = 400;
const PREVIEW_BYTES = 40;

/** Milliseconds to sleep; the timer is always cleared. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Which side the scripted end plays. "server" (the normal suite): the peer
 * is a client and must mask every frame. "client" (the flipped suite): the
 * scripted end masks its frames and the peer, a server, must not mask.
 */
export type ScriptedRole = "server" | "client";

/** Per-connection state of one case. */
export class Session {
  readonly conn: Deno.Conn;
  readonly request: UpgradeRequest;
  readonly role: ScriptedRole;
  readonly t0: number = performance.now();
  /** Extensions the server accepted in its 101 (none unless a case negotiated one). */
  extensions = "";
  /** permessage-deflate codec when negotiated: RSV1 marks compressed client messages. */
  deflate: DeflateCodec | null = null;
  /** Data messages from the client that came compressed (RSV1). */
  compressedMessages = 0;

  readonly trace: TraceEntry[] = [];
  traceDropped = 0;
  readonly frames: Array<DecodedFrame & { t: number }> = [];
  readonly messages: ReceivedMessage[] = [];
  readonly pongs: Array<{ t: number; payload: Uint8Array }> = [];
  clientClose: ReceivedClose | null = null;
  /** Time the client closed its side of TCP (read EOF or reset). */
  eofAt: number | null = null;
  serverCloseSentAt: number | null = null;
  /** Problems with what the client sent: each one fails the case. */
  readonly violations: string[] = [];
  /** Set once a write failed: the client is gone and further sends are skipped. */
  writeError: string | null = null;
  readonly marks: Map<string, number> = new Map();
  /** Bytes of payload sent in data frames, for timeouts of big cases. */
  bytesSent = 0;

  #reader = new FrameReader();
  #fragments: Uint8Array[] = [];
  #fragOpcode = -1;
  #fragCompressed = false;
  /** Inflating is asynchronous: messages complete in order through this chain. */
  #inflating: Promise<void> = Promise.resolve();
  #waiters = new Set<() => void>();
  #closed = false;
  #readLoop: Promise<void>;
  /** Frames not traced individually once a case gets chatty (9.x). */
  #rxQuiet = 0;

  constructor(
    conn: Deno.Conn,
    request: UpgradeRequest,
    role: ScriptedRole = "server",
  ) {
    this.conn = conn;
    this.request = request;
    this.role = role;
    this.#readLoop = this.#read(request.rest);
  }

  /** Milliseconds since the connection was accepted. */
  now(): number {
    return Math.round((performance.now() - this.t0) * 10) / 10;
  }

  /** Adds a trace line (bounded, so 65536-frame cases stay small). */
  note(dir: TraceEntry["dir"], text: string): void {
    if (this.trace.length >= MAX_TRACE) {
      this.traceDropped++;
      return;
    }
    this.trace.push({ t: this.now(), dir, text });
  }

  /** Remembers the current time under `name` (for fail-fast judgements). */
  mark(name: string): void {
    this.marks.set(name, this.now());
    this.note("note", `mark "${name}"`);
  }

  /** True once nothing more can be exchanged: the client left or the server closed. */
  get dead(): boolean {
    return this.eofAt !== null || this.writeError !== null || this.#closed;
  }

  /** True once the client sent a close frame or closed TCP. */
  get clientGone(): boolean {
    return this.clientClose !== null || this.eofAt !== null;
  }

  /**
   * Sends frames. Bytes go out as one write unless chopping is asked for;
   * a failed write (client already gone) is recorded, not thrown.
   */
  async send(
    frames: FrameSpec | FrameSpec[],
    opts: SendOptions = {},
  ): Promise<void> {
    const list = (Array.isArray(frames) ? frames : [frames]).map((f) =>
      this.#prepare(f)
    );
    const encoded = list.map((f) => encodeFrame(f));
    for (const f of list) {
      if (f.opcode === OP.CLOSE && this.serverCloseSentAt === null) {
        this.serverCloseSentAt = this.now();
      }
      if (f.opcode < 8) this.bytesSent += payloadBytes(f.payload).length;
    }
    if (opts.silent) { /* nothing */ }
    else if (opts.note) this.note("tx", opts.note);
    else if (list.length > 12) {
      this.note(
        "tx",
        `${list.length} frames: ${describeFrame(list[0])}, … , ${
          describeFrame(list[list.length - 1])
        }`,
      );
    } else for (const f of list) this.note("tx", describeFrame(f));
    if (opts.perFrame) {
      for (let i = 0; i < encoded.length; i++) {
        if (i > 0 && opts.delayMs) await sleep(opts.delayMs);
        await this.sendRaw(encoded[i], {
          chop: opts.chop,
          delayMs: opts.delayMs,
          quiet: true,
        });
      }
    } else {
      await this.sendRaw(encoded.length === 1 ? encoded[0] : concat(encoded), {
        chop: opts.chop,
        delayMs: opts.delayMs,
        quiet: true,
      });
    }
  }

  /** Writes raw bytes, optionally chopped, recording a trace line unless `quiet`. */
  async sendRaw(
    bytes: Uint8Array,
    opts: { chop?: number; delayMs?: number; quiet?: boolean } = {},
  ): Promise<void> {
    if (!opts.quiet) this.note("tx", `raw 0x[${hex(bytes, PREVIEW_BYTES)}]`);
    if (opts.chop && opts.chop > 0 && bytes.length > opts.chop) {
      this.note(
        "note",
        `in ${
          Math.ceil(bytes.length / opts.chop)
        } TCP chops of ${opts.chop} bytes${
          opts.delayMs ? `, ${opts.delayMs} ms apart` : ""
        }`,
      );
    }
    const step = opts.chop && opts.chop > 0 ? opts.chop : bytes.length;
    for (let o = 0; o < bytes.length; o += step) {
      if (o > 0 && opts.delayMs) await sleep(opts.delayMs);
      if (!(await this.#write(bytes.subarray(o, o + step)))) return;
    }
  }

  async #write(bytes: Uint8Array): Promise<boolean> {
    if (this.writeError !== null || this.#closed) return false;
    try {
      await writeAll(this.conn, bytes);
      return true;
    } catch (e) {
      this.writeError = e instanceof Error ? e.message : String(e);
      this.note("note", `write failed (client gone): ${this.writeError}`);
      return false;
    }
  }

  /** A client masks every frame, unless the case sends an unmasked one on purpose. */
  #prepare(f: FrameSpec): FrameSpec {
    if (this.role !== "client" || f.unmasked || f.maskKey) return f;
    return { ...f, maskKey: crypto.getRandomValues(new Uint8Array(4)) };
  }

  /** The wire bytes of a frame as this side sends it (masked in the client role). */
  encode(spec: FrameSpec): Uint8Array {
    return encodeFrame(this.#prepare(spec));
  }

  /** Sends a close frame with a code (and reason), or an empty one for `null`. */
  sendClose(
    code: number | null,
    reason: string | Uint8Array = "",
  ): Promise<void> {
    return this.send({
      opcode: OP.CLOSE,
      payload: code === null ? new Uint8Array(0) : closePayload(code, reason),
    });
  }

  /** Resolves true once `cond()` holds, false after `timeoutMs`. */
  waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
    if (cond()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        const ok = cond();
        if (ok || this.#closed) {
          this.#waiters.delete(check);
          clearTimeout(timer);
          resolve(ok);
        }
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        resolve(cond());
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  /** Waits until the client sent a close frame or dropped TCP; the fail-fast pause. */
  waitClientGone(timeoutMs: number): Promise<boolean> {
    return this.waitFor(() => this.clientGone, timeoutMs);
  }

  /** Closes the TCP connection (server side closes first, RFC 6455 §7.1.1). */
  async closeTcp(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.note("note", "suite closes TCP");
      try {
        this.conn.close();
      } catch { /* already closed */ }
      this.#notify();
    }
    await this.#readLoop;
    await this.#inflating;
    this.deflate?.close();
  }

  #notify(): void {
    for (const w of [...this.#waiters]) w();
  }

  async #read(early: Uint8Array): Promise<void> {
    if (early.length > 0) this.#onBytes(early);
    const buf = new Uint8Array(256 * 1024);
    try {
      for (;;) {
        const n = await this.conn.read(buf);
        if (n === null) break;
        this.#onBytes(buf.subarray(0, n));
      }
    } catch (e) {
      if (!this.#closed) {
        this.note("note", `read error: ${e instanceof Error ? e.message : e}`);
      }
    }
    if (!this.#closed) {
      this.eofAt = this.now();
      this.note("rx", "TCP closed by peer");
      if (this.#reader.buffered > 0) {
        this.violations.push(
          `client closed TCP in the middle of a frame (${this.#reader.buffered} bytes pending)`,
        );
      }
    }
    this.#notify();
  }

  #onBytes(chunk: Uint8Array): void {
    for (const f of this.#reader.push(chunk)) {
      this.#onFrame({ ...f, t: this.now() });
    }
    this.#notify();
  }

  #violation(text: string): void {
    this.violations.push(text);
    this.note("note", `VIOLATION: ${text}`);
  }

  #onFrame(f: DecodedFrame & { t: number }): void {
    this.frames.push(f);
    const desc = `${opName(f.opcode)} fin=${f.fin ? 1 : 0}${
      f.rsv ? ` rsv=${f.rsv}` : ""
    }${
      (this.role === "server") === f.masked
        ? ""
        : f.masked
        ? " MASKED"
        : " UNMASKED"
    } len=${f.length} ${
      f.opcode === OP.CLOSE && f.length >= 2
        ? `code=${(f.payload[0] << 8) | f.payload[1]} reason=${
          preview(f.payload.subarray(2), PREVIEW_BYTES)
        }`
        : preview(f.payload, PREVIEW_BYTES)
    }`;
    if (this.frames.length <= 60 || f.opcode >= 8) this.note("rx", desc);
    else if (++this.#rxQuiet === 1) {
      this.note("note", "(further data frames not traced)");
    }

    if (this.clientClose) {
      this.#violation(`client sent ${opName(f.opcode)} after its close frame`);
    }
    if (this.role === "server" && !f.masked) {
      this.#violation(`client frame ${opName(f.opcode)} is not masked`);
    }
    if (this.role === "client" && f.masked) {
      this.#violation(`server frame ${opName(f.opcode)} is masked`);
    }
    if (f.rsv !== 0) {
      // With permessage-deflate, RSV1 may mark the first frame of a data message.
      const compressedStart = this.deflate !== null && f.rsv === 4 &&
        (f.opcode === OP.TEXT || f.opcode === OP.BINARY);
      if (!compressedStart) {
        this.#violation(
          `client frame ${opName(f.opcode)} has RSV bits ${f.rsv} set`,
        );
      }
    }
    if (f.nonMinimalLength) {
      this.#violation("client frame length not minimally encoded");
    }
    if (f.opcode >= 8) {
      if (!f.fin) {
        this.#violation(
          `client control frame ${opName(f.opcode)} is fragmented`,
        );
      }
      if (f.length > 125) {
        this.#violation(
          `client control frame ${opName(f.opcode)} has ${f.length} bytes`,
        );
      }
    }
    switch (f.opcode) {
      case OP.TEXT:
      case OP.BINARY:
        if (this.#fragOpcode !== -1) {
          this.#violation("client started a message inside another");
        }
        this.#fragOpcode = f.opcode;
        this.#fragCompressed = (f.rsv & 4) !== 0 && this.deflate !== null;
        this.#fragments = [f.payload];
        if (f.fin) this.#endMessage(f.t);
        break;
      case OP.CONT:
        if (this.#fragOpcode === -1) {
          this.#violation(
            "client sent a continuation with no message to continue",
          );
        } else {
          this.#fragments.push(f.payload);
          if (f.fin) this.#endMessage(f.t);
        }
        break;
      case OP.PING:
        this.note(
          "note",
          "client sent a ping (unexpected but legal); not answered",
        );
        break;
      case OP.PONG:
        this.pongs.push({ t: f.t, payload: f.payload });
        break;
      case OP.CLOSE:
        if (!this.clientClose) this.#onClose(f);
        break;
      default:
        this.#violation(`client sent reserved opcode ${f.opcode}`);
    }
  }

  #endMessage(t: number): void {
    const raw = this.#fragments.length === 1
      ? this.#fragments[0]
      : concat(this.#fragments);
    const opcode = this.#fragOpcode;
    const deliver = (payload: Uint8Array) => {
      if (opcode === OP.TEXT && !isUtf8(payload)) {
        this.#violation("client sent a text message that is not valid UTF-8");
      }
      this.messages.push({ t, opcode, payload });
    };
    if (this.deflate) {
      const codec = this.deflate, compressed = this.#fragCompressed;
      if (compressed) this.compressedMessages++;
      this.#inflating = this.#inflating.then(async () => {
        try {
          deliver(compressed ? await codec.decompress(raw) : raw);
        } catch (e) {
          this.#violation(
            `client's compressed message does not inflate: ${
              e instanceof Error ? e.message : e
            }`,
          );
        }
        this.#notify();
      });
    } else deliver(raw);
    this.#fragOpcode = -1;
    this.#fragments = [];
  }

  /** Resolves once every received message has been inflated. */
  settled(): Promise<void> {
    return this.#inflating;
  }

  /**
   * Sends a message compressed with the negotiated permessage-deflate
   * (RSV1 on the first frame), in frames of at most `fragSize` bytes of
   * compressed data.
   */
  async sendCompressed(
    opcode: number,
    payload: Uint8Array,
    fragSize = 0,
    opts: SendOptions = {},
  ): Promise<void> {
    const data = await this.deflate!.compress(payload);
    const frames: FrameSpec[] = [];
    const step = fragSize > 0 ? fragSize : Math.max(data.length, 1);
    for (let o = 0; o === 0 || o < data.length; o += step) {
      frames.push({
        opcode: o === 0 ? opcode : OP.CONT,
        rsv: o === 0 ? 4 : 0,
        payload: data.subarray(o, o + step),
        fin: o + step >= data.length,
      });
    }
    const note = `${
      opName(opcode)
    } len=${payload.length} compressed to ${data.length} in ${frames.length} frame(s)`;
    await this.send(frames, opts.silent ? opts : { note, ...opts });
  }

  #onClose(f: DecodedFrame & { t: number }): void {
    const p = f.payload;
    let code: number | null = null;
    let reason = "";
    if (p.length === 1) {
      this.#violation("client close frame has a 1-byte payload");
    }
    if (p.length >= 2) {
      code = (p[0] << 8) | p[1];
      if (!isValidCloseCode(code)) {
        this.#violation(`client sent invalid close code ${code}`);
      }
      const r = p.subarray(2);
      if (!isUtf8(r)) this.#violation("client close reason is not valid UTF-8");
      reason = new TextDecoder("utf-8", { ignoreBOM: true }).decode(r);
    }
    this.clientClose = { t: f.t, code, reason, raw: p };
  }
}

/** One-line description of a frame spec, for traces. */
export function describeFrame(f: FrameSpec): string {
  const p = payloadBytes(f.payload);
  let text = `${opName(f.opcode)} fin=${(f.fin ?? true) ? 1 : 0}`;
  if (f.rsv) text += ` rsv=${f.rsv}`;
  if (f.maskKey) text += " masked";
  if (f.unmasked) text += " UNMASKED";
  text += ` len=${p.length}`;
  if (f.opcode === OP.CLOSE && p.length >= 2) {
    text += ` code=${(p[0] << 8) | p[1]} reason=${
      preview(p.subarray(2), PREVIEW_BYTES)
    }`;
  } else if (p.length > 0) text += ` ${preview(p, PREVIEW_BYTES)}`;
  return text;
}
