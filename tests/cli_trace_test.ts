/**
 * `--trace` / `--trace-ascii` (issue 12.3): the handshake and every frame
 * both ways, with direction, opcode, FIN/RSV/MASK bits, length and a dump,
 * checked on crafted frames (fragmented, control, masked).
 *
 * @module
 */

import assert from "node:assert/strict";
import { OP, startScriptedServer } from "./servers/scripted.ts";
import { finish } from "./helpers.ts";
import { runCli, startListener, stopListener } from "./cli_helpers.ts";
import { asciiDump, hexDump } from "../src/cli/trace.ts";

const STAMP = String.raw`\d\d:\d\d:\d\d\.\d{3}`;

Deno.test("cli trace: fragmented and control frames from a scripted server, with hex dumps", async () => {
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    await peer.sendFrames([
      { opcode: OP.TEXT, fin: false, payload: "Hel" },
      { opcode: OP.PING, payload: "p" },
      { opcode: OP.CONT, fin: true, payload: "lo" },
      { opcode: OP.BINARY, payload: new Uint8Array([0, 1, 0xff]) },
    ]);
    const hi = await peer.readMessage(); // ours, sent on open
    assert.equal(new TextDecoder().decode(hi?.payload), "hi");
    const pong = await peer.expectFrame();
    assert.equal(pong.opcode, OP.PONG);
    await peer.expectClose();
    await peer.sendClose(1000);
    await peer.close();
  });
  try {
    const run = await runCli(["--trace", "-", "-x", "hi", server.url]);
    assert.equal(run.code, 0, run.err);
    const t = run.err;
    assert.match(t, new RegExp(`^${STAMP} => Send header, \\d+ bytes$`, "m"));
    assert.match(t, /^0000: 47 45 54 20 2f .* GET \/ HTTP\/1\.1\.\.$/m);
    assert.match(t, new RegExp(`^${STAMP} <= Recv header, \\d+ bytes$`, "m"));
    assert.match(
      t,
      /^0000: 48 54 54 50 2f 31 2e 31 20 31 30 31 .* HTTP\/1\.1 101 /m,
    );
    const frames = [...t.matchAll(/^\S+ (=>|<=) (Send|Recv) frame (.*)$/gm)]
      .map((m) => `${m[1]} ${m[3]}`);
    assert.deepEqual(frames, [
      "=> TEXT fin=1 rsv=0 mask=1 len=2",
      "<= TEXT fin=0 rsv=? mask=0 len=3",
      "<= PING fin=1 rsv=? mask=0 len=1",
      "<= CONT fin=1 rsv=? mask=0 len=2",
      "<= BINARY fin=1 rsv=? mask=0 len=3",
      "=> CLOSE fin=1 rsv=0 mask=1 len=2",
      "<= CLOSE fin=1 rsv=? mask=0 len=2",
    ]);
    assert.match(t, /^0000: 00 01 ff {40} \.\.\.$/m);
    assert.match(t, /^0000: 48 65 6c {41}Hel$/m);
  } finally {
    await finish(server);
  }
});

Deno.test("cli trace: --trace-ascii in listen mode shows masked frames from the client, text only", async () => {
  const listener = await startListener([
    "--echo",
    "--once",
    "--trace-ascii",
    "-",
  ]);
  const client = await runCli([listener.url], "hello\n");
  assert.equal(client.code, 0, client.err);
  const t = (await stopListener(listener)).err;
  assert.match(t, /<= Recv header/);
  assert.match(t, /^0000: GET \/ HTTP\/1\.1\.\.$/m);
  assert.match(t, /=> Send header/);
  assert.match(t, /^0000: HTTP\/1\.1 101 Switching Protocols\.\.$/m);
  assert.match(
    t,
    /<= Recv frame TEXT fin=1 rsv=\? mask=1 len=5\n0000: hello\n/,
  );
  assert.match(t, /=> Send frame TEXT fin=1 rsv=0 mask=0 len=5\n0000: hello\n/);
});

Deno.test("cli trace: dumps split at 16 bytes (hex) and at newlines (ascii)", () => {
  const bytes = new TextEncoder().encode("0123456789abcdefXY\nz");
  assert.equal(
    hexDump(bytes),
    "0000: 30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66  0123456789abcdef\n" +
      `0010: 58 59 0a 7a${" ".repeat(37)} XY.z\n`,
  );
  assert.equal(asciiDump(bytes), "0000: 0123456789abcdefXY.\n0013: z\n");
});
