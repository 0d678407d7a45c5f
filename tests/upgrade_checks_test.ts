/**
 * Strictness at the HTTP upgrade (issue 13, items 4 and 11): a 101 whose
 * Upgrade is anything but `websocket` (RFC 6455 §4.1) is BAD_HANDSHAKE, a
 * second Upgrade line too; a request head over the 64 KiB cap gets `431
 * Request Header Fields Too Large` before the server closes.
 */

import assert from "node:assert/strict";
import { acceptWebSocket, connect } from "../mod.ts";
import { computeAccept, MAX_HEAD_BYTES } from "../src/handshake.ts";
import { expectReject, finish, within } from "./helpers.ts";
import { type ScriptedPeer, startScriptedServer } from "./servers/scripted.ts";

/**
 * A server that answers every upgrade with a 101 carrying `upgradeLines`
 * (and a correct accept key), then runs `then`.
 */
function serverWith(
  upgradeLines: string[],
  then: (peer: ScriptedPeer) => Promise<unknown>,
) {
  return startScriptedServer(async (peer) => {
    const req = await peer.readRequest();
    const accept = await computeAccept(
      req.headers.get("sec-websocket-key") ?? "",
    );
    await peer.writeRaw(
      [
        "HTTP/1.1 101 Switching Protocols",
        ...upgradeLines,
        "Connection: Upgrade",
        `Sec-WebSocket-Accept: ${accept}`,
        "",
        "",
      ].join("\r\n"),
    );
    await then(peer);
  });
}

Deno.test("upgrade: a 101 must say Upgrade: websocket and nothing else, once", async () => {
  const refused = [
    ["Upgrade: h2c, websocket"],
    ["Upgrade: websocket, h2c"],
    ["Upgrade: websocket", "Upgrade: websocket"],
    ["Upgrade: websocket", "Upgrade: h2c"],
    ["Upgrade: websocket/13"],
    ["Upgrade: \x1b[31mwebsocket"],
  ];
  for (const lines of refused) {
    // The client must drop a refused 101: the server sees the end.
    const server = serverWith(lines, (peer) => peer.readUntilEof(5000));
    const err = await expectReject(
      within(5000, lines.join(" | "), connect(server.url)),
      "BAD_HANDSHAKE",
    );
    assert.match(err.message, /Upgrade: .*must be exactly \\?"websocket/);
    assert.ok(!err.message.includes("\x1b"), "escaped for a terminal");
    await finish(server);
  }
});

Deno.test("upgrade: the Upgrade value is case-insensitive", async () => {
  for (const value of ["WebSocket", "WEBSOCKET"]) {
    const server = serverWith(
      [`Upgrade: ${value}`],
      (peer) => peer.echoUntilClose(),
    );
    const conn = await within(5000, value, connect(server.url));
    await within(5000, "close", conn.close());
    assert.equal((await conn.closed).wasClean, true);
    await finish(server);
  }
});

/** Reads until EOF (bounded by `within` at the call site). */
async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(16 * 1024);
  for (;;) {
    const n = await conn.read(buf).catch(() => null); // a reset ends it too
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let off = 0;
  for (const c of chunks) out.set(c, (off += c.length) - c.length);
  return out;
}

Deno.test("accept: a request head over the cap gets 431 Request Header Fields Too Large, then the close", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  try {
    // Just over the cap; then a client that keeps sending 512 KiB more.
    for (const size of [MAX_HEAD_BYTES + 1024, MAX_HEAD_BYTES + 512 * 1024]) {
      const client = await Deno.connect({ hostname: "127.0.0.1", port });
      const serverSide = await listener.accept();
      const accepting = acceptWebSocket(serverSide);
      accepting.catch(() => {}); // handled now, checked below
      const line = "X-Pad: " + "a".repeat(1000) + "\r\n";
      const head = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
        line.repeat(Math.ceil(size / line.length));
      const sending = (async () => {
        const bytes = new TextEncoder().encode(head);
        for (let off = 0; off < bytes.length;) {
          off += await client.write(bytes.subarray(off));
        }
      })().catch(() => {}); // the server may stop reading and close first
      const answer = new TextDecoder().decode(
        await within(5000, "the answer and the close", readAll(client)),
      );
      await sending;
      client.close();
      assert.match(
        answer,
        /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/,
      );
      assert.match(answer, /\r\nConnection: close\r\n/);
      const err = await expectReject(accepting, "BAD_HANDSHAKE");
      assert.match(err.message, /larger than 65536 bytes/);
    }
  } finally {
    listener.close();
  }
});
