/**
 * TCP over WebSocket, end to end through two CLI processes:
 * `--from-tcp` (client mode) → `--listen --to-tcp` (listen mode) → a TCP
 * server. A real HTTP server (Python's http.server) fetched through the
 * tunnel, 100 MiB with a checksum into a slow reader with both tool
 * processes' peak RSS bounded, 50 tunnels at once, and how TCP endings map
 * to close codes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { connect, WebSocketError, WS } from "../mod.ts";
import {
  canRun,
  type CliChild,
  portOf,
  ROOT,
  startCli,
} from "./bridge_helpers.ts";
import { assertSameBytes, within } from "./helpers.ts";

const MiB = 1024 * 1024;
const PYTHON = "/usr/bin/python3";

/** Both tool processes of a tunnel to 127.0.0.1:`port`. */
async function startTunnel(
  port: number,
  measureRss = false,
): Promise<{ server: CliChild; client: CliChild; stop(): Promise<void> }> {
  const server = await startCli([
    "--listen",
    "127.0.0.1:0",
    "--to-tcp",
    `127.0.0.1:${port}`,
  ], { measureRss });
  let client: CliChild;
  try {
    client = await startCli(["--from-tcp", "0", server.url], { measureRss });
  } catch (e) {
    await server.stop();
    throw e;
  }
  return {
    server,
    client,
    stop: async () => {
      await client.stop();
      await server.stop();
    },
  };
}

/** A TCP server running `handle` for each connection until closed. */
function tcpServer(handle: (conn: Deno.TcpConn) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const handlers: Promise<void>[] = [];
  const errors: unknown[] = [];
  const loop = (async () => {
    try {
      for await (const conn of listener) {
        handlers.push(
          handle(conn).catch((e) => void errors.push(e)).finally(() => {
            try {
              conn.close();
            } catch { /* closed by the handler */ }
          }),
        );
      }
    } catch { /* closed */ }
  })();
  return {
    port: listener.addr.port,
    errors,
    settled: () => Promise.all(handlers),
    close: async () => {
      listener.close();
      await loop;
      await within(10_000, "TCP handlers", Promise.all(handlers));
    },
  };
}

/** Deterministic pseudo-random bytes (xorshift), cheap to make and to check. */
function fill(buf: Uint8Array, seed: number): number {
  let x = seed | 1;
  const words = new Uint32Array(buf.buffer, buf.byteOffset, buf.length >> 2);
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  return x;
}

Deno.test({
  name:
    "tunnel: HTTP from Python's http.server, fetched through --from-tcp → --listen --to-tcp",
  ignore: !canRun(PYTHON, "the HTTP tunnel test"),
  async fn() {
    const dir = `${ROOT}tests/fixtures`;
    const python = new Deno.Command(PYTHON, {
      args: [
        "-u",
        "-m",
        "http.server",
        "--bind",
        "127.0.0.1",
        "--directory",
        dir,
        "0",
      ],
      stdout: "piped",
      stderr: "null",
      stdin: "null",
    }).spawn();
    const lines = python.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let announced = "";
    let port = 0;
    try {
      while (port === 0) {
        const { value, done } = await within(
          10_000,
          "http.server",
          lines.read(),
        );
        if (done) throw new Error(`http.server exited: ${announced}`);
        announced += value;
        port = Number(/port (\d+)/.exec(announced)?.[1] ?? 0);
      }
      const tunnel = await startTunnel(port);
      try {
        const base = `http://127.0.0.1:${portOf(tunnel.client.url)}`;
        for (const name of ["gen.sh", "ca.pem", "README.md"]) {
          const response = await within(
            10_000,
            `GET /${name}`,
            fetch(`${base}/${name}`),
          );
          assert.equal(response.status, 200);
          assert.match(response.headers.get("server") ?? "", /SimpleHTTP/);
          assertSameBytes(
            await response.bytes(),
            await Deno.readFile(`${dir}/${name}`),
            name,
          );
        }
        const missing = await fetch(`${base}/no-such-file`);
        assert.equal(missing.status, 404);
        await missing.body?.cancel();
      } finally {
        await tunnel.stop();
      }
    } finally {
      python.kill("SIGTERM");
      await python.status;
      await lines.cancel();
    }
  },
});

