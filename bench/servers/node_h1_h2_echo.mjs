// Bench-only echo server for bench/h2_echo.ts: one Node process, one small
// WebSocket echo codec, reached two ways, so that a client's cost over
// HTTP/2 and over HTTP/1.1 differs only by the framing:
//   - http2.createServer({ settings: { enableConnectProtocol: true } }):
//     RFC 8441 extended CONNECT (`:protocol websocket`), h2c prior knowledge;
//   - http.createServer(): the RFC 6455 `Upgrade: websocket` (101).
// With `tls CERT KEY` it also runs the same pair over TLS:
// http2.createSecureServer (ALPN h2) and https.createServer (HTTP/1.1).
//
// Prints one JSON line {"h1":PORT,"h2":PORT[,"tlsH1":PORT,"tlsH2":PORT]}.
// Each line `cpu` on stdin answers with {"userUs":N,"systemUs":N} (this
// process's CPU so far); it exits when stdin closes.
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import https from "node:https";
import process from "node:process";
import readline from "node:readline";
import {
  frameHead,
  headLength,
  writeHead,
} from "../../tests/peers/ws_frame_head.mjs";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/**
 * Feeds client frames from `source` ('data' events) to `sink.write`: each
 * frame is unmasked and written back unmasked with its FIN and opcode; a
 * close frame is echoed, then `sink.end()`. The echoes of one chunk go out
 * in one write.
 */
function echoWebSocket(source, sink, head) {
  let pending = Buffer.alloc(0);
  let closed = false;
  const onData = (chunk) => {
    if (closed) return;
    const buf = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    const out = [];
    let pos = 0;
    for (;;) {
      const head = frameHead(buf, pos);
      if (!head) break;
      const { b0, b1, len, at } = head;
      if (!(b1 & 0x80)) {
        sink.destroy(new Error("client frame not masked"));
        return;
      }
      if (buf.length - at < 4 + len) break;
      const hlen = headLength(len);
      const reply = Buffer.allocUnsafe(hlen + len);
      writeHead(reply, b0, len);
      const k0 = buf[at], k1 = buf[at + 1], k2 = buf[at + 2], k3 = buf[at + 3];
      const from = at + 4;
      for (let i = 0; i < len; i += 4) {
        reply[hlen + i] = buf[from + i] ^ k0;
        reply[hlen + i + 1] = buf[from + i + 1] ^ k1;
        reply[hlen + i + 2] = buf[from + i + 2] ^ k2;
        reply[hlen + i + 3] = buf[from + i + 3] ^ k3;
      }
      out.push(reply.subarray(0, hlen + len));
      pos = from + len;
      if ((b0 & 0x0f) === 0x8) {
        closed = true;
        break;
      }
    }
    pending = pos === buf.length
      ? Buffer.alloc(0)
      : Buffer.from(buf.subarray(pos));
    if (out.length > 0) {
      sink.write(out.length === 1 ? out[0] : Buffer.concat(out));
    }
    if (closed) sink.end();
  };
  if (head && head.length > 0) onData(head);
  source.on("data", onData);
}

/** RFC 8441 streams: answer 200, then echo. */
function onStream(stream, headers) {
  stream.on("error", () => {});
  if (
    headers[":method"] !== "CONNECT" || headers[":protocol"] !== "websocket"
  ) {
    stream.respond({ ":status": 400 });
    stream.end();
    return;
  }
  stream.respond({ ":status": 200 });
  echoWebSocket(stream, stream);
  stream.on("end", () => {
    if (!stream.writableEnded) stream.end();
  });
}

/** RFC 6455 upgrade: answer 101, then echo. */
function onUpgrade(req, socket, head) {
  socket.on("error", () => {});
  const key = req.headers["sec-websocket-key"];
  if (req.headers.upgrade?.toLowerCase() !== "websocket" || !key) {
    socket.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  const accept = createHash("sha1").update(key + GUID).digest("base64");
  socket.setNoDelay(true);
  socket.write(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
      `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
  );
  echoWebSocket(socket, socket, head);
  socket.on("end", () => socket.end());
}

function listen(server) {
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve(server.address().port));
  });
}

// Node's default receive windows are 64 KiB per stream and per connection,
// less than a window of 32 messages of 16 KiB: open them to what the client
// grants (wsnc: 256 KiB per stream, 1 MiB per connection) so the HTTP/2 rows
// measure framing, not a stalled sender. `node-windows` keeps Node's defaults.
const STREAM_WINDOW = 1024 * 1024, CONNECTION_WINDOW = 4 * 1024 * 1024;
const nodeWindows = process.argv.includes("node-windows");
const h2Settings = {
  settings: {
    enableConnectProtocol: true,
    ...(nodeWindows ? {} : { initialWindowSize: STREAM_WINDOW }),
  },
};
function onSession(session) {
  if (!nodeWindows) session.setLocalWindowSize(CONNECTION_WINDOW);
}
const ports = {};
const h2c = http2.createServer(h2Settings);
h2c.on("session", onSession);
h2c.on("stream", onStream);
ports.h2 = await listen(h2c);
const h1 = http.createServer((_req, res) => res.writeHead(426).end());
h1.on("upgrade", onUpgrade);
ports.h1 = await listen(h1);

const [mode, certFile, keyFile] = process.argv.slice(2).filter((a) =>
  a !== "node-windows"
);
if (mode === "tls") {
  const tls = {
    cert: fs.readFileSync(certFile),
    key: fs.readFileSync(keyFile),
  };
  const h2s = http2.createSecureServer({ ...h2Settings, ...tls });
  h2s.on("session", onSession);
  h2s.on("stream", onStream);
  ports.tlsH2 = await listen(h2s);
  const h1s = https.createServer(tls, (_req, res) => res.writeHead(426).end());
  h1s.on("upgrade", onUpgrade);
  ports.tlsH1 = await listen(h1s);
}
console.log(JSON.stringify(ports));

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (line.trim() !== "cpu") return;
  const { user, system } = process.cpuUsage();
  console.log(JSON.stringify({ userUs: user, systemUs: system }));
});
lines.on("close", () => process.exit(0));
