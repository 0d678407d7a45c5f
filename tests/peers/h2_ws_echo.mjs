// Test-only peer: a Node http2 server that accepts RFC 8441 WebSocket
// streams and echoes WebSocket frames with its own tiny codec (independent
// of src/). Cleartext h2c with prior knowledge, or TLS with ALPN h2 when
// started with `tls CERT KEY`. Prints its port on the first line of stdout.
//
// Paths: /redirect answers 302 to the client's x-redirect-to; /missing answers 404; /reset resets the stream with CANCEL before
// answering; /reset-after-data answers 200, then resets with INTERNAL_ERROR
// on the first DATA; /hang never answers; /goaway sends GOAWAY with
// the previous stream as the last one; /stop answers 200 with a close
// frame, END_STREAM and RST_STREAM NO_ERROR; anything else answers 200 and echoes. Every 200 carries
// `x-session: N`, the ordinal of the HTTP/2 connection it came on, so tests
// can see streams share one. `max-streams=N` sets
// SETTINGS_MAX_CONCURRENT_STREAMS (Node's default: 100). `client-ca=FILE`
// (with tls) requires a client certificate signed by that CA and names its
// CN in `x-client-cert`.
import { Buffer } from "node:buffer";
import fs from "node:fs";
import http2 from "node:http2";
import process from "node:process";
import { frameHead, headLength, writeHead } from "./ws_frame_head.mjs";

const args = process.argv.slice(2);
const limit = args.find((a) => a.startsWith("max-streams="));
const clientCa = args.find((a) => a.startsWith("client-ca="));
const [mode, certFile, keyFile] = args.filter((a) => !a.includes("="));
const settings = { enableConnectProtocol: true };
const options = { settings };
if (limit) {
  settings.maxConcurrentStreams = Number(limit.split("=")[1]);
  options.maxSessionMemory = 1000; // MB: many streams on one session (bench)
}
const server = mode === "tls"
  ? http2.createSecureServer({
    ...options,
    cert: fs.readFileSync(certFile),
    key: fs.readFileSync(keyFile),
    ...(clientCa
      ? {
        ca: fs.readFileSync(clientCa.split("=")[1]),
        requestCert: true,
        rejectUnauthorized: true,
      }
      : {}),
  })
  : http2.createServer(options);

/** Splits client frames out of `buf`: [{ fin, opcode, payload }], rest. */
function parseFrames(buf) {
  const frames = [];
  let pos = 0;
  for (;;) {
    const head = frameHead(buf, pos);
    if (!head) break;
    const { b0, b1, len, at } = head;
    if (!(b1 & 0x80)) throw new Error("client frame not masked");
    if (buf.length - at < 4 + len) break;
    const key = buf.subarray(at, at + 4);
    const payload = Buffer.from(buf.subarray(at + 4, at + 4 + len));
    for (let i = 0; i < len; i++) payload[i] ^= key[i & 3];
    frames.push({ fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, payload });
    pos = at + 4 + len;
  }
  return [frames, buf.subarray(pos)];
}

/** An unmasked server frame. */
function frame(fin, opcode, payload) {
  const head = Buffer.alloc(headLength(payload.length));
  writeHead(head, (fin ? 0x80 : 0) | opcode, payload.length);
  return Buffer.concat([head, payload]);
}

let sessions = 0;
server.on("session", (session) => {
  session.ordinal = ++sessions;
});

server.on("stream", (stream, headers) => {
  stream.on("error", () => {});
  if (
    headers[":method"] !== "CONNECT" || headers[":protocol"] !== "websocket"
  ) {
    stream.respond({ ":status": 400 });
    stream.end();
    return;
  }
  const path = headers[":path"];
  if (path === "/missing") {
    stream.respond({ ":status": 404, "x-reason": "no such socket" });
    stream.end("not here");
    return;
  }
  if (path === "/goaway") {
    // GOAWAY that keeps the streams opened before this one.
    stream.session.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id - 2);
    return;
  }
  if (path === "/hang") return; // never answers: for connectTimeout
  if (path === "/redirect") {
    // 302 to the URL the client names in x-redirect-to.
    stream.respond({ ":status": 302, location: headers["x-redirect-to"] });
    stream.end();
    return;
  }
  if (path === "/reset") {
    stream.close(http2.constants.NGHTTP2_CANCEL);
    return;
  }
  const response = { ":status": 200, "x-session": stream.session.ordinal };
  const offered = headers["sec-websocket-protocol"];
  if (offered) {
    response["sec-websocket-protocol"] = offered.split(",")[0].trim();
  }
  response["x-version-seen"] = headers["sec-websocket-version"] ?? "";
  const peerCert = stream.session.socket.getPeerCertificate?.();
  if (peerCert?.subject) response["x-client-cert"] = peerCert.subject.CN;
  stream.respond(response);
  if (path === "/stop") {
    // A full response (close 1000, END_STREAM), then RST_STREAM NO_ERROR:
    // "stop sending" (RFC 9113 §8.1), while the client may still be sending.
    stream.end(frame(true, 0x8, Buffer.from([0x03, 0xe8])));
    stream.close(http2.constants.NGHTTP2_NO_ERROR);
    return;
  }
  let pending = Buffer.alloc(0);
  stream.on("data", (chunk) => {
    if (path === "/reset-after-data") {
      // destroy(err): RST_STREAM INTERNAL_ERROR without END_STREAM first
      // (close(code) would end the stream before resetting it).
      stream.destroy(new Error("reset after data"));
      return;
    }
    let frames;
    [frames, pending] = parseFrames(Buffer.concat([pending, chunk]));
    for (const f of frames) {
      stream.write(frame(f.fin, f.opcode, f.payload));
      if (f.opcode === 0x8) stream.end(); // close echoed: END_STREAM
    }
  });
  stream.on("end", () => {
    if (!stream.writableEnded) stream.end();
  });
});

server.listen(0, "127.0.0.1", () => {
  console.log(server.address().port);
});
