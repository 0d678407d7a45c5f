/**
 * A streaming echo server on wsnc's own server side (`acceptWebSocket` +
 * `perform`), for `echo.ts --server wsnc`. Every received piece is sent back
 * at once as part of a frame of the same size and flags (partial frames with
 * `WS.OFFSET`), so a message of any size is echoed in constant memory while
 * it still arrives: unlike `ws`, which assembles each message before echoing
 * it, this server does not cap the large rows far below the loopback's speed.
 *
 * Usage: deno run --allow-net=127.0.0.1 bench/servers/wsnc_echo_server.ts
 *
 * @module
 */

import { acceptWebSocket, type FrameMeta, WS } from "../../mod.ts";
import { announceAndWaitForStdinEof } from "./ready.ts";

const DATA = WS.TEXT | WS.BINARY | WS.CONT;

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });

async function serve(tcp: Deno.Conn): Promise<void> {
  const conn = await acceptWebSocket(tcp, {
    maxMessageSize: Number.MAX_SAFE_INTEGER,
  });
  await conn.perform(async (data, meta: FrameMeta) => {
    if ((meta.flags & (WS.TEXT | WS.BINARY)) === 0) return;
    const flags = (meta.flags & DATA) | WS.OFFSET;
    await conn.send(
      data,
      flags,
      meta.offset === 0 ? meta.len + meta.bytesleft : 0,
    );
  });
}

(async () => {
  for await (const tcp of listener) serve(tcp).catch(() => {});
})();

await announceAndWaitForStdinEof((listener.addr as Deno.NetAddr).port);
listener.close();
Deno.exit(0);
