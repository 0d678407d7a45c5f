// Unit tests of the permessage-deflate building block (RFC 7692).
import assert from "node:assert/strict";
import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import {
  acceptAnswer,
  compressionSupported,
  type DeflateParams,
  loadCompression,
  negotiateOffer,
  offerHeader,
  PerMessageDeflate,
} from "../src/deflate.ts";
import { parseExtensions } from "../src/extension.ts";
import { WebSocketError } from "../src/errors.ts";

// node:zlib is loaded lazily by the library; these tests drive it directly.
await loadCompression();

/** node:zlib one-shot inflate of a sync-flushed stream, as a plain Uint8Array. */
function zlibInflate(data: Uint8Array): Uint8Array {
  return new Uint8Array(
    inflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH }),
  );
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const TAIL = [0x00, 0x00, 0xff, 0xff];

const TAKEOVER: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let pos = 0;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

function bytes(...values: number[]): Uint8Array {
  return new Uint8Array(values);
}

/** Deterministic text that compresses roughly like JSON. */
function sampleText(length: number, seed = 1): Uint8Array {
  let s = "";
  let i = seed;
  while (s.length < length) {
    i = (i * 1103515245 + 12345) >>> 0;
    s += `{"id":${i % 10007},"name":"user${(i >>> 8) % 997}","ok":${
      i % 2 === 0
    }},`;
  }
  return enc.encode(s.slice(0, length));
}

/** Compressible bytes whose repeats sit 600 bytes apart (beyond a 9-bit window). */
function farRepeats(): Uint8Array {
  const block = new Uint8Array(600);
  let x = 7;
  for (let i = 0; i < block.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    block[i] = x >>> 24;
  }
  return concat([block, block, block]);
}

/** Inflates a whole compressed message given as pieces. */
function inflateAll(pmd: PerMessageDeflate, pieces: Uint8Array[]): Uint8Array {
  const out: Uint8Array[] = [];
  pieces.forEach((p, i) =>
    out.push(...pmd.inflate(p, i === pieces.length - 1))
  );
  return concat(out);
}

function assertWsError(
  fn: () => unknown,
  code: string,
  closeCode?: number,
): WebSocketError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(
    caught instanceof WebSocketError,
    `expected WebSocketError ${code}, got ${caught}`,
  );
  assert.equal(caught.code, code, caught.message);
  if (closeCode !== undefined) assert.equal(caught.closeCode, closeCode);
  return caught;
}

// ---------------------------------------------------------------------------
// Header syntax

Deno.test("parseExtensions: params, quoted values, several elements", () => {
  assert.deepEqual(
    parseExtensions(
      'permessage-deflate; client_max_window_bits="10" ;server_no_context_takeover, x-foo,, Bar;A=b',
    ),
    [
      {
        name: "permessage-deflate",
        params: [["client_max_window_bits", "10"], [
          "server_no_context_takeover",
          null,
        ]],
      },
      { name: "x-foo", params: [] },
      { name: "bar", params: [["a", "b"]] },
    ],
  );
  assert.deepEqual(parseExtensions(""), []);
  for (
    const bad of [
      "permessage-deflate;",
      "a; b=",
      'a; b="1',
      'a; b="1 2"',
      "a b",
      "a; =1",
      "a;b=c d",
    ]
  ) {
    assert.equal(parseExtensions(bad), null, bad);
  }
});

// ---------------------------------------------------------------------------
// Client negotiation

Deno.test("offerHeader: default and full offers", () => {
  assert.equal(offerHeader(true), "permessage-deflate; client_max_window_bits");
  assert.equal(offerHeader({}), "permessage-deflate; client_max_window_bits");
  assert.equal(
    offerHeader({
      clientNoContextTakeover: true,
      serverNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 12,
    }),
    "permessage-deflate; client_no_context_takeover; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12",
  );
  assert.equal(
    offerHeader({ clientMaxWindowBits: false }),
    "permessage-deflate",
  );
});

Deno.test("offerHeader: invalid options are INVALID_ARGUMENT", () => {
  for (
    const bad of [{ serverMaxWindowBits: 7 }, { clientMaxWindowBits: 16 }, {
      serverMaxWindowBits: 9.5,
    }, { threshold: -1 }]
  ) {
    assertWsError(() => offerHeader(bad), "INVALID_ARGUMENT");
  }
});

Deno.test("acceptAnswer: declined or absent answer means no compression", () => {
  assert.equal(acceptAnswer(null, true), null);
  assert.equal(acceptAnswer("", true), null);
  assert.equal(acceptAnswer("  ", { serverNoContextTakeover: true }), null);
  assert.equal(acceptAnswer(null, undefined), null);
});

