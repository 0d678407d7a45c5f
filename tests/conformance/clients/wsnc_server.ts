/**
 * Echo-server driver for the flipped suite: this library's server role
 * (`acceptWebSocket`). Prints its port on the first line of stdout. A
 * non-WebSocketError exception is a library bug: printed, exit status 3.
 *
 * @module
 */

import { acceptWebSocket, WebSocketError } from "../../../mod.ts";

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(listener.addr.port);

async function serve(tcp: Deno.Conn): Promise<void> {
  try {
    const conn = await acceptWebSocket(tcp);
    for await (const msg of conn) await conn.send(msg);
  } catch (e) {
    if (e instanceof WebSocketError) return;
    console.error(`not a WebSocketError: ${e instanceof Error ? e.stack : e}`);
    Deno.exit(3);
  }
}

for await (const tcp of listener) serve(tcp);