Deno.test("tunnel: 100 MiB into a slow TCP reader arrive whole; both tool processes stay under 120 MiB peak RSS", async () => {
  const total = 100 * MiB;
  let received = 0;
  const sink = createHash("sha256");
  const target = tcpServer(async (conn) => {
    const buf = new Uint8Array(64 * 1024);
    for (let reads = 0;; reads++) {
      const n = await conn.read(buf);
      if (n === null) return;
      sink.update(buf.subarray(0, n));
      received += n;
      // About 100 MB/s at most: slower than the tunnel can push.
      if (reads % 16 === 15) await new Promise((r) => setTimeout(r, 10));
    }
  });
  const tunnel = await startTunnel(target.port, true);
  const source = createHash("sha256");
  const tcp = await Deno.connect({
    hostname: "127.0.0.1",
    port: portOf(tunnel.client.url),
  });
  try {
    const chunk = new Uint8Array(MiB);
    let seed = 1;
    for (let sent = 0; sent < total; sent += chunk.length) {
      seed = fill(chunk, seed);
      source.update(chunk);
      for (let off = 0; off < chunk.length;) {
        off += await within(
          20_000,
          "tunnel write",
          tcp.write(chunk.subarray(off)),
        );
      }
    }
    tcp.closeWrite();
    // Our EOF becomes close 1000, then the far side's TCP EOF.
    await within(60_000, "the target's EOF", target.settled());
    assert.equal(await tcp.read(new Uint8Array(1)), null);
  } finally {
    tcp.close();
    await target.close();
  }
  const client = await tunnel.client.stop();
  const server = await tunnel.server.stop();
  assert.equal(received, total);
  assert.equal(sink.digest("hex"), source.digest("hex"));
  assert.deepEqual(target.errors, []);
  for (
    const [name, r] of [["--from-tcp", client], ["--to-tcp", server]] as const
  ) {
    assert.ok(r.peakRssKiB !== undefined, `${name}: no peak RSS: ${r.err}`);
    console.log(`${name} peak RSS ${(r.peakRssKiB / 1024).toFixed(0)} MiB`);
    assert.ok(r.peakRssKiB < 120 * 1024, `${name}: ${r.peakRssKiB} KiB`);
  }
});

Deno.test("tunnel: 50 tunnelled connections at once, each echoed whole", async () => {
  const echo = tcpServer(async (conn) => {
    const buf = new Uint8Array(16 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return;
      for (let off = 0; off < n;) off += await conn.write(buf.subarray(off, n));
    }
  });
  const tunnel = await startTunnel(echo.port);
  try {
    const port = portOf(tunnel.client.url);
    const size = 200 * 1024;
    await within(
      30_000,
      "50 tunnels",
      Promise.all(Array.from({ length: 50 }, async (_, i) => {
        const data = new Uint8Array(size);
        fill(data, i + 7);
        const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
        try {
          const got = new Uint8Array(size);
          const reading = (async () => {
            for (let off = 0; off < size;) {
              const n = await tcp.read(got.subarray(off));
              if (n === null) throw new Error(`tunnel ${i} ended at ${off}`);
              off += n;
            }
          })();
          for (let off = 0; off < size;) {
            off += await tcp.write(data.subarray(off));
          }
          await reading;
          assertSameBytes(got, data, `tunnel ${i}`);
        } finally {
          tcp.close();
        }
      })),
    );
  } finally {
    await tunnel.stop();
    await echo.close();
  }
  assert.deepEqual(echo.errors, []);
});

