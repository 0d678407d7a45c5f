/**
 * The timers that judge whether the peer is still there: keepalive pings,
 * an idle timeout, and a bound on writes the peer does not take.
 *
 * @module
 */

import { WebSocketError } from "../errors.ts";

/** The timer options, in ms; each is off when absent or 0. */
export interface KeepaliveOptions {
  pingInterval?: number;
  pongTimeout?: number;
  idleTimeout?: number;
  sendTimeout?: number;
}

/** What the timers ask of the connection. */
export interface KeepaliveHooks {
  /** When bytes last arrived (ms since the epoch). */
  lastRx(): number;
  /** Since when a write has waited for the socket (ms since the epoch), or null. */
  writingSince(): number | null;
  /** Sends a ping now if a frame boundary allows it; false when it does not. */
  ping(): boolean;
  /** The peer is gone or stuck: fail the connection with `err`. */
  timedOut(err: WebSocketError, idle: boolean): void;
}

/**
 * One interval timer serves all three checks, so a connection costs one
 * timer, and none when every option is off.
 */
export class Keepalive {
  #hooks: KeepaliveHooks;
  #interval: ReturnType<typeof setInterval> | undefined;
  #pingInterval: number;
  #pongTimeout: number;
  #idleTimeout: number;
  #sendTimeout: number;
  /** When our unanswered ping went out, or 0. */
  #pingSentAt = 0;

  constructor(options: KeepaliveOptions, hooks: KeepaliveHooks) {
    this.#hooks = hooks;
    this.#pingInterval = positive(options.pingInterval);
    this.#pongTimeout = positive(options.pongTimeout) ||
      this.#pingInterval;
    this.#idleTimeout = positive(options.idleTimeout);
    this.#sendTimeout = positive(options.sendTimeout);
    const periods = [
      this.#pingInterval,
      this.#pingInterval ? this.#pongTimeout : 0,
      this.#idleTimeout,
      this.#sendTimeout,
    ].filter((t) => t > 0);
    if (periods.length === 0) return;
    // Checks run at a quarter of the shortest period: a timeout fires at
    // most 25 % late.
    const tick = Math.max(1, Math.floor(Math.min(...periods) / 4));
    this.#interval = setInterval(this.#check, tick);
  }

  #check = (): void => {
    const now = Date.now();
    const hooks = this.#hooks;
    const lastRx = hooks.lastRx();
    const since = this.#sendTimeout ? hooks.writingSince() : null;
    if (since !== null && now - since >= this.#sendTimeout) {
      return hooks.timedOut(
        new WebSocketError(
          "TIMEOUT",
          `the peer took no data for ${this.#sendTimeout} ms (sendTimeout)`,
        ),
        false,
      );
    }
    if (this.#idleTimeout && now - lastRx >= this.#idleTimeout) {
      return hooks.timedOut(
        new WebSocketError(
          "TIMEOUT",
          `nothing received for ${this.#idleTimeout} ms (idleTimeout)`,
        ),
        true,
      );
    }
    if (!this.#pingInterval) return;
    if (this.#pingSentAt !== 0) {
      if (lastRx >= this.#pingSentAt) this.#pingSentAt = 0;
      else if (now - this.#pingSentAt >= this.#pongTimeout) {
        return hooks.timedOut(
          new WebSocketError(
            "TIMEOUT",
            `no answer from the peer within ${this.#pongTimeout} ms of a ping`,
          ),
          false,
        );
      } else return;
    }
    if (now - lastRx >= this.#pingInterval && hooks.ping()) {
      this.#pingSentAt = now;
    }
  };

  /** Stops the timer. */
  stop(): void {
    clearInterval(this.#interval);
    this.#interval = undefined;
  }
}

/** A timer period, or 0 (off) for anything but a positive finite number. */
function positive(ms: number | undefined): number {
  return ms !== undefined && ms > 0 && Number.isFinite(ms) ? ms : 0;
}
