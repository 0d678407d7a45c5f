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