Deno.test("tunnel endings: TCP EOF → close 1000, close frame → TCP EOF", async () => {
  const seen: string[] = [];
  const target = tcpServer(async (conn) => {
    // Every command is 12 bytes; whatever follows it stays unread.
    const buf = new Uint8Array(12);
    for (let off = 0; off < 12;) {
      off += (await conn.read(buf.subarray(off))) ?? 12;
    }
    const what = new TextDecoder().decode(buf);
    if (what === "eof-please!!") {
      await conn.write(new TextEncoder().encode("bye"));
      conn.closeWrite(); // FIN after the data
      await conn.read(buf);
    } else {
      // "close-please": the client's close frame should reach us as EOF.
      seen.push(`read ${what}`);
      seen.push((await conn.read(buf)) === null ? "EOF" : "data");
    }
  });
  const server = await startCli([
    "--listen",
    "127.0.0.1:0",
    "--to-tcp",
    `127.0.0.1:${target.port}`,
  ]);
  try {
    const conn1 = await connect(server.url);
    await conn1.send("eof-please!!", WS.BINARY);
    const bye = await within(5000, "bye", conn1.receive());
    assert.equal(new TextDecoder().decode(bye as Uint8Array), "bye");
    assert.equal(await within(5000, "close 1", conn1.receive()), null);
    assert.equal((await conn1.closed).code, 1000);

    const conn2 = await connect(server.url);
    await conn2.send("close-please", WS.BINARY);
    await new Promise((r) => setTimeout(r, 100));
    await within(5000, "close 2", conn2.close(1000));
    await within(5000, "the target", target.settled());
    assert.deepEqual(seen, ["read close-please", "EOF"]);
  } finally {
    await server.stop();
    await target.close();
  }
});

Deno.test("tunnel: --from-tcp --once carries one TCP connection, then exits 0", async () => {
  const echo = await startCli(["--listen", "127.0.0.1:0", "--echo"]);
  const client = await startCli(["--from-tcp", "0", "--once", echo.url]);
  try {
    const tcp = await Deno.connect({
      hostname: "127.0.0.1",
      port: portOf(client.url),
    });
    await tcp.write(new TextEncoder().encode("abc"));
    const buf = new Uint8Array(3);
    for (let off = 0; off < 3;) {
      off += (await within(5000, "echo", tcp.read(buf.subarray(off)))) ?? 3;
    }
    assert.equal(new TextDecoder().decode(buf), "abc");
    tcp.close();
    const r = await client.done();
    assert.equal(r.code, 0, r.err);
  } finally {
    await client.stop();
    await echo.stop();
  }
});

/** A one-connection TCP server that resets the connection (SO_LINGER 0) after reading a line. */
const RESETTER = `
import socket, struct, sys
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(1)
print(l.getsockname()[1], flush=True)
c, _ = l.accept()
c.recv(100)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
`;

Deno.test({
  name: "tunnel endings: a TCP reset → close 1011",
  ignore: !canRun(PYTHON, "the TCP reset test"),
  async fn() {
    const python = new Deno.Command(PYTHON, {
      args: ["-c", RESETTER],
      stdout: "piped",
      stderr: "inherit",
      stdin: "null",
    }).spawn();
    const lines = python.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    try {
      const first = await within(10_000, "resetter", lines.read());
      const port = Number(first.value?.trim());
      const server = await startCli([
        "--listen",
        "127.0.0.1:0",
        "--to-tcp",
        `127.0.0.1:${port}`,
      ]);
      try {
        const conn = await connect(server.url);
        await conn.send("reset me\n", WS.BINARY);
        const end = await within(5000, "close", conn.receive().catch((e) => e));
        assert.ok(end === null || end instanceof WebSocketError, String(end));
        const info = await conn.closed;
        assert.equal(info.code, 1011, server.stderr);
        assert.equal(info.reason, "TCP connection reset");
        await server.waitFor(/TCP connection reset, closing with 1011/);
      } finally {
        await server.stop();
      }
    } finally {
      await python.status;
      await lines.cancel();
    }
  },
});
