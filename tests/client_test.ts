/**
 * The connect-only API against the scripted server: every rule of issue 2
 * and the ground curl's tests 2700-2723 cover, with real bytes on a socket.
 */
import assert from "node:assert/strict";
import {
  connect,
  type FrameMeta,
  type WebSocketConnection,
  WS,
} from "../mod.ts";
import {
  frameBytes,
  OP,
  type ScriptedPeer,
  startScriptedServer,
} from "./servers/scripted.ts";
import { testCerts } from "./servers/certs.ts";
import { assertSameBytes, expectReject, within } from "./helpers.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** Starts a scripted server running `script` after a good 101, connects, runs `client`. */
async function withServer(
  script: (peer: ScriptedPeer) => Promise<void>,
  client: (conn: WebSocketConnection) => Promise<void>,
  options: Parameters<typeof connect>[1] = {},
): Promise<void> {
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    await script(peer);
  });
  try {
    const conn = await connect(server.url, { closeTimeout: 2000, ...options });
    try {
      await client(conn);
    } finally {
      await conn.close().catch(() => {});
      await conn.closed;
    }
    await server.settled();
    assert.deepEqual(server.errors, []);
  } finally {
    await server.close();
  }
}

/** Receives pieces until one whole message (or a control frame) is done. */
async function recvMessage(
  conn: WebSocketConnection,
  size = 65536,
): Promise<{ data: Uint8Array; metas: FrameMeta[] }> {
  const buf = new Uint8Array(size);
  const chunks: Uint8Array[] = [];
  const metas: FrameMeta[] = [];
  for (;;) {
    const { n, meta } = await conn.recv(buf);
    chunks.push(buf.slice(0, n));
    metas.push(meta);
    if (meta.bytesleft === 0 && !(meta.flags & WS.CONT)) break;
  }
  const data = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    data.set(c, o);
    o += c.length;
  }
  return { data, metas };
}

Deno.test("recv: text and binary frames of lengths 0, 125, 126, 127, 65535, 65536", async () => {
  const sizes = [0, 125, 126, 127, 65535, 65536];
  await withServer(async (peer) => {
    for (const n of sizes) {
      await peer.sendText("t".repeat(n));
      await peer.sendBinary(new Uint8Array(n).map((_, i) => i & 0xff));
    }
    await peer.echoUntilClose();
  }, async (conn) => {
    for (const n of sizes) {
      const t = await recvMessage(conn);
      assert.equal(td.decode(t.data), "t".repeat(n));
      assert.ok(t.metas.every((m) => m.flags === WS.TEXT));
      const b = await recvMessage(conn, 1000);
      assert.deepEqual(b.data, new Uint8Array(n).map((_, i) => i & 0xff));
      assert.ok(b.metas.every((m) => m.flags === WS.BINARY));
      // A read boundary may split a piece further, never merge two.
      assert.ok(b.metas.length >= Math.max(1, Math.ceil(n / 1000)));
      assert.ok(b.metas.every((m) => m.len <= 1000));
    }
  });
});

Deno.test("recv: pings answered with their payload and reported; pongs reported; close answered", async () => {
  await withServer(async (peer) => {
    await peer.sendPing("");
    const empty = await peer.expectFrame();
    assert.deepEqual([
      empty.fin,
      empty.rsv,
      empty.opcode,
      empty.masked,
      empty.payload.length,
    ], [true, 0, OP.PONG, true, 0]);
    const p125 = new Uint8Array(125).fill(7);
    await peer.sendPing(p125);
    const pong = await peer.expectFrame();
    assert.equal(pong.opcode, OP.PONG);
    assert.deepEqual(pong.payload, p125);
    await peer.sendPong("unsolicited");
    await peer.sendClose(4001, "done");
    const echo = await peer.expectClose();
    assert.equal(echo.code, 4001);
  }, async (conn) => {
    let r = await recvMessage(conn);
    assert.equal(r.metas[0].flags, WS.PING);
    r = await recvMessage(conn);
    assert.equal(r.metas[0].flags, WS.PING);
    assert.equal(r.data.length, 125);
    r = await recvMessage(conn);
    assert.equal(r.metas[0].flags, WS.PONG);
    assert.equal(td.decode(r.data), "unsolicited");
    r = await recvMessage(conn);
    assert.equal(r.metas[0].flags, WS.CLOSE);
    assert.deepEqual([...r.data], [0x0f, 0xa1, ...te.encode("done")]);
    assert.deepEqual(await conn.closed, {
      code: 4001,
      reason: "done",
      wasClean: true,
    });
    await expectReject(conn.recv(new Uint8Array(10)), "CLOSED");
    await expectReject(conn.send("x"), "CLOSED");
  });
});

