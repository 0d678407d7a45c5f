// Test and bench peers' WebSocket frame header reader and writer (RFC 6455
// §5.2), independent of src/: the Node echo peers share them.

/**
 * Reads the frame header at `pos` of the Buffer `buf`: { b0, b1, len, at }
 * with `at` the offset after the length (where a mask key starts), or null
 * when the header is not complete yet.
 */
export function frameHead(buf, pos) {
  if (buf.length - pos < 2) return null;
  const b0 = buf[pos], b1 = buf[pos + 1];
  let len = b1 & 0x7f, at = pos + 2;
  if (len === 126) {
    if (buf.length - at < 2) return null;
    len = buf.readUInt16BE(at);
    at += 2;
  } else if (len === 127) {
    if (buf.length - at < 8) return null;
    len = Number(buf.readBigUInt64BE(at));
    at += 8;
  }
  return { b0, b1, len, at };
}

/** The length of an unmasked header for a payload of `len` bytes. */
export function headLength(len) {
  return len < 126 ? 2 : len < 65536 ? 4 : 10;
}

/** Writes an unmasked header (first byte `b0`, length `len`) at the start of `out`. */
export function writeHead(out, b0, len) {
  out[0] = b0;
  if (len < 126) out[1] = len;
  else if (len < 65536) {
    out[1] = 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 127;
    out.writeBigUInt64BE(BigInt(len), 2);
  }
}