Deno.test("acceptAnswer: plain acceptance gives the defaults", () => {
  assert.deepEqual(acceptAnswer("permessage-deflate", true), TAKEOVER);
  assert.deepEqual(acceptAnswer("Permessage-Deflate", {}), TAKEOVER);
});

Deno.test("acceptAnswer: an extension that was not offered fails", () => {
  assertWsError(
    () => acceptAnswer("permessage-deflate", undefined),
    "BAD_HANDSHAKE",
  );
  assertWsError(
    () => acceptAnswer("permessage-deflate", false),
    "BAD_HANDSHAKE",
  );
  assertWsError(
    () => acceptAnswer("x-webkit-deflate-frame", true),
    "BAD_HANDSHAKE",
  );
  assertWsError(
    () => acceptAnswer("permessage-deflate, x-foo", true),
    "BAD_HANDSHAKE",
  );
  assertWsError(
    () => acceptAnswer("permessage-deflate, permessage-deflate", true),
    "BAD_HANDSHAKE",
  );
});

Deno.test("acceptAnswer: malformed, unknown, repeated and out-of-range parameters fail", () => {
  const bad = [
    "permessage-deflate;",
    'permessage-deflate; server_max_window_bits="1',
    "permessage-deflate; foo",
    "permessage-deflate; foo=1",
    "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    "permessage-deflate; client_max_window_bits=10; client_max_window_bits=10",
    "permessage-deflate; server_no_context_takeover=1",
    "permessage-deflate; client_no_context_takeover=true",
    "permessage-deflate; server_max_window_bits",
    "permessage-deflate; server_max_window_bits=7",
    "permessage-deflate; server_max_window_bits=16",
    "permessage-deflate; server_max_window_bits=08",
    "permessage-deflate; server_max_window_bits=abc",
    "permessage-deflate; client_max_window_bits",
    "permessage-deflate; client_max_window_bits=7",
    "permessage-deflate; client_max_window_bits=0x9",
  ];
  for (const answer of bad) {
    assertWsError(() => acceptAnswer(answer, true), "BAD_HANDSHAKE");
  }
});

Deno.test("acceptAnswer: quoted values are accepted", () => {
  assert.equal(
    acceptAnswer('permessage-deflate; client_max_window_bits="10"', true)
      ?.clientMaxWindowBits,
    10,
  );
});

Deno.test("acceptAnswer: client_max_window_bits follows the offer", () => {
  // not offered → any value fails
  assertWsError(
    () =>
      acceptAnswer("permessage-deflate; client_max_window_bits=15", {
        clientMaxWindowBits: false,
      }),
    "BAD_HANDSHAKE",
  );
  assert.equal(
    acceptAnswer("permessage-deflate", { clientMaxWindowBits: false })
      ?.clientMaxWindowBits,
    15,
  );
  // offered without value → server may pick any 8..15
  assert.equal(
    acceptAnswer("permessage-deflate; client_max_window_bits=8", true)
      ?.clientMaxWindowBits,
    8,
  );
  // offered with a value → server may lower it, never raise it; absent → our hint binds us
  const opts = { clientMaxWindowBits: 10 };
  assert.equal(
    acceptAnswer("permessage-deflate; client_max_window_bits=9", opts)
      ?.clientMaxWindowBits,
    9,
  );
  assert.equal(
    acceptAnswer("permessage-deflate; client_max_window_bits=10", opts)
      ?.clientMaxWindowBits,
    10,
  );
  assertWsError(
    () => acceptAnswer("permessage-deflate; client_max_window_bits=11", opts),
    "BAD_HANDSHAKE",
  );
  assert.equal(
    acceptAnswer("permessage-deflate", opts)?.clientMaxWindowBits,
    10,
  );
});

Deno.test("acceptAnswer: server_max_window_bits follows the offer", () => {
  const opts = { serverMaxWindowBits: 10 };
  assert.equal(
    acceptAnswer("permessage-deflate; server_max_window_bits=10", opts)
      ?.serverMaxWindowBits,
    10,
  );
  assert.equal(
    acceptAnswer("permessage-deflate; server_max_window_bits=8", opts)
      ?.serverMaxWindowBits,
    8,
  );
  assertWsError(
    () => acceptAnswer("permessage-deflate; server_max_window_bits=11", opts),
    "BAD_HANDSHAKE",
  );
  // a server accepting the offer must echo the parameter (§7.1.2.1)
  assertWsError(
    () => acceptAnswer("permessage-deflate", opts),
    "BAD_HANDSHAKE",
  );
  // not offered: the server may still limit its own window
  assert.equal(
    acceptAnswer("permessage-deflate; server_max_window_bits=12", true)
      ?.serverMaxWindowBits,
    12,
  );
});