Deno.test("recv: empty and 125-byte close frames", async () => {
  for (const reason of [null, "r".repeat(123)]) {
    await withServer(async (peer) => {
      if (reason === null) await peer.sendClose();
      else await peer.sendClose(1000, reason);
      const echo = await peer.expectClose();
      assert.equal(echo.code, reason === null ? undefined : 1000);
    }, async (conn) => {
      const r = await recvMessage(conn);
      assert.equal(r.metas[0].flags, WS.CLOSE);
      assert.equal(r.data.length, reason === null ? 0 : 125);
      const info = await conn.closed;
      assert.equal(info.code, reason === null ? 1005 : 1000);
      assert.ok(info.wasClean);
    });
  }
});

Deno.test("recv: fragments with empty parts, a pong and a ping between fragments", async () => {
  await withServer(async (peer) => {
    await peer.sendFrames([
      { opcode: OP.TEXT, fin: false, payload: "" },
      { opcode: OP.PONG, payload: "p" },
      { opcode: OP.CONT, fin: false, payload: "Hel" },
      { opcode: OP.PING, payload: "q" },
      { opcode: OP.CONT, fin: false, payload: "" },
      { opcode: OP.CONT, fin: true, payload: "lo" },
    ]);
    const pong = await peer.expectFrame();
    assert.equal(pong.opcode, OP.PONG);
    assert.equal(td.decode(pong.payload), "q");
    await peer.echoUntilClose();
  }, async (conn) => {
    const buf = new Uint8Array(100);
    const seen: [number, string][] = [];
    for (let i = 0; i < 6; i++) {
      const { n, meta } = await conn.recv(buf);
      seen.push([meta.flags, td.decode(buf.subarray(0, n))]);
    }
    const TC = WS.TEXT | WS.CONT;
    assert.deepEqual(seen, [
      [TC, ""],
      [WS.PONG, "p"],
      [TC, "Hel"],
      [WS.PING, "q"],
      [TC, ""],
      [WS.TEXT, "lo"],
    ]);
  });
});

Deno.test("messages: a text message that is only U+FEFF keeps it", async () => {
  await withServer(async (peer) => {
    await peer.sendFrame({
      opcode: OP.TEXT,
      payload: new Uint8Array([0xef, 0xbb, 0xbf]),
    });
    await peer.echoUntilClose();
  }, async (conn) => {
    assert.equal(await conn.receive(), "\uFEFF");
  });
});

Deno.test("recv: frames written one byte at a time, and bytes glued to the 101", async () => {
  const server = startScriptedServer(async (peer) => {
    await peer.accept({ trailing: new Uint8Array([0x81, 0x02, 0x68, 0x69]) });
    const frame = new Uint8Array([
      0x82,
      0x7e,
      0x01,
      0x00,
      ...new Uint8Array(256).fill(9),
    ]);
    await peer.writeChopped(frame, 1);
    await peer.echoUntilClose();
  });
  try {
    const conn = await connect(server.url);
    assert.equal(await conn.receive(), "hi");
    const m = await conn.receive() as Uint8Array;
    assert.deepEqual(m, new Uint8Array(256).fill(9));
    await conn.close();
    assert.ok((await conn.closed).wasClean);
  } finally {
    await server.close();
  }
});

