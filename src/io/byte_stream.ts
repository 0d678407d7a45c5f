/**
 * The byte stream a connection runs over, after the opening handshake.
 *
 * @module
 */

/**
 * What a connection needs of its transport: a `Deno.Conn` (TCP, TLS, a Unix
 * socket, a proxy tunnel) is one, and so can be one stream of an HTTP/2
 * connection. Only the connection's byte source reads it and only its
 * write queue writes it.
 */
export interface ByteStream {
  /** Reads into `buffer`; the number of bytes, or null at the end of the stream. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes some of `data`; the number of bytes taken. */
  write(data: Uint8Array): Promise<number>;
  /** Closes both directions; may throw when already closed. */
  close(): void;
  /** Turns Nagle's algorithm off, where the stream is TCP. */
  setNoDelay?(noDelay?: boolean): void;
}
