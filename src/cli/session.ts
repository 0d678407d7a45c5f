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
import type { Trace } from "./trace.ts";

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
  /** Input lines were refused (bad --base64, unknown /command): exit 2. */
  badInput: boolean;
}

const END: unique symbol = Symbol("end");
/**
 * After stdin EOF, by default: close once as many messages came back as
 * were sent, or once nothing arrived for this long. A peer may answer our
 * close at once and drop the replies it still had queued (RFC 6455 §5.5.1),
 * so closing right at EOF lost replies of request/response servers.
 */
export const REPLY_QUIET_MS = 1000;
/** -n: after EOF keep receiving; close when nothing arrived for this long. */
export const NO_CLOSE_IDLE_MS = 10_000;
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
  #trace: Trace | null;
  #closing = false;
  #closedBy: "us" | "peer" | "none" = "none";
  #interrupted = false;
  #timers: ReturnType<typeof setTimeout>[] = [];
  #pongTimer: ReturnType<typeof setTimeout> | undefined;
  #sending = false;
  #badInput = false;
  /** Data messages we sent (raw mode: bytes), to know when replies are in. */
  #sent = 0;
  /** Raw mode: bytes received. */
  #receivedBytes = 0;
  /** When the last data piece arrived (performance.now()). */
  #lastData = 0;
  /** Woken at every whole message (and raw chunk) received. */
  #arrival: PromiseWithResolvers<void> | null = null;

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
    trace: Trace | null = null,
  ) {
    this.#conn = conn;
    this.#trace = trace;
    trace?.watch(conn);
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
          this.#arrived();
          if (limit !== undefined && count >= limit && !this.#sending) {
            this.close(cfg.closeCode, cfg.closeReason);
          }
        },
        onData: (size) => {
          this.#lastData = performance.now();
          if (cfg.raw) {
            this.#receivedBytes += size;
            this.#arrived();
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
        `* sent CLOSE ${code}${reason ? " " + JSON.stringify(reason) : ""}`,
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
    const trace = this.#trace;
    const onFrame = this.#receiver.onFrame;
    const performing = this.#conn.perform(
      trace === null ? onFrame : (data, meta, conn) => {
        trace.received(data, meta);
        return onFrame(data, meta, conn);
      },
    );
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
      badInput: this.#badInput,
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
    if (cfg.verbose) this.#out.trace("* sent PING");
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
      if (cfg.verbose) this.#out.trace(`* sent ${JSON.stringify(message)}`);
      await conn.send(message);
      this.#sent++;
    }
    const input = this.#input;
    if (input === null) {
      // Nothing more to send (--echo): only -w ends the session.
      if (cfg.wait !== undefined) await this.#endOfInput(ended);
      return;
    }
    await this.#out.showPrompt();
    for (;;) {
      const unit = await Promise.race([input.next(), ended]);
      if (unit === END || this.#closing) return;
      input.take();
      if (unit === null) {
        if (!cfg.oneMessage) await this.#endOfInput(ended);
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
        this.#badInput = true;
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

  /**
   * Stdin has ended (or, with --echo, the -x messages are sent): wait as
   * the flags say, then close. Waiting for replies first matters: a peer
   * may answer our close at once and drop what it had not sent yet.
   */
  async #endOfInput(ended: Promise<typeof END>): Promise<void> {
    const cfg = this.#cfg;
    const wait = cfg.eofWait ?? cfg.wait;
    if (cfg.maxMessages !== undefined) {
      // --max-messages closes when the last one arrives (see onMessage).
      const max = cfg.maxMessages;
      const done = () => this.#receiver.messages >= max;
      if (!done()) {
        // The Nth message closes (onMessage); a wait only bounds that.
        if (wait === undefined || wait < 0) return;
        await this.#waitFor(done, undefined, wait, ended);
      }
    } else if (wait !== undefined) {
      if (wait < 0) return; // until the peer closes
      await this.#waitFor(() => false, undefined, wait, ended);
    } else if (cfg.noClose) {
      if (
        await this.#waitFor(() => false, NO_CLOSE_IDLE_MS, undefined, ended)
      ) {
        this.#out.note(
          `nothing received for ${
            NO_CLOSE_IDLE_MS / 1000
          } s after the end of input (-n); closing`,
        );
      }
    } else {
      const replied = () =>
        cfg.raw
          ? this.#receivedBytes >= this.#sent
          : this.#receiver.messages >= this.#sent;
      await this.#waitFor(replied, REPLY_QUIET_MS, undefined, ended);
    }
    // The last reply woke us from inside the perform() callback; close
    // once it has returned, so that perform() reads the peer's answer (and
    // -v / --trace show it).
    await new Promise((resolve) => setTimeout(resolve, 0));
    this.close(cfg.closeCode, cfg.closeReason);
  }

  /**
   * Resolves when `done()` holds, `quietMs` pass without data arriving,
   * `deadlineMs` pass, or the connection ends. True when it went quiet.
   */
  async #waitFor(
    done: () => boolean,
    quietMs: number | undefined,
    deadlineMs: number | undefined,
    ended: Promise<typeof END>,
  ): Promise<boolean> {
    const start = performance.now();
    const deadline = deadlineMs === undefined ? Infinity : start + deadlineMs;
    // Quiet since the later of the start and the last data piece.
    const quietEnd = () =>
      quietMs === undefined
        ? Infinity
        : Math.max(start, this.#lastData) + quietMs;
    for (;;) {
      if (done() || this.#closing) return false;
      const now = performance.now();
      if (now >= deadline) return false;
      if (now >= quietEnd()) return true;
      const sleep = Math.min(deadline, quietEnd()) - now;
      this.#arrival ??= Promise.withResolvers<void>();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((resolve) => {
        if (sleep !== Infinity) timer = setTimeout(resolve, sleep, "timeout");
      });
      const woke = await Promise.race([this.#arrival.promise, timeout, ended]);
      clearTimeout(timer);
      if (woke === END) return false;
    }
  }

  #arrived(): void {
    const waiter = this.#arrival;
    if (waiter !== null) {
      this.#arrival = null;
      waiter.resolve();
    }
  }

  async #sendUnit(unit: Uint8Array): Promise<void> {
    const cfg = this.#cfg;
    const conn = this.#conn;
    if (cfg.raw) {
      await conn.send(unit);
      this.#sent += unit.length;
      return;
    }
    if (cfg.binary) {
      await conn.send(unit, WS.BINARY);
      this.#sent++;
      return;
    }
    const line = cfg.keepNewlines ? unit : stripNewline(unit);
    if (cfg.base64) {
      const bytes = fromBase64(decoder.decode(line));
      await conn.send(bytes, WS.BINARY);
      this.#sent++;
      return;
    }
    const text = decoder.decode(line);
    if (cfg.slash && text.startsWith("/")) {
      if (text.startsWith("//")) {
        await conn.send(text.slice(1));
        this.#sent++;
      } else await this.#command(text);
      return;
    }
    await conn.send(text);
    this.#sent++;
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
          `* sent ${ping ? "PING" : "PONG"}${
            rest ? " " + JSON.stringify(rest) : ""
          }`,
        );
        await conn.send(rest, ping ? WS.PING : WS.PONG);
        return;
      }
      case "/binary":
        await conn.send(fromBase64(rest), WS.BINARY);
        this.#sent++;
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
  const code = closingExitCode(outcome, out, peerName);
  // The connection went well, but not all of the input could be sent.
  return code === ExitCode.OK && outcome.badInput ? ExitCode.USAGE : code;
}

function closingExitCode(
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
