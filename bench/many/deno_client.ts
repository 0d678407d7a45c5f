/**
 * Many-connections client: Deno's built-in `WebSocket` (the baseline),
 * binaryType "arraybuffer".
 *
 * Usage (started by bench/many.ts):
 *   deno run --v8-flags=--expose-gc --allow-net=127.0.0.1 bench/many/deno_client.ts '<ClientJob>'
 *
 * @module
 */

import { type ClientJob, runClient } from "./client.mjs";

const job = JSON.parse(Deno.args[0]) as ClientJob;

await runClient(job, (url, onMessage, onGone) => {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`no open after ${job.timeoutMs} ms`));
      ws.close();
    }, job.timeoutMs);
    ws.onopen = () => {
      clearTimeout(timer);
      ws.onerror = (e) => onGone((e as ErrorEvent).message);
      ws.onclose = (e) => onGone(`close ${e.code}`);
      resolve({ send: (payload) => ws.send(payload) });
    };
    ws.onerror = (e) => {
      clearTimeout(timer);
      reject(new Error(`connect failed: ${(e as ErrorEvent).message}`));
    };
    ws.onmessage = (e) =>
      onMessage(
        e.data instanceof ArrayBuffer ? e.data.byteLength : -1,
      );
  });
});
