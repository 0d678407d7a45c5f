/**
 * Plain TCP echo server: the ceiling row, the same bytes echoed with no
 * WebSocket framing at all. Started by echo.ts as a separate process.
 *
 * Usage: deno run --allow-net=127.0.0.1 bench/servers/tcp_echo_server.ts
 *
 * @module
 */

import { announceAndWaitForStdinEof } from "./ready.ts";

const READ_BUFFER = 256 * 1024;

async function echo(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(READ_BUFFER);
  try {
    for (let n; (n = await conn.read(buf)) !== null;) {
      for (let o = 0; o < n;) o += await conn.write(buf.subarray(o, n));
    }
  } catch {
    // The client went away mid-transfer; nothing to echo to.
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const conns = new Set<Deno.Conn>();
(async () => {
  for await (const conn of listener) {
    conn.setNoDelay(true);
    conns.add(conn);
    echo(conn).finally(() => conns.delete(conn));
  }
})().catch(() => {/* listener closed */});

await announceAndWaitForStdinEof((listener.addr as Deno.NetAddr).port);
listener.close();
for (const conn of conns) {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
