/**
 * One WebSocket conversation, client or server side: stdin to messages,
 * messages to stdout, pings, timers and the closing rules.
 *
 * @module
 */

import {
  type CloseInfo,
  type WebSocketConnection,
  WebSocketError,
  WS,
} from "../../mod.ts";
import type { Config } from "./args.ts";
import { CliError, ExitCode, reportError } from "./exit.ts";
import { type InputSource, stripNewline } from "./input.ts";
import type { Output } from "./output.ts";
import { fromBase64, type PrintMode, Receiver } from "./receiver.ts";

/** How a session ended. */
export interface SessionOutcome {
  /** How the connection closed. */
  info: CloseInfo;
  /** Who sent the first close frame, or "none" when no close arrived. */
  closedBy: "us" | "peer" | "none";
  /** SIGINT ended it. */
  interrupted: boolean;
  /** An error that ended it (protocol error, timeout, stdout gone...). */
  error?: unknown;
  /** Raw mode: there are no close frames; the end of the stream is normal. */
  raw: boolean;
}

const END: unique symbol = Symbol("end");
const decoder = new TextDecoder();
/** Close codes that mean "all is well" when the peer closes. */
const NORMAL_CLOSE = new Set([1000, 1001, 1005]);

/** The receive format the flags ask for. */
export function printMode(cfg: Config): PrintMode {
  if (cfg.echo) return "echo";
  if (cfg.raw) return "raw";
  if (cfg.json) return "json";
  if (cfg.base64) return "base64";
  if (cfg.binary) return "binary";
  return cfg.text ? "text" : "lines";
}

/** Runs one connection until it closes. */
export class Session {
  #conn: WebSocketConnection;
  #cfg: Config;
  #input: InputSource | null;
  #out: Output;
  #abort: AbortController;
  #receiver: Receiver;
  #closing = false;
  #closedBy: "us" | "peer" | "none" = "none";
  #interrupted = false;
  #timers: ReturnType<typeof setTimeout>[] = [];
  #pongTimer: ReturnType<typeof setTimeout> | undefined;
  #sending = false;

