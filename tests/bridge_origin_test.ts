/**
 * The Origin check against cross-site WebSocket hijacking: the library's
 * `origins` option, and the CLI's listen mode refusing foreign origins for
 * the bridges that run programs, open TCP connections or relay clients.
 *
 * @module
 */

import assert from "node:assert/strict";
import { acceptWebSocket, type WebSocketError } from "../mod.ts";
import { countingListener, rawUpgrade, startCli } from "./bridge_helpers.ts";
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

Deno.test("cli origin: --to-tcp refuses a foreign Origin with 403 and opens no TCP connection; --allow-origin admits it", async () => {
  const target = countingListener();
  const refusing = await startCli([
    "--listen",
    "127.0.0.1:0",
    "--to-tcp",
    `127.0.0.1:${target.port}`,
  ]);
  const admitting = await startCli([
    "--listen",
    "127.0.0.1:0",
    "--to-tcp",
    `127.0.0.1:${target.port}`,
    "--allow-origin",
    "https://good.example",
  ]);
  try {
    const port = (u: string) => Number(new URL(u).port);
    const head = await rawUpgrade(port(refusing.url), {
      Origin: "https://evil.example",
    });
    assert.match(head, /^HTTP\/1\.1 403 Forbidden\r\n/);
    const bad = await rawUpgrade(port(admitting.url), {
      Origin: "https://evil.example",
    });
    assert.match(bad, /^HTTP\/1\.1 403 /);
    assert.equal(target.accepted(), 0, "a TCP connection was opened");
    const good = await rawUpgrade(port(admitting.url), {
      Origin: "https://good.example",
    });
    assert.match(good, /^HTTP\/1\.1 101 /);
    await refusing.waitFor(/not allowed/);
    assert.match(
      refusing.stderr,
      /origin "https:\/\/evil\.example" is not allowed/,
    );
  } finally {
    await refusing.stop();
    await admitting.stop();
    await target.close();
  }
  assert.equal(target.accepted(), 1);
});

Deno.test("cli origin: --exec spawns nothing for a foreign Origin; --broadcast refuses it; --echo stays open", async () => {
  // The command announces itself on the CLI's stderr (inherited).
  const exec = ["--exec", "/bin/sh", "--", "-c", "echo SPAWNED >&2"];
  const execCli = await startCli(["--listen", "127.0.0.1:0", ...exec], {
    perms: ["--allow-run=/bin/sh"],
  });
  const broadcast = await startCli(["--listen", "127.0.0.1:0", "--broadcast"]);
  const echo = await startCli(["--listen", "127.0.0.1:0", "--echo"]);
  const port = (u: string) => Number(new URL(u).port);
  const evil = { Origin: "https://evil.example" };
  try {
    assert.match(await rawUpgrade(port(execCli.url), evil), /^HTTP\/1\.1 403 /);
    assert.match(
      await rawUpgrade(port(broadcast.url), evil),
      /^HTTP\/1\.1 403 /,
    );
    assert.match(await rawUpgrade(port(echo.url), evil), /^HTTP\/1\.1 101 /);
    // Without an Origin (not a browser) the command runs: the check above
    // would have seen its line.
    assert.match(await rawUpgrade(port(execCli.url), {}), /^HTTP\/1\.1 101 /);
    await execCli.waitFor(/SPAWNED/);
  } finally {
    const r = await execCli.stop();
    await broadcast.stop();
    await echo.stop();
    assert.equal(r.err.match(/SPAWNED/g)?.length, 1, r.err);
  }
});
