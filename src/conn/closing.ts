/**
 * The close handshake (RFC 6455 §7): our close, the peer's, a protocol
 * error's close, and the socket closed only once the frames are out.
 *
 * @module
 */

import { closedError, WebSocketError } from "../errors.ts";
import { encodeClosePayload } from "../close.ts";
import type { Protocol } from "../protocol.ts";
import type { ByteSource } from "../io/byte_source.ts";
import type { WriteQueue } from "../io/write_queue.ts";
import type { FrameSender } from "./frame_sender.ts";
import { ABNORMAL, type CloseInfo, type Lifecycle } from "./lifecycle.ts";
import type { PieceReader } from "./piece_reader.ts";

/** The parts the close handshake drives. */
export interface ClosingParts {
  protocol: Protocol;
  lifecycle: Lifecycle;
  source: ByteSource;
  queue: WriteQueue;
  sender: FrameSender;
  reader: PieceReader;
  raw: boolean;
}

/** Every way a connection closes, except the abrupt ones (see Lifecycle.fatal). */
export class Closing {
  #parts: ClosingParts;

  constructor(parts: ClosingParts) {
    this.#parts = parts;
  }

  /**
   * Our close: see `WebSocketConnection.close`. `perform` says whether a
   * perform() loop reads the peer's answer, and `inCallback` whether we are
   * inside its callback (then we must not wait for that answer).
   */
  async close(
    code: number,
    reason: string,
    perform: { running: boolean; inCallback: boolean },
  ): Promise<void> {
    encodeClosePayload(code, reason); // throws INVALID_ARGUMENT for bad input
    const { protocol, lifecycle, queue, sender, reader, raw } = this.#parts;
    if (lifecycle.ended) return;
    // closeTimeout bounds everything below, even writes the peer never reads.
    lifecycle.armCloseTimer(ABNORMAL);
    if (raw) {
      // No close handshake in raw mode: let queued bytes out, then close.
      await queue.idle().catch(() => {});
      lifecycle.finish(ABNORMAL);
      return;
    }
    await sender.idle();
    if (lifecycle.ended) return;
    if (protocol.inPartialFrame) {
      throw new WebSocketError(
        "INVALID_ARGUMENT",
        "finish the partial frame (WS.OFFSET) before closing",
      );
    }
    if (protocol.queueClose(code, reason)) {
      lifecycle.closing();
      try {
        await sender.flushControl();
      } catch {
        lifecycle.fatal(closedError());
        return;
      }
    }
    if (lifecycle.ended) return;
    if (protocol.closeReceived) return void await lifecycle.closed;
    if (perform.running) {
      // The perform() loop reads the peer's answer.
      if (!perform.inCallback) await lifecycle.closed;
      return;
    }
    // Read (and drop) until the peer's close frame, taking turns with any
    // pending recv() so that it still gets the frames it waits for.
    while (!lifecycle.ended && !protocol.closeReceived) {
      await reader.lock.acquire();
      try {
        if (!lifecycle.ended && !protocol.closeReceived) await reader.pull();
      } catch {
        break;
      } finally {
        reader.lock.release();
      }
    }
    await lifecycle.closed;
  }

  /** The peer's close frame arrived: once our answer is out, close the socket. */
  peerClosed(): void {
    const { protocol, lifecycle, queue, sender } = this.#parts;
    const peer = protocol.peerClose!;
    const info = { code: peer.code, reason: peer.reason, wasClean: true };
    lifecycle.closing();
    // Everything queued, and our close (held back while a frame of ours is
    // half-sent), must reach the socket before it closes; closeTimeout
    // bounds the wait.
    lifecycle.armCloseTimer({ ...info, wasClean: false });
    const written = (async () => {
      await sender.frameBoundary();
      await sender.flushControl();
      await queue.idle();
    })();
    written.then(
      () => lifecycle.finish(info),
      () => lifecycle.finish({ ...info, wasClean: false }),
    );
  }

  /**
   * The peer broke the protocol and the caller is being told with `err`:
   * for the first failure, our close frame goes out, then what the peer
   * still sends is drained until it closes.
   */
  async protocolError(err: WebSocketError, reported = true): Promise<void> {
    const { protocol, lifecycle, queue } = this.#parts;
    const first = lifecycle.failure === null;
    lifecycle.fail(err, reported);
    if (!first) return;
    try {
      const out = protocol.takeOutput();
      if (out) await queue.write(out);
    } catch { /* the transport is gone; nothing more to tell the peer */ }
    this.#drainThenClose(ABNORMAL);
  }

  /**
   * Reads and drops what the peer still sends until it closes the stream or
   * closeTimeout passes, then closes the socket. Closing at once could reset
   * the connection and destroy our close frame before the peer reads it.
   */
  #drainThenClose(info: CloseInfo): void {
    const { lifecycle, source } = this.#parts;
    lifecycle.armCloseTimer(info);
    source.drain().catch(() => {}).finally(() => lifecycle.finish(info));
  }

  /**
   * Fails the connection for a limit of ours, with the close frame
   * `closeCode` (1009 from message assembly, 1001 for idleness). `reported`:
   * the caller throws the error itself; else the next call gets it.
   */
  failWith(
    err: WebSocketError,
    closeCode: number,
    reported: boolean,
  ): WebSocketError {
    const failure = this.#parts.protocol.fail(err.code, closeCode, err.message);
    this.protocolError(failure, reported);
    return failure;
  }
}
