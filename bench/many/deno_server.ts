/**
 * Many-connections echo server: Deno's built-in server, `Deno.serve` +
 * `Deno.upgradeWebSocket` (native code), each message sent back as it is.
 * Its keepalive is off (`idleTimeout: 0`): by default it pings a connection
 * idle for 30 s and closes it with 1001 when the pong takes 30 s more, which
 * a client busy opening 10,000 connections on a loaded machine can miss; the
 * other servers send no pings either.
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
    const { socket, response } = Deno.upgradeWebSocket(request, {
      idleTimeout: 0,
    });
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
