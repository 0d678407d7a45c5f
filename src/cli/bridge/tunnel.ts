/**
 * One TCP connection carried over one WebSocket, both directions at once:
 * TCP bytes go out as binary messages, received data is written to TCP.
 * Endings map both ways: TCP EOF → close 1000, a close frame → TCP shutdown
 * (write side), a TCP reset → close 1011, a WebSocket lost without a close
 * → the TCP connection closed at once.
 *
 * @module
 */

import { type WebSocketConnection, WS } from "../../../mod.ts";
import type { Output } from "../output.ts";
import { PIECE_SIZE, receiveInto, writeAll } from "./pump.ts";

/** How long the TCP side may stay open after the WebSocket has ended. */
const TCP_LINGER_MS = 5000;

/** How the TCP-to-WebSocket half ended. */
type SendEnd = "eof" | "reset" | "ws-gone";

function safely(f: () => void): void {
  try {
    f();
  } catch { /* already closed */ }
}

/**
 * Deno's read reports a connection reset as a plain EOF. A zero-length
 * write tells them apart: after a FIN (CLOSE_WAIT) it succeeds, after a
 * reset the socket is gone and it fails with EPIPE.
 */
async function wasReset(tcp: Deno.Conn): Promise<boolean> {
  try {
    await tcp.write(new Uint8Array(0));
    return false;
  } catch {
    return true;
  }
}

/** TCP → binary messages until TCP EOF, a TCP error, or the WebSocket going. */
async function sendFrom(
  tcp: Deno.Conn,
  conn: WebSocketConnection,
): Promise<SendEnd> {
  const buf = new Uint8Array(PIECE_SIZE);
  for (;;) {
    let n: number | null;
    try {
      n = await tcp.read(buf);
    } catch {
      return "reset";
    }
    if (n === null) return await wasReset(tcp) ? "reset" : "eof";
    try {
      // Awaited: `buf` is read into again only once the frame is taken,
      // and the send queue stays bounded (backpressure to the TCP reader).
      await conn.send(buf.subarray(0, n), WS.BINARY);
    } catch {
      return "ws-gone";
    }
  }
}

/**
 * Runs the tunnel until both directions have ended, then closes `tcp`.
 * Problems are reported on `out` as notes prefixed with `label`.
 */
export async function runTunnel(
  conn: WebSocketConnection,
  tcp: Deno.Conn,
  out: Output,
  label: string,
): Promise<void> {
  let linger: ReturnType<typeof setTimeout> | undefined;
  /** The WebSocket has ended: a failing TCP read is ours, not a reset. */
  let wsDone = false;
  const closeTcp = () => safely(() => tcp.close());
  const sending = sendFrom(tcp, conn).then((end) => {
    if (end === "eof") conn.close(1000).catch(() => {});
    if (end === "reset" && !wsDone) {
      out.note(`${label}: TCP connection reset, closing with 1011`);
      conn.close(1011, "TCP connection reset").catch(() => {});
    }
    return end;
  });
  const received = await receiveInto(conn, { write: (b) => writeAll(tcp, b) });
  wsDone = true;
  if (received.kind === "closed") {
    // Everything received is written: pass the end on, and give the TCP
    // peer a moment to finish (its bytes have nowhere to go now).
    safely(() => (tcp as Deno.TcpConn).closeWrite());
    linger = setTimeout(closeTcp, TCP_LINGER_MS);
  } else if (received.kind === "sink") {
    out.note(`${label}: TCP write failed, closing with 1011`);
    await conn.close(1011, "TCP connection failed").catch(() => {});
    closeTcp();
  } else {
    closeTcp();
  }
  await sending;
  clearTimeout(linger);
  closeTcp();
  await conn.closed;
}
