/**
 * Flow control of what the server sends us (RFC 9113 §5.2, §6.9). The
 * connection window is returned as DATA arrives, so it never stalls a
 * stream; a stream's window is returned only as its consumer reports bytes
 * consumed, so a slow reader holds back its own stream and no other. Either
 * goes out in one WINDOW_UPDATE once half the window is owed.
 *
 * @module
 */

import { connectionError, H2Code, streamError } from "./errors.ts";
import { DEFAULT_WINDOW, encodeWindowUpdate } from "./frames.ts";
import type { H2Stream } from "./stream.ts";

/** Our receive windows: the connection's, and the accounting of each stream's. */
export class ReceiveWindows {
  #connWindow: number;
  #connOwed = 0;
  #connTarget: number;
  #streamTarget: number;
  #write: (frame: Uint8Array) => void;
  #maxEmpty: number;
  #emptyRun = 0;
  /** Our SETTINGS are not acknowledged yet: the server may count from 65535. */
  settingsPending = true;

  /** Windows of the given sizes; `write` queues a frame for the server. */
  constructor(
    limits: {
      connectionWindow: number;
      streamWindow: number;
      maxEmptyDataFrames: number;
    },
    write: (frame: Uint8Array) => void,
  ) {
    this.#connWindow = this.#connTarget = limits.connectionWindow;
    this.#streamTarget = limits.streamWindow;
    this.#maxEmpty = limits.maxEmptyDataFrames;
    this.#write = write;
  }

  /**
   * Bounds runs of DATA frames that carry nothing and end nothing: they cost
   * us work and the server nothing (ENHANCE_YOUR_CALM, as nghttp2 does).
   */
  countEmpty(empty: boolean): void {
    if (!empty) {
      this.#emptyRun = 0;
    } else if (++this.#emptyRun > this.#maxEmpty) {
      throw connectionError(
        H2Code.ENHANCE_YOUR_CALM,
        "flood of empty DATA frames",
      );
    }
  }

  /** Accounts a DATA frame of `n` bytes (padding included) on the connection. */
  connectionData(n: number): void {
    if (n > this.#connWindow) {
      throw connectionError(
        H2Code.FLOW_CONTROL_ERROR,
        "DATA beyond the connection window",
      );
    }
    this.#connWindow -= n;
    this.#connOwed += n;
    if (this.#connOwed >= this.#connTarget / 2) {
      this.#write(encodeWindowUpdate(0, this.#connOwed));
      this.#connWindow += this.#connOwed;
      this.#connOwed = 0;
    }
  }

  /** Accounts a DATA frame on an open stream: `n` bytes, `data` of them for the consumer. */
  streamData(s: H2Stream, n: number, data: number): void {
    // Until our SETTINGS are acknowledged the server may still use 65535.
    const slack = this.settingsPending
      ? Math.max(0, DEFAULT_WINDOW - this.#streamTarget)
      : 0;
    if (n > s.recvWindow + slack) {
      throw streamError(
        s.id,
        H2Code.FLOW_CONTROL_ERROR,
        "DATA beyond the stream window",
      );
    }
    s.recvWindow -= n;
    s.unconsumed += data;
    this.credit(s, n - data); // padding is never consumed
  }

  /** Returns `n` bytes of window to a stream (after consumption). */
  credit(s: H2Stream, n: number): void {
    s.toCredit += n;
    if (
      s.canReceive && s.toCredit > 0 && s.toCredit >= this.#streamTarget / 2
    ) {
      this.#write(encodeWindowUpdate(s.id, s.toCredit));
      s.recvWindow += s.toCredit;
      s.toCredit = 0;
    }
  }
}