Deno.test("acceptAnswer: no_context_takeover parameters", () => {
  // added by the server unasked → accepted and obeyed
  assert.deepEqual(
    acceptAnswer(
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
      true,
    ),
    {
      ...TAKEOVER,
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
    },
  );
  // offered server_no_context_takeover must be acknowledged
  assertWsError(
    () => acceptAnswer("permessage-deflate", { serverNoContextTakeover: true }),
    "BAD_HANDSHAKE",
  );
  assert.equal(
    acceptAnswer("permessage-deflate; server_no_context_takeover", {
      serverNoContextTakeover: true,
    })
      ?.serverNoContextTakeover,
    true,
  );
  // offered client_no_context_takeover is our promise even if not echoed
  assert.equal(
    acceptAnswer("permessage-deflate", { clientNoContextTakeover: true })
      ?.clientNoContextTakeover,
    true,
  );
});

// ---------------------------------------------------------------------------
// Server negotiation

Deno.test("negotiateOffer: nothing to accept", () => {
  assert.equal(negotiateOffer(null), null);
  assert.equal(negotiateOffer(""), null);
  assert.equal(negotiateOffer("x-webkit-deflate-frame"), null);
  assert.equal(negotiateOffer("permessage-deflate", false), null);
  assert.equal(negotiateOffer("permessage-deflate; x=1;"), null); // malformed header
});

Deno.test("negotiateOffer: browser-style offer", () => {
  assert.deepEqual(
    negotiateOffer("permessage-deflate; client_max_window_bits"),
    { header: "permessage-deflate", params: TAKEOVER },
  );
  assert.deepEqual(
    negotiateOffer("x-foo, permessage-deflate")?.params,
    TAKEOVER,
  );
});

Deno.test("negotiateOffer: invalid offers are declined, the next one is taken", () => {
  const invalid = [
    "permessage-deflate; foo",
    "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    "permessage-deflate; server_max_window_bits",
    "permessage-deflate; server_max_window_bits=16",
    "permessage-deflate; client_max_window_bits=07",
    "permessage-deflate; client_no_context_takeover=1",
  ];
  for (const offer of invalid) {
    assert.equal(negotiateOffer(offer), null, offer);
    assert.deepEqual(
      negotiateOffer(
        `${offer}, permessage-deflate; server_no_context_takeover`,
      ),
      {
        header: "permessage-deflate; server_no_context_takeover",
        params: { ...TAKEOVER, serverNoContextTakeover: true },
      },
      offer,
    );
  }
});

Deno.test("negotiateOffer: window bits", () => {
  // client limits our window; our own limit can only lower it
  assert.equal(
    negotiateOffer("permessage-deflate; server_max_window_bits=10")?.header,
    "permessage-deflate; server_max_window_bits=10",
  );
  assert.equal(
    negotiateOffer("permessage-deflate; server_max_window_bits=10", {
      serverMaxWindowBits: 12,
    })?.header,
    "permessage-deflate; server_max_window_bits=10",
  );
  assert.equal(
    negotiateOffer("permessage-deflate", { serverMaxWindowBits: 9 })?.header,
    "permessage-deflate; server_max_window_bits=9",
  );
  // we may limit the client only when it offered client_max_window_bits
  const limited = negotiateOffer("permessage-deflate; client_max_window_bits", {
    clientMaxWindowBits: 10,
  });
  assert.equal(
    limited?.header,
    "permessage-deflate; client_max_window_bits=10",
  );
  assert.equal(limited?.params.clientMaxWindowBits, 10);
  assert.equal(
    negotiateOffer("permessage-deflate; client_max_window_bits=9", {
      clientMaxWindowBits: 10,
    })?.header,
    "permessage-deflate; client_max_window_bits=9",
  );
  assert.equal(
    negotiateOffer("permessage-deflate", { clientMaxWindowBits: 10 })?.header,
    "permessage-deflate",
  );
  // the client's own hint binds it
  assert.equal(
    negotiateOffer("permessage-deflate; client_max_window_bits=11")?.params
      .clientMaxWindowBits,
    11,
  );
});

Deno.test("negotiateOffer: context takeover", () => {
  assert.deepEqual(
    negotiateOffer(
      "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
    ),
    {
      header:
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
      params: {
        ...TAKEOVER,
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
      },
    },
  );
  assert.equal(
    negotiateOffer("permessage-deflate", {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
    })?.header,
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
  );
});

