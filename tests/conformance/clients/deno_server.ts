/**
 * Echo-server driver for the flipped suite: Deno's built-in server
 * WebSocket (`Deno.serve` + `Deno.upgradeWebSocket`). Prints its port on
 * the first line of stdout.
 *
 * @module
 */

const server = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(port),
}, (req) => {
  const { socket, response } = Deno.upgradeWebSocket(req);
  socket.binaryType = "arraybuffer";
  socket.onmessage = (e) => {
    try {
      socket.send(e.data);
    } catch { /* closing */ }
  };
  socket.onerror = () => {};
  return response;
});
await server.finished;
