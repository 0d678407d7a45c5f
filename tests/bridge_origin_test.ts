/**
 * The Origin check against cross-site WebSocket hijacking: the library's
 * `origins` option, and the CLI's listen mode refusing foreign origins for
 * the bridges that run programs, open TCP connections or relay clients.
 *
 * @module
 */

import assert from "node:assert/strict";
import { acceptWebSocket, type WebSocketError } from "../mod.ts";
import { rawUpgrade } from "./bridge_helpers.ts";
import { within } from "./helpers.ts";

/** One acceptWebSocket() with `origins` for a raw request with `headers`. */
async function acceptOnce(
  origins: string[] | ((origin: string) => boolean),
  headers: Record<string, string>,
): Promise<{ head: string; accepted: boolean; error?: WebSocketError }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const tcp = await listener.accept();
    try {
      const conn = await acceptWebSocket(tcp, { origins, closeTimeout: 200 });
      conn.close().catch(() => {});
      await conn.closed;
      return { accepted: true };
    } catch (e) {
      return { accepted: false, error: e as WebSocketError };
    }
  })();
  try {
    const head = await rawUpgrade(listener.addr.port, headers);
    return { head, ...await within(5000, "accept", serving) };
  } finally {
    listener.close();
  }
}

Deno.test("accept origins: a foreign Origin gets 403 with a one-line reason; listed, * and absent pass", async () => {
  const refused = await acceptOnce(["https://good.example"], {
    Origin: "https://evil.example",
  });
  assert.match(refused.head, /^HTTP\/1\.1 403 Forbidden\r\n/);
  const body = refused.head.split("\r\n\r\n")[1] ?? "";
  assert.match(body, /origin "https:\/\/evil\.example" is not allowed\n?$/);
  assert.equal(refused.accepted, false);
  assert.equal(refused.error?.code, "BAD_HANDSHAKE");
  assert.equal(refused.error?.status, 403);

  for (
    const [origins, headers] of [
      [["https://good.example"], { Origin: "https://GOOD.example" }],
      [["*"], { Origin: "https://evil.example" }],
      [[], {}], // no Origin: not a browser
    ] as const
  ) {
    const ok = await acceptOnce([...origins], headers);
    assert.match(ok.head, /^HTTP\/1\.1 101 /, JSON.stringify(headers));
    assert.equal(ok.accepted, true);
  }
});

Deno.test("accept origins: a predicate decides", async () => {
  const seen: string[] = [];
  const check = (o: string) => {
    seen.push(o);
    return o.endsWith(".good.example");
  };
  const no = await acceptOnce(check, { Origin: "https://x.evil.example" });
  assert.match(no.head, /^HTTP\/1\.1 403 /);
  const yes = await acceptOnce(check, { Origin: "https://a.good.example" });
  assert.match(yes.head, /^HTTP\/1\.1 101 /);
  assert.deepEqual(seen, ["https://x.evil.example", "https://a.good.example"]);
});