Deno.test("negotiation: client offer → server answer → client agrees on the same params", () => {
  const cases: [object, object][] = [
    [{}, {}],
    [{ clientNoContextTakeover: true, serverMaxWindowBits: 10 }, {}],
    [{ serverNoContextTakeover: true, clientMaxWindowBits: 12 }, {
      clientMaxWindowBits: 9,
    }],
    [{ clientMaxWindowBits: false }, {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 11,
    }],
    [{ serverMaxWindowBits: 8 }, { clientMaxWindowBits: 8 }],
  ];
  for (const [client, server] of cases) {
    const answer = negotiateOffer(offerHeader(client), server);
    assert.ok(answer, JSON.stringify(client));
    assert.deepEqual(
      acceptAnswer(answer.header, client),
      answer.params,
      JSON.stringify([client, server]),
    );
  }
});

// ---------------------------------------------------------------------------
// Inflate: RFC 7692 §7.2.3 examples

Deno.test("inflate: RFC 7692 examples", () => {
  const rx = new PerMessageDeflate(TAKEOVER, "client");
  try {
    // §7.2.3.1 single frame and the same message in two fragments
    assert.equal(
      dec.decode(
        inflateAll(rx, [bytes(0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00)]),
      ),
      "Hello",
    );
    const fresh = new PerMessageDeflate(TAKEOVER, "client");
    assert.equal(
      dec.decode(
        inflateAll(fresh, [
          bytes(0xf2, 0x48, 0xcd),
          bytes(0xc9, 0xc9, 0x07, 0x00),
        ]),
      ),
      "Hello",
    );
    fresh.close();
    // §7.2.3.2 second message refers to the first through the shared window
    assert.equal(
      dec.decode(inflateAll(rx, [bytes(0xf2, 0x00, 0x11, 0x00, 0x00)])),
      "Hello",
    );
    // §7.2.3.3 stored block
    assert.equal(
      dec.decode(
        inflateAll(rx, [
          bytes(
            0x00,
            0x05,
            0x00,
            0xfa,
            0xff,
            0x48,
            0x65,
            0x6c,
            0x6c,
            0x6f,
            0x00,
          ),
        ]),
      ),
      "Hello",
    );
    // §7.2.3.5 two blocks in one message
    assert.equal(
      dec.decode(
        inflateAll(rx, [
          bytes(
            0xf2,
            0x48,
            0x05,
            0x00,
            0x00,
            0x00,
            0xff,
            0xff,
            0xca,
            0xc9,
            0xc9,
            0x07,
            0x00,
          ),
        ]),
      ),
      "Hello",
    );
    // §7.2.3.4 BFINAL block followed by a 0x00 byte
    assert.equal(
      dec.decode(
        inflateAll(rx, [bytes(0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00)]),
      ),
      "Hello",
    );
    // §7.2.3.6 empty message
    assert.equal(inflateAll(rx, [bytes(0x00)]).length, 0);
  } finally {
    rx.close();
  }
});

Deno.test("deflate: produces the RFC 7692 example bytes", () => {
  const tx = new PerMessageDeflate(TAKEOVER, "client", { threshold: 0 });
  try {
    const hello = enc.encode("Hello");
    assert.deepEqual(
      tx.deflate(hello),
      bytes(0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00),
    );
    assert.deepEqual(tx.deflate(hello), bytes(0xf2, 0x00, 0x11, 0x00, 0x00));
    assert.deepEqual(tx.deflate(new Uint8Array(0)), bytes(0x00));
  } finally {
    tx.close();
  }
});

// ---------------------------------------------------------------------------
// Round trips

Deno.test("round trip with context takeover: later messages shrink, stream stays valid", () => {
  const tx = new PerMessageDeflate(TAKEOVER, "client", { threshold: 0 });
  const rx = new PerMessageDeflate(TAKEOVER, "server");
  try {
    const messages = [
      sampleText(5000, 1),
      sampleText(5000, 1),
      new Uint8Array(0),
      sampleText(300_000, 2),
      enc.encode("tiny"),
    ];
    const payloads: Uint8Array[] = [];
    for (const m of messages) {
      const p = tx.deflate(m)!;
      payloads.push(p);
      assert.deepEqual(inflateAll(rx, [p]), m);
    }
    // the repeated message is coded as a back-reference into the window
    assert.ok(
      payloads[1].length < payloads[0].length / 10,
      `${payloads[1].length} vs ${payloads[0].length}`,
    );
    // all messages form one continuous DEFLATE stream that plain zlib decodes
    const stream = concat(payloads.flatMap((p) => [p, bytes(...TAIL)]));
    assert.deepEqual(
      zlibInflate(stream),
      concat(messages),
    );
  } finally {
    tx.close();
    rx.close();
  }
});

