/**
 * One HTTP/2 stream opened by the client: its state (RFC 9113 §5.1), its two
 * flow-control windows and the bytes waiting for send window.
 *
 * @module
 */

/** Stream states of RFC 9113 §5.1 that a client-opened stream goes through. */
export type StreamState =
  | "idle"
  | "open"
  | "half-closed-local"
  | "half-closed-remote"
  | "closed";

/** Book-keeping of one stream; the session owns and changes it. */
export class H2Stream {
  /** The stream identifier (odd: client-initiated). */
  readonly id: number;
  /** The state (RFC 9113 §5.1). */
  state: StreamState = "idle";
  /** How many DATA bytes the peer still lets us send on this stream. */
  sendWindow: number;
  /** How many DATA bytes we still let the peer send (may dip below 0 by the pre-ACK slack). */
  recvWindow: number;
  /** DATA bytes delivered to the consumer and not yet reported consumed. */
  unconsumed = 0;
  /** Consumed bytes not yet returned to the peer in a WINDOW_UPDATE. */
  toCredit = 0;
  /** A final (non-1xx) response header block arrived. */
  responded = false;
  /** Informational (1xx) header blocks received, bounded. */
  informational = 0;
  /** Bytes queued by `send` and not yet framed, oldest first. */
  readonly queue: Uint8Array[] = [];
  /** Offset into `queue[0]` of the first byte not yet framed. */
  queueOffset = 0;
  /** Sum of the unframed bytes in `queue`. */
  pending = 0;
  /** END_STREAM goes out with the last queued byte. */
  endQueued = false;
  /** `send` returned with bytes left: report `drained` when they are out. */
  blocked = false;

  /** A stream with the peer's and our initial windows. */
  constructor(id: number, sendWindow: number, recvWindow: number) {
    this.id = id;
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }

  /** We may still send DATA. */
  get canSend(): boolean {
    return this.state === "open" || this.state === "half-closed-remote";
  }

  /** The peer may still send DATA or HEADERS. */
  get canReceive(): boolean {
    return this.state === "open" || this.state === "half-closed-local";
  }

  /** Our side sent END_STREAM. */
  closeLocal(): void {
    this.state = this.state === "half-closed-remote"
      ? "closed"
      : "half-closed-local";
  }

  /** The peer sent END_STREAM. */
  closeRemote(): void {
    this.state = this.state === "half-closed-local"
      ? "closed"
      : "half-closed-remote";
  }

  /** Takes up to `max` queued bytes (max > 0) for one DATA frame. */
  take(max: number): Uint8Array {
    const head = this.queue[0];
    const n = Math.min(max, head.length - this.queueOffset);
    const piece = head.subarray(this.queueOffset, this.queueOffset + n);
    this.queueOffset += n;
    this.pending -= n;
    if (this.queueOffset === head.length) {
      this.queue.shift();
      this.queueOffset = 0;
    }
    return piece;
  }

  /** Drops what was never sent (after a reset). */
  clearQueue(): void {
    this.queue.length = 0;
    this.queueOffset = 0;
    this.pending = 0;
    this.endQueued = false;
  }
}
