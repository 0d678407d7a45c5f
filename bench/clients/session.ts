/**
 * The shape every benchmarked client is wrapped in, so that echo_client.ts
 * measures each one on exactly the same work.
 *
 * @module
 */

/** One open connection to an echo server, driven by echo_client.ts. */
export interface BenchSession {
  /**
   * Sends `count` copies of `payload` as binary messages, keeping at most
   * `window` of them unanswered, and resolves once every echo came back
   * (each checked for its length).
   */
  echo(payload: Uint8Array, count: number, window: number): Promise<void>;
  /**
   * Sequential round trips: sends `payload`, waits for its echo, and stores
   * the round trip time in ms into `rtts[i]`, for every slot of `rtts`.
   */
  pingPong(payload: Uint8Array, rtts: Float64Array): Promise<void>;
  /**
   * Receives one message in pieces of at most `bufferSize` bytes without
   * keeping them, and returns its length. Only for clients that can stream.
   */
  stream?(bufferSize: number): Promise<number>;
  /** Closes the connection (normal closure) and waits until it is closed. */
  close(): Promise<void>;
}

/** Each client module exports an `open` of this type. */
export type OpenSession = (url: string) => Promise<BenchSession>;

/**
 * Flow control for a sender and a concurrent receiver: at most `limit`
 * messages may be sent and not yet answered.
 */
export class InFlightWindow {
  /** Messages sent so far. */
  sent = 0;
  /** Echoes received so far. */
  answered = 0;
  #wake: (() => void) | null = null;
  #error: unknown = null;

  constructor(readonly limit: number) {}

  /** Resolves when one more message may be sent, and counts it as sent. */
  async acquire(): Promise<void> {
    while (this.#error === null && this.sent - this.answered >= this.limit) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    if (this.#error !== null) throw this.#error;
    this.sent++;
  }

  /** Counts an echo as received, freeing a slot. */
  answer(): void {
    this.answered++;
    this.#notify();
  }

  /** Makes the sender's pending and later {@linkcode acquire} calls fail. */
  fail(err: unknown): void {
    this.#error = err ?? new Error("receiver failed");
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

/** Throws unless an echoed message has the length that was sent. */
export function checkEchoLength(got: number, want: number): void {
  if (got !== want) {
    throw new Error(
      `echo of a ${want}-byte message came back with ${got} bytes`,
    );
  }
}

/** Throws unless `got` holds exactly the bytes of `want`. */
export function checkEchoBytes(got: Uint8Array, want: Uint8Array): void {
  checkEchoLength(got.length, want.length);
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) throw new Error(`echo differs at byte ${i}`);
  }
}