const violations: [
  string,
  Parameters<ScriptedPeer["sendFrame"]>[0][],
  string,
  number,
][] = [
  ["opcode 0x3", [{ opcode: 3, payload: "x" }], "PROTOCOL_ERROR", 1002],
  ["opcode 0xB", [{ opcode: 0xb, payload: "x" }], "PROTOCOL_ERROR", 1002],
  ["RSV1", [{ opcode: OP.TEXT, rsv: 4, payload: "x" }], "PROTOCOL_ERROR", 1002],
  ["RSV2", [{ opcode: OP.TEXT, rsv: 2, payload: "x" }], "PROTOCOL_ERROR", 1002],
  [
    "RSV3",
    [{ opcode: OP.BINARY, rsv: 1, payload: "x" }],
    "PROTOCOL_ERROR",
    1002,
  ],
  [
    "masked server frame",
    [{ opcode: OP.TEXT, mask: true, payload: "x" }],
    "PROTOCOL_ERROR",
    1002,
  ],
  [
    "126-byte ping",
    [{ opcode: OP.PING, payload: new Uint8Array(126) }],
    "PROTOCOL_ERROR",
    1002,
  ],
  [
    "126-byte pong",
    [{ opcode: OP.PONG, payload: new Uint8Array(126) }],
    "PROTOCOL_ERROR",
    1002,
  ],
  [
    "126-byte close",
    [{ opcode: OP.CLOSE, payload: new Uint8Array(126) }],
    "PROTOCOL_ERROR",
    1002,
  ],
  [
    "fragmented ping",
    [{ opcode: OP.PING, fin: false, payload: "a" }, {
      opcode: OP.CONT,
      payload: "b",
    }],
    "PROTOCOL_ERROR",
    1002,
  ],
  [
    "fragmented pong",
    [{ opcode: OP.PONG, fin: false, payload: "a" }],
    "PROTOCOL_ERROR",
    1002,
  ],
  [
    "fragmented close",
    [{ opcode: OP.CLOSE, fin: false, payload: new Uint8Array([3, 232]) }],
    "PROTOCOL_ERROR",
    1002,
  ],
  [
    "CONT with no start",
    [{ opcode: OP.CONT, payload: "x" }],
    "PROTOCOL_ERROR",
    1002,
  ],
  [
    "text inside a fragmented message",
    [{ opcode: OP.TEXT, fin: false, payload: "a" }, {
      opcode: OP.TEXT,
      payload: "b",
    }],
    "PROTOCOL_ERROR",
    1002,
  ],
  [
    "1-byte close",
    [{ opcode: OP.CLOSE, payload: new Uint8Array([3]) }],
    "PROTOCOL_ERROR",
    1002,
  ],
  [
    "close code 1005",
    [{ opcode: OP.CLOSE, payload: new Uint8Array([0x03, 0xed]) }],
    "PROTOCOL_ERROR",
    1002,
  ],
  [
    "close code 2999",
    [{ opcode: OP.CLOSE, payload: new Uint8Array([0x0b, 0xb7]) }],
    "PROTOCOL_ERROR",
    1002,
  ],
  [
    "invalid UTF-8 text",
    [{ opcode: OP.TEXT, payload: new Uint8Array([0x61, 0xc0, 0x80]) }],
    "INVALID_PAYLOAD",
    1007,
  ],
  [
    "invalid UTF-8 close reason",
    [{ opcode: OP.CLOSE, payload: new Uint8Array([3, 232, 0xff]) }],
    "INVALID_PAYLOAD",
    1007,
  ],
  [
    "non-minimal length",
    [{ opcode: OP.TEXT, payload: "x", lengthForm: 16 }],
    "PROTOCOL_ERROR",
    1002,
  ],
];

for (const [name, frames, code, closeCode] of violations) {
  Deno.test(`violation: ${name} → close ${closeCode} and ${code}, then CLOSED`, async () => {
    await withServer(async (peer) => {
      await peer.sendText("before");
      await peer.sendFrames(frames);
      const close = await peer.expectClose();
      assert.equal(close.code, closeCode);
      await peer.closeWrite();
    }, async (conn) => {
      // The valid message sent before the bad frame is still delivered first.
      assert.equal(await conn.receive(), "before");
      // Valid leading fragments are delivered; the bad frame then rejects.
      const readUntilError = async () => {
        for (let i = 0; i < 5; i++) await conn.recv(new Uint8Array(100));
      };
      const err = await expectReject(readUntilError(), code, closeCode);
      assert.ok(err.message.length > 0);
      await expectReject(conn.recv(new Uint8Array(100)), "CLOSED");
      const info = await conn.closed;
      assert.equal(info.wasClean, false);
    });
  });
}

Deno.test("recv: EOF in the middle of a message is CONNECTION_LOST", async () => {
  await withServer(async (peer) => {
    await peer.sendFrame({ opcode: OP.TEXT, fin: false, payload: "part" });
    await peer.writeRaw(new Uint8Array([0x80, 0x05, 0x61])); // 1 of 5 bytes
    await peer.closeWrite();
  }, async (conn) => {
    const buf = new Uint8Array(100);
    assert.equal((await conn.recv(buf)).meta.flags, WS.TEXT | WS.CONT);
    const { meta } = await conn.recv(buf);
    assert.equal(meta.bytesleft, 4);
    await expectReject(conn.recv(buf), "CONNECTION_LOST");
    await expectReject(conn.recv(buf), "CLOSED");
    assert.deepEqual(await conn.closed, {
      code: 1006,
      reason: "",
      wasClean: false,
    });
  });
});

