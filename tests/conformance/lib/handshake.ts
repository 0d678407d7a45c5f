/**
 * Server side of the opening handshake (RFC 6455 §4.2), written for the
 * conformance server: reads one HTTP request from a raw TCP connection and
 * answers it with a 101.
 *
 * @module
 */

const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const MAX_REQUEST = 16 * 1024;

/** The parsed upgrade request. */
export interface UpgradeRequest {
  method: string;
  /** Path and query as sent, e.g. `/runCase?case=3`. */
  target: string;
  headers: Headers;
  /** Bytes that followed the request head in the same reads (early frames). */
  rest: Uint8Array;
}

/** Computes Sec-WebSocket-Accept for a Sec-WebSocket-Key. */
export async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(key + WS_GUID),
  );
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/** Reads the request head; throws on EOF or an oversized head. */
export async function readRequest(conn: Deno.Conn): Promise<UpgradeRequest> {
  const buf = new Uint8Array(MAX_REQUEST);
  let len = 0;
  for (;;) {
    const n = await conn.read(buf.subarray(len));
    if (n === null) throw new Error("connection closed during the handshake");
    len += n;
    const end = findHeadEnd(buf, len);
    if (end >= 0) {
      const head = new TextDecoder().decode(buf.subarray(0, end));
      const lines = head.split("\r\n");
      const [method, target] = lines[0].split(" ");
      const headers = new Headers();
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(":");
        if (colon > 0) {
          headers.append(
            line.slice(0, colon).trim(),
            line.slice(colon + 1).trim(),
          );
        }
      }
      return { method, target, headers, rest: buf.slice(end + 4, len) };
    }
    if (len === buf.length) throw new Error("request head too large");
  }
}

function findHeadEnd(buf: Uint8Array, len: number): number {
  for (let i = 0; i + 3 < len; i++) {
    if (
      buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 &&
      buf[i + 3] === 10
    ) return i;
  }
  return -1;
}

/** Problems with the client's upgrade request, empty if it is valid. */
export function checkUpgradeRequest(req: UpgradeRequest): string[] {
  const problems: string[] = [];
  const h = req.headers;
  if (req.method !== "GET") problems.push(`method is ${req.method}, not GET`);
  if (!/\bwebsocket\b/i.test(h.get("upgrade") ?? "")) {
    problems.push("no Upgrade: websocket");
  }
  if (!/\bupgrade\b/i.test(h.get("connection") ?? "")) {
    problems.push("no Connection: Upgrade");
  }
  if (h.get("sec-websocket-version") !== "13") {
    problems.push("Sec-WebSocket-Version is not 13");
  }
  const key = h.get("sec-websocket-key") ?? "";
  let keyOk = false;
  try {
    keyOk = atob(key).length === 16;
  } catch {
    keyOk = false;
  }
  if (!keyOk) {
    problems.push(
      `Sec-WebSocket-Key ${JSON.stringify(key)} is not 16 bytes in base64`,
    );
  }
  if (!h.get("host")) problems.push("no Host header");
  return problems;
}

/** Writes the 101 response (with optional extra headers such as an accepted extension). */
export async function writeSwitchingProtocols(
  conn: Deno.Conn,
  key: string,
  extra: Record<string, string> = {},
): Promise<void> {
  let head =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Accept: ${await acceptKey(key)}\r\n`;
  for (const [k, v] of Object.entries(extra)) head += `${k}: ${v}\r\n`;
  await writeAll(conn, new TextEncoder().encode(head + "\r\n"));
}

/** Writes a plain HTTP error response. */
export async function writeHttpError(
  conn: Deno.Conn,
  status: number,
  text: string,
): Promise<void> {
  const body = new TextEncoder().encode(text);
  await writeAll(
    conn,
    new TextEncoder().encode(
      `HTTP/1.1 ${status} Error\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
    ),
  );
  await writeAll(conn, body);
}

/** Writes all of `bytes` (Deno.Conn.write may write less than asked). */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  let o = 0;
  while (o < bytes.length) o += await conn.write(bytes.subarray(o));
}
