/**
 * This library's callback face: `perform(url, { onOpen, onFrame })`
 * (curl_easy_perform with a write callback). Each finished echo triggers the
 * next send from inside onFrame, whose promise perform() awaits.
 *
 * @module
 */

import {
  type FrameMeta,
  perform,
  type WebSocketConnection,
  WS,
} from "../../mod.ts";
import {
  type BenchSession,
  checkEchoBytes,
  checkEchoLength,
} from "./session.ts";

type PieceHandler = (
  data: Uint8Array,
  meta: FrameMeta,
  conn: WebSocketConnection,
) => void | Promise<unknown>;

/** Runs `perform(url, ...)` and resolves once onOpen was called. */
export function open(url: string): Promise<BenchSession> {
  return new Promise((resolveOpen, rejectOpen) => {
    // Swapped per operation: onFrame hands every piece to the current one.
    let onPiece: PieceHandler = () => {};
    let onFailure: (err: Error) => void = () => {};
    let conn: WebSocketConnection | null = null;

    const finished = perform(url, {
      onOpen(c) {
        conn = c;
        resolveOpen(session);
      },
      onFrame(data, meta, c) {
        const result = onPiece(data, meta, c);
        return result instanceof Promise ? result.then(() => {}) : undefined;
      },
    });
    finished.then(
      (info) =>
        onFailure(new Error(`closed early: ${info.code} ${info.reason}`)),
      (err) => {
        rejectOpen(err);
        onFailure(err);
      },
    );

    /** Calls `onMessage` with the length of each whole data message. */
    function perMessage(
      onMessage: (length: number) => void | Promise<unknown>,
    ): PieceHandler {
      let length = 0;
      return (data, meta) => {
        if ((meta.flags & (WS.TEXT | WS.BINARY)) === 0) return; // control frame
        length += data.length;
        if (meta.bytesleft !== 0 || (meta.flags & WS.CONT) !== 0) return;
        const done = length;
        length = 0;
        return onMessage(done);
      };
    }

    const session: BenchSession = {
      echo(payload, count, window) {
        const c = conn!;
        return new Promise<void>((resolve, reject) => {
          let sent = 0;
          let received = 0;
          onFailure = reject;
          onPiece = perMessage((length) => {
            checkEchoLength(length, payload.length);
            received++;
            if (received === count) resolve();
            if (sent < count) {
              sent++;
              return c.send(payload, WS.BINARY);
            }
          });
          (async () => {
            for (; sent < Math.min(window, count);) {
              sent++;
              await c.send(payload, WS.BINARY);
            }
          })().catch(reject);
        });
      },

      async pingPong(payload, rtts) {
        const c = conn!;
        for (let i = 0; i < rtts.length; i++) {
          const t0 = performance.now();
          const reply = new Promise<Uint8Array>((resolve, reject) => {
            onFailure = reject;
            // The piece is only valid during the call: copy it.
            onPiece = (data, meta) => {
              if (meta.flags & WS.BINARY) resolve(data.slice());
            };
          });
          await c.send(payload, WS.BINARY);
          const echo = await reply;
          rtts[i] = performance.now() - t0;
          checkEchoBytes(echo, payload);
        }
      },

      stream() {
        return new Promise<number>((resolve, reject) => {
          onFailure = reject;
          onPiece = perMessage(resolve);
        });
      },

      async close() {
        onFailure = () => {};
        onPiece = () => {};
        await conn!.close(1000);
        await finished;
      },
    };
  });
}