Deno.test("handshake: 200 and 403 are HTTP_RETURNED_ERROR with status, headers and body", async () => {
  for (
    const [status, body] of [["200 OK", "plain page"], [
      "403 Forbidden",
      "go away",
    ]] as const
  ) {
    const server = startScriptedServer(async (peer) => {
      await peer.readRequest();
      await peer.writeRaw(
        `HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
    });
    try {
      const err = await expectReject(
        connect(server.url),
        "HTTP_RETURNED_ERROR",
      );
      assert.equal(err.status, Number(status.slice(0, 3)));
      assert.equal(err.message, `HTTP ${status}`);
      assert.equal(err.headers?.get("content-type"), "text/plain");
      assert.equal(td.decode(err.body), body);
    } finally {
      await server.close();
    }
  }
});

Deno.test("handshake: wrong accept key, missing upgrade, unrequested protocol are BAD_HANDSHAKE", async () => {
  const cases: Parameters<ScriptedPeer["accept"]>[0][] = [
    { badAccept: true },
    { protocol: "unoffered" },
    { extensions: "permessage-deflate" },
  ];
  for (const opts of cases) {
    const server = startScriptedServer(async (peer) => {
      await peer.accept(opts);
      await peer.readUntilEof(2000).catch(() => {});
    });
    try {
      await expectReject(connect(server.url), "BAD_HANDSHAKE");
    } finally {
      await server.close();
    }
  }
  const server = startScriptedServer(async (peer) => {
    await peer.readRequest();
    await peer.writeRaw(
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n",
    );
  });
  try {
    await expectReject(connect(server.url), "BAD_HANDSHAKE");
  } finally {
    await server.close();
  }
});

Deno.test("handshake: request carries key, version, protocols, origin and headers; protocol is selected", async () => {
  const server = startScriptedServer(async (peer) => {
    const req = await peer.readRequest();
    assert.equal(req.method, "GET");
    assert.equal(req.path, "/chat?room=1");
    assert.equal(req.headers.get("sec-websocket-version"), "13");
    assert.equal(atob(req.headers.get("sec-websocket-key")!).length, 16);
    assert.equal(req.headers.get("sec-websocket-protocol"), "v2, v1");
    assert.equal(req.headers.get("origin"), "http://example.test");
    assert.equal(req.headers.get("x-custom"), "yes");
    assert.equal(req.headers.get("host"), `127.0.0.1:${server.port}`);
    await peer.accept({ protocol: "v1" });
    await peer.echoUntilClose();
  });
  try {
    const conn = await connect(`${server.url}/chat?room=1`, {
      protocols: ["v2", "v1"],
      origin: "http://example.test",
      headers: { "X-Custom": "yes" },
    });
    assert.equal(conn.protocol, "v1");
    assert.equal(conn.response.status, 101);
    await conn.close();
  } finally {
    await server.close();
  }
  assert.deepEqual(server.errors, []);
});

Deno.test("send: fragments, partial frames and control frames reach the wire as curl describes", async () => {
  await withServer(async (peer) => {
    const frames = [];
    for (let i = 0; i < 6; i++) frames.push(await peer.expectFrame());
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.fin, td.decode(f.payload)]),
      [
        [OP.TEXT, false, "Hel"],
        [OP.PING, true, "p"],
        [OP.CONT, true, "lo"],
        [OP.BINARY, true, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a"],
        [OP.PONG, true, "q"],
        [OP.TEXT, true, ""],
      ],
    );
    assert.ok(frames.every((f) => f.masked));
    await peer.echoUntilClose();
  }, async (conn) => {
    assert.equal(await conn.send("Hel", WS.TEXT | WS.CONT), 3);
    await conn.send("p", WS.PING);
    await conn.send("lo", WS.TEXT);
    await conn.send(new Uint8Array([1, 2, 3, 4]), WS.BINARY | WS.OFFSET, 10);
    await expectReject(conn.send("x", WS.PING), "INVALID_ARGUMENT");
    await conn.send(new Uint8Array([5, 6, 7]), WS.BINARY | WS.OFFSET);
    await expectReject(
      conn.send(new Uint8Array(4), WS.BINARY | WS.OFFSET),
      "INVALID_ARGUMENT",
    );
    await conn.send(new Uint8Array([8, 9, 10]), WS.BINARY | WS.OFFSET);
    await conn.send("q", WS.PONG);
    await conn.send("");
  });
});

Deno.test("close: our close is answered; closed reports the peer's code and reason", async () => {
  await withServer(async (peer) => {
    const close = await peer.expectClose();
    assert.deepEqual([close.code, close.reason], [4321, "bye now"]);
    await peer.sendText("late but before the close");
    await peer.sendClose(4321, "bye now");
  }, async (conn) => {
    const pending = conn.receive();
    await conn.close(4321, "bye now");
    assert.equal(await pending, "late but before the close");
    assert.deepEqual(await conn.closed, {
      code: 4321,
      reason: "bye now",
      wasClean: true,
    });
    await conn.close(); // idempotent
  });
  await expectReject(
    (async () => {
      const server = startScriptedServer(async (peer) => {
        await peer.accept();
        await peer.echoUntilClose();
      });
      try {
        const conn = await connect(server.url);
        try {
          await conn.close(1005);
        } finally {
          await conn.close();
        }
      } finally {
        await server.close();
      }
    })(),
    "INVALID_ARGUMENT",
  );
});

Deno.test("close: a peer that never answers is given up after closeTimeout", async () => {
  await withServer(async (peer) => {
    await peer.expectClose();
    await peer.readUntilEof(5000);
  }, async (conn) => {
    const t0 = Date.now();
    await conn.close();
    const info = await conn.closed;
    assert.equal(info.wasClean, false);
    assert.equal(info.code, 1006);
    assert.ok(Date.now() - t0 >= 250);
  }, { closeTimeout: 300 });
});

Deno.test("full duplex: one task waits in recv while another sends", async () => {
  await withServer(async (peer) => {
    const m = await peer.readMessage();
    await peer.sendText("reply to " + td.decode(m!.payload));
    await peer.echoUntilClose();
  }, async (conn) => {
    const buf = new Uint8Array(100);
    const waiting = conn.recv(buf);
    await new Promise((r) => setTimeout(r, 50));
    await conn.send("ping?");
    const { n } = await waiting;
    assert.equal(td.decode(buf.subarray(0, n)), "reply to ping?");
  });
});

Deno.test("messages: iteration, maxMessageSize → 1009, readable and writable streams", async () => {
  await withServer(async (peer) => {
    await peer.sendText("one");
    await peer.sendFrames([{
      opcode: OP.BINARY,
      fin: false,
      payload: new Uint8Array([1]),
    }, { opcode: OP.CONT, payload: new Uint8Array([2]) }]);
    await peer.sendClose(1000);
    await peer.expectClose();
  }, async (conn) => {
    const got = [];
    for await (const m of conn) got.push(m);
    assert.deepEqual(got, ["one", new Uint8Array([1, 2])]);
  });
  await withServer(async (peer) => {
    await peer.sendFrames([{
      opcode: OP.BINARY,
      fin: false,
      payload: new Uint8Array(60),
    }, { opcode: OP.CONT, payload: new Uint8Array(60) }]);
    const close = await peer.expectClose();
    assert.equal(close.code, 1009);
    await peer.closeWrite();
  }, async (conn) => {
    await expectReject(conn.receive(), "MESSAGE_TOO_BIG", 1009);
  }, { maxMessageSize: 100 });
  await withServer(async (peer) => {
    const m = await peer.readMessage();
    await peer.sendText(td.decode(m!.payload).toUpperCase());
    await peer.echoUntilClose();
  }, async (conn) => {
    const writer = conn.writable.getWriter();
    await writer.write("shout");
    writer.releaseLock();
    const reader = conn.readable.getReader();
    assert.deepEqual(await reader.read(), { value: "SHOUT", done: false });
    reader.releaseLock();
  });
});

Deno.test("recv: a 100 MB frame streams through a 64 KiB buffer", async () => {
  const size = 100 * 1024 * 1024;
  await withServer(async (peer) => {
    await peer.sendFrame({ opcode: OP.BINARY, length: size });
    const chunk = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
    for (let sent = 0; sent < size; sent += chunk.length) {
      await peer.writeRaw(chunk);
    }
    await peer.echoUntilClose(10000);
  }, async (conn) => {
    const buf = new Uint8Array(65536);
    let total = 0, pieces = 0;
    for (;;) {
      const { n, meta } = await conn.recv(buf);
      assert.equal(meta.offset, total);
      assert.equal(buf[0], total & 0xff);
      total += n;
      pieces++;
      assert.equal(meta.bytesleft, size - total);
      if (meta.bytesleft === 0) break;
    }
    assert.equal(total, size);
    assert.ok(pieces >= size / 65536);
  });
});

Deno.test("ping flood while the client sends a slow partial frame: pongs only at frame boundaries", async () => {
  const pings = 100_000;
  await withServer(async (peer) => {
    const flood = new Uint8Array(pings * 2);
    for (let i = 0; i < pings; i++) flood.set([0x89, 0x00], i * 2);
    await peer.writeRaw(flood);
    await peer.sendText("end");
    // Every frame we read must be a well-formed frame: a data frame of 3000
    // bytes in one piece, and pongs only outside it.
    let pongs = 0, data = 0;
    for (;;) {
      const f = await peer.expectFrame(10000);
      if (f.opcode === OP.PONG) pongs++;
      else if (f.opcode === OP.BINARY) {
        data++;
        assert.equal(f.payload.length, 3000);
        assert.ok(f.payload.every((b) => b === 5));
      } else if (f.opcode === OP.CLOSE) break;
    }
    assert.equal(data, 1);
    assert.ok(pongs >= 1 && pongs <= pings, `pongs=${pongs}`);
    await peer.sendClose(1000);
  }, async (conn) => {
    const before = Deno.memoryUsage().rss;
    await conn.send(new Uint8Array(1000).fill(5), WS.BINARY | WS.OFFSET, 3000);
    const buf = new Uint8Array(16);
    let seen = 0;
    for (;;) {
      const { meta } = await conn.recv(buf);
      if (meta.flags & WS.PING) seen++;
      if (meta.flags & WS.TEXT) break;
      if (seen === pings / 2) {
        await conn.send(new Uint8Array(1000).fill(5), WS.BINARY | WS.OFFSET);
      }
    }
    assert.equal(seen, pings);
    await conn.send(new Uint8Array(1000).fill(5), WS.BINARY | WS.OFFSET);
    assert.ok(Deno.memoryUsage().rss - before < 100 * 1024 * 1024);
  });
});

Deno.test("wss: TLS with the test CA works; an unknown CA fails with TLS_ERROR", async () => {
  const certs = testCerts();
  for (const hostname of ["localhost", "127.0.0.1"]) {
    const server = startScriptedServer(async (peer) => {
      await peer.accept();
      await peer.echoUntilClose();
    }, { tls: true });
    try {
      const conn = await connect(`wss://${hostname}:${server.port}/`, {
        caCerts: [certs.ca],
      });
      await conn.send("secure");
      assert.equal(await conn.receive(), "secure");
      await conn.close();
      assert.ok((await conn.closed).wasClean);
    } finally {
      await server.close();
    }
  }
  const server = startScriptedServer(async () => {}, { tls: true });
  try {
    await expectReject(connect(`wss://localhost:${server.port}/`), "TLS_ERROR");
  } finally {
    await server.close();
  }
});

