import assert from "node:assert/strict";
import { MessageBuffer } from "../src/message_buffer.ts";
import { assertSameBytes } from "./helpers.ts";

const bytes = (n: number, start = 0) =>
  new Uint8Array(n).map((_, i) => (start + i) & 0xff);

Deno.test("message buffer: a single frame exactly at the limit fits, one byte more fails before it arrives", () => {
  const at = new MessageBuffer(1000);
  assert.ok(at.append(bytes(400), 600), "first piece of a 1000-byte frame");
  assert.ok(at.append(bytes(600, 400), 0));
  const whole = at.take();
  assertSameBytes(whole, bytes(1000));
  assert.equal(whole.buffer.byteLength, 1000, "no room beyond the frame");

  const over = new MessageBuffer(1000);
  assert.equal(over.append(bytes(1), 1000), false, "announced 1001 bytes");
  assert.equal(over.size, 0, "nothing was taken in");
  assert.ok(
    new MessageBuffer(1000).append(bytes(1000), 0),
    "one whole piece at the limit",
  );
  assert.equal(new MessageBuffer(1000).append(bytes(1001), 0), false);
});

Deno.test("message buffer: fragments up to the limit fit, the byte past it fails and leaves the buffer as it was", () => {
  const message = new MessageBuffer(10);
  for (let i = 0; i < 10; i++) assert.ok(message.append(bytes(1, i), 0));
  assert.equal(message.append(bytes(1, 10), 0), false);
  assert.equal(message.size, 10);
  assertSameBytes(message.take(), bytes(10));
  assert.equal(message.size, 0, "empty again after take()");
});

Deno.test("message buffer: empty fragments cost nothing, and a header alone allocates nothing", () => {
  const message = new MessageBuffer(64 * 1024 * 1024);
  for (let i = 0; i < 100_000; i++) {
    assert.ok(message.append(new Uint8Array(0), 0));
  }
  assert.ok(
    message.append(new Uint8Array(0), 60 * 1024 * 1024),
    "a 60 MiB frame announced",
  );
  assert.equal(
    message.take().buffer.byteLength,
    0,
    "no bytes held for the announcement",
  );
});

Deno.test("message buffer: a million one-byte fragments grow by doubling (linear, not quadratic)", () => {
  const message = new MessageBuffer(2_000_000);
  const one = new Uint8Array([7]);
  const start = performance.now();
  for (let i = 0; i < 1_000_000; i++) message.append(one, 0);
  // A quadratic copy of 1 MB in 1-byte steps moves ~500 GB: it would not end
  // in this bound; doubling moves ~2 MB.
  assert.ok(performance.now() - start < 5000, "assembled within 5 s");
  const whole = message.take();
  assert.equal(whole.length, 1_000_000);
  assert.equal(whole.buffer.byteLength, 1_000_000, "trimmed to the message");
  assert.ok(whole.every((b) => b === 7));
});

Deno.test("message buffer: text is decoded from the collected bytes", () => {
  const message = new MessageBuffer(100);
  const utf8 = new TextEncoder().encode("héllo");
  message.append(utf8.subarray(0, 2), 0); // splits the é
  message.append(utf8.subarray(2), 0);
  assert.equal(message.takeText(new TextDecoder()), "héllo");
  assert.equal(message.size, 0);
});
