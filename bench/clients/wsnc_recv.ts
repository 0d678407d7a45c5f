/**
 * This library's connect-only face: `connect()`, then `send()` and
 * `recv(buffer)` (curl_ws_send / curl_ws_recv style). A sender task and a
 * receiver task run concurrently, the sender kept within the window.
 *
 * @module
 */

import { connect, type ConnectOptions, WS } from "../../mod.ts";
import {
  type BenchSession,
  checkEchoBytes,
  checkEchoLength,
  InFlightWindow,
} from "./session.ts";

/** recv() buffer for the echo rows: a message arrives in pieces of at most this. */
export const RECV_BUFFER = 256 * 1024;

/**
 * Connects with `connect(url, options)` (bench/h2_echo.ts passes `http2` and
 * `caCerts`); messages larger than 64 MiB are only streamed.
 */
export async function open(
  url: string,
  options?: ConnectOptions,
): Promise<BenchSession> {
  const conn = await connect(url, options);
  let buffer = new Uint8Array(RECV_BUFFER);

  /** Receives the next whole data message piece by piece; returns its length. */
  async function recvMessage(): Promise<number> {
    let length = 0;
    while (true) {
      const { n, meta } = await conn.recv(buffer);
      if (meta.flags & WS.CLOSE) {
        throw new Error("server closed the connection");
      }
      if ((meta.flags & (WS.TEXT | WS.BINARY)) === 0) continue; // ping or pong
      length += n;
      if (meta.bytesleft === 0 && (meta.flags & WS.CONT) === 0) return length;
    }
  }

  return {
    async echo(payload, count, window) {
      const flow = new InFlightWindow(window);
      const receiver = (async () => {
        for (let i = 0; i < count; i++) {
          checkEchoLength(await recvMessage(), payload.length);
          flow.answer();
        }
      })();
      receiver.catch((err) => flow.fail(err));
      for (let i = 0; i < count; i++) {
        await flow.acquire();
        await conn.send(payload, WS.BINARY);
      }
      await receiver;
    },

    async pingPong(payload, rtts) {
      for (let i = 0; i < rtts.length; i++) {
        const t0 = performance.now();
        await conn.send(payload, WS.BINARY);
        const { n, meta } = await conn.recv(buffer);
        rtts[i] = performance.now() - t0;
        if ((meta.flags & WS.BINARY) === 0 || meta.bytesleft !== 0) {
          throw new Error(
            `unexpected piece: flags ${meta.flags}, ${meta.bytesleft} left`,
          );
        }
        checkEchoBytes(buffer.subarray(0, n), payload);
      }
    },

    async stream(bufferSize) {
      buffer = new Uint8Array(bufferSize);
      return await recvMessage();
    },

    async close() {
      await conn.close(1000);
      await conn.closed;
    },
  };
}
