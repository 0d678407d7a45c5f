/**
 * `--trace FILE` / `--trace-ascii FILE` in curl's spirit: the handshake and
 * every frame both ways, each with a timestamp, direction, opcode, FIN, RSV
 * and MASK bits and length, then a hex + ASCII dump (`--trace-ascii`: text
 * only). `-` writes to stderr.
 *
 * What we send is known exactly. Of received frames the public API shows
 * the pieces with their FrameMeta (type, CONT, offset, bytesleft, len):
 * the opcode and FIN follow from those, MASK from the role (a client only
 * accepts unmasked frames, a server only masked ones); the RSV bits are not
 * exposed, so they are printed as "?".
 *
 * @module
 */

import {
  type FrameMeta,
  isValidCloseCode,
  type WebSocketConnection,
  WS,
} from "../../mod.ts";
import { CliError, ExitCode } from "./exit.ts";
import type { SyncSink } from "./output.ts";

const encoder = new TextEncoder();
const CONTROL = WS.PING | WS.PONG | WS.CLOSE;

function timestamp(): string {
  return new Date().toISOString().slice(11, 23);
}

function printable(b: number): string {
  return b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".";
}

/** curl's hex dump: offset, 16 bytes in hex, the same bytes as ASCII. */
export function hexDump(data: Uint8Array): string {
  let out = "";
  for (let off = 0; off < data.length; off += 16) {
    const row = data.subarray(off, off + 16);
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, "0"))
      .join(" ");
    out += `${off.toString(16).padStart(4, "0")}: ${hex.padEnd(48)} ${
      Array.from(row, printable).join("")
    }\n`;
  }
  return out;
}

/** curl's --trace-ascii dump: text lines, non-printable bytes as '.'. */
export function asciiDump(data: Uint8Array): string {
  let out = "";
  let off = 0;
  while (off < data.length) {
    let end = data.indexOf(0x0a, off);
    end = end === -1 || end - off >= 64
      ? Math.min(off + 64, data.length)
      : end + 1;
    const text = Array.from(data.subarray(off, end), printable).join("");
    out += `${off.toString(16).padStart(4, "0")}: ${text}\n`;
    off = end;
  }
  return out;
}

function opcodeName(flags: number, continuing: boolean): string {
  if (flags & WS.CLOSE) return "CLOSE";
  if (flags & WS.PING) return "PING";
  if (flags & WS.PONG) return "PONG";
  if (continuing) return "CONT";
  return flags & WS.BINARY ? "BINARY" : "TEXT";
}

/** One side's fragmentation state, to name continuation frames. */
class Direction {
  continuing = false;
}

/** Writes the trace of one run to a sink. */
export class Trace {
  #sink: SyncSink;
  #ascii: boolean;
  #role: "client" | "server";
  #sent = new Direction();
  #received = new Direction();
  /** permessage-deflate: data frames may carry RSV1; we do not see which. */
  #compressed = false;

  /** A trace for the `role` side, written to `sink`. */
  constructor(sink: SyncSink, ascii: boolean, role: "client" | "server") {
    this.#sink = sink;
    this.#ascii = ascii;
    this.#role = role;
  }

  #write(text: string): void {
    const bytes = encoder.encode(text);
    try {
      for (let off = 0; off < bytes.length;) {
        off += this.#sink.writeSync(bytes.subarray(off));
      }
    } catch {
      // The trace file went away; the run goes on without it.
    }
  }

  #dump(data: Uint8Array): string {
    return this.#ascii ? asciiDump(data) : hexDump(data);
  }

  /** An HTTP head, as text (a request as written, a response as received). */
  head(direction: "send" | "recv", text: string): void {
    const bytes = encoder.encode(text);
    this.#write(
      `${timestamp()} ${
        direction === "send" ? "=> Send" : "<= Recv"
      } header, ${bytes.length} bytes\n${this.#dump(bytes)}`,
    );
  }

  /** A frame we send: `flags` as for `send()`. */
  sent(data: Uint8Array, flags: number): void {
    const control = (flags & CONTROL) !== 0;
    const fin = control || !(flags & WS.CONT);
    const op = opcodeName(flags, !control && this.#sent.continuing);
    if (!control) this.#sent.continuing = !fin;
    const mask = this.#role === "client" ? 1 : 0;
    const rsv = this.#compressed && !control ? "?" : "0";
    this.#write(
      `${timestamp()} => Send frame ${op} fin=${
        fin ? 1 : 0
      } rsv=${rsv} mask=${mask} len=${data.length}\n${this.#dump(data)}`,
    );
  }

  /** A received piece with its metadata from perform(). */
  received(data: Uint8Array, meta: FrameMeta): void {
    const control = (meta.flags & CONTROL) !== 0;
    const fin = control || !(meta.flags & WS.CONT);
    const op = opcodeName(meta.flags, !control && this.#received.continuing);
    const frameLen = meta.offset + data.length + meta.bytesleft;
    const lastPiece = meta.bytesleft === 0;
    if (!control && lastPiece) this.#received.continuing = !fin;
    const mask = this.#role === "client" ? 0 : 1;
    const piece = meta.offset === 0 && lastPiece
      ? ""
      : ` (piece at ${meta.offset}, ${meta.bytesleft} left)`;
    this.#write(
      `${timestamp()} <= Recv frame ${op} fin=${
        fin ? 1 : 0
      } rsv=? mask=${mask} len=${frameLen}${piece}\n${this.#dump(data)}`,
    );
  }

  /**
   * Traces every frame sent through `conn` by wrapping its send() and
   * close() (perform() callbacks get the same object, so echoes show too).
   * Automatic pongs and the library's answer to a close are not seen here.
   */
  watch(conn: WebSocketConnection): void {
    this.#compressed = conn.extensions.includes("permessage-deflate");
    const send = conn.send.bind(conn);
    const close = conn.close.bind(conn);
    conn.send = (data, flags, fragsize) => {
      const bytes = typeof data === "string" ? encoder.encode(data) : data;
      const result = send(data, flags, fragsize);
      this.sent(
        bytes,
        flags ?? (typeof data === "string" ? WS.TEXT : WS.BINARY),
      );
      return result;
    };
    conn.close = (code = 1000, reason = "") => {
      const result = close(code, reason);
      if (isValidCloseCode(code)) {
        const why = encoder.encode(reason);
        const payload = new Uint8Array(2 + why.length);
        payload[0] = code >> 8;
        payload[1] = code & 0xff;
        payload.set(why, 2);
        this.sent(payload, WS.CLOSE);
      }
      return result;
    };
  }
}

/** Opens the trace sink: a file (created or truncated), or stderr for "-". */
export function openTraceSink(path: string): SyncSink {
  if (path === "-") return Deno.stderr;
  try {
    return Deno.openSync(path, { write: true, create: true, truncate: true });
  } catch (e) {
    const denied = e instanceof Deno.errors.NotCapable ||
      e instanceof Deno.errors.PermissionDenied;
    throw new CliError(
      denied ? ExitCode.ERROR : ExitCode.USAGE,
      `cannot write the trace ${path}: ${
        denied ? `run with --allow-write=${path}` : (e as Error).message
      }`,
    );
  }
}

/** The trace the flags ask for, or null. */
export function traceFor(
  config: { path: string; ascii: boolean } | undefined,
  role: "client" | "server",
): Trace | null {
  return config
    ? new Trace(openTraceSink(config.path), config.ascii, role)
    : null;
}
