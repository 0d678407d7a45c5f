/**
 * Many-connections echo server: Deno's built-in server, `Deno.serve` +
 * `Deno.upgradeWebSocket` (native code), each message sent back as it is.
 *
 * Usage (started by bench/many.ts):
 *   deno run --v8-flags=--expose-gc --allow-net=127.0.0.1 bench/many/deno_server.ts
 *
 * @module
 */

import { serveDriver, ServerCounts } from "./server.mjs";

const counts = new ServerCounts();
const server = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.binaryType = "arraybuffer";
    socket.onopen = () => counts.open++;
    socket.onclose = () => counts.open--;
    socket.onmessage = (event) => {
      socket.send(event.data);
      counts.echoed++;
    };
    return response;
  },
);

await serveDriver(server.addr.port, counts);
