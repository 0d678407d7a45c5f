// @ts-check
/**
 * Many-connections echo server: npm `ws` 8's `WebSocketServer` (no
 * permessage-deflate, no native add-ons), under Node when the driver found
 * `node`, else under Deno; the argument says where `ws` is (see
 * ws_client.mjs).
 *
 * Usage (started by bench/many.ts):
 *   node --expose-gc bench/many/ws_server.mjs file:///…/ws/8.x/wrapper.mjs
 *
 * @module
 */

import process from "node:process";
import { serveDriver, ServerCounts } from "./server.mjs";

const { WebSocketServer } = await import(process.argv[2]);
const counts = new ServerCounts();
const server = new WebSocketServer({
  host: "127.0.0.1",
  port: 0,
  perMessageDeflate: false,
});
await new Promise((resolve, reject) => {
  server.once("listening", resolve);
  server.once("error", reject);
});
server.on("connection", (/** @type {any} */ socket) => {
  counts.open++;
  socket.on("close", () => counts.open--);
  socket.on("error", () => {});
  socket.on(
    "message",
    (/** @type {Uint8Array} */ data, /** @type {boolean} */ isBinary) => {
      socket.send(data, { binary: isBinary });
      counts.echoed++;
    },
  );
});

await serveDriver(server.address().port, counts);
