// @ts-check
/**
 * Many-connections client: npm `ws` 8 (no permessage-deflate, no native
 * add-ons), under Node when the driver found `node`, else under Deno.
 *
 * Usage (started by bench/many.ts):
 *   node --expose-gc bench/many/ws_client.mjs '<ClientJob>' file:///…/ws/8.x/wrapper.mjs
 *   deno run --v8-flags=--expose-gc --allow-net=127.0.0.1 \
 *     --allow-env=WS_NO_BUFFER_UTIL,WS_NO_UTF_8_VALIDATE bench/many/ws_client.mjs '<ClientJob>' npm:ws@8
 *
 * The second argument says where `ws` is: Node has no npm: specifiers, so
 * the driver hands it the package Deno keeps in its npm cache.
 *
 * @module
 */

import process from "node:process";
import { runClient } from "./client.mjs";

const [jobText, wsModule] = process.argv.slice(2);
/** @type {import("./client.mjs").ClientJob} */
const job = JSON.parse(jobText);
const { WebSocket } = await import(wsModule);

await runClient(job, (url, onMessage, onGone) => {
  const ws = new WebSocket(url, {
    perMessageDeflate: false,
    handshakeTimeout: job.timeoutMs,
  });
  return new Promise((resolve, reject) => {
    ws.once("open", () => {
      ws.removeListener("error", reject);
      ws.on("error", onGone);
      ws.on("close", (/** @type {number} */ code) => onGone(`close ${code}`));
      resolve({
        send: (/** @type {Uint8Array} */ payload) =>
          ws.send(payload, { binary: true }),
      });
    });
    ws.once("error", reject);
    ws.on(
      "message",
      (/** @type {Uint8Array} */ data, /** @type {boolean} */ isBinary) =>
        onMessage(isBinary ? data.length : -1),
    );
  });
});
