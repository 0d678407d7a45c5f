/**
 * The ceiling: the same payload bytes echoed over a plain TCP connection, no
 * WebSocket framing or masking. A "message" is just `payload.length` bytes.
 *
 * @module
 */

import {
  type BenchSession,
  checkEchoBytes,
  InFlightWindow,
} from "./session.ts";

const READ_BUFFER = 256 * 1024;

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let o = 0; o < bytes.length;) o += await conn.write(bytes.subarray(o));
}

/** Connects to a `tcp://host:port` echo server. */
export async function open(url: string): Promise<BenchSession> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  conn.setNoDelay(true);
  const buf = new Uint8Array(READ_BUFFER);

  return {
    async echo(payload, count, window) {
      const size = payload.length;
      const total = size * count;
      const flow = new InFlightWindow(window);
      const reader = (async () => {
        let received = 0;
        while (received < total) {
          const n = await conn.read(buf);
          if (n === null) throw new Error("echo server closed the connection");
          const before = Math.floor(received / size);
          received += n;
          for (let m = Math.floor(received / size); m > before; m--) {
            flow.answer();
          }
        }
      })();
      reader.catch((err) => flow.fail(err));
      for (let i = 0; i < count; i++) {
        await flow.acquire();
        await writeAll(conn, payload);
      }
      await reader;
    },

    async pingPong(payload, rtts) {
      const echo = new Uint8Array(payload.length);
      for (let i = 0; i < rtts.length; i++) {
        const t0 = performance.now();
        await writeAll(conn, payload);
        for (let got = 0; got < echo.length;) {
          const n = await conn.read(echo.subarray(got));
          if (n === null) throw new Error("echo server closed the connection");
          got += n;
        }
        rtts[i] = performance.now() - t0;
        checkEchoBytes(echo, payload);
      }
    },

    close() {
      conn.close();
      return Promise.resolve();
    },
  };
}
