/**
 * The HTTP/2 core against a real peer: Node's http2 server
 * (tests/peers/h2_ws_echo.mjs) with SETTINGS_ENABLE_CONNECT_PROTOCOL,
 * echoing WebSocket frames over RFC 8441 streams, over h2c (prior
 * knowledge) and over TLS with ALPN h2. Needs `--allow-run=node`; skips with
 * one line without it or without node.
 */
import assert from "node:assert/strict";
import { WebSocketError } from "../src/errors.ts";
import { DecodeResult, encodeFrame, FrameDecoder } from "../src/frame.ts";
import { MaskKeySource } from "../src/mask.ts";
import { H2Code } from "../src/h2/errors.ts";
import {
  buildConnectRequest,
  checkConnectResponse,
} from "../src/h2/websocket.ts";
import { assertSameBytes, within } from "./helpers.ts";
import { count, FrameType, H2Pump, type PumpStream } from "./peers/h2_pump.ts";
import { testCerts } from "./servers/certs.ts";
import { nodeMissing, withPeer } from "./peers/node_h2.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

const missing = nodeMissing();
if (missing) {
  console.log(
    `h2_interop_test: skipped, ${missing} (Node's http2 is the peer)`,
  );
}

const keys = new MaskKeySource();
const text = (s: string) => new TextEncoder().encode(s);
const wsFrame = (opcode: number, payload: Uint8Array) =>
  encodeFrame({ opcode, payload, maskKey: keys.next() });

