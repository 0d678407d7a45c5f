/**
 * Test-only: one HTTP/2 frame as raw bytes (RFC 9113 §4.1), for the test
 * servers that write frames by hand instead of through `src/h2`.
 *
 * @module
 */

/** A frame of `type` with `flags` on stream `id` carrying `payload`. */
export function rawH2Frame(
  type: number,
  flags: number,
  id: number,
  payload: number[],
): Uint8Array {
  const n = payload.length;
  return new Uint8Array([
    n >> 16,
    (n >> 8) & 255,
    n & 255,
    type,
    flags,
    id >>> 24,
    (id >> 16) & 255,
    (id >> 8) & 255,
    id & 255,
    ...payload,
  ]);
}

/** The header of a frame the client sent. */
export interface RawFrameHead {
  type: number;
  flags: number;
  /** Stream identifier. */
  id: number;
}

/**
 * The frames a client sends on `conn`, after its 24-byte preface, until the
 * connection ends (a read error ends it too). Payloads are skipped.
 */
export async function* clientFrames(
  conn: Deno.Conn,
): AsyncGenerator<RawFrameHead> {
  const chunk = new Uint8Array(65536);
  let buf = new Uint8Array(0);
  let preface = false;
  for (;;) {
    const n = await conn.read(chunk).catch(() => null);
    if (n === null) return;
    const next = new Uint8Array(buf.length + n);
    next.set(buf);
    next.set(chunk.subarray(0, n), buf.length);
    buf = next;
    if (!preface) {
      if (buf.length < 24) continue;
      buf = buf.subarray(24);
      preface = true;
    }
    while (buf.length >= 9) {
      const len = (buf[0] << 16) | (buf[1] << 8) | buf[2];
      if (buf.length < 9 + len) break;
      const id =
        (((buf[5] & 0x7f) << 24) | (buf[6] << 16) | (buf[7] << 8) | buf[8]) >>>
        0;
      yield { type: buf[3], flags: buf[4], id };
      buf = buf.subarray(9 + len);
    }
  }
}
