/**
 * What the CLI does with every received frame piece: print it in the
 * selected format, report control frames, echo messages back.
 *
 * @module
 */

import {
  CloseCode,
  flagNames,
  type FrameMeta,
  type WebSocketConnection,
  WebSocketError,
  WS,
} from "../../mod.ts";
import { MessageBuffer } from "../message_buffer.ts";
import { escapeControls } from "./escape.ts";
import { CliError, ExitCode } from "./exit.ts";
import type { Output } from "./output.ts";

/** How received data is printed. */
export type PrintMode =
  | "lines" // each message + "\n"
  | "text" // like lines, binary messages decoded as UTF-8 (U+FFFD for bad bytes)
  | "binary" // raw bytes, no separators
  | "base64" // binary messages as base64 lines, text as lines
  | "json" // each piece as a JSON line with its metadata
  | "raw" // undecoded bytes (raw mode)
  | "echo"; // nothing printed; every message is sent back

/** Callbacks into the session. */
export interface ReceiverHooks {
  /** A whole data message was received; `count` is how many so far. */
  onMessage(count: number): void;
  /** A data piece (raw mode: a chunk) of `size` bytes arrived. */
  onData(size: number): void;
  /** A pong arrived. */
  onPong(): void;
  /** The peer's close frame arrived. */
  onClose(): void;
}

/** Options of {@linkcode Receiver}. */
export interface ReceiverOptions {
  mode: PrintMode;
  /** Print nothing after this many messages (-1, --max-messages). */
  limit?: number;
  /** Trace control frames (-v). */
  verbose: boolean;
  /** Report pings and pongs (-P). */
  showPingPong: boolean;
}

/** Largest message assembled for --base64 and --echo. */
const MAX_ASSEMBLED = 64 * 1024 * 1024;
const CONTROL = WS.PING | WS.PONG | WS.CLOSE;
const decoder = new TextDecoder();

/** Base64 of bytes of any size. */
export function toBase64(bytes: Uint8Array): string {
  let s = "";
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) {
    s += String.fromCharCode(...bytes.subarray(i, i + step));
  }
  return btoa(s);
}

