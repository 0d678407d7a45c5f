/**
 * Deno's built-in WebSocket server (`Deno.serve` + `Deno.upgradeWebSocket`,
 * native code) as an echo server, for `echo.ts --server deno`: each message
 * is sent back with its type. Deno refuses messages above 64 MiB, so the
 * 256 MiB row fails against it for every client.
 *
 * Usage: deno run --allow-net=127.0.0.1 bench/servers/deno_echo_server.ts
 *   [--tls CERT KEY]   (wss://; add --allow-read for the two files)
 *
 * @module
 */

import { announceAndWaitForStdinEof } from "./ready.ts";

const tls = Deno.args[0] === "--tls"
  ? {
    cert: Deno.readTextFileSync(Deno.args[1]),
    key: Deno.readTextFileSync(Deno.args[2]),
  }
  : {};
const server = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {}, ...tls },
  (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => socket.send(event.data);
    return response;
  },
);

await announceAndWaitForStdinEof(server.addr.port);
await server.shutdown();
Deno.exit(0);
