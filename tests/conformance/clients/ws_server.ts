/**
 * Echo-server driver for the flipped suite: npm:ws@8's `WebSocketServer`.
 * Prints its port on the first line of stdout.
 *
 * @module
 */

// @ts-types="npm:@types/ws@8"
// deno-lint-ignore no-import-prefix
import { WebSocketServer } from "npm:ws@8";

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 }, () => {
  const addr = wss.address();
  console.log(typeof addr === "string" || addr === null ? addr : addr.port);
});
wss.on("connection", (ws) => {
  ws.on(
    "message",
    (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }, () => {}),
  );
  ws.on("error", () => {});
});