/** Bytes of a base64 string; throws a CliError when it is not base64. */
export function fromBase64(text: string): Uint8Array {
  let raw: string;
  try {
    raw = atob(text.replace(/\s+/g, ""));
  } catch {
    throw new CliError(ExitCode.USAGE, "input is not valid base64");
  }
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

/**
 * Code and reason of a close frame's payload, for display only (the library
 * has validated it by the time the piece is delivered).
 */
export function describeClose(payload: Uint8Array): string {
  if (payload.length < 2) return "(no code)";
  const code = (payload[0] << 8) | payload[1];
  const reason = decoder.decode(payload.subarray(2));
  return reason ? `${code} ${JSON.stringify(reason)}` : `${code}`;
}

/** Control frame payloads shown as text when printable, else as base64. */
function showPayload(payload: Uint8Array): string {
  if (payload.length === 0) return "";
  const text = decoder.decode(payload);
  // deno-lint-ignore no-control-regex
  return /^[^\x00-\x1f\x7f\ufffd]*$/.test(text)
    ? ` ${JSON.stringify(text)}`
    : ` base64:${toBase64(payload)}`;
}

/** How many bytes of a binary message a terminal shows in hex. */
const HEX_PREVIEW = 32;

/**
 * A binary message for a terminal, `[binary 12 B] 00 01 02 …`: raw bytes
 * would be invisible or taken as terminal commands.
 */
export class HexPreview {
  #head = new Uint8Array(HEX_PREVIEW);
  #kept = 0;
  #size = 0;

  /** Counts a piece and keeps what the preview shows of it. */
  add(piece: Uint8Array): void {
    const room = HEX_PREVIEW - this.#kept;
    if (room > 0) {
      const part = piece.subarray(0, room);
      this.#head.set(part, this.#kept);
      this.#kept += part.length;
    }
    this.#size += piece.length;
  }

  /** The preview line of the message so far; starts the next message. */
  take(): string {
    const hex = Array.from(
      this.#head.subarray(0, this.#kept),
      (b) => b.toString(16).padStart(2, "0"),
    ).join(" ");
    const more = this.#size > this.#kept ? " …" : "";
    const line = `[binary ${this.#size} B]${hex ? " " + hex : ""}${more}`;
    this.#kept = this.#size = 0;
    return line;
  }
}

/** Handles every piece delivered by `conn.perform()`. */
export class Receiver {
  /** --text: binary messages shown as UTF-8 text. */
  #binaryAsText = new TextDecoder();
  /** Whole data messages received so far. */
  messages = 0;
  #options: ReceiverOptions;
  #out: Output;
  #hooks: ReceiverHooks;
  /** Inside a message: its first piece has been printed. */
  #inMessage = false;
  /** --echo, --base64: the message so far, one buffer (no copy per piece). */
  #message = new MessageBuffer(MAX_ASSEMBLED);
  /** Text shown on a terminal, decoded across pieces, then escaped. */
  #terminalText = new TextDecoder();
  /** Binary messages shown on a terminal as one hexdump line. */
  #hex = new HexPreview();
  /** Text pieces may split a UTF-8 sequence; JSON needs whole characters. */
  #jsonText = new TextDecoder();

  /** A receiver printing to `out` and reporting to `hooks`. */
  constructor(options: ReceiverOptions, out: Output, hooks: ReceiverHooks) {
    this.#options = options;
    this.#out = out;
    this.#hooks = hooks;
  }

  /** The `perform()` callback. */
  onFrame = async (
    data: Uint8Array,
    meta: FrameMeta,
    conn: WebSocketConnection,
  ): Promise<void> => {
    const mode = this.#options.mode;
    if (mode === "raw") {
      this.#hooks.onData(data.length);
      await this.#out.write(data);
      return;
    }
    if (meta.flags & CONTROL) {
      await this.#control(data, meta);
      return;
    }
    this.#hooks.onData(data.length);
    const last = meta.bytesleft === 0 && (meta.flags & WS.CONT) === 0;
    const limit = this.#options.limit;
    if (limit !== undefined && this.messages >= limit) return;
    if (mode === "json") {
      await this.#json(data, meta, last);
    } else if (
      mode === "echo" || (mode === "base64" && meta.flags & WS.BINARY)
    ) {
      if (!this.#message.append(data, meta.bytesleft)) {
        this.#tooBig(conn);
      }
      if (last) {
        const whole = this.#message.take();
        if (mode === "echo") {
          await conn.send(whole, meta.flags & (WS.TEXT | WS.BINARY));
        } else {
          await this.#out.beginMessage();
          await this.#out.write(toBase64(whole));
          await this.#out.endMessage();
        }
      }
    } else {
      if (!this.#inMessage && mode !== "binary") {
        await this.#out.beginMessage();
      }
      this.#inMessage = true;
      if (mode === "text" && meta.flags & WS.BINARY) {
        const text = this.#binaryAsText.decode(data, { stream: !last });
        await this.#out.write(this.#shown(text));
      } else if (this.#out.terminal && mode === "lines") {
        if (meta.flags & WS.BINARY) this.#hex.add(data);
        else {
          await this.#out.write(
            this.#shown(this.#terminalText.decode(data, { stream: !last })),
          );
        }
        if (last && meta.flags & WS.BINARY) {
          await this.#out.write(this.#hex.take());
        }
      } else {
        await this.#out.write(data);
      }
      if (last && mode !== "binary") await this.#out.endMessage();
    }
    if (last) {
      this.#inMessage = false;
      this.#hooks.onMessage(++this.messages);
    }
  };

  /** Text for stdout: escaped when stdout is a terminal. */
  #shown(text: string): string {
    return this.#out.terminal ? escapeControls(text) : text;
  }

  /**
   * A message past the limit: close with 1009 as the library does for its
   * own maxMessageSize (RFC 6455 §7.4.1), then fail with the same error.
   */
  #tooBig(conn: WebSocketConnection): never {
    const why = `message larger than ${MAX_ASSEMBLED} bytes`;
    conn.close(CloseCode.MESSAGE_TOO_BIG, "message too big").catch(() => {});
    throw new WebSocketError("MESSAGE_TOO_BIG", why);
  }

  async #json(data: Uint8Array, meta: FrameMeta, last: boolean) {
    const record: Record<string, unknown> = {
      flags: flagNames(meta.flags),
      offset: meta.offset,
      bytesleft: meta.bytesleft,
      len: meta.len,
      data: meta.flags & WS.TEXT
        ? this.#jsonText.decode(data, { stream: !last })
        : toBase64(data),
    };
    if (meta.flags & WS.CLOSE && data.length >= 2) {
      record.code = (data[0] << 8) | data[1];
      record.reason = decoder.decode(data.subarray(2));
    }
    await this.#out.write(JSON.stringify(record) + "\n");
  }

  async #control(data: Uint8Array, meta: FrameMeta): Promise<void> {
    const { verbose, showPingPong, mode } = this.#options;
    const whole = meta.offset === 0 && meta.bytesleft === 0;
    if (mode === "json") await this.#json(data, meta, true);
    if (meta.flags & WS.CLOSE) {
      if (verbose) {
        this.#out.trace(
          `* received CLOSE${whole ? " " + describeClose(data) : ""}`,
        );
      }
      if (meta.bytesleft === 0) this.#hooks.onClose();
      return;
    }
    const name = meta.flags & WS.PING ? "PING" : "PONG";
    if (verbose || showPingPong) {
      this.#out.trace(`* received ${name}${showPayload(data)}`);
      // The library answers pings itself (auto-pong); show that too.
      if (verbose && name === "PING" && whole) {
        this.#out.trace(`* sent PONG${showPayload(data)} (automatic)`);
      }
    }
    if (meta.flags & WS.PONG && meta.bytesleft === 0) this.#hooks.onPong();
  }
}
