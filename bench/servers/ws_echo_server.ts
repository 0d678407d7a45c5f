/**
 * The WebSocket echo server every client is measured against: `npm:ws@8`'s
 * WebSocketServer running under Deno, echoing each message back with the
 * same type. Started by echo.ts as a separate process.
 *
 * Why npm:ws and not Deno.upgradeWebSocket: Deno's built-in server (like its
 * client) refuses messages above 64 MiB, so it cannot serve the 256 MiB row.
 *
 * Usage: deno run --allow-net=127.0.0.1 --allow-env=WS_NO_BUFFER_UTIL,WS_NO_UTF_8_VALIDATE bench/servers/ws_echo_server.ts
 *
 * @module
 */

// @ts-types="npm:@types/ws@8"
// deno-lint-ignore no-import-prefix -- npm:ws@8 pinned inline; deno.json may map it later
import { WebSocketServer } from "npm:ws@8";
import { announceAndWaitForStdinEof } from "./ready.ts";

/** Largest message echoed: room for the 256 MiB row. */
const MAX_PAYLOAD = 512 * 1024 * 1024;

const server = new WebSocketServer({
  host: "127.0.0.1",
  port: 0,
  maxPayload: MAX_PAYLOAD,
  perMessageDeflate: false,
});
await new Promise<void>((resolve, reject) => {
  server.once("listening", resolve);
  server.once("error", reject);
});
server.on("connection", (socket) => {
  socket.on(
    "message",
    (data, isBinary) => socket.send(data, { binary: isBinary }),
  );
  socket.on("error", (err) => console.error(`ws server: ${err.message}`));
});

const { port } = server.address() as { port: number };
await announceAndWaitForStdinEof(port);
for (const client of server.clients) client.terminate();
server.close();
