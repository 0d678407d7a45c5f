/** RFC 8441 extended CONNECT: the request header list and the response checks. */
import assert from "node:assert/strict";
import { WebSocketError } from "../src/errors.ts";
import {
  buildConnectRequest,
  checkConnectResponse,
  responseHeaders,
} from "../src/h2/websocket.ts";

function rejects(
  f: () => unknown,
  code: string,
  check?: (e: WebSocketError) => void,
): void {
  assert.throws(f, (e) => {
    assert.ok(e instanceof WebSocketError, String(e));
    assert.equal(e.code, code, e.message);
    check?.(e);
    return true;
  });
}

Deno.test("h2 websocket: the extended CONNECT carries every field RFC 8441 §4 asks for, in order", () => {
  assert.deepEqual(
    buildConnectRequest({
      url: new URL("wss://example.com:8443/chat?room=1"),
      protocols: ["chat", "superchat"],
      extensions: "permessage-deflate; client_max_window_bits",
      origin: "https://example.com",
      headers: [["Authorization", "Bearer x"], ["X-Trace", "1"]],
    }),
    [
      [":method", "CONNECT"],
      [":protocol", "websocket"],
      [":scheme", "https"],
      [":path", "/chat?room=1"],
      [":authority", "example.com:8443"],
      ["sec-websocket-version", "13"],
      ["sec-websocket-protocol", "chat, superchat"],
      [
        "sec-websocket-extensions",
        "permessage-deflate; client_max_window_bits",
      ],
      ["origin", "https://example.com"],
      ["authorization", "Bearer x"],
      ["x-trace", "1"],
    ],
  );
  const plain = buildConnectRequest({ url: new URL("ws://[::1]/") });
  assert.deepEqual(plain.slice(2, 5), [[":scheme", "http"], [":path", "/"], [
    ":authority",
    "[::1]",
  ]]);
  assert.equal(plain.length, 6, "no offers, no origin: nothing else");
  assert.deepEqual(buildConnectRequest({ url: new URL("https://a/") })[2], [
    ":scheme",
    "https",
  ]);
});

Deno.test("h2 websocket: bad requests are INVALID_ARGUMENT", () => {
  const url = new URL("ws://a/");
  rejects(
    () => buildConnectRequest({ url: new URL("ftp://a/") }),
    "INVALID_ARGUMENT",
  );
  rejects(
    () => buildConnectRequest({ url, protocols: ["a b"] }),
    "INVALID_ARGUMENT",
  );
  rejects(
    () => buildConnectRequest({ url, protocols: ["a", "a"] }),
    "INVALID_ARGUMENT",
  );
  for (
    const name of [
      "Host",
      "connection",
      "Upgrade",
      "te",
      "Sec-WebSocket-Key",
      "sec-websocket-version",
      ":path",
    ]
  ) {
    rejects(
      () => buildConnectRequest({ url, headers: [[name, "x"]] }),
      "INVALID_ARGUMENT",
    );
  }
  rejects(
    () => buildConnectRequest({ url, headers: [["x-a", "a\r\nb: c"]] }),
    "INVALID_ARGUMENT",
  );
  rejects(
    () => buildConnectRequest({ url, headers: [["bad name", "x"]] }),
    "INVALID_ARGUMENT",
  );
  // The dedicated options win over the same header given again.
  const f = buildConnectRequest({
    url,
    origin: "o",
    protocols: ["p"],
    headers: [["Origin", "x"], ["sec-websocket-protocol", "y"]],
  });
  assert.deepEqual(
    f.filter(([n]) => n === "origin" || n === "sec-websocket-protocol"),
    [
      ["sec-websocket-protocol", "p"],
      ["origin", "o"],
    ],
  );
});

Deno.test("h2 websocket: 200 opens; the agreement is checked like the HTTP/1.1 handshake", () => {
  const ok = checkConnectResponse(
    [[":status", "200"], ["sec-websocket-protocol", "chat"], [
      "sec-websocket-extensions",
      "permessage-deflate",
    ]],
    false,
    { protocols: ["chat"], offeredExtensions: true },
  );
  assert.equal(ok.protocol, "chat");
  assert.equal(ok.extensions, "permessage-deflate");
  assert.deepEqual([...ok.headers.keys()], [
    "sec-websocket-extensions",
    "sec-websocket-protocol",
  ]);
  assert.equal(
    checkConnectResponse([[":status", "200"]], false, {
      offeredExtensions: false,
    }).protocol,
    "",
  );
  rejects(
    () =>
      checkConnectResponse(
        [[":status", "200"], ["sec-websocket-protocol", "other"]],
        false,
        { protocols: ["chat"], offeredExtensions: false },
      ),
    "BAD_HANDSHAKE",
  );
  rejects(
    () =>
      checkConnectResponse(
        [[":status", "200"], ["sec-websocket-extensions", "x"]],
        false,
        { offeredExtensions: false },
      ),
    "BAD_HANDSHAKE",
  );
  rejects(
    () =>
      checkConnectResponse([[":status", "200"]], true, {
        offeredExtensions: false,
      }),
    "BAD_HANDSHAKE",
  );
});

Deno.test("h2 websocket: any other status is HTTP_RETURNED_ERROR with the status and headers", () => {
  for (const status of ["204", "301", "403", "404", "500"]) {
    rejects(
      () =>
        checkConnectResponse(
          [[":status", status], ["www-authenticate", "Basic"]],
          true,
          { offeredExtensions: false },
        ),
      "HTTP_RETURNED_ERROR",
      (e) => {
        assert.equal(e.status, Number(status));
        assert.equal(e.headers?.get("www-authenticate"), "Basic");
      },
    );
  }
  assert.equal(
    responseHeaders([[":status", "200"], ["a", "1"], ["a", "2"]]).get("a"),
    "1, 2",
  );
});
