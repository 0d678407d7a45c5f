/**
 * The callback face's loop: every piece to a callback, delivery paused
 * while the callback's promise is pending.
 *
 * @module
 */

import { WebSocketError } from "../errors.ts";
import type { FrameMeta } from "../flags.ts";
import { WS } from "../flags.ts";
import type { Piece } from "../protocol.ts";
import type { PieceReader } from "./piece_reader.ts";

/** What the loop asks of its connection. */
export interface CallbackLoopHooks {
  /** Hands one piece to the user's callback. */
  deliver(data: Uint8Array, meta: FrameMeta): void | Promise<void>;
  /** The piece being delivered (curl_ws_meta), or null between callbacks. */
  setMeta(meta: FrameMeta | null): void;
  /**
   * A callback's promise is (still) pending, or no longer: while it is and
   * our writes wait, the connection reads ahead (see ByteSource).
   */
  setPending(pending: boolean): void;
  /** Re-checks whether to read ahead. */
  maybeReadAhead(): void;
}

/**
 * Runs until the connection closes or the callback throws; resolves with
 * the callback's error, if any (the caller closes with 1011 then), and
 * rejects on a protocol error.
 */
export async function runCallbackLoop(
  reader: PieceReader,
  hooks: CallbackLoopHooks,
): Promise<{ error: unknown } | null> {
  await reader.lock.acquire();
  try {
    for (;;) {
      let piece: Piece;
      try {
        piece = reader.pullBuffered() ?? await reader.pull();
      } catch (e) {
        if (
          e instanceof WebSocketError &&
          (e.code === "CLOSED" || e.code === "CONNECTION_LOST")
        ) return null;
        throw e;
      }
      hooks.setMeta(piece.meta);
      try {
        const r = hooks.deliver(piece.data, piece.meta);
        if (r instanceof Promise) await awaitCallback(r, hooks);
      } catch (e) {
        return { error: e };
      } finally {
        hooks.setMeta(null);
      }
      if (piece.meta.flags & WS.CLOSE) return null;
    }
  } finally {
    reader.lock.release();
  }
}

async function awaitCallback(
  r: Promise<void>,
  hooks: CallbackLoopHooks,
): Promise<void> {
  hooks.setPending(true);
  // Writes made before the callback returned may be waiting already; read
  // ahead only if the promise is still pending once its settled reactions
  // have run (often it resolved at once).
  let settled = false;
  r.then(() => settled = true, () => settled = true);
  queueMicrotask(() => {
    if (!settled) hooks.maybeReadAhead();
  });
  try {
    await r;
  } finally {
    hooks.setPending(false);
  }
}