Deno.test("round trip without context takeover: each message stands alone", () => {
  for (const role of ["client", "server"] as const) {
    const params = {
      ...TAKEOVER,
      clientNoContextTakeover: true,
      serverNoContextTakeover: true,
    };
    const tx = new PerMessageDeflate(params, role, { threshold: 0 });
    const rx = new PerMessageDeflate(
      params,
      role === "client" ? "server" : "client",
    );
    try {
      const m = sampleText(5000);
      const first = tx.deflate(m)!;
      const second = tx.deflate(m)!;
      assert.deepEqual(second, first); // no reference to the previous message
      const alone = zlibInflate(concat([second, bytes(...TAIL)]));
      assert.deepEqual(alone, m);
      assert.deepEqual(inflateAll(rx, [first]), m);
      assert.deepEqual(inflateAll(rx, [second]), m);
    } finally {
      tx.close();
      rx.close();
    }
  }
});

Deno.test("inflate obeys server_no_context_takeover: window is not kept", () => {
  const rx = new PerMessageDeflate({
    ...TAKEOVER,
    serverNoContextTakeover: true,
  }, "client");
  try {
    assert.equal(
      dec.decode(
        inflateAll(rx, [bytes(0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00)]),
      ),
      "Hello",
    );
    // §7.2.3.2's second message needs the previous window → corrupt for us
    assertWsError(
      () => inflateAll(rx, [bytes(0xf2, 0x00, 0x11, 0x00, 0x00)]),
      "INVALID_PAYLOAD",
      1007,
    );
  } finally {
    rx.close();
  }
});

Deno.test("inflate: 1-byte pieces and output spanning many chunks", () => {
  const tx = new PerMessageDeflate(TAKEOVER, "server", { threshold: 0 });
  const rx = new PerMessageDeflate(TAKEOVER, "client");
  try {
    for (const m of [sampleText(200_000, 3), sampleText(70_000, 4)]) {
      const p = tx.deflate(m)!;
      const pieces = Array.from(p, (b) => bytes(b));
      pieces.push(new Uint8Array(0)); // the final frame may be empty
      assert.deepEqual(inflateAll(rx, pieces), m);
    }
    // one call producing several output chunks
    const big = sampleText(1_000_000, 5);
    const chunks = rx.inflate(tx.deflate(big)!, true);
    assert.ok(chunks.length > 1);
    assert.deepEqual(concat(chunks), big);
  } finally {
    tx.close();
    rx.close();
  }
});

Deno.test("decode/pull: inflated in steps of at most 256 KiB, pulled piece by piece", () => {
  const tx = new PerMessageDeflate(TAKEOVER, "server", { threshold: 0 });
  const rx = new PerMessageDeflate(TAKEOVER, "client", {
    maxMessageSize: Infinity,
  });
  try {
    // 8 MiB of zeros is ~8 KB compressed: one piece, far more output.
    const zeros = new Uint8Array(8 << 20);
    const packed = tx.deflate(zeros)!;
    const [head, rest] = [packed.subarray(0, 100), packed.subarray(100)];
    assert.ok(packed.length < 16 * 1024);
    let total = 0, largest = 0, pulls = 0;
    const drain = (max: number) => {
      for (let piece; (piece = rx.pull(max)) !== null && pulls < 100_000;) {
        pulls++;
        assert.ok(piece.length <= max, `${piece.length} > ${max}`);
        assert.ok(piece.every((b) => b === 0));
        total += piece.length;
        largest = Math.max(largest, piece.length);
        if (rx.messageEnded) return true;
      }
      return false;
    };
    rx.decode(head, false);
    assert.equal(drain(1000), false, "the first piece alone is not the end");
    assert.equal(rx.messageEnded, false);
    rx.decode(rest, true);
    assert.equal(drain(Infinity), true);
    assert.equal(total, zeros.length);
    assert.equal(largest, 256 * 1024);
    assert.equal(rx.pull(10), null, "nothing after the end");
    // The window carries over: the same message again is tiny and inflates.
    const again = tx.deflate(zeros.subarray(0, 30_000))!;
    assert.ok(again.length < 100);
    assert.deepEqual(inflateAll(rx, [again]), zeros.subarray(0, 30_000));
  } finally {
    tx.close();
    rx.close();
  }
});

