/**
 * Echo-client driver for this library: `connect()`, then
 * `for await (const msg of conn) await conn.send(msg)`. A WebSocketError
 * ends the case; any other exception is a library bug: it is printed and
 * the driver exits with status 3, which the runner reports as a crash.
 * With `--http2` every case is one RFC 8441 stream (h2c, prior knowledge),
 * all of them on the pooled HTTP/2 connection to the runner's front.
 *
 * @module
 */

import { connect, WebSocketError } from "../../../mod.ts";
import { caseUrl, parseDriverArgs } from "./args.ts";

const args = parseDriverArgs(Deno.args);
const CLOSED_WAIT_MS = 10_000;

async function runCase(url: string): Promise<void> {
  let conn;
  try {
    conn = await connect(url, {
      compression: true,
      ...(args.http2 ? { http2: "prior-knowledge" as const } : {}),
    });
    for await (const msg of conn) await conn.send(msg);
  } catch (e) {
    if (!(e instanceof WebSocketError)) throw e;
    if (args.verbose) console.error(`${url}: ${e.code}: ${e.message}`);
  }
  if (conn) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const info = await Promise.race([
      conn.closed,
      new Promise<null>((r) =>
        timer = setTimeout(() => r(null), CLOSED_WAIT_MS)
      ),
    ]);
    clearTimeout(timer);
    if (args.verbose) console.error(`${url}: closed ${JSON.stringify(info)}`);
  }
}

for (let i = args.from; i <= args.to; i++) {
  try {
    await runCase(caseUrl(args, i));
  } catch (e) {
    console.error(
      `case #${i}: not a WebSocketError: ${e instanceof Error ? e.stack : e}`,
    );
    Deno.exit(3);
  }
}
