import assert from "node:assert/strict";
import {
  encodeClosePayload,
  isValidCloseCode,
  parseClosePayload,
} from "../src/close.ts";
import { WebSocketError } from "../src/errors.ts";

Deno.test("close: code validity per RFC 6455 §7.4", () => {
  for (
    const c of [
      1000,
      1001,
      1002,
      1003,
      1007,
      1008,
      1009,
      1010,
      1011,
      1012,
      1013,
      1014,
      3000,
      3999,
      4000,
      4999,
    ]
  ) {
    assert.ok(isValidCloseCode(c), String(c));
  }
  for (
    const c of [
      0,
      999,
      1004,
      1005,
      1006,
      1015,
      1016,
      1100,
      2000,
      2999,
      5000,
      65535,
    ]
  ) {
    assert.ok(!isValidCloseCode(c), String(c));
  }
});

Deno.test("close: payload round trip and limits", () => {
  assert.deepEqual(parseClosePayload(encodeClosePayload(4000, "héllo")), {
    code: 4000,
    reason: "héllo",
  });
  assert.deepEqual(parseClosePayload(new Uint8Array(0)), {
    code: 1005,
    reason: "",
  });
  assert.equal(encodeClosePayload(1000, "x".repeat(123)).length, 125);
  assert.throws(
    () => encodeClosePayload(1000, "x".repeat(124)),
    WebSocketError,
  );
  assert.throws(() => encodeClosePayload(1005), WebSocketError);
  assert.throws(() => encodeClosePayload(undefined, "reason"), WebSocketError);
  assert.equal(encodeClosePayload().length, 0);
});

Deno.test("close: received payload errors carry the right close code", () => {
  const code = (p: number[]) => {
    try {
      parseClosePayload(new Uint8Array(p));
    } catch (e) {
      return (e as WebSocketError).closeCode;
    }
    return "ok";
  };
  assert.equal(code([0x03]), 1002);
  assert.equal(code([0x03, 0xed]), 1002); // 1005
  assert.equal(code([0x00, 0x00]), 1002);
  assert.equal(code([0x03, 0xe8, 0xed, 0xa0, 0x80]), 1007); // surrogate in reason
  assert.equal(code([0x03, 0xe8, 0xce]), 1007); // truncated reason
  assert.equal(code([0x0f, 0x9f]), "ok"); // 3999
});

Deno.test("close: a leading U+FEFF in the reason is kept", () => {
  const payload = new Uint8Array([0x03, 0xe8, 0xef, 0xbb, 0xbf, 0x61]);
  assert.equal(parseClosePayload(payload).reason, "\uFEFFa");
});