  /**
   * `abort` must be the controller whose signal the connection was opened
   * with: timeouts abort through it. `input` is null when stdin is not used.
   */
  constructor(
    conn: WebSocketConnection,
    cfg: Config,
    input: InputSource | null,
    out: Output,
    abort: AbortController,
  ) {
    this.#conn = conn;
    this.#cfg = cfg;
    this.#input = input;
    this.#out = out;
    this.#abort = abort;
    const limit = cfg.oneMessage ? 1 : cfg.maxMessages;
    this.#receiver = new Receiver(
      {
        mode: printMode(cfg),
        limit,
        verbose: cfg.verbose,
        showPingPong: cfg.showPingPong,
      },
      out,
      {
        onMessage: (count) => {
          if (limit !== undefined && count >= limit && !this.#sending) {
            this.close(cfg.closeCode, cfg.closeReason);
          }
        },
        onPong: () => {
          clearTimeout(this.#pongTimer);
          this.#pongTimer = undefined;
        },
        onClose: () => {
          if (!this.#closing) this.#closedBy = "peer";
        },
      },
    );
  }

  /** First SIGINT: close politely with 1000. */
  interrupt(): void {
    this.#interrupted = true;
    this.close(1000, "");
  }

  /** Aborts the connection at once with `reason` (a WebSocketError). */
  abort(reason: WebSocketError): void {
    this.#abort.abort(reason);
  }

  /**
   * Sends our close frame once; the peer's answer ends `perform()`. Bad
   * codes from `/close` are reported and the connection stays open.
   */
  close(code: number, reason: string): void {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#closedBy === "none") this.#closedBy = "us";
    if (this.#cfg.verbose) {
      this.#out.trace(
        `> CLOSE ${code}${reason ? " " + JSON.stringify(reason) : ""}`,
      );
    }
    this.#conn.close(code, reason).catch((e) => {
      if (e instanceof WebSocketError && e.code === "INVALID_ARGUMENT") {
        this.#closing = false;
        if (this.#closedBy === "us") this.#closedBy = "none";
        this.#out.error(e.message);
      }
    });
  }

  /** Runs the session until the connection is closed. */
  async run(): Promise<SessionOutcome> {
    const cfg = this.#cfg;
    const performing = this.#conn.perform(this.#receiver.onFrame);
    const ended: Promise<typeof END> = performing.then(() => END, () => END);
    this.#startTimers();
    const sending = this.#send(ended).catch((e) => {
      // A send fails when the connection is already going: perform() tells why.
      if (!(e instanceof WebSocketError)) {
        this.#out.error(reportError(e).lines.join(": "));
      }
    });
    let error: unknown;
    try {
      await performing;
    } catch (e) {
      error = e;
    }
    await sending;
    for (const t of this.#timers) clearTimeout(t);
    clearTimeout(this.#pongTimer);
    const info = await this.#conn.closed;
    if (error === undefined && this.#abort.signal.aborted) {
      error = this.#abort.signal.reason;
    }
    if (cfg.verbose && this.#closedBy === "none" && !info.wasClean) {
      this.#out.trace("* connection ended without a close frame");
    }
    return {
      info,
      closedBy: this.#closedBy,
      interrupted: this.#interrupted,
      error,
      raw: this.#cfg.raw,
    };
  }

  #startTimers(): void {
    const cfg = this.#cfg;
    const interval = cfg.pingInterval ?? cfg.pingTimeout;
    if (interval !== undefined && interval > 0) {
      this.#timers.push(setInterval(() => this.#ping(), interval));
    }
  }

  #ping(): void {
    const cfg = this.#cfg;
    if (this.#closing) return;
    if (cfg.verbose) this.#out.trace("> PING");
    this.#conn.send("", WS.PING).catch(() => {});
    if (cfg.pingTimeout !== undefined && this.#pongTimer === undefined) {
      const seconds = cfg.pingTimeout / 1000;
      this.#pongTimer = setTimeout(() => {
        this.abort(
          new WebSocketError("TIMEOUT", `no pong within ${seconds} s`),
        );
      }, cfg.pingTimeout);
    }
  }

  async #send(ended: Promise<typeof END>): Promise<void> {
    const cfg = this.#cfg;
    const conn = this.#conn;
    for (const message of cfg.execute) {
      if (cfg.verbose) this.#out.trace(`> ${JSON.stringify(message)}`);
      await conn.send(message);
    }
    if (cfg.wait !== undefined) {
      this.#timers.push(setTimeout(
        () => this.close(cfg.closeCode, cfg.closeReason),
        cfg.wait,
      ));
    }
    const input = this.#input;
    if (input === null) return;
    await this.#out.showPrompt();
    for (;;) {
      const unit = await Promise.race([input.next(), ended]);
      if (unit === END || this.#closing) return;
      input.take();
      if (unit === null) {
        // -w decides when to close; otherwise EOF does, unless -n.
        if (!cfg.noClose && cfg.wait === undefined && !cfg.oneMessage) {
          this.close(cfg.closeCode, cfg.closeReason);
        }
        return;
      }
      this.#sending = true;
      try {
        await this.#sendUnit(unit);
      } catch (e) {
        // A bad command or payload is reported; the session goes on.
        const usage = e instanceof CliError ||
          (e instanceof WebSocketError && e.code === "INVALID_ARGUMENT");
        if (!usage) throw e;
        this.#out.error((e as Error).message);
      } finally {
        this.#sending = false;
      }
      if (cfg.oneMessage) {
        // The reply may have come while we were still sending.
        if (this.#receiver.messages >= 1) {
          this.close(cfg.closeCode, cfg.closeReason);
        }
        return;
      }
      if (this.#closing) return;
      await this.#out.showPrompt();
    }
  }

  async #sendUnit(unit: Uint8Array): Promise<void> {
    const cfg = this.#cfg;
    const conn = this.#conn;
    if (cfg.raw) {
      await conn.send(unit);
      return;
    }
    if (cfg.binary) {
      await conn.send(unit, WS.BINARY);
      return;
    }
    const line = cfg.keepNewlines ? unit : stripNewline(unit);
    if (cfg.base64) {
      const bytes = fromBase64(decoder.decode(line));
      await conn.send(bytes, WS.BINARY);
      return;
    }
    const text = decoder.decode(line);
    if (cfg.slash && text.startsWith("/")) {
      if (text.startsWith("//")) await conn.send(text.slice(1));
      else await this.#command(text);
      return;
    }
    await conn.send(text);
  }

  async #command(text: string): Promise<void> {
    const conn = this.#conn;
    const trimmed = text.replace(/\s+$/, "");
    const space = trimmed.indexOf(" ");
    const name = space === -1 ? trimmed : trimmed.slice(0, space);
    const rest = space === -1 ? "" : trimmed.slice(space + 1);
    const trace = (line: string) => {
      if (this.#cfg.verbose) this.#out.trace(line);
    };
    switch (name) {
      case "/ping":
      case "/pong": {
        if (new TextEncoder().encode(rest).length > 125) {
          throw new CliError(
            ExitCode.USAGE,
            `${name} data is longer than 125 bytes (a control frame's limit)`,
          );
        }
        const ping = name === "/ping";
        trace(
          `> ${ping ? "PING" : "PONG"}${
            rest ? " " + JSON.stringify(rest) : ""
          }`,
        );
        await conn.send(rest, ping ? WS.PING : WS.PONG);
        return;
      }
      case "/binary":
        await conn.send(fromBase64(rest), WS.BINARY);
        return;
      case "/close": {
        const m = /^(?:(\d+)(?:\s+(.*))?)?$/.exec(rest);
        if (!m) {
          throw new CliError(ExitCode.USAGE, "usage: /close [code [reason]]");
        }
        this.close(m[1] ? Number(m[1]) : 1000, m[2] ?? "");
        return;
      }
      default:
        throw new CliError(
          ExitCode.USAGE,
          `unknown command ${name} (try /ping /pong /close /binary, or // to send a slash)`,
        );
    }
  }
}

/**
 * The exit code for how a session ended, after printing what happened:
 * the close code and reason, or the error.
 */
export function sessionExitCode(
  outcome: SessionOutcome,
  out: Output,
  peerName: string,
): number {
  const { info, closedBy } = outcome;
  if (outcome.interrupted && closedBy !== "peer") {
    out.note(`interrupted; closed: ${closeText(info)}`);
    return ExitCode.INTERRUPTED;
  }
  if (outcome.error !== undefined) {
    const report = reportError(outcome.error);
    for (const line of report.lines) out.error(line);
    return report.code;
  }
  if (outcome.raw) {
    out.note("connection ended");
    return ExitCode.OK;
  }
  if (closedBy === "peer") {
    out.note(`${peerName} closed the connection: ${closeText(info)}`);
    return NORMAL_CLOSE.has(info.code) ? ExitCode.OK : ExitCode.PEER_CLOSE;
  }
  if (closedBy === "us") {
    out.note(
      info.wasClean
        ? `closed: ${closeText(info)}`
        : `closed; the ${peerName} did not answer the close`,
    );
    return ExitCode.OK;
  }
  out.error(`connection to the ${peerName} lost without a close frame`);
  return ExitCode.CONNECT;
}

function closeText(info: CloseInfo): string {
  return info.reason
    ? `${info.code} ${JSON.stringify(info.reason)}`
    : `${info.code}`;
}
