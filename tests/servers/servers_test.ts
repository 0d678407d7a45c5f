/**
 * Self-tests of the test servers, using only Deno's built-in WebSocket and raw
 * sockets (never the wsnc library), so that the servers can be trusted when
 * they are used to test the library.
 */

import assert from "node:assert/strict";
import { testCerts } from "./certs.ts";
import { startDenoEchoServer, startWsEchoServer } from "./echo.ts";
import { startConnectProxy } from "./proxy.ts";
import { ConnReader, latin1 } from "./reader.ts";
import {
  acceptValue,
  closePayload,
  frameBytes,
  OP,
  parseClosePayload,
  startScriptedServer,
} from "./scripted.ts";
import { applyMask, parseFrameHeader } from "./wire.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

// ---------------------------------------------------------------- helpers

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with the event's value or rejects after `ms` (timer always cleared). */
function within<T>(
  ms: number,
  what: string,
  fn: (done: (v: T) => void) => void,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return new Promise<T>((resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${what}`)),
      ms,
    );
    fn(resolve);
  }).finally(() => clearTimeout(timer));
}

/** Events of one built-in WebSocket client, collected until it closes. */
interface ClientLog {
  opened: boolean;
  protocol: string;
  messages: (string | ArrayBuffer)[];
  close: { code: number; reason: string; wasClean: boolean };
}

/**
 * Runs Deno's built-in WebSocket against `url`: on open calls `onOpen`,
 * on each message calls `onMessage`; resolves with everything at close.
 */
function runClient(
  url: string,
  protocols: string[],
  onOpen: (ws: WebSocket) => void,
  onMessage: (
    ws: WebSocket,
    data: string | ArrayBuffer,
    count: number,
  ) => void = () => {},
): Promise<ClientLog> {
  return within(5000, `client for ${url} to close`, (done) => {
    const ws = new WebSocket(url, protocols);
    ws.binaryType = "arraybuffer";
    const log: ClientLog = {
      opened: false,
      protocol: "",
      messages: [],
      close: { code: 0, reason: "", wasClean: false },
    };
    ws.onopen = () => {
      log.opened = true;
      log.protocol = ws.protocol;
      onOpen(ws);
    };
    ws.onmessage = (e) => {
      log.messages.push(e.data);
      onMessage(ws, e.data, log.messages.length);
    };
    ws.onerror = () => {};
    ws.onclose = (e) => {
      log.close = { code: e.code, reason: e.reason, wasClean: e.wasClean };
      done(log);
    };
  });
}

/** A minimal raw WebSocket client over an open connection (TCP, TLS or a tunnel). */
class RawClient {
  readonly reader: ConnReader;
  constructor(readonly conn: Deno.Conn) {
    this.reader = new ConnReader(conn);
  }

  async write(data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === "string" ? enc.encode(data) : data;
    let off = 0;
    while (off < bytes.length) {
      off += await this.conn.write(bytes.subarray(off));
    }
  }

  /** Reads an HTTP response head: status code and headers. */
  async readResponse(): Promise<
    { status: number; headers: Headers; raw: string }
  > {
    const head = await this.reader.readHead(5000);
    assert.ok(head, "connection ended before a response head");
    const raw = latin1(head);
    const [statusLine, ...lines] = raw.split("\r\n");
    const headers = new Headers();
    for (const line of lines) {
      const colon = line.indexOf(":");
      if (colon > 0) {
        headers.append(line.slice(0, colon), line.slice(colon + 1).trim());
      }
    }
    return { status: Number(statusLine.split(" ")[1]), headers, raw };
  }

  /** Sends an upgrade request and reads the response head. */
  async upgrade(host: string, key: string, extra: string[] = []) {
    await this.write(
      [
        "GET /echo HTTP/1.1",
        `Host: ${host}`,
        "Upgrade: websocket",
        "Connection: Upgrade",
        `Sec-WebSocket-Key: ${key}`,
        "Sec-WebSocket-Version: 13",
        ...extra,
        "",
        "",
      ].join("\r\n"),
    );
    return await this.readResponse();
  }

  /** Sends an upgrade request and checks the 101 and its accept value. */
  async handshake(host: string, extra: string[] = []): Promise<Headers> {
    const key = btoa(
      String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))),
    );
    const res = await this.upgrade(host, key, extra);
    assert.equal(res.status, 101, res.raw);
    assert.equal(
      res.headers.get("sec-websocket-accept"),
      await acceptValue(key),
    );
    return res.headers;
  }

  /** Reads one unmasked server frame. */
  async readFrame(): Promise<
    { opcode: number; fin: boolean; payload: Uint8Array }
  > {
    const deadline = Date.now() + 5000;
    let h = parseFrameHeader(this.reader.buffered);
    while (!h || this.reader.buffered.length < h.headerLen + h.length) {
      assert.ok(
        await this.reader.fill(deadline, "a frame", 5000),
        "EOF before a frame",
      );
      h = parseFrameHeader(this.reader.buffered);
    }
    assert.equal(h.masked, false, "server frames must not be masked");
    const payload = this.reader.consume(h.headerLen + h.length).subarray(
      h.headerLen,
    );
    return { opcode: h.opcode, fin: h.fin, payload };
  }

  /** Sends a text frame and a close, and checks the echo and the close reply. */
  async echoAndClose(text: string): Promise<void> {
    await this.write(
      frameBytes({ opcode: OP.TEXT, payload: text, mask: true }),
    );
    const echo = await this.readFrame();
    assert.equal(echo.opcode, OP.TEXT);
    assert.equal(dec.decode(echo.payload), text);
    await this.write(
      frameBytes({ opcode: OP.CLOSE, payload: closePayload(1000), mask: true }),
    );
    const close = await this.readFrame();
    assert.equal(close.opcode, OP.CLOSE);
    assert.equal(parseClosePayload(close.payload).code, 1000);
  }
}

// ---------------------------------------------------------------- wire codec

Deno.test("wire: frameBytes matches the RFC 6455 section 5.7 examples", () => {
  assert.deepEqual(
    frameBytes({ opcode: OP.TEXT, payload: "Hello" }),
    new Uint8Array([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]),
  );
  assert.deepEqual(
    frameBytes({
      opcode: OP.TEXT,
      payload: "Hello",
      mask: true,
      maskKey: new Uint8Array([0x37, 0xfa, 0x21, 0x3d]),
    }),
    new Uint8Array([
      0x81,
      0x85,
      0x37,
      0xfa,
      0x21,
      0x3d,
      0x7f,
      0x9f,
      0x4d,
      0x51,
      0x58,
    ]),
  );
  assert.deepEqual(
    frameBytes({ fin: false, opcode: OP.TEXT, payload: "Hel" }).subarray(0, 2),
    new Uint8Array([0x01, 0x03]),
  );
  assert.deepEqual(
    frameBytes({ opcode: OP.BINARY, payload: new Uint8Array(256) }).subarray(
      0,
      4,
    ),
    new Uint8Array([0x82, 0x7e, 0x01, 0x00]),
  );
  assert.deepEqual(
    frameBytes({ opcode: OP.BINARY, payload: new Uint8Array(65536) }).subarray(
      0,
      10,
    ),
    new Uint8Array([0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]),
  );
});

Deno.test("wire: overrides produce the crafted (invalid) bytes asked for", () => {
  // RSV1 set, 16-bit length form for a 5-byte payload, lying length field.
  assert.deepEqual(
    frameBytes({ opcode: OP.TEXT, rsv: 4, payload: "Hello", lengthForm: 16 })
      .subarray(0, 4),
    new Uint8Array([0xc1, 0x7e, 0x00, 0x05]),
  );
  const lying = frameBytes({ opcode: OP.BINARY, payload: "ab", length: 100 });
  assert.deepEqual(lying, new Uint8Array([0x82, 100, 0x61, 0x62]));
  const h = parseFrameHeader(
    frameBytes({ opcode: 0x3, fin: false, payload: "x", mask: true }),
  );
  assert.ok(h);
  assert.equal(h.opcode, 3);
  assert.equal(h.fin, false);
  assert.equal(h.masked, true);
  assert.equal(h.length, 1);
});

Deno.test("wire: acceptValue matches the RFC 6455 sample", async () => {
  assert.equal(
    await acceptValue("dGhlIHNhbXBsZSBub25jZQ=="),
    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
  );
  const masked = applyMask(
    enc.encode("Hello"),
    new Uint8Array([0x37, 0xfa, 0x21, 0x3d]),
  );
  assert.deepEqual(masked, new Uint8Array([0x7f, 0x9f, 0x4d, 0x51, 0x58]));
});

// ---------------------------------------------------------------- TLS fixtures

for (
  const [listenOn, hostname] of [
    ["127.0.0.1", "localhost"],
    ["127.0.0.1", "127.0.0.1"],
    ["::1", "::1"],
  ]
) {
  Deno.test(`fixtures: the CA-signed server cert is trusted for ${hostname}`, async () => {
    const { ca, cert, key } = testCerts();
    const listener = Deno.listenTls({ hostname: listenOn, port: 0, cert, key });
    const serving = (async () => {
      const conn = await listener.accept();
      const buf = new Uint8Array(4);
      const n = await conn.read(buf);
      await conn.write(buf.subarray(0, n ?? 0));
      conn.close();
    })();
    const client = await Deno.connectTls({
      hostname,
      port: listener.addr.port,
      caCerts: [ca],
    });
    await client.write(enc.encode("ping"));
    const got = new Uint8Array(4);
    assert.equal(await client.read(got), 4);
    assert.equal(dec.decode(got), "ping");
    client.close();
    await serving;
    listener.close();
  });
}

Deno.test("fixtures: the untrusted cert is rejected by a client trusting only the CA", async () => {
  const { ca, untrustedCert, untrustedKey } = testCerts();
  const server = startScriptedServer(
    (peer) => peer.readUntilEof(2000).then(() => {}),
    { tls: { cert: untrustedCert, key: untrustedKey } },
  );
  const client = await Deno.connectTls({
    hostname: "localhost",
    port: server.port,
    caCerts: [ca],
  });
  await assert.rejects(client.handshake(), /UnknownIssuer/);
  client.close();
  await server.close();
});

// ---------------------------------------------------------------- scripted server

Deno.test("scripted: built-in WebSocket handshakes, echoes a frame and closes cleanly", async () => {
  const seen: {
    path?: string;
    protocols?: string;
    frame?: string;
    masked?: boolean;
  } = {};
  let closeSeen: { code?: number; reason: string } | undefined;
  const server = startScriptedServer(async (peer) => {
    const req = await peer.readRequest();
    seen.path = req.path;
    seen.protocols = req.headers.get("sec-websocket-protocol") ?? "";
    await peer.accept({ protocol: "chat" });
    const frame = await peer.expectFrame();
    seen.frame = dec.decode(frame.payload);
    seen.masked = frame.masked;
    await peer.sendText(`echo:${seen.frame}`);
    closeSeen = await peer.expectClose();
    await peer.sendClose(closeSeen.code, closeSeen.reason);
  });
  const log = await runClient(
    `${server.url}/some/path?q=1`,
    ["chat", "other"],
    (ws) => ws.send("hello"),
    (ws) => ws.close(4000, "bye"),
  );
  await server.settled();
  await server.close();
  assert.deepEqual(server.errors, []);
  assert.equal(log.opened, true);
  assert.equal(log.protocol, "chat");
  assert.deepEqual(log.messages, ["echo:hello"]);
  assert.deepEqual(log.close, { code: 4000, reason: "bye", wasClean: true });
  assert.deepEqual(seen, {
    path: "/some/path?q=1",
    protocols: "chat, other",
    frame: "hello",
    masked: true,
  });
  assert.deepEqual(closeSeen?.code, 4000);
  assert.equal(closeSeen?.reason, "bye");
});

Deno.test("scripted: trailing bytes after the 101 and chopped frames reach the client", async () => {
  const server = startScriptedServer(async (peer) => {
    await peer.accept({
      trailing: frameBytes({ opcode: OP.TEXT, payload: "glued" }),
    });
    await peer.writeChopped(
      frameBytes({
        opcode: OP.BINARY,
        payload: new Uint8Array([1, 2, 3, 4, 5]),
      }),
      1,
      2,
    );
    await peer.sendFrames([
      { opcode: OP.TEXT, fin: false, payload: "frag" },
      { opcode: OP.PING, payload: "p" },
      { opcode: OP.CONT, payload: "mented" },
    ]);
    const pong = await peer.expectFrame();
    assert.equal(pong.opcode, OP.PONG);
    assert.equal(dec.decode(pong.payload), "p");
    await peer.sendClose(1000);
    await peer.expectClose();
  });
  const log = await runClient(server.url, [], () => {}, (ws, _d, count) => {
    if (count === 3) ws.close();
  });
  await server.settled();
  await server.close();
  assert.deepEqual(server.errors, []);
  assert.equal(log.messages.length, 3);
  assert.equal(log.messages[0], "glued");
  assert.deepEqual(
    new Uint8Array(log.messages[1] as ArrayBuffer),
    new Uint8Array([1, 2, 3, 4, 5]),
  );
  assert.equal(log.messages[2], "fragmented");
  assert.equal(log.close.code, 1000);
});

Deno.test("scripted: a raw 403 response fails the built-in client's handshake", async () => {
  const server = startScriptedServer(async (peer) => {
    await peer.readRequest();
    await peer.writeRaw(
      "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nnope",
    );
  });
  const log = await runClient(server.url, [], () => {});
  await server.settled();
  await server.close();
  assert.equal(log.opened, false);
  assert.equal(log.close.wasClean, false);
  assert.equal(server.connections, 1);
  assert.deepEqual(server.errors, []);
});

Deno.test("scripted: accept() options shape the 101 response", async () => {
  // Deno's built-in client does not verify Sec-WebSocket-Accept, so check raw bytes.
  const server = startScriptedServer(async (peer) => {
    await peer.readRequest();
    if (peer.index === 0) {
      await peer.accept({
        badAccept: true,
        extensions: "x-ext",
        extraHeaders: ["X-Test: 1"],
      });
    } else {
      await peer.accept({ acceptValue: "custom=" });
    }
  });
  const key = "dGhlIHNhbXBsZSBub25jZQ==";
  for (let i = 0; i < 2; i++) {
    const client = new RawClient(
      await Deno.connect({ hostname: "127.0.0.1", port: server.port }),
    );
    const res = await client.upgrade(`127.0.0.1:${server.port}`, key);
    client.conn.close();
    assert.equal(res.status, 101);
    assert.equal(res.headers.get("upgrade"), "websocket");
    const accept = res.headers.get("sec-websocket-accept") ?? "";
    if (i === 0) {
      assert.match(accept, /^[A-Za-z0-9+/]{27}=$/);
      assert.notEqual(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
      assert.equal(res.headers.get("sec-websocket-extensions"), "x-ext");
      assert.equal(res.headers.get("x-test"), "1");
    } else {
      assert.equal(accept, "custom=");
      assert.equal(res.headers.has("sec-websocket-extensions"), false);
    }
  }
  await server.settled();
  await server.close();
  assert.deepEqual(server.errors, []);
});

Deno.test("scripted: raw reads see exact client bytes; handler errors are only recorded", async () => {
  let received = "";
  const server = startScriptedServer(async (peer) => {
    if (peer.index === 0) {
      const head = await peer.readBytes(4);
      received = dec.decode(head) + dec.decode(await peer.readUntilEof(2000));
    } else {
      throw new Error("scripted failure");
    }
  });
  const a = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await a.write(enc.encode("GET garbage\r\n"));
  await a.closeWrite();
  assert.equal(
    await a.read(new Uint8Array(8)),
    null,
    "server ends after its handler",
  );
  a.close();
  const b = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  assert.equal(
    await b.read(new Uint8Array(8)),
    null,
    "failing handler closes the connection",
  );
  b.close();
  await server.settled();
  await server.close();
  assert.equal(received, "GET garbage\r\n");
  assert.equal(server.errors.length, 1);
  assert.match(String(server.errors[0]), /scripted failure/);
});

Deno.test("scripted: readFrame returns null on EOF; close() ends blocked handlers", async () => {
  let eofFrame: unknown = "unset";
  const server = startScriptedServer(async (peer) => {
    if (peer.index === 0) {
      await peer.readRequest();
      await peer.accept();
      eofFrame = await peer.readFrame();
    } else {
      await peer.readFrame(60_000); // blocked until server.close()
    }
  });
  const a = new RawClient(
    await Deno.connect({ hostname: "127.0.0.1", port: server.port }),
  );
  await a.handshake(`127.0.0.1:${server.port}`);
  await a.conn.closeWrite();
  assert.equal(await a.conn.read(new Uint8Array(8)), null);
  a.conn.close();
  await server.settled();
  assert.equal(eofFrame, null);
  const b = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  // Wait (bounded) until the server has accepted b, so its handler is blocked in readFrame.
  for (let i = 0; i < 200 && server.connections < 2; i++) await delay(5);
  assert.equal(server.connections, 2);
  await server.close();
  assert.equal(await b.read(new Uint8Array(8)), null);
  b.close();
  assert.deepEqual(server.errors, []);
});

Deno.test("scripted: serves wss:// with the fixture certificate", async () => {
  const server = startScriptedServer(async (peer) => {
    await peer.accept();
    const close = await peer.echoUntilClose();
    assert.equal(close?.code, 1000);
  }, { tls: true, hostname: "127.0.0.1" });
  assert.match(server.url, /^wss:\/\/127\.0\.0\.1:\d+$/);
  const conn = await Deno.connectTls({
    hostname: "localhost",
    port: server.port,
    caCerts: [testCerts().ca],
  });
  const client = new RawClient(conn);
  await client.handshake(`localhost:${server.port}`);
  await client.echoAndClose("over tls");
  conn.close();
  await server.settled();
  await server.close();
  assert.deepEqual(server.errors, []);
});

// ---------------------------------------------------------------- echo servers

for (
  const [name, start] of [["Deno", startDenoEchoServer], [
    "ws",
    startWsEchoServer,
  ]] as const
) {
  Deno.test(`echo (${name}): echoes text as text and binary as binary`, async () => {
    const server = await start({ protocols: ["b", "c"] });
    const binary = new Uint8Array([0, 255, 1, 254]);
    const log = await runClient(
      `${server.url}/any`,
      ["a", "b"],
      (ws) => {
        ws.send("héllo");
        ws.send(binary);
      },
      (ws, _d, count) => {
        if (count === 2) ws.close(1000, "done");
      },
    );
    assert.equal(server.connections, 1);
    assert.ok(server.lastRequestHeaders?.get("sec-websocket-key"));
    await server.close();
    assert.equal(log.protocol, "b");
    assert.equal(log.messages[0], "héllo");
    assert.deepEqual(new Uint8Array(log.messages[1] as ArrayBuffer), binary);
    assert.deepEqual(log.close, { code: 1000, reason: "done", wasClean: true });
  });

  Deno.test(`echo (${name}): wss:// with the test CA`, async () => {
    const server = await start({ tls: true });
    assert.match(server.url, /^wss:/);
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: server.port,
      caCerts: [testCerts().ca],
    });
    const client = new RawClient(conn);
    await client.handshake(`127.0.0.1:${server.port}`);
    await client.echoAndClose("secure echo");
    conn.close();
    await server.close();
  });

  Deno.test(`echo (${name}): close() shuts down with a client still connected`, async () => {
    const server = await start();
    const client = new RawClient(
      await Deno.connect({ hostname: "127.0.0.1", port: server.port }),
    );
    await client.handshake(`127.0.0.1:${server.port}`);
    await server.close();
    // The server either sent a close frame or just dropped us; then EOF.
    const rest = await client.reader.readUntilEof(5000);
    if (rest.length > 0) assert.equal(rest[0] & 0x0f, OP.CLOSE);
    client.conn.close();
  });
}

