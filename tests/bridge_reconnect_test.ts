/**
 * `--reconnect`: the client against a server process that the test kills
 * and starts again on the same port, giving up after MAX attempts, and the
 * rules for a clean close by the server.
 *
 * @module
 */

import assert from "node:assert/strict";
import { acceptWebSocket } from "../mod.ts";
import { backoffDelay } from "../src/cli/bridge/reconnect.ts";
import { parseCommandLine } from "../src/cli/args.ts";
import { CliError } from "../src/cli/exit.ts";
import { portOf, startCli } from "./bridge_helpers.ts";
import { within } from "./helpers.ts";

Deno.test("reconnect: flags, and the delay doubles from MIN up to MAX with equal jitter", () => {
  const r = parseCommandLine([
    "--reconnect",
    "ws://h/",
    "--reconnect-delay",
    "0.5:4",
  ]).bridge.reconnect!;
  assert.deepEqual(r, {
    max: Infinity,
    minDelay: 500,
    maxDelay: 4000,
    onClose: false,
  });
  assert.equal(
    parseCommandLine(["--reconnect=3", "ws://h/"]).bridge.reconnect!.max,
    3,
  );
  assert.equal(
    parseCommandLine(["--reconnect", "7", "ws://h/"]).bridge.reconnect!.max,
    7,
  );
  const low = (n: number) => backoffDelay(n, r, () => 0);
  const high = (n: number) => backoffDelay(n, r, () => 1);
  assert.deepEqual([1, 2, 3, 4, 5, 9].map(high), [
    500,
    1000,
    2000,
    4000,
    4000,
    4000,
  ]);
  assert.deepEqual([1, 2, 3, 4, 5].map(low), [250, 500, 1000, 2000, 2000]);
  for (
    const bad of [
      ["--reconnect=x", "ws://h/"],
      ["--reconnect-delay", "1", "ws://h/"],
      ["--reconnect", "--reconnect-delay", "5:1", "ws://h/"],
      ["--reconnect", "--listen", "80"],
      ["--reconnect", "--from-tcp", "9", "ws://h/"],
    ]
  ) {
    assert.throws(() => parseCommandLine(bad), CliError, bad.join(" "));
  }
});

Deno.test("reconnect: the server is killed and restarted; the client comes back and re-sends -x", async () => {
  const first = await startCli(["--listen", "127.0.0.1:0", "--echo"]);
  const port = portOf(first.url);
  const client = await startCli(
    [
      "--reconnect=20",
      "--reconnect-delay",
      "0.1:0.3",
      "-x",
      "hello",
      first.url,
    ],
    { listening: false, stdin: "piped" },
  );
  let second;
  try {
    await client.waitForStdout(/^hello\n/);
    await first.stop("SIGKILL");
    // Lost, then refused while nothing listens.
    await client.waitFor(/reconnecting in [\d.]+ s \(attempt 2 of 20\)/);
    second = await startCli(["--listen", `127.0.0.1:${port}`, "--echo"]);
    await client.waitForStdout(/^hello\nhello\n/);
  } finally {
    await client.child.stdin.close();
  }
  const r = await client.done();
  await second?.stop();
  assert.equal(r.code, 0, r.err);
  assert.equal(new TextDecoder().decode(r.stdout), "hello\nhello\n");
  assert.match(r.err, /attempt 1 of 20/);
});

Deno.test("reconnect: gives up after MAX attempts with the last error's exit code", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = closed.addr.port;
  closed.close();
  const client = await startCli(
    [
      "--reconnect=2",
      "--reconnect-delay",
      "0.05:0.1",
      `ws://127.0.0.1:${port}/`,
    ],
    { listening: false, stdin: "piped" },
  );
  const r = await client.done();
  await client.child.stdin.close().catch(() => {});
  assert.equal(r.code, 3, r.err);
  assert.match(r.err, /attempt 1 of 2/);
  assert.match(r.err, /attempt 2 of 2/);
  assert.doesNotMatch(r.err, /attempt 3/);
  assert.match(r.err, /giving up after 2 reconnect attempts/);
});

/** A server that accepts, reads one message and closes with 1000, `n` times. */
function closingServer(n: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let served = 0;
  const done = (async () => {
    for (; served < n; served++) {
      const conn = await acceptWebSocket(await listener.accept());
      await within(5000, "the -x message", conn.receive());
      await conn.close(1000);
    }
    listener.close();
  })();
  return {
    url: `ws://127.0.0.1:${listener.addr.port}/`,
    done,
    served: () => served,
  };
}

Deno.test("reconnect: a clean close by the server ends the run, unless --reconnect-on-close", async () => {
  const once = closingServer(1);
  const plain = await startCli(
    ["--reconnect", "--reconnect-delay", "0.05", "-x", "hi", once.url],
    { listening: false, stdin: "piped" },
  );
  const r1 = await plain.done();
  await plain.child.stdin.close().catch(() => {});
  await within(5000, "server", once.done);
  assert.equal(r1.code, 0, r1.err);
  assert.doesNotMatch(r1.err, /reconnecting/);

  const twice = closingServer(2);
  const again = await startCli(
    [
      "--reconnect=1",
      "--reconnect-on-close",
      "--reconnect-delay",
      "0.05",
      "-x",
      "hi",
      twice.url,
    ],
    { listening: false, stdin: "piped" },
  );
  await within(10_000, "two connections", twice.done);
  await again.waitFor(/reconnecting/);
  await again.child.stdin.close();
  const r2 = await again.done();
  assert.equal(twice.served(), 2);
  assert.match(r2.err, /attempt 1 of 1/);
});
