/**
 * TLS through `node:tls` over any byte stream, for what `Deno.startTls`
 * cannot do: it takes only a plain TCP connection (TLS inside an HTTPS
 * proxy's TLS fails with "Bad resource ID") and has no client certificate
 * option. `node:tls` runs over a `Duplex` built on our stream, and the TLS
 * socket it returns is wrapped back into the `Deno.Conn` shape the
 * connection reads and writes.
 *
 * @module
 */

import { Duplex } from "node:stream";
import tls from "node:tls";
import { ChunkQueue } from "./chunk_queue.ts";
import { closeQuietly, writeAll } from "./stream.ts";

/** Received plaintext kept before the TLS socket is paused. */
const HIGH_WATER = 256 * 1024;
/** Size of each read from the underlying stream. */
const READ_SIZE = 16 * 1024;

/** What a TLS session over a stream needs. */
export interface NodeTlsOptions {
  /** Name for SNI and the certificate check (an IP literal: no SNI). */
  hostname: string;
  /** Extra CA certificates (PEM), trusted in addition to the default roots. */
  caCerts?: string[];
  /** Client certificate chain (PEM). */
  cert?: string;
  /** Private key of `cert` (PEM). */
  key?: string;
  /** ALPN protocols to offer, most wanted first. */
  alpnProtocols?: string[];
}

/** A Node `Duplex` whose bytes are `conn`'s; destroying it closes `conn`. */
function duplexOver(conn: Deno.Conn): Duplex {
  return new Duplex({
    read() {
      const buf = new Uint8Array(READ_SIZE);
      conn.read(buf).then(
        (n) => this.push(n === null ? null : buf.subarray(0, n)),
        (e) => this.destroy(e),
      );
    },
    write(chunk: Uint8Array, _encoding, done) {
      writeAll(conn, chunk).then(() => done(), done);
    },
    final(done) {
      conn.closeWrite().then(() => done(), () => done());
    },
    destroy(err, done) {
      closeQuietly(conn);
      done(err);
    },
  });
}

/**
 * Runs a TLS client handshake over `conn` with `node:tls`; resolves with the
 * encrypted connection once the server's certificate checked out. Rejects
 * (and closes `conn`) when the handshake fails or `signal` aborts.
 */
export function nodeTls(
  conn: Deno.Conn,
  options: NodeTlsOptions,
  signal?: AbortSignal,
): Promise<NodeTlsConn> {
  const ip = /^[\d.]+$|:/.test(options.hostname);
  // `ca` would replace the default roots; addCACert adds to them, which is
  // what Deno's `caCerts` does (and needs no --allow-sys=ca to list them).
  const secureContext = tls.createSecureContext({
    cert: options.cert,
    key: options.key,
  });
  for (const pem of options.caCerts ?? []) {
    secureContext.context.addCACert(pem);
  }
  const socket = tls.connect({
    socket: duplexOver(conn),
    host: options.hostname,
    // RFC 6066 §3: no IP literals in SNI.
    servername: ip ? undefined : options.hostname,
    secureContext,
    rejectUnauthorized: true,
    ALPNProtocols: options.alpnProtocols,
  });
  const tlsConn = new NodeTlsConn(socket, conn);
  return new Promise<NodeTlsConn>((resolve, reject) => {
    const fail = (err: unknown) => {
      signal?.removeEventListener("abort", onAbort);
      tlsConn.close();
      reject(err);
    };
    const onAbort = () => fail(signal!.reason);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("error", fail);
    socket.once("secureConnect", () => {
      socket.off("error", fail);
      signal?.removeEventListener("abort", onAbort);
      resolve(tlsConn);
    });
  });
}

/**
 * A `tls.TLSSocket` with `Deno.Conn`'s `read`/`write`/`close`: received
 * bytes queue (the socket pauses past {@linkcode HIGH_WATER}), each read
 * takes from the queue, each write resolves when the socket took it.
 */
export class NodeTlsConn {
  readonly #socket: tls.TLSSocket;
  readonly #inner: Deno.Conn;
  /** Decrypted bytes not read yet; a record of one byte must not cost an object. */
  #received = new ChunkQueue();
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;
  #closed = false;

  constructor(socket: tls.TLSSocket, inner: Deno.Conn) {
    this.#socket = socket;
    this.#inner = inner;
    socket.on("data", (chunk: Uint8Array) => {
      this.#received.push(chunk);
      if (this.#received.bytes > HIGH_WATER) socket.pause();
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (err: Error) => {
      this.#error ??= err;
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
  }

  /** The protocol ALPN chose, or null. */
  get alpnProtocol(): string | null {
    return this.#socket.alpnProtocol || null;
  }

  get localAddr(): Deno.Addr {
    return this.#inner.localAddr;
  }

  get remoteAddr(): Deno.Addr {
    return this.#inner.remoteAddr;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.#received.bytes === 0) {
      if (this.#closed) throw new Deno.errors.BadResource("connection closed");
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((r) => this.#wake = r);
    }
    const n = this.#received.take(p);
    if (this.#received.bytes <= HIGH_WATER / 2) this.#socket.resume();
    return n;
  }

  write(p: Uint8Array): Promise<number> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#closed) {
      return Promise.reject(new Deno.errors.BadResource("connection closed"));
    }
    return new Promise((resolve, reject) => {
      this.#socket.write(p, (err) => err ? reject(err) : resolve(p.length));
    });
  }

  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.#socket.end(resolve));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
    closeQuietly(this.#inner);
    this.#notify();
  }

  ref(): void {
    this.#inner.ref();
  }

  unref(): void {
    this.#inner.unref();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
