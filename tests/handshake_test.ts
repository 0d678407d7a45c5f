import assert from "node:assert/strict";
import {
  buildAcceptResponse,
  buildRequest,
  computeAccept,
  findHeadEnd,
  generateKey,
  MAX_HEAD_BYTES,
  parseRequestHead,
  parseResponseHead,
  validateRequest,
  validateResponse,
} from "../src/handshake.ts";
import { WebSocketError } from "../src/errors.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("handshake: RFC 6455 §1.3 accept key", async () => {
  assert.equal(
    await computeAccept("dGhlIHNhbXBsZSBub25jZQ=="),
    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
  );
});

Deno.test("handshake: keys are 16 random bytes in base64", () => {
  const a = generateKey(), b = generateKey();
  assert.equal(atob(a).length, 16);
  assert.notEqual(a, b);
});

Deno.test("handshake: request head has every required field", () => {
  const head = buildRequest({
    url: new URL("ws://example.com:8080/chat?room=1"),
    key: "dGhlIHNhbXBsZSBub25jZQ==",
    protocols: ["chat", "superchat"],
    origin: "http://example.com",
    headers: new Headers({ "x-token": "abc" }),
  });
  assert.equal(
    head,
    "GET /chat?room=1 HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
      "Sec-WebSocket-Protocol: chat, superchat\r\nOrigin: http://example.com\r\nx-token: abc\r\n\r\n",
  );
  assert.match(
    buildRequest({ url: new URL("wss://h/"), key: "k" }),
    /\r\nHost: h\r\n/,
  );
  assert.match(
    buildRequest({ url: new URL("ws://h:80"), key: "k" }),
    /^GET \/ HTTP\/1.1\r\nHost: h\r\n/,
  );
  assert.match(
    buildRequest({ url: new URL("ws://[::1]:9000/x"), key: "k" }),
    /\r\nHost: \[::1\]:9000\r\n/,
  );
  assert.throws(
    () =>
      buildRequest({
        url: new URL("ws://h/"),
        key: "k",
        headers: new Headers({ upgrade: "x" }),
      }),
    WebSocketError,
  );
  assert.throws(
    () =>
      buildRequest({ url: new URL("ws://h/"), key: "k", protocols: ["a b"] }),
    WebSocketError,
  );
});

function response(status: string, headers: Record<string, string>) {
  const raw = enc(
    `HTTP/1.1 ${status}\r\n${
      Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("")
    }\r\n`,
  );
  return parseResponseHead(raw, findHeadEnd(raw));
}

const good = {
  upgrade: "websocket",
  connection: "Upgrade",
  "sec-websocket-accept": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
};
const expected = {
  accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
  protocols: ["chat"],
  offeredExtensions: false,
};

Deno.test("handshake: a valid 101 is accepted, case-insensitively", () => {
  assert.deepEqual(
    validateResponse(response("101 Switching Protocols", good), expected),
    { protocol: "", extensions: "" },
  );
  assert.deepEqual(
    validateResponse(
      response("101 Switching Protocols", {
        ...good,
        upgrade: "WebSocket",
        connection: "keep-alive, upgrade",
        "sec-websocket-protocol": "chat",
      }),
      expected,
    ),
    { protocol: "chat", extensions: "" },
  );
});

Deno.test("handshake: any status but 101 is HTTP_RETURNED_ERROR with the status", () => {
  for (
    const status of [
      "200 OK",
      "301 Moved Permanently",
      "403 Forbidden",
      "500 Internal Server Error",
    ]
  ) {
    assert.throws(
      () => validateResponse(response(status, good), expected),
      (e) => {
        assert.ok(e instanceof WebSocketError);
        assert.equal(e.code, "HTTP_RETURNED_ERROR");
        assert.equal(e.status, Number(status.slice(0, 3)));
        assert.equal(e.message, `HTTP ${status}`);
        return true;
      },
    );
  }
});

Deno.test("handshake: mismatching 101 responses are BAD_HANDSHAKE", () => {
  const bad = (h: Record<string, string>) =>
    assert.throws(
      () => validateResponse(response("101 Switching Protocols", h), expected),
      (e) => e instanceof WebSocketError && e.code === "BAD_HANDSHAKE",
    );
  bad({ ...good, "sec-websocket-accept": "wrong" });
  bad({
    connection: "Upgrade",
    "sec-websocket-accept": good["sec-websocket-accept"],
  });
  bad({
    upgrade: "websocket",
    "sec-websocket-accept": good["sec-websocket-accept"],
  });
  bad({ upgrade: "websocket", connection: "Upgrade" });
  bad({ ...good, "sec-websocket-protocol": "other" });
  bad({ ...good, "sec-websocket-extensions": "permessage-deflate" });
  assert.throws(
    () => parseResponseHead(enc("HTTX 101\r\n\r\n"), 13),
    WebSocketError,
  );
});

Deno.test("handshake: head end detection across reads, and the size bound", () => {
  const raw = new Uint8Array([
    ...enc("HTTP/1.1 101 OK\r\nA: b\r\n\r\n"),
    0x81,
    0x00,
  ]);
  assert.equal(findHeadEnd(raw), raw.length - 2);
  assert.equal(findHeadEnd(raw.subarray(0, 10)), -1);
  assert.equal(findHeadEnd(raw, 20), raw.length - 2);
  assert.throws(
    () => findHeadEnd(new Uint8Array(MAX_HEAD_BYTES + 1).fill(65)),
    WebSocketError,
  );
});

Deno.test("handshake: server side validates requests and builds the 101", async () => {
  const req = (extra: string, method = "GET") => {
    const raw = enc(`${method} /x HTTP/1.1\r\n${extra}\r\n`);
    return parseRequestHead(raw, raw.length);
  };
  const ok =
    "Host: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a, b\r\n";
  assert.deepEqual(validateRequest(req(ok)), {
    key: "dGhlIHNhbXBsZSBub25jZQ==",
    protocols: ["a", "b"],
    extensions: "",
  });
  const status = (head: ReturnType<typeof req>) => {
    try {
      validateRequest(head);
    } catch (e) {
      return (e as WebSocketError).status;
    }
  };
  assert.equal(status(req(ok, "POST")), 405);
  assert.equal(status(req(ok.replace("13", "8"))), 426);
  assert.equal(
    status(req(ok.replace("dGhlIHNhbXBsZSBub25jZQ==", "short"))),
    400,
  );
  assert.equal(status(req(ok.replace("Upgrade: websocket\r\n", ""))), 426);
  const resp = buildAcceptResponse(
    await computeAccept("dGhlIHNhbXBsZSBub25jZQ=="),
    "a",
  );
  assert.equal(
    resp,
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: a\r\n\r\n",
  );
});