Deno.test("connect: bad URLs and refused ports", async () => {
  await expectReject(connect("http//nope"), "INVALID_ARGUMENT");
  await expectReject(connect("ftp://127.0.0.1/"), "INVALID_ARGUMENT");
  await expectReject(connect("ws://127.0.0.1/#frag"), "INVALID_ARGUMENT");
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  await expectReject(connect(`ws://127.0.0.1:${port}/`), "CONNECT_FAILED");
});

Deno.test("keepalive: idle pings keep a live peer; a silent peer fails with TIMEOUT", async () => {
  // A peer that answers pings: the connection survives several intervals.
  await withServer(async (peer) => {
    let pings = 0;
    for (;;) {
      const f = await peer.expectFrame(3000);
      if (f.opcode === OP.PING) {
        pings++;
        await peer.sendPong(f.payload);
        if (pings === 3) await peer.sendText("enough");
      } else if (f.opcode === OP.CLOSE) {
        await peer.sendClose(1000);
        break;
      }
    }
    assert.equal(pings, 3);
  }, async (conn) => {
    const buf = new Uint8Array(100);
    const flags: number[] = [];
    for (;;) {
      const { meta } = await conn.recv(buf);
      flags.push(meta.flags);
      if (meta.flags & WS.TEXT) break;
    }
    assert.deepEqual(flags, [WS.PONG, WS.PONG, WS.PONG, WS.TEXT]);
  }, { pingInterval: 60, pongTimeout: 1000 });
  // A peer that reads but never answers: TIMEOUT.
  await withServer(async (peer) => {
    await peer.readUntilEof(5000);
  }, async (conn) => {
    await expectReject(conn.recv(new Uint8Array(10)), "TIMEOUT");
    assert.equal((await conn.closed).wasClean, false);
  }, { pingInterval: 50, pongTimeout: 100 });
});

