/**
 * permessage-deflate benchmark (issue 5's row): one 16 MiB JSON-like text
 * message through the send and receive paths, without compression (mask +
 * UTF-8 check: what the library does to such a message anyway) and with it
 * (deflate, or inflate + UTF-8 check). Names carry the bytes per iteration so
 * that `codec_gbps.ts` can turn time/iter into GB/s of message text.
 *
 * @module
 */

import { loadCompression, PerMessageDeflate } from "../src/deflate.ts";
import { mask } from "../src/mask.ts";
import { Utf8Validator } from "../src/utf8.ts";

await loadCompression();

const SIZE = 16 * 1024 * 1024;

/** JSON-like text: records with repeating keys and varying values. */
function jsonLike(size: number): Uint8Array {
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; length < size; i++) {
    const record = `{"id":${i},"user":"user${i % 997}","price":${
      (i * 7919) % 100000 / 100
    },"tags":["a${i % 13}","b${i % 7}"],"text":"héllo wörld ${i % 101}"},`;
    parts.push(record);
    length += record.length;
  }
  return new TextEncoder().encode(parts.join("")).subarray(0, size);
}

const text = jsonLike(SIZE);
const params = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};
const sender = new PerMessageDeflate(params, "client", { threshold: 0 });
const packed = sender.deflate(text)!;
const receiver = new PerMessageDeflate(
  { ...params, serverNoContextTakeover: true },
  "client",
  { maxMessageSize: 2 * SIZE },
);
// The receiver inflates what a server with no context takeover would send.
const serverSide = new PerMessageDeflate(
  { ...params, serverNoContextTakeover: true },
  "server",
  { threshold: 0 },
);
const fromServer = serverSide.deflate(text)!;
console.error(
  `16 MiB JSON-like text compresses to ${
    (packed.length / 1024 / 1024).toFixed(2)
  } MiB ` +
    `(${(100 * packed.length / SIZE).toFixed(1)} %)`,
);

const KEY = new Uint8Array([1, 2, 3, 4]);
const scratch = new Uint8Array(SIZE);

Deno.bench({
  name: "send 16 MiB JSON text uncompressed (UTF-8 check + mask copy)",
  group: "send 16 MiB JSON",
  baseline: true,
  fn() {
    new Utf8Validator().push(text);
    scratch.set(text);
    mask(scratch, KEY);
  },
});

Deno.bench({
  name: "send 16 MiB JSON text compressed (deflate, context takeover)",
  group: "send 16 MiB JSON",
  fn() {
    sender.deflate(text);
  },
});

Deno.bench({
  name: "receive 16 MiB JSON text uncompressed (UTF-8 check)",
  group: "receive 16 MiB JSON",
  baseline: true,
  fn() {
    new Utf8Validator().push(text);
  },
});

Deno.bench({
  name: "receive 16 MiB JSON text compressed (inflate + UTF-8 check)",
  group: "receive 16 MiB JSON",
  fn() {
    // The protocol's path: pulled in bounded steps, each piece checked.
    const v = new Utf8Validator();
    receiver.decode(fromServer, true);
    for (let piece; (piece = receiver.pull(Infinity)) !== null;) {
      v.push(piece);
      if (receiver.messageEnded) break;
    }
  },
});
