/**
 * Interop with real peers: Deno's built-in server and the `ws` package's
 * server, echoing text and binary of the sizes issue 2 names.
 */
import assert from "node:assert/strict";
import { connect, WS } from "../mod.ts";
import {
  type EchoServer,
  startDenoEchoServer,
  startWsEchoServer,
} from "./servers/echo.ts";
import { testCerts } from "./servers/certs.ts";

const SIZES = [0, 125, 126, 65535, 65536, 16 * 1024 * 1024];

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7 + seed) & 0xff;
  return out;
}

const peers: [string, (tls: boolean) => Promise<EchoServer>][] = [
  ["Deno.serve", (tls) => startDenoEchoServer({ tls, protocols: ["echo"] })],
  ["npm:ws", (tls) => startWsEchoServer({ tls, protocols: ["echo"] })],
];

for (const [name, start] of peers) {
  Deno.test(`interop with ${name}: text and binary of 0 B to 16 MiB, fragmented, over ws:// and wss://`, async () => {
    for (const tls of [false, true]) {
      const server = await start(tls);
      try {
        const url = tls
          ? server.url.replace("127.0.0.1", "localhost")
          : server.url;
        const conn = await connect(url, {
          protocols: ["echo"],
          caCerts: [testCerts().ca],
        });
        assert.equal(conn.protocol, "echo");
        for (const size of SIZES) {
          const text = "é".repeat(size >> 1) + (size & 1 ? "x" : "");
          await conn.send(text);
          assert.equal(await conn.receive(), text, `text ${size}`);
          const bin = pattern(size, size);
          await conn.send(bin);
          assert.deepEqual(await conn.receive(), bin, `binary ${size}`);
        }
        // A fragmented message in curl's convention, with a ping in between.
        await conn.send("frag", WS.TEXT | WS.CONT);
        await conn.send("", WS.PING);
        await conn.send("mented", WS.TEXT | WS.CONT);
        await conn.send("!", WS.TEXT);
        assert.equal(await conn.receive(), "fragmented!");
        // A partial frame streamed in three calls.
        const big = pattern(300_000, 3);
        await conn.send(
          big.subarray(0, 1000),
          WS.BINARY | WS.OFFSET,
          big.length,
        );
        await conn.send(big.subarray(1000, 200_000), WS.BINARY | WS.OFFSET);
        await conn.send(big.subarray(200_000), WS.BINARY | WS.OFFSET);
        assert.deepEqual(await conn.receive(), big);
        await conn.close(1000, "done");
        const info = await conn.closed;
        assert.equal(info.wasClean, true);
        assert.equal(info.code, 1000);
      } finally {
        await server.close();
      }
    }
  });
}