Deno.test("abort: the signal closes an open connection and fails a pending recv with ABORTED", async () => {
  const controller = new AbortController();
  await withServer(async (peer) => {
    await peer.readUntilEof(5000);
  }, async (conn) => {
    const pending = conn.recv(new Uint8Array(10));
    setTimeout(() => controller.abort(), 30);
    await expectReject(pending, "ABORTED");
    await expectReject(conn.send("x"), "CLOSED");
  }, { signal: controller.signal });
});

Deno.test("close handshake: a peer close arriving while our writes back up loses no queued frame", async () => {
  let frames = 0, bytes = 0, sawClose = false;
  await withServer(async (peer) => {
    await new Promise((r) => setTimeout(r, 100));
    await peer.sendClose(1000, "server bye");
    // Read late, so that the client's writes are still in flight.
    await new Promise((r) => setTimeout(r, 300));
    for (;;) {
      const f = await peer.readFrame(3000);
      if (f === null) break;
      if (f.opcode === OP.CLOSE) {
        sawClose = true;
        break;
      }
      frames++;
      bytes += f.payload.length;
    }
  }, async (conn) => {
    const pending = conn.recv(new Uint8Array(1024));
    const chunk = new Uint8Array(60_000);
    for (let i = 0; i < 200; i++) conn.send(chunk).catch(() => {});
    await conn.close(1000, "client bye");
    assert.equal((await pending).meta.flags, WS.CLOSE);
    assert.deepEqual(await conn.closed, {
      code: 1000,
      reason: "server bye",
      wasClean: true,
    });
  }, { closeTimeout: 3000 });
  assert.deepEqual([frames, bytes, sawClose], [200, 12_000_000, true]);
});