Deno.test("inflate: data ending in a BFINAL block, then context takeover continues", () => {
  const rx = new PerMessageDeflate(TAKEOVER, "client");
  const tx = new PerMessageDeflate(TAKEOVER, "server", { threshold: 0 });
  try {
    // a message made by one-shot zlib (BFINAL set, no sync flush)
    const m1 = sampleText(40_000, 6);
    assert.deepEqual(inflateAll(rx, [deflateRawSync(m1)]), m1);

    // a peer that closes each message with an empty final block but keeps its window
    const m2 = sampleText(3000, 7);
    const p2 = concat([tx.deflate(m2)!, bytes(...TAIL, 0x03, 0x00)]);
    const p3 = tx.deflate(m2)!; // refers back to m2
    assert.ok(p3.length < 100);
    assert.deepEqual(inflateAll(rx, [p2.subarray(0, 10), p2.subarray(10)]), m2);
    assert.deepEqual(inflateAll(rx, [p3]), m2);
  } finally {
    rx.close();
    tx.close();
  }
});

Deno.test("inflate: corrupt data fails with INVALID_PAYLOAD 1007, and keeps failing", () => {
  const rx = new PerMessageDeflate(TAKEOVER, "client");
  try {
    assertWsError(
      () => rx.inflate(bytes(0xff, 0xff, 0xff, 0xff), true),
      "INVALID_PAYLOAD",
      1007,
    );
    assertWsError(
      () => rx.inflate(bytes(0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00), true),
      "INVALID_PAYLOAD",
    );
  } finally {
    rx.close();
  }
  // a distance pointing before the start of the stream
  const fresh = new PerMessageDeflate(TAKEOVER, "client");
  try {
    assertWsError(
      () => fresh.inflate(bytes(0xf2, 0x00, 0x11, 0x00, 0x00), true),
      "INVALID_PAYLOAD",
      1007,
    );
  } finally {
    fresh.close();
  }
});

Deno.test("interop: raw node:zlib output inflates, our output raw-inflates", () => {
  const rx = new PerMessageDeflate(TAKEOVER, "client");
  const tx = new PerMessageDeflate(
    { ...TAKEOVER, clientNoContextTakeover: true },
    "client",
    { threshold: 0 },
  );
  try {
    for (
      const m of [sampleText(10_000, 8), enc.encode("x"), new Uint8Array(0)]
    ) {
      const synced = deflateRawSync(m, { finishFlush: constants.Z_SYNC_FLUSH });
      assert.deepEqual(Array.from(synced.subarray(-4)), TAIL);
      assert.deepEqual(inflateAll(rx, [synced.subarray(0, -4)]), m);
      const ours = tx.deflate(m)!;
      assert.deepEqual(
        zlibInflate(concat([ours, bytes(...TAIL)])),
        m,
      );
    }
  } finally {
    rx.close();
    tx.close();
  }
});

// ---------------------------------------------------------------------------
// Decompression bombs

