/**
 * The `npm:ws@8` client running under Deno (no native bufferutil or
 * utf-8-validate add-ons). Like Deno's client its send is fire-and-forget,
 * so the window is kept by sending one new message per echo received.
 *
 * @module
 */

// @ts-types="npm:@types/ws@8"
// deno-lint-ignore no-import-prefix -- npm:ws@8 pinned inline; deno.json may map it later
import WebSocket from "npm:ws@8";
import {
  type BenchSession,
  checkEchoBytes,
  checkEchoLength,
} from "./session.ts";

/** Largest message accepted: room for the 256 MiB row (ws defaults to 100 MiB). */
const MAX_PAYLOAD = 512 * 1024 * 1024;

/** Connects with `new WebSocket(url)` from npm:ws. */
export async function open(url: string): Promise<BenchSession> {
  const ws = new WebSocket(url, {
    maxPayload: MAX_PAYLOAD,
    perMessageDeflate: false,
  });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });

  let onMessage: (data: Uint8Array) => void = () => {};
  let onFailure: (err: Error) => void = () => {};
  ws.on("message", (data: Uint8Array) => onMessage(data));
  ws.on("error", (err: Error) => onFailure(err));
  ws.on(
    "close",
    (code: number) => onFailure(new Error(`closed early: ${code}`)),
  );

  function nextMessage(): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      onMessage = resolve;
      onFailure = reject;
    });
  }

  return {
    echo(payload, count, window) {
      return new Promise<void>((resolve, reject) => {
        let sent = 0;
        let received = 0;
        onFailure = reject;
        onMessage = (data) => {
          try {
            checkEchoLength(data.length, payload.length);
          } catch (err) {
            reject(err);
            return;
          }
          received++;
          if (sent < count) {
            ws.send(payload, { binary: true });
            sent++;
          }
          if (received === count) resolve();
        };
        for (; sent < Math.min(window, count); sent++) {
          ws.send(payload, { binary: true });
        }
      });
    },

    async pingPong(payload, rtts) {
      for (let i = 0; i < rtts.length; i++) {
        const t0 = performance.now();
        const reply = nextMessage();
        ws.send(payload, { binary: true });
        const data = await reply;
        rtts[i] = performance.now() - t0;
        checkEchoBytes(data, payload);
      }
    },

    close() {
      return new Promise<void>((resolve) => {
        onFailure = () => {};
        ws.removeAllListeners("close");
        ws.once("close", () => resolve());
        ws.close(1000);
      });
    },
  };
}