Deno.test("close: closeTimeout also bounds writes that a peer never reads", async () => {
  await withServer(async (peer) => {
    await peer.readRequest().catch(() => {});
    await new Promise((r) => setTimeout(r, 1500));
  }, async (conn) => {
    const chunk = new Uint8Array(1 << 20);
    for (let i = 0; i < 18; i++) conn.send(chunk).catch(() => {});
    const t0 = Date.now();
    await conn.close();
    assert.ok(Date.now() - t0 < 1200, "close() waited past closeTimeout");
    assert.equal((await conn.closed).wasClean, false);
  }, { closeTimeout: 300 });
});

Deno.test("ping flood from a peer that never reads: the pong backlog stays bounded", async () => {
  const ping = frameBytes({ opcode: OP.PING, payload: new Uint8Array(125) });
  const batch = new Uint8Array(ping.length * 1000);
  for (let i = 0; i < 1000; i++) batch.set(ping, i * ping.length);
  await withServer(async (peer) => {
    for (let i = 0; i < 200; i++) await peer.writeRaw(batch); // 200k pings, 25 MB
    await peer.sendText("end");
    await new Promise((r) => setTimeout(r, 200));
  }, async (conn) => {
    const before = Deno.memoryUsage().external;
    assert.equal(await conn.receive(), "end");
    const grown = Deno.memoryUsage().external - before;
    // Answering every ping would queue 200k pongs (~26 MB) behind a peer
    // that does not read; only the latest is kept while writes back up.
    assert.ok(grown < 8 * 1024 * 1024, `external memory grew ${grown} bytes`);
  }, { closeTimeout: 300 });
});

Deno.test("large partial frames (WS.OFFSET) stream as one masked frame; bad sizes are rejected before a byte goes out", async () => {
  const MiB = 1 << 20;
  const total = 3 * MiB + 5;
  const big = new Uint8Array(total).map((_, i) => (i * 13 + (i >> 12)) & 255);
  await withServer(async (peer) => {
    const frame = await peer.expectFrame(20000);
    assert.equal(frame.opcode, OP.BINARY);
    assert.equal(frame.fin, true);
    assert.equal(frame.masked, true);
    assert.equal(frame.payload.length, total);
    assertSameBytes(frame.payload, big);
    // Nothing of the rejected sends reached the wire: next is the text.
    const next = await peer.expectFrame();
    assert.equal(next.opcode, OP.TEXT);
    assert.equal(td.decode(next.payload), "after");
    await peer.echoUntilClose();
  }, async (conn) => {
    // fragsize smaller than the bytes given: rejected, no frame started.
    await expectReject(
      conn.send(big.subarray(0, MiB), WS.BINARY | WS.OFFSET, MiB - 1),
      "INVALID_ARGUMENT",
    );
    assert.equal(
      await conn.send(big.subarray(0, MiB), WS.BINARY | WS.OFFSET, total),
      MiB,
    );
    // More than the frame still owes: rejected, the frame stays open.
    await expectReject(
      conn.send(new Uint8Array(total - MiB + 1), WS.BINARY | WS.OFFSET),
      "INVALID_ARGUMENT",
    );
    await conn.send(big.subarray(MiB, 2 * MiB), WS.BINARY | WS.OFFSET);
    await conn.send(big.subarray(2 * MiB), WS.BINARY | WS.OFFSET);
    await conn.send("after");
  });
});

