/**
 * Strictness at the HTTP upgrade (issue 13, items 4 and 11): a 101 whose
 * Upgrade is anything but `websocket` (RFC 6455 §4.1) is BAD_HANDSHAKE, a
 * second Upgrade line too; a request head over the 64 KiB cap gets `431
 * Request Header Fields Too Large` before the server closes.
 */

import assert from "node:assert/strict";
import { connect } from "../mod.ts";
import { computeAccept } from "../src/handshake.ts";
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
    assert.doesNotMatch(err.message, /\x1b/, "escaped for a terminal");
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
