/**
 * Deno's built-in WHATWG `WebSocket` client: the baseline other clients are
 * compared with. Sending is fire-and-forget (buffered by the runtime), so
 * the window is kept by sending one new message per echo received.
 *
 * @module
 */

import {
  type BenchSession,
  checkEchoBytes,
  checkEchoLength,
} from "./session.ts";

/** Connects with `new WebSocket(url)`, binaryType "arraybuffer". */
export async function open(url: string): Promise<BenchSession> {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = (e) =>
      reject(new Error(`connect failed: ${(e as ErrorEvent).message}`));
  });

  // Replaced by each operation; the defaults catch events between operations.
  let onMessage: (data: ArrayBuffer) => void = () => {};
  let onFailure: (err: Error) => void = () => {};
  ws.onmessage = (e) => onMessage(e.data as ArrayBuffer);
  ws.onerror = (e) =>
    onFailure(new Error(`WebSocket error: ${(e as ErrorEvent).message}`));
  ws.onclose = (e) =>
    onFailure(new Error(`closed early: ${e.code} ${e.reason}`));

  function nextMessage(): Promise<ArrayBuffer> {
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
            checkEchoLength(data.byteLength, payload.length);
          } catch (err) {
            reject(err);
            return;
          }
          received++;
          if (sent < count) {
            ws.send(payload);
            sent++;
          }
          if (received === count) resolve();
        };
        for (; sent < Math.min(window, count); sent++) ws.send(payload);
      });
    },

    async pingPong(payload, rtts) {
      for (let i = 0; i < rtts.length; i++) {
        const t0 = performance.now();
        const reply = nextMessage();
        ws.send(payload);
        const data = await reply;
        rtts[i] = performance.now() - t0;
        checkEchoBytes(new Uint8Array(data), payload);
      }
    },

    close() {
      return new Promise<void>((resolve) => {
        onFailure = () => {};
        ws.onclose = () => resolve();
        ws.close(1000);
      });
    },
  };
}
