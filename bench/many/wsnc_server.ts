/**
 * Many-connections echo server: wsnc's `acceptWebSocket()` over
 * `Deno.listen()`, echoing with `for await (const message of conn)
 * conn.send(message)`, the server loop of the library's documentation.
 *
 * Usage (started by bench/many.ts):
 *   deno run --v8-flags=--expose-gc --allow-net=127.0.0.1 bench/many/wsnc_server.ts
 *
 * @module
 */

import { acceptWebSocket } from "../../mod.ts";
import { serveDriver, ServerCounts } from "./server.mjs";

const counts = new ServerCounts();
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });

async function serve(tcp: Deno.Conn): Promise<void> {
  const conn = await acceptWebSocket(tcp);
  counts.open++;
  try {
    for await (const message of conn) {
      await conn.send(message);
      counts.echoed++;
    }
  } finally {
    counts.open--;
  }
}

(async () => {
  for await (const tcp of listener) serve(tcp).catch(() => {});
})();

await serveDriver(listener.addr.port, counts);
