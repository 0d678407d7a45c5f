/**
 * `--exec`: programs behind a WebSocket, in listen and client mode, with
 * real children (/bin/cat, /bin/sh, /bin/sleep) and scoped --allow-run.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  acceptWebSocket,
  connect,
  type Message,
  type WebSocketConnection,
  WS,
} from "../mod.ts";
import { assertNoStack, startCli } from "./bridge_helpers.ts";
import { assertSameBytes, within } from "./helpers.ts";

/** Receives until the close; returns the messages and how it closed. */
async function drain(conn: WebSocketConnection) {
  const messages: Message[] = [];
  for await (const m of conn) messages.push(m);
  return { messages, info: await conn.closed };
}

Deno.test("exec listen: one /bin/cat per client, lines in and out; the client's close ends the child", async () => {
  const server = await startCli(
    ["--listen", "127.0.0.1:0", "--exec", "/bin/cat"],
    { perms: ["--allow-run=/bin/cat"] },
  );
  try {
    const a = await connect(server.url);
    const b = await connect(server.url);
    await a.send("hello from a");
    await b.send("hello from b");
    await a.send("two\nlines");
    assert.equal(await within(5000, "a 1", a.receive()), "hello from a");
    assert.equal(await within(5000, "b 1", b.receive()), "hello from b");
    assert.equal(await within(5000, "a 2", a.receive()), "two");
    assert.equal(await within(5000, "a 3", a.receive()), "lines");
    await within(5000, "close a", a.close());
    await within(5000, "close b", b.close());
    assert.equal((await a.closed).code, 1000);
  } finally {
    const r = await server.stop();
    assertNoStack(r.err);
  }
});

Deno.test("exec listen: the child's exit closes with 1000; a failing child with 1011 and its code on stderr", async () => {
  const script = 'echo ready; read x; echo "got $x"; exit 3';
  const server = await startCli(
    ["--listen", "127.0.0.1:0", "--exec", "/bin/sh", "--", "-c", script],
    { perms: ["--allow-run=/bin/sh"] },
  );
  const ok = await startCli(
    [
      "--listen",
      "127.0.0.1:0",
      "--exec",
      "/bin/sh",
      "--",
      "-c",
      "echo one; echo two",
    ],
    { perms: ["--allow-run=/bin/sh"] },
  );
  try {
    const clean = await within(5000, "clean", drain(await connect(ok.url)));
    assert.deepEqual(clean.messages, ["one", "two"]);
    assert.equal(clean.info.code, 1000);

    const conn = await connect(server.url);
    assert.equal(await within(5000, "first line", conn.receive()), "ready");
    await conn.send("x");
    const failed = await within(5000, "failed", drain(conn));
    assert.deepEqual(failed.messages, ["got x"]);
    assert.equal(failed.info.code, 1011);
    assert.equal(failed.info.reason, "command exited with code 3");
    await server.waitFor(/"\/bin\/sh" exited with code 3/);
  } finally {
    await server.stop();
    await ok.stop();
  }
});

Deno.test("exec --binary: chunks both ways, 3 MiB through /bin/cat unchanged", async () => {
  const server = await startCli(
    ["--listen", "127.0.0.1:0", "--binary", "--exec", "/bin/cat"],
    { perms: ["--allow-run=/bin/cat"] },
  );
  try {
    const conn = await connect(server.url);
    const data = new Uint8Array(3 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 65536) {
      crypto.getRandomValues(data.subarray(i, i + 65536));
    }
    const got = new Uint8Array(data.length);
    const reading = (async () => {
      let off = 0;
      while (off < data.length) {
        const m = await conn.receive();
        assert.ok(m instanceof Uint8Array, `not binary: ${typeof m}`);
        got.set(m, off);
        off += m.length;
      }
    })();
    for (let off = 0; off < data.length; off += 500_000) {
      await conn.send(data.subarray(off, off + 500_000), WS.BINARY);
    }
    await within(20_000, "the echo", reading);
    assertSameBytes(got, data);
    await conn.close();
  } finally {
    await server.stop();
  }
});

/** A one-connection WebSocket server in this process. */
function oneShotServer(handle: (conn: WebSocketConnection) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    const tcp = await listener.accept();
    listener.close();
    const conn = await acceptWebSocket(tcp);
    try {
      await handle(conn);
    } finally {
      await conn.close().catch(() => {});
      await conn.closed;
    }
  })();
  return { url: `ws://127.0.0.1:${listener.addr.port}/`, done };
}

Deno.test("exec client: the child talks to the server; its exit ends the run with 1000 and exit code 0", async () => {
  let info;
  const server = oneShotServer(async (conn) => {
    await conn.send("question");
    assert.equal(await within(5000, "answer", conn.receive()), "got question");
    assert.equal(await within(5000, "close", conn.receive()), null);
    info = await conn.closed;
  });
  const client = await startCli(
    // The URL comes before --: what follows belongs to the command.
    [server.url, "--exec", "/bin/sh", "--", "-c", 'read x; echo "got $x"'],
    { perms: ["--allow-run=/bin/sh"], listening: false },
  );
  const r = await client.done();
  await within(5000, "server", server.done);
  assert.equal(r.code, 0, r.err);
  assert.equal(info!.code, 1000);
});

Deno.test("exec client: a child that ignores stdin EOF is stopped after the grace period once the server closes", async () => {
  const server = oneShotServer(async (conn) => {
    await conn.close(1000, "done");
  });
  const started = Date.now();
  const client = await startCli(
    [server.url, "--exec", "/bin/sleep", "--", "60"],
    { perms: ["--allow-run=/bin/sleep"], listening: false },
  );
  const r = await client.done();
  await within(5000, "server", server.done);
  assert.equal(r.code, 0, r.err);
  assert.ok(Date.now() - started < 30_000, "the child was not stopped");
});

Deno.test("exec: without --allow-run the error names the flag, before listening", async () => {
  const client = await startCli(
    ["--listen", "127.0.0.1:0", "--exec", "/bin/cat"],
    { listening: false },
  );
  const r = await client.done();
  assert.equal(r.code, 1);
  assert.match(r.err, /--allow-run=\/bin\/cat/);
  assert.doesNotMatch(r.err, /listening on/);
  assertNoStack(r.err);
});

Deno.test("bridges in --help: every bridge flag and an example for each", async () => {
  const help = await startCli(["--help"], { listening: false });
  const r = await help.done();
  const out = new TextDecoder().decode(r.stdout);
  assert.equal(r.code, 0);
  for (
    const flag of [
      "--exec CMD",
      "--to-tcp HOST:PORT",
      "--from-tcp [HOST:]PORT",
      "--broadcast",
      "--allow-origin ORIGIN",
      "--reconnect [MAX]",
      "--reconnect-delay MIN[:MAX]",
      "--reconnect-on-close",
      "wsnc --listen 8080 --to-tcp 127.0.0.1:22",
      "wsnc --from-tcp 2222",
      "--exec /usr/bin/python3 -- -u bot.py",
    ]
  ) assert.ok(out.includes(flag), flag);
});