/** Writes a DEFLATE bit stream: fields LSB first, Huffman codes MSB first. */
class BitWriter {
  #out: number[] = [];
  #cur = 0;
  #n = 0;
  bits(value: number, count: number): this {
    for (let i = 0; i < count; i++) this.#bit((value >>> i) & 1);
    return this;
  }
  code(code: number, length: number): this {
    for (let i = length - 1; i >= 0; i--) this.#bit((code >>> i) & 1);
    return this;
  }
  #bit(b: number): void {
    this.#cur |= b << this.#n;
    if (++this.#n === 8) {
      this.#out.push(this.#cur);
      this.#cur = 0;
      this.#n = 0;
    }
  }
  finish(): Uint8Array {
    if (this.#n > 0) this.#out.push(this.#cur);
    return new Uint8Array(this.#out);
  }
}

/**
 * Start of a dynamic-Huffman block in which "length 258, distance 1" is coded
 * as two 0 bits: after it, every 0x00 byte inflates to 4 × 258 = 1032 zero
 * bytes, the DEFLATE maximum. Literal/length codes: 285 → 0, literal 0 → 10,
 * end of block → 11; distance code 0 → 0.
 */
function bombStart(final: boolean): BitWriter {
  const w = new BitWriter();
  w.bits(final ? 1 : 0, 1).bits(2, 2); // BFINAL, BTYPE=dynamic
  w.bits(286 - 257, 5).bits(1 - 1, 5).bits(18 - 4, 4); // HLIT, HDIST, HCLEN
  // code length code lengths, in the RFC 1951 order 16 17 18 0 8 7 9 6 10 5 11 4 12 3 13 2 14 1
  const clen = [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2];
  for (const l of clen) w.bits(l, 3);
  // code length alphabet: 18 → 0, 1 → 10, 2 → 11
  w.code(0b11, 2); // literal 0: length 2
  w.code(0, 1).bits(138 - 11, 7); // literals 1..138: unused
  w.code(0, 1).bits(117 - 11, 7); // literals 139..255: unused
  w.code(0b11, 2); // 256 (end of block): length 2
  w.code(0, 1).bits(28 - 11, 7); // 257..284: unused
  w.code(0b10, 2); // 285 (length 258): length 1
  w.code(0b10, 2); // distance code 0: length 1
  w.code(0b10, 2); // literal 0, so that distance 1 has something to copy
  return w;
}

Deno.test("bomb stream sanity: the crafted block inflates with plain zlib", () => {
  const w = bombStart(true);
  for (let i = 0; i < 1000; i++) w.code(0, 1).code(0, 1); // 1000 matches
  const block = w.code(0b11, 2).finish(); // end of block
  const out = inflateRawSync(block);
  assert.equal(out.length, 1 + 1000 * 258);
  assert.ok(out.every((b) => b === 0));
});

Deno.test("bomb: 10 KB inflating to 10 MB stops at maxMessageSize with 1009", () => {
  const rx = new PerMessageDeflate(TAKEOVER, "client", {
    maxMessageSize: 1 << 20,
  });
  try {
    const head = bombStart(false).finish();
    const zeros = new Uint8Array(1024);
    let produced = 0;
    const err = assertWsError(
      () => {
        for (const piece of [head, ...Array(10).fill(zeros)]) {
          for (const c of rx.inflate(piece, false)) produced += c.length;
        }
      },
      "MESSAGE_TOO_BIG",
      1009,
    );
    assert.match(err.message, /1048576/);
    assert.ok(produced <= 1 << 20, `handed out ${produced} bytes`);
    assertWsError(() => rx.inflate(zeros, true), "MESSAGE_TOO_BIG");
  } finally {
    rx.close();
  }
});

Deno.test("bomb: a message inflating to over 1 GB fails with default limit and bounded memory", () => {
  const rx = new PerMessageDeflate(TAKEOVER, "client"); // default maxMessageSize 64 MiB
  try {
    const head = bombStart(false).finish();
    const zeros = new Uint8Array(64 * 1024); // each piece inflates to ~64 MiB
    const rssBefore = Deno.memoryUsage().rss;
    let fed = head.length;
    let piecesTried = 0;
    assertWsError(
      () => {
        rx.inflate(head, false);
        // 16 pieces = 1 MiB compressed ≈ 1 GiB inflated; the limit must hit first
        for (; piecesTried < 16; piecesTried++) {
          rx.inflate(zeros, false);
          fed += zeros.length;
        }
      },
      "MESSAGE_TOO_BIG",
      1009,
    );
    assert.ok(piecesTried <= 1, `failed only after ${fed} compressed bytes`);
    const growth = Deno.memoryUsage().rss - rssBefore;
    assert.ok(growth < 100 * 1024 * 1024, `rss grew by ${growth} bytes`);
  } finally {
    rx.close();
  }
});

// ---------------------------------------------------------------------------
// Sending rules

Deno.test("deflate: threshold decides what is compressed", () => {
  const tx = new PerMessageDeflate(TAKEOVER, "client");
  const small = new PerMessageDeflate(TAKEOVER, "client", { threshold: 10 });
  try {
    assert.equal(tx.threshold, 1024);
    assert.equal(tx.deflate(sampleText(1023)), null);
    assert.ok(tx.deflate(sampleText(1024)) instanceof Uint8Array);
    assert.equal(small.deflate(enc.encode("123456789")), null);
    assert.ok(small.deflate(enc.encode("1234567890")) instanceof Uint8Array);
  } finally {
    tx.close();
    small.close();
  }
});

Deno.test("deflate: an 8-bit window means sending uncompressed", () => {
  const params = { ...TAKEOVER, clientMaxWindowBits: 8 };
  const client = new PerMessageDeflate(params, "client", { threshold: 0 });
  const server = new PerMessageDeflate(params, "server", { threshold: 0 });
  try {
    assert.equal(client.canCompress, false);
    assert.equal(client.deflate(sampleText(5000)), null);
    assertWsError(
      () => client.deflateChunk(sampleText(10), true),
      "INVALID_ARGUMENT",
    );
    // the server's direction is unaffected, and the client still inflates
    assert.equal(server.canCompress, true);
    const m = sampleText(5000);
    assert.deepEqual(inflateAll(client, [server.deflate(m)!]), m);
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("deflate: the negotiated window limits back-references", () => {
  const data = farRepeats(); // repeats 600 bytes apart
  const wide = new PerMessageDeflate(TAKEOVER, "client", { threshold: 0 });
  const narrow = new PerMessageDeflate(
    { ...TAKEOVER, clientMaxWindowBits: 9 },
    "client",
    { threshold: 0 },
  );
  const rx = new PerMessageDeflate(TAKEOVER, "server");
  try {
    const w = wide.deflate(data)!;
    const n = narrow.deflate(data)!;
    assert.ok(w.length < 700, `15-bit window: ${w.length}`);
    assert.ok(
      n.length > 1500,
      `9-bit window cannot reach 600 back: ${n.length}`,
    );
    assert.deepEqual(inflateAll(rx, [n]), data);
  } finally {
    wide.close();
    narrow.close();
    rx.close();
  }
});

Deno.test("deflateChunk: flushed fragments inflate completely on arrival", () => {
  const tx = new PerMessageDeflate(TAKEOVER, "client");
  const rx = new PerMessageDeflate(TAKEOVER, "server");
  try {
    const m = sampleText(300_000, 9);
    const step = 50_000;
    let received = 0;
    for (let off = 0; off < m.length; off += step) {
      const last = off + step >= m.length;
      const fragment = tx.deflateChunk(m.subarray(off, off + step), last);
      assert.ok(fragment.length > 0);
      // the peer gets every byte sent so far, not just at message end
      const got = concat(rx.inflate(fragment, last));
      assert.deepEqual(got, m.subarray(off, off + step));
      received += got.length;
    }
    assert.equal(received, m.length);
    // context carries over to the next whole message
    const tail = m.subarray(m.length - 5000);
    const again = tx.deflate(tail)!;
    assert.ok(again.length < tail.length / 10, `${again.length}`);
    assert.deepEqual(inflateAll(rx, [again]), tail);
    // deflate() in the middle of a streamed message is refused
    tx.deflateChunk(m.subarray(0, 10), false);
    assertWsError(() => tx.deflate(m), "INVALID_ARGUMENT");
  } finally {
    tx.close();
    rx.close();
  }
});

Deno.test("deflateChunk: without flush zlib buffers, the message still round-trips", () => {
  const tx = new PerMessageDeflate(TAKEOVER, "server");
  const rx = new PerMessageDeflate(TAKEOVER, "client");
  try {
    const m = sampleText(20_000, 10);
    const parts: Uint8Array[] = [];
    for (let off = 0; off < m.length; off += 1000) {
      const last = off + 1000 >= m.length;
      parts.push(tx.deflateChunk(m.subarray(off, off + 1000), last, false));
    }
    assert.ok(parts.some((p) => p.length === 0), "small pieces stay buffered");
    assert.deepEqual(inflateAll(rx, parts), m);
    // a final empty piece after a flushed one is the lone 0x00 of §7.2.3.6
    tx.deflateChunk(enc.encode("abc"), false);
    assert.deepEqual(tx.deflateChunk(new Uint8Array(0), true), bytes(0x00));
  } finally {
    tx.close();
    rx.close();
  }
});

Deno.test("close: idempotent, later use is CLOSED", () => {
  const pmd = new PerMessageDeflate(TAKEOVER, "client", { threshold: 0 });
  pmd.deflate(enc.encode("abc"));
  pmd.close();
  pmd.close();
  assertWsError(() => pmd.deflate(enc.encode("abc")), "CLOSED");
  assertWsError(() => pmd.inflate(bytes(0x00), true), "CLOSED");
});

Deno.test("compressionSupported: synchronous zlib works in this runtime", () => {
  assert.equal(compressionSupported(), true);
});

Deno.test("inflate: an empty compressed payload is an empty message and leaves the stream usable", () => {
  const sender = new PerMessageDeflate(TAKEOVER, "server", { threshold: 0 });
  const receiver = new PerMessageDeflate(TAKEOVER, "client");
  try {
    assert.deepEqual(
      concat(receiver.inflate(new Uint8Array(0), true)),
      new Uint8Array(0),
    );
    const hello = new TextEncoder().encode("hello hello hello");
    const packed = sender.deflate(hello)!;
    assert.deepEqual(concat(receiver.inflate(packed, true)), hello);
  } finally {
    sender.close();
    receiver.close();
  }
});