Deno.test("echo (ws): perMessageDeflate is passed through and negotiated", async () => {
  for (const perMessageDeflate of [true, false]) {
    const server = await startWsEchoServer({ perMessageDeflate });
    const client = new RawClient(
      await Deno.connect({ hostname: "127.0.0.1", port: server.port }),
    );
    const headers = await client.handshake(`127.0.0.1:${server.port}`, [
      "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
    ]);
    const ext = headers.get("sec-websocket-extensions") ?? "";
    if (perMessageDeflate) assert.match(ext, /^permessage-deflate/);
    else assert.equal(ext, "");
    client.conn.close();
    await server.close();
  }
});

Deno.test("echo: a plain HTTP request gets 426", async () => {
  for (const start of [startDenoEchoServer, startWsEchoServer]) {
    const server = await start();
    const client = new RawClient(
      await Deno.connect({ hostname: "127.0.0.1", port: server.port }),
    );
    await client.write(
      `GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    const res = await client.readResponse();
    assert.equal(res.status, 426);
    client.conn.close();
    await server.close();
  }
});

// ---------------------------------------------------------------- CONNECT proxy

/** Opens a raw connection to the proxy and sends a CONNECT for `target`. */
async function connectVia(
  proxyPort: number,
  target: string,
  extra: string[] = [],
): Promise<{ client: RawClient; status: number; headers: Headers }> {
  const client = new RawClient(
    await Deno.connect({ hostname: "127.0.0.1", port: proxyPort }),
  );
  await client.write(
    [`CONNECT ${target} HTTP/1.1`, `Host: ${target}`, ...extra, "", ""].join(
      "\r\n",
    ),
  );
  const { status, headers } = await client.readResponse();
  return { client, status, headers };
}

Deno.test("proxy: CONNECT tunnels a WebSocket session both ways", async () => {
  const target = startScriptedServer(async (peer) => {
    await peer.accept();
    await peer.echoUntilClose();
  });
  const proxy = startConnectProxy();
  const { client, status } = await connectVia(
    proxy.port,
    `127.0.0.1:${target.port}`,
  );
  assert.equal(status, 200);
  await client.handshake(`127.0.0.1:${target.port}`);
  await client.echoAndClose("through the tunnel");
  client.conn.close();
  await target.settled();
  assert.equal(proxy.requests.length, 1);
  assert.equal(proxy.requests[0].method, "CONNECT");
  assert.equal(proxy.requests[0].target, `127.0.0.1:${target.port}`);
  assert.equal(proxy.requests[0].status, 200);
  await proxy.close();
  await target.close();
  assert.deepEqual(target.errors, []);
});

Deno.test("proxy: with auth, 407 without credentials and a tunnel with them", async () => {
  const target = startScriptedServer(async (peer) => {
    await peer.writeRaw(await peer.readBytes(5));
  });
  const proxy = startConnectProxy({
    auth: { username: "user", password: "pa:ss" },
  });
  const dest = `localhost:${target.port}`;

  const denied = await connectVia(proxy.port, dest);
  assert.equal(denied.status, 407);
  assert.match(denied.headers.get("proxy-authenticate") ?? "", /^Basic /);
  denied.client.conn.close();

  const wrong = await connectVia(proxy.port, dest, [
    `Proxy-Authorization: Basic ${btoa("user:x")}`,
  ]);
  assert.equal(wrong.status, 407);
  wrong.client.conn.close();

  const ok = await connectVia(proxy.port, dest, [
    `Proxy-Authorization: Basic ${btoa("user:pa:ss")}`,
  ]);
  assert.equal(ok.status, 200);
  await ok.client.write("hello");
  assert.deepEqual(
    await ok.client.reader.readExactly(5, 5000),
    enc.encode("hello"),
  );
  ok.client.conn.close();

  assert.deepEqual(proxy.requests.map((r) => r.status), [407, 407, 200]);
  assert.equal(
    proxy.requests[2].headers.get("proxy-authorization"),
    `Basic ${btoa("user:pa:ss")}`,
  );
  await proxy.close();
  await target.close();
});

Deno.test("proxy: refuse answers every CONNECT with the given status", async () => {
  for (const refuse of [407, 403]) {
    const proxy = startConnectProxy({ refuse });
    const { client, status, headers } = await connectVia(
      proxy.port,
      "127.0.0.1:9",
    );
    assert.equal(status, refuse);
    assert.equal(headers.has("proxy-authenticate"), refuse === 407);
    assert.equal(
      await client.reader.readUntilEof(2000).then((b) => b.length),
      0,
    );
    client.conn.close();
    await proxy.close();
  }
});

Deno.test("proxy: non-loopback targets are refused and dead targets give 502", async () => {
  const proxy = startConnectProxy();
  const far = await connectVia(proxy.port, "example.com:443");
  assert.equal(far.status, 403);
  far.client.conn.close();
  // Find a port with nothing listening: open and close a listener.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadPort = probe.addr.port;
  probe.close();
  const dead = await connectVia(proxy.port, `127.0.0.1:${deadPort}`);
  assert.equal(dead.status, 502);
  dead.client.conn.close();
  await proxy.close();
});
