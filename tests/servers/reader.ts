/**
 * Buffered reading from a `Deno.Conn` with per-call timeouts, for test servers.
 *
 * A timed-out read is not lost: the socket read stays pending and its bytes go
 * to the next call. Read errors (reset, closed resource) count as end of input.
 * @module
 */

/** Thrown when a read does not complete within its timeout. */
export class ReadTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`timed out after ${ms} ms waiting for ${what}`);
    this.name = "ReadTimeoutError";
  }
}

/** A buffered reader over one connection. */
export class ConnReader {
  #conn: Deno.Conn;
  #buf: Uint8Array = new Uint8Array(0);
  #pending: Promise<Uint8Array | null> | null = null;
  #eof = false;
  /** The error that ended input early (e.g. connection reset), if any. */
  readError?: unknown;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Bytes received but not yet consumed. */
  get buffered(): Uint8Array {
    return this.#buf;
  }

  /** True once the peer's end of input has been seen (buffered bytes may remain). */
  get eof(): boolean {
    return this.#eof;
  }

  /** Starts (or reuses) one socket read; never rejects. */
  #readOnce(): Promise<Uint8Array | null> {
    this.#pending ??= (async () => {
      const chunk = new Uint8Array(64 * 1024);
      try {
        const n = await this.#conn.read(chunk);
        return n === null ? null : chunk.slice(0, n);
      } catch (err) {
        this.readError = err;
        return null;
      }
    })();
    return this.#pending;
  }

  /**
   * Reads more bytes into the buffer. Returns false at end of input.
   * Throws ReadTimeoutError when `deadline` (ms since epoch) passes first.
   */
  async fill(
    deadline: number,
    what: string,
    timeoutMs: number,
  ): Promise<boolean> {
    if (this.#eof) return false;
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new ReadTimeoutError(what, timeoutMs);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), remaining);
    });
    try {
      const got = await Promise.race([this.#readOnce(), timeout]);
      if (got === "timeout") throw new ReadTimeoutError(what, timeoutMs);
      this.#pending = null;
      if (got === null) {
        this.#eof = true;
        return false;
      }
      this.#append(got);
      return true;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Appends to the buffer, growing its storage geometrically: a big frame
   * read 64 KiB at a time must not be copied over and over.
   */
  #append(bytes: Uint8Array): void {
    const buf = this.#buf;
    const size = buf.length + bytes.length;
    const end = buf.byteOffset + buf.length;
    if (end + bytes.length <= buf.buffer.byteLength) {
      new Uint8Array(buf.buffer, end, bytes.length).set(bytes);
      this.#buf = new Uint8Array(buf.buffer, buf.byteOffset, size);
      return;
    }
    const grown = new Uint8Array(Math.max(size, 2 * buf.length, 64 * 1024));
    grown.set(buf);
    grown.set(bytes, buf.length);
    this.#buf = grown.subarray(0, size);
  }

  /** Removes and returns the first `n` buffered bytes. */
  consume(n: number): Uint8Array {
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  /** Reads exactly `n` bytes; null if input ends first (the partial bytes stay buffered). */
  async readExactly(
    n: number,
    timeoutMs: number,
    what = `${n} bytes`,
  ): Promise<Uint8Array | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.#buf.length < n) {
      if (!await this.fill(deadline, what, timeoutMs)) return null;
    }
    return this.consume(n);
  }

  /**
   * Reads up to and including the first CRLFCRLF and returns that head;
   * null if input ends first. Throws past `maxBytes` without one.
   */
  async readHead(
    timeoutMs: number,
    maxBytes = 64 * 1024,
  ): Promise<Uint8Array | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = indexOfHeadEnd(this.#buf);
      if (end >= 0) return this.consume(end + 4);
      if (this.#buf.length > maxBytes) {
        throw new Error(`no end of HTTP head in ${maxBytes} bytes`);
      }
      if (!await this.fill(deadline, "an HTTP head", timeoutMs)) return null;
    }
  }

  /** Reads everything until end of input (throws ReadTimeoutError if it does not come). */
  async readUntilEof(timeoutMs: number): Promise<Uint8Array> {
    const deadline = Date.now() + timeoutMs;
    while (await this.fill(deadline, "end of input", timeoutMs));
    return this.consume(this.#buf.length);
  }
}

function indexOfHeadEnd(buf: Uint8Array): number {
  for (let i = 0; i + 3 < buf.length; i++) {
    if (
      buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 &&
      buf[i + 3] === 10
    ) return i;
  }
  return -1;
}

/** Parsed HTTP/1.1 request head. */
export interface RequestHead {
  method: string;
  /** Request target as sent (path, or `host:port` for CONNECT). */
  path: string;
  /** e.g. "HTTP/1.1". */
  version: string;
  /** Header fields (invalid ones are skipped here but kept in `headerList` and `raw`). */
  headers: Headers;
  /** Header fields in wire order with their original case. */
  headerList: [string, string][];
  /** The whole head as latin1 text, including the final CRLFCRLF. */
  raw: string;
}

/** Parses a request head (bytes through CRLFCRLF); throws on a malformed request line. */
export function parseRequestHead(head: Uint8Array): RequestHead {
  const raw = latin1(head);
  const lines = raw.split("\r\n");
  const requestLine = lines[0].split(" ");
  if (requestLine.length !== 3) {
    throw new Error(`bad request line: ${JSON.stringify(lines[0])}`);
  }
  const [method, path, version] = requestLine;
  const headers = new Headers();
  const headerList: [string, string][] = [];
  for (const line of lines.slice(1)) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    headerList.push([name, value]);
    try {
      headers.append(name, value);
    } catch {
      // Invalid field for the Headers class: still visible in headerList/raw.
    }
  }
  return { method, path, version, headers, headerList, raw };
}

/** Decodes bytes one-to-one as ISO-8859-1 (TextDecoder's "latin1" is windows-1252). */
export function latin1(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return out;
}
