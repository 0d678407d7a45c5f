// Test-only peer: an RFC 8441 front on Node's http2 (h2c with prior
// knowledge) that turns each extended CONNECT `:protocol websocket` stream
// into an HTTP/1.1 upgrade to a backend and then relays bytes both ways,
// like HAProxy does, but with every end mapped explicitly:
//   backend TCP end      -> END_STREAM to the client
//   backend TCP reset    -> RST_STREAM CANCEL
//   client END_STREAM    -> TCP half-close (FIN) to the backend
//   client RST_STREAM    -> backend socket destroyed
// Non-101 backend answers are passed on as that status with END_STREAM.
// Usage: node h2_front.mjs BACKEND_PORT. Prints its port on the first line.
import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import http2 from "node:http2";
import net from "node:net";
import process from "node:process";

const backendPort = Number(process.argv[2]);
if (!(backendPort > 0)) {
  console.error("usage: node h2_front.mjs BACKEND_PORT");
  process.exit(2);
}
const HEAD_LIMIT = 64 * 1024;
const PASSED = [
  "sec-websocket-version",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
  "origin",
  "user-agent",
];

const server = http2.createServer({
  settings: { enableConnectProtocol: true },
});

server.on("stream", (stream, headers) => {
  stream.on("error", () => {});
  if (
    headers[":method"] !== "CONNECT" || headers[":protocol"] !== "websocket"
  ) {
    stream.respond({ ":status": 400 }, { endStream: true });
    return;
  }
  // RFC 8441 §5: no key/accept over HTTP/2, and :authority is required.
  // What the client sent is passed on as sent, so the suite still sees a
  // wrong or missing version.
  if (
    headers[":authority"] === undefined ||
    headers["sec-websocket-key"] !== undefined ||
    headers["upgrade"] !== undefined || headers["connection"] !== undefined
  ) {
    stream.respond({ ":status": 400 }, { endStream: true });
    return;
  }
  const backend = net.connect({ host: "127.0.0.1", port: backendPort });
  backend.setNoDelay(true);
  let head = Buffer.alloc(0);
  let upgraded = false;
  const lines = [
    `GET ${headers[":path"]} HTTP/1.1`,
    `Host: ${headers[":authority"]}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString("base64")}`,
    // What the client spoke to us (this server speaks only HTTP/2).
    `Via: ${stream.session.alpnProtocol === "h2c" ? "2.0" : "2"} node-h2-front`,
  ];
  for (const name of PASSED) {
    if (headers[name] !== undefined) lines.push(`${name}: ${headers[name]}`);
  }
  backend.write(lines.join("\r\n") + "\r\n\r\n");

  const onHead = (chunk) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf("\r\n\r\n");
    if (end < 0) {
      if (head.length > HEAD_LIMIT) backend.destroy();
      return;
    }
    backend.off("data", onHead);
    const [statusLine, ...fields] = head.subarray(0, end).toString("latin1")
      .split("\r\n");
    const status = Number(statusLine.split(" ")[1]);
    const rest = head.subarray(end + 4);
    if (status !== 101) {
      if (!stream.destroyed) {
        stream.respond({ ":status": status || 502 }, { endStream: true });
      }
      backend.destroy();
      return;
    }
    const answer = { ":status": 200 };
    for (const field of fields) {
      const colon = field.indexOf(":");
      const name = field.slice(0, colon).trim().toLowerCase();
      if (
        name === "sec-websocket-protocol" || name === "sec-websocket-extensions"
      ) {
        answer[name] = field.slice(colon + 1).trim();
      }
    }
    upgraded = true;
    stream.respond(answer);
    if (rest.length > 0) stream.write(rest);
    backend.pipe(stream);
    stream.pipe(backend);
  };
  backend.on("data", onHead);
  backend.on("error", () => {
    if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
  });
  backend.on("close", () => {
    if (!upgraded && !stream.destroyed && !stream.headersSent) {
      stream.respond({ ":status": 502 }, { endStream: true });
    }
  });
  // An RST_STREAM from the client (or the session ending) drops the backend.
  stream.on("close", () => {
    if (stream.rstCode && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) {
      backend.destroy();
    } else if (!upgraded) {
      backend.destroy();
    }
  });
});
server.on("sessionError", () => {});

server.listen(0, "127.0.0.1", () => {
  console.log(String(server.address().port));
});