Deno.test("many frames sent without waiting (staged across several buffers) arrive in order and intact", async () => {
  // Runs of frames that overflow a staging buffer (up to 65,536 bytes of
  // payload are staged, 65,537 are not) between unstaged large frames; the
  // peer starts reading late, so writes are pending while more is staged.
  const pattern = [0, 1, 125, 126, 4000, 16384, 40000, 30000, 65535, 65536];
  const sizes = Array.from(
    { length: 330 },
    (_, i) => i % 11 === 10 ? 65537 + i : pattern[i % 11],
  );
  // Then 12 MB of staged frames only, more than the kernel buffers hold:
  // staging buffers are written while others fill, and must not be reused
  // before their write is done.
  for (let i = 0; i < 200; i++) sizes.push(60000 + i);
  const payload = (i: number) =>
    new Uint8Array(sizes[i]).map((_, j) => (i * 31 + j) & 255);
  await withServer(async (peer) => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (let i = 0; i < sizes.length; i++) {
      const frame = await peer.expectFrame(10000);
      assert.equal(frame.opcode, OP.BINARY, `frame ${i}`);
      assert.equal(frame.masked, true);
      assertSameBytes(frame.payload, payload(i), `frame ${i}`);
    }
    await peer.echoUntilClose();
  }, async (conn) => {
    const sends = sizes.map((_, i) => conn.send(payload(i)));
    assert.deepEqual(await Promise.all(sends), sizes);
  });
});

Deno.test("send() takes the first 1 MiB of a payload before it returns: a buffer reused at once goes out as it was", async () => {
  const sizes = [100, 200 * 1024, 1 << 20];
  const original = (n: number, seed: number) =>
    new Uint8Array(n).map((_, i) => (i * 7 + seed) & 255);
  for (const rawMode of [false, true]) {
    await withServer(async (peer) => {
      if (rawMode) {
        // Raw mode: our bytes arrive exactly as sent, no framing.
        const total = sizes.reduce((a, b) => a + b, 0);
        const got = await peer.readBytes(total * 2, 10000);
        let off = 0;
        for (const seed of [1, 2]) {
          for (const n of sizes) {
            assertSameBytes(got.subarray(off, off + n), original(n, seed));
            off += n;
          }
        }
        return;
      }
      for (const seed of [1, 2]) {
        for (const n of sizes) {
          const frame = await peer.expectFrame(10000);
          assertSameBytes(frame.payload, original(n, seed), `${n} bytes`);
        }
      }
      await peer.echoUntilClose();
    }, async (conn) => {
      const sends: Promise<number>[] = [];
      for (const seed of [1, 2]) {
        for (const n of sizes) {
          const buf = original(n, seed);
          sends.push(conn.send(buf, WS.BINARY)); // not awaited
          buf.fill(0xee); // the caller reuses its buffer right away
        }
      }
      assert.deepEqual(
        await within(20000, "sends", Promise.all(sends)),
        [...sizes, ...sizes],
      );
    }, { rawMode });
  }
});

Deno.test("messages: a single-frame message exactly at maxMessageSize is delivered; one byte more closes with 1009", async () => {
  for (const [size, ok] of [[100, true], [101, false]] as const) {
    await withServer(async (peer) => {
      await peer.sendBinary(new Uint8Array(size).fill(5));
      if (ok) {
        await peer.echoUntilClose();
        return;
      }
      const close = await peer.expectClose();
      assert.equal(close.code, 1009);
      await peer.closeWrite();
    }, async (conn) => {
      if (!ok) {
        await expectReject(conn.receive(), "MESSAGE_TOO_BIG", 1009);
        return;
      }
      const message = await within(5000, "the message", conn.receive());
      assert.ok(message instanceof Uint8Array);
      assertSameBytes(message, new Uint8Array(size).fill(5));
    }, { maxMessageSize: 100 });
  }
});

Deno.test("bufferedAmount: counts what send() took and the socket has not, and falls to 0 once the peer reads", async () => {
  const size = 8 * 1024 * 1024;
  let release!: () => void;
  const reading = new Promise<void>((r) => release = r);
  await withServer(async (peer) => {
    await reading; // reads nothing until the client has looked
    const m = await peer.readMessage(10000);
    assert.equal(m!.payload.length, size);
    await peer.echoUntilClose();
  }, async (conn) => {
    assert.equal(conn.bufferedAmount, 0);
    const sent = conn.send(new Uint8Array(size));
    await new Promise((r) => setTimeout(r, 100));
    const waiting = conn.bufferedAmount;
    assert.ok(waiting > 0 && waiting <= size, `bufferedAmount ${waiting}`);
    release();
    await within(10000, "the send", sent);
    assert.equal(conn.bufferedAmount, 0);
  });
});