/** Reads whole (unfragmented) WebSocket frames from a stream's DATA. */
class WsReader {
  #dec = new FrameDecoder();
  #stream: PumpStream;
  constructor(stream: PumpStream) {
    this.#stream = stream;
  }
  async frame(): Promise<{ opcode: number; payload: Uint8Array } | null> {
    let opcode = -1;
    const parts: Uint8Array[] = [];
    for (;;) {
      for (let r; (r = this.#dec.next(1 << 20)) !== DecodeResult.NEED_MORE;) {
        if (r === DecodeResult.HEADER) {
          assert.equal(
            this.#dec.header.maskKey,
            null,
            "server frames are unmasked",
          );
          opcode = this.#dec.header.opcode;
          if (this.#dec.header.length === 0) {
            return { opcode, payload: new Uint8Array(0) };
          }
        } else {
          parts.push(this.#dec.piece.slice());
          if (this.#dec.remaining === 0) {
            const payload = new Uint8Array(
              parts.reduce((n, p) => n + p.length, 0),
            );
            let o = 0;
            for (const p of parts) payload.set(p, o), o += p.length;
            return { opcode, payload };
          }
        }
      }
      const chunk = await this.#stream.read();
      if (chunk === null) return null;
      this.#dec.feed(chunk);
    }
  }
}

async function connectH2c(port: number): Promise<H2Pump> {
  const pump = new H2Pump(await Deno.connect({ hostname: "127.0.0.1", port }));
  await within(5000, "server SETTINGS", pump.ready());
  assert.equal(pump.session.peer.enableConnectProtocol, true);
  return pump;
}

/** Opens a WebSocket stream and checks the 200. */
async function openWs(pump: H2Pump, path: string, protocols?: string[]) {
  const url = new URL(`ws://127.0.0.1${path}`);
  const stream = pump.open(
    buildConnectRequest({ url, protocols, extensions: "permessage-deflate" }),
  );
  const fields = await within(5000, `response on ${path}`, stream.response());
  return { stream, fields, reader: new WsReader(stream) };
}

async function echo(
  ws: { stream: PumpStream; reader: WsReader },
  opcode: number,
  payload: Uint8Array,
) {
  await within(10000, "write", ws.stream.write(wsFrame(opcode, payload)));
  const got = await within(10000, "echo", ws.reader.frame());
  assert.ok(got, "stream ended before the echo");
  assert.equal(got.opcode, opcode);
  assertSameBytes(got.payload, payload, "echo");
}

Deno.test({
  name:
    "h2 interop (node): three RFC 8441 streams at once echo masked frames, then close with END_STREAM",
  ignore: missing !== null,
  fn: () =>
    withPeer([], async ({ port }) => {
      const pump = await connectH2c(port);
      try {
        const opened = await Promise.all([
          openWs(pump, "/a", ["chat", "superchat"]),
          openWs(pump, "/b?x=1"),
          openWs(pump, "/c"),
        ]);
        assert.deepEqual(opened.map((o) => o.stream.id), [1, 3, 5]);
        const agreed = checkConnectResponse(opened[0].fields, false, {
          protocols: ["chat", "superchat"],
          offeredExtensions: true,
        });
        assert.equal(agreed.protocol, "chat");
        assert.equal(agreed.headers.get("x-version-seen"), "13");
        // Interleaved messages on all three.
        for (let round = 0; round < 5; round++) {
          await Promise.all(opened.map((ws, i) =>
            echo(
              ws,
              0x1,
              text(`round ${round} stream ${i} ${"é".repeat(round * 50)}`),
            )
          ));
        }
        await echo(
          opened[1],
          0x2,
          new Uint8Array(70000).map((_, i) => i * 7),
        );
        await echo(opened[2], 0x9, text("ping payload"));
        // Close handshake: the server echoes the close and ends its side.
        for (const ws of opened) {
          const close = new Uint8Array([0x03, 0xe8]);
          await echo(ws, 0x8, close);
          assert.equal(
            await within(5000, "END_STREAM", ws.reader.frame()),
            null,
          );
          assert.equal(
            pump.session.streamState(ws.stream.id),
            "half-closed-remote",
          );
          pump.session.end(ws.stream.id);
          pump.flush();
          assert.equal(pump.session.streamState(ws.stream.id), "closed");
        }
      } finally {
        await pump.close();
      }
    }),
});

Deno.test({
  name:
    "h2 interop (node): a 404 is HTTP_RETURNED_ERROR with status and headers; resets are CONNECTION_LOST with the code",
  ignore: missing !== null,
  fn: () =>
    withPeer([], async ({ port }) => {
      const pump = await connectH2c(port);
      try {
        const url = new URL("ws://127.0.0.1/missing");
        const refused = pump.open(buildConnectRequest({ url }));
        const fields = await within(5000, "404", refused.response());
        assert.throws(
          () =>
            checkConnectResponse(fields, refused.headersEnded, {
              offeredExtensions: false,
            }),
          (e) => {
            assert.ok(e instanceof WebSocketError);
            assert.equal(e.code, "HTTP_RETURNED_ERROR");
            assert.equal(e.status, 404);
            assert.equal(e.headers?.get("x-reason"), "no such socket");
            return true;
          },
        );
        const reset = pump.open(
          buildConnectRequest({ url: new URL("ws://127.0.0.1/reset") }),
        );
        await within(5000, "reset", reset.until(() => reset.error !== null));
        assert.equal(reset.error?.code, "CONNECTION_LOST");
        assert.equal(reset.error?.http2Code, H2Code.CANCEL);

        const later = await openWs(pump, "/reset-after-data");
        await later.stream.write(wsFrame(0x1, text("hello")));
        await within(
          5000,
          "reset after data",
          later.stream.until(() => later.stream.error !== null),
        );
        assert.equal(later.stream.error?.http2Code, H2Code.INTERNAL_ERROR);
        await assert.rejects(
          () => later.stream.write(wsFrame(0x1, text("more"))),
          { code: "CLOSED" },
        );
        // The connection itself is fine.
        await echo(await openWs(pump, "/still-fine"), 0x1, text("ok"));
      } finally {
        await pump.close();
      }
    }),
});

Deno.test({
  name:
    "h2 interop (node): 1 MiB each way needs WINDOW_UPDATEs both ways; an unread stream does not stall another",
  ignore: missing !== null,
  fn: () =>
    withPeer([], async ({ port }) => {
      const pump = await connectH2c(port);
      try {
        const big = await openWs(pump, "/big");
        const small = await openWs(pump, "/small");
        const payload = new Uint8Array(1 << 20).map((_, i) =>
          (i * 31 + (i >>> 10)) & 0xff
        );
        // Node's stream window is 65535, so this write completes only because
        // Node returns window as it reads.
        await within(
          20000,
          "1 MiB out",
          big.stream.write(wsFrame(0x2, payload)),
        );
        // We do not read `big` yet: its echo stops at our 256 KiB stream
        // window, and the other stream still works.
        for (let i = 0; i < 5; i++) {
          await echo(small, 0x1, text(`while big waits ${i}`));
        }
        const got = await within(20000, "1 MiB back", big.reader.frame());
        assert.ok(got);
        assertSameBytes(got.payload, payload, "1 MiB echo");
        assert.ok(
          count(pump.received, FrameType.WINDOW_UPDATE) >= 4,
          "server returned window to us",
        );
        assert.ok(
          count(pump.sentFrames, FrameType.WINDOW_UPDATE) >= 4,
          "we returned window to the server",
        );
        assert.ok(
          count(pump.received, FrameType.DATA) >= 64,
          "the echo came in many DATA frames",
        );
      } finally {
        await pump.close();
      }
    }),
});

Deno.test({
  name: "h2 interop (node, TLS): ALPN h2 and an RFC 8441 echo over TLS",
  ignore: missing !== null,
  fn: () =>
    withPeer(
      ["tls", FIXTURES + "server.pem", FIXTURES + "server-key.pem"],
      async ({ port }) => {
        const conn = await Deno.connectTls({
          hostname: "localhost",
          port,
          caCerts: [testCerts().ca],
          alpnProtocols: ["h2"],
        });
        const handshake = await within(5000, "TLS handshake", conn.handshake());
        assert.equal(handshake.alpnProtocol, "h2");
        const pump = new H2Pump(conn);
        try {
          await within(5000, "server SETTINGS", pump.ready());
          const ws = await openWs(pump, "/tls", ["chat"]);
          assert.equal(
            checkConnectResponse(ws.fields, false, {
              protocols: ["chat"],
              offeredExtensions: true,
            }).protocol,
            "chat",
          );
          await echo(ws, 0x1, text("over TLS"));
          await echo(ws, 0x2, new Uint8Array(300000).fill(0x5a));
        } finally {
          await pump.close();
        }
      },
    ),
});
