/**
 * One connection's lifecycle: one explicit state, the failure reported
 * once, the `closed` promise, the close timer, abort, and teardown.
 *
 * @module
 */

import { closedError, WebSocketError } from "../errors.ts";
import { CloseCode } from "../close.ts";

/** How a connection ended. */
export interface CloseInfo {
  /** The peer's close code; 1005 when its close frame had none, 1006 when none arrived. */
  code: number;
  /** The peer's close reason. */
  reason: string;
  /** True when close frames went both ways before the socket closed. */
  wasClean: boolean;
}

/**
 * `open` until a close frame goes either way or the connection fails,
 * `closing` until the socket is closed, then `closed`. (The opening
 * handshake happens before a connection object exists.)
 */
export type ConnectionState = "open" | "closing" | "closed";

/** An ending that no close frame explains. */
export const ABNORMAL: CloseInfo = Object.freeze({
  code: CloseCode.ABNORMAL,
  reason: "",
  wasClean: false,
});

/**
 * The state and the failure. `teardown` runs once, when the connection
 * becomes `closed`: it closes the socket and stops every timer.
 */
export class Lifecycle {
  #state: ConnectionState = "open";
  /** First error a caller sees; later calls get CLOSED. */
  #failure: WebSocketError | null = null;
  #failureReported = false;
  #closeTimeout: number;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #teardown: () => void;
  #resolveClosed!: (info: CloseInfo) => void;
  #signal?: AbortSignal;
  /** Settles when the socket is closed, however that happened. Never rejects. */
  readonly closed: Promise<CloseInfo>;

  constructor(
    closeTimeout: number,
    teardown: () => void,
    signal?: AbortSignal,
  ) {
    this.#closeTimeout = closeTimeout;
    this.#teardown = teardown;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    if (signal) {
      this.#signal = signal;
      if (signal.aborted) queueMicrotask(this.#onAbort);
      else signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  /** Where the connection is. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** True once the socket is closed. */
  get ended(): boolean {
    return this.#state === "closed";
  }

  /** True when the connection failed or ended: calls must stop. */
  get stopped(): boolean {
    return this.#failure !== null || this.#state === "closed";
  }

  /** The failure, if the connection failed. */
  get failure(): WebSocketError | null {
    return this.#failure;
  }

  /** A close frame went one way: the close handshake is under way. */
  closing(): void {
    if (this.#state === "open") this.#state = "closing";
  }

  /**
   * Records the failure (the first one counts) and moves to `closing`.
   * `reported`: the caller is being told right now, so later calls get
   * CLOSED instead of this error.
   */
  fail(err: WebSocketError, reported = false): void {
    this.#failure ??= err;
    if (reported) this.#failureReported = true;
    this.closing();
  }

  /** The error for a call after the connection failed or closed: the failure once, then CLOSED. */
  takeFailure(): WebSocketError {
    if (this.#failure && !this.#failureReported) {
      this.#failureReported = true;
      return this.#failure;
    }
    return closedError();
  }

  /** Ends the connection now, for an abort or a broken transport. */
  fatal(err: WebSocketError): void {
    if (this.ended) return;
    this.fail(err);
    this.finish(ABNORMAL);
  }

  /** Closes after closeTimeout with `info`, unless the connection ends first. */
  armCloseTimer(info: CloseInfo): void {
    if (this.#closeTimer !== undefined || this.ended) return;
    this.#closeTimer = setTimeout(() => {
      this.#closeTimer = undefined;
      this.finish(info);
    }, this.#closeTimeout);
  }

  /** The socket closes: tears down once and settles `closed`. */
  finish(info: CloseInfo): void {
    if (this.ended) return;
    this.#state = "closed";
    clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#teardown();
    this.#resolveClosed(info);
  }

  #onAbort = (): void => {
    this.fatal(
      new WebSocketError("ABORTED", "the connection was aborted", {
        cause: this.#signal?.reason,
      }),
    );
  };
}
