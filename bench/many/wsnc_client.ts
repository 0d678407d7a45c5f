/**
 * Many-connections client: wsnc's `connect()`, each connection with one
 * `receive()` pending at all times (what an application waiting for
 * messages has), echoes sent with `send(payload)` (a binary message).
 *
 * Usage (started by bench/many.ts):
 *   deno run --v8-flags=--expose-gc --allow-net=127.0.0.1 bench/many/wsnc_client.ts '<ClientJob>'
 *
 * @module
 */

import { connect } from "../../mod.ts";
import { type ClientJob, runClient } from "./client.mjs";

const job = JSON.parse(Deno.args[0]) as ClientJob;

await runClient(job, async (url, onMessage, onGone) => {
  const conn = await connect(url, { connectTimeout: job.timeoutMs });
  (async () => {
    for (;;) {
      const message = await conn.receive();
      if (message === null) throw new Error("closed by the server");
      onMessage(typeof message === "string" ? -1 : message.length);
    }
  })().catch(onGone);
  return { send: (payload) => conn.send(payload) };
});
