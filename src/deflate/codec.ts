/**
 * permessage-deflate as an extension of the protocol (RFC 7692 §7.2): one
 * connection's compressor and decompressor, plugged into `Protocol` through
 * the `Extension` hooks of `extension.ts` (it has their shape; the type stays
 * internal).
 *
 * @module
 */

import { WebSocketError } from "../errors.ts";
import {
  acceptAnswer,
  type CompressionOptions,
  DEFAULT_THRESHOLD,
  type DeflateParams,
  EXTENSION_NAME,
} from "./params.ts";
import { Deflater } from "./deflater.ts";
import { Inflater, MAX_STEP } from "./inflater.ts";
import { loadZlib, zlibLoaded } from "./zlib.ts";
import { DEFAULT_MAX_MESSAGE_SIZE } from "../limits.ts";

/** Options of {@linkcode PerMessageDeflate}. */
export interface PerMessageDeflateOptions {
  /** Messages shorter than this many bytes go uncompressed. Default 1024. */
  threshold?: number;
  /**
   * Most bytes one message may inflate to; checked while inflating.
   * Default 64 MiB; `Infinity` disables the check.
   */
  maxMessageSize?: number;
}

/**
 * One connection's permessage-deflate state: an inflater for received
 * messages and a deflater for sent ones, each created on first use and kept
 * across messages unless the parameters forbid context takeover.
 *
 * All methods are synchronous. After inflating throws, the receive side is
 * unusable: fail the connection with the error's `closeCode`.
 *
 * @example Round trip
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadCompression, PerMessageDeflate } from "./codec.ts";
 * import type { DeflateParams } from "./params.ts";
 *
 * assert.ok(await loadCompression(), "this runtime's zlib works synchronously");
 * const params: DeflateParams = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
 * const client = new PerMessageDeflate(params, "client", { threshold: 0 });
 * const server = new PerMessageDeflate(params, "server");
 * const payload = client.deflate(new TextEncoder().encode("Hello"))!; // send with RSV1
 * const chunks = server.inflate(payload, true);
 * assert.equal(chunks.map((c) => new TextDecoder().decode(c)).join(""), "Hello");
 * client.close();
 * server.close();
 * ```
 */
export class PerMessageDeflate {
  /** `permessage-deflate`. */
  readonly name: string = EXTENSION_NAME;
  /** RSV1 marks a compressed message (RFC 7692 §6). */
  readonly rsv: number = 4;
  /** Messages shorter than this are sent uncompressed. */
  readonly threshold: number;
  /** Inflated-size limit per message. */
  readonly maxMessageSize: number;

  readonly #sendWindowBits: number;
  readonly #deflater: Deflater;
  readonly #inflater: Inflater;
  #closed = false;

  /**
   * Creates the state for one connection; zlib contexts are made on first use.
   *
   * @param params the agreed parameters, from `acceptAnswer` or
   *   `negotiateOffer`
   * @param role `"client"` compresses with the client_* parameters and
   *   inflates with the server_* ones; `"server"` the other way round
   */
  constructor(
    params: DeflateParams,
    role: "client" | "server",
    options: PerMessageDeflateOptions = {},
  ) {
    this.threshold = options.threshold ?? DEFAULT_THRESHOLD;
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    const client = role === "client";
    this.#sendWindowBits = client
      ? params.clientMaxWindowBits
      : params.serverMaxWindowBits;
    this.#deflater = new Deflater(
      this.#sendWindowBits,
      client ? params.clientNoContextTakeover : params.serverNoContextTakeover,
    );
    this.#inflater = new Inflater({
      noContextTakeover: client
        ? params.serverNoContextTakeover
        : params.clientNoContextTakeover,
      windowBits: client
        ? params.serverMaxWindowBits
        : params.clientMaxWindowBits,
      maxMessageSize: this.maxMessageSize,
    });
  }

  /**
   * Whether this side can compress at all. zlib cannot produce an 8-bit
   * window (it silently uses 9), so with a negotiated window of 8 every
   * message is sent uncompressed, which RFC 7692 allows per message.
   */
  get canCompress(): boolean {
    return this.#sendWindowBits >= 9;
  }

  // --- receiving -----------------------------------------------------------

  /**
   * Inflates the next piece of a compressed message's payload (pieces of any
   * size, across fragments and partial frames). Pass `last = true` with the
   * final piece (may be empty); the `00 00 ff ff` tail is appended then.
   * Everything the piece inflates to comes back at once; the protocol uses
   * {@linkcode decode} and {@linkcode pull} instead, which take it in steps.
   *
   * @returns inflated bytes produced by this piece, possibly none; the arrays
   *   are owned by the caller
   * @throws {WebSocketError} `INVALID_PAYLOAD` (closeCode 1007) for corrupt
   *   data, `MESSAGE_TOO_BIG` (closeCode 1009) as soon as the message
   *   inflates past `maxMessageSize` (at most that plus one byte is produced)
   */
  inflate(piece: Uint8Array, last: boolean): Uint8Array[] {
    this.decode(piece, last);
    const out: Uint8Array[] = [];
    for (;;) {
      const chunk = this.#inflater.pull(MAX_STEP);
      if (chunk === null) break;
      if (chunk.length > 0) out.push(chunk.slice());
      if (this.#inflater.ended) break;
    }
    return out;
  }

  /** Extension hook: takes the next compressed piece of a message. */
  decode(data: Uint8Array, last: boolean): void {
    this.#checkOpen();
    this.#inflater.push(data, last);
  }

  /**
   * Extension hook: the next inflated bytes, at most `max` and at most
   * 256 KiB per step whatever the compression ratio (a view valid until the
   * next call), or null when the message needs more input. Throws as
   * {@linkcode inflate} does.
   */
  pull(max: number): Uint8Array | null {
    this.#checkOpen();
    return this.#inflater.pull(max);
  }

  /** Extension hook: true from a message's last pulled piece until the next decode(). */
  get messageEnded(): boolean {
    return this.#inflater.ended;
  }

  // --- sending -------------------------------------------------------------

  /**
   * Extension hook: compresses one frame's payload. A message's first frame
   * is compressed when it is at least `threshold` bytes (and
   * {@linkcode canCompress}), else null says "send it as it is"; the rest of
   * a compressed message always is.
   */
  encode(payload: Uint8Array, first: boolean, fin: boolean): Uint8Array | null {
    if (first && (!this.canCompress || payload.length < this.threshold)) {
      return null;
    }
    return this.deflateChunk(payload, fin);
  }

  /**
   * Compresses a whole message.
   *
   * Call it in sending order, and send every payload it returns: with
   * context takeover the peer's window must see exactly the compressed
   * messages we fed to our compressor.
   *
   * @returns the payload to send with RSV1 set on its first frame, or `null`
   *   when the message should go uncompressed (shorter than `threshold`, or
   *   see {@linkcode canCompress})
   */
  deflate(message: Uint8Array): Uint8Array | null {
    this.#checkOpen();
    if (!this.canCompress || message.length < this.threshold) return null;
    if (this.#deflater.inMessage) {
      throw misuse(
        "deflate() called while a deflateChunk() message is unfinished",
      );
    }
    return this.deflateChunk(message, true);
  }

  /**
   * Streaming send: compresses the next piece of a message that is sent
   * compressed (call only when {@linkcode canCompress}; RSV1 goes on the
   * message's first frame). The final piece (`last = true`) is flushed and
   * loses the `00 00 ff ff` tail.
   *
   * @param flush for a non-final piece: `true` (default) sync-flushes, so
   *   the returned bytes let the peer inflate everything up to here (use it
   *   when each piece becomes a frame now); `false` lets zlib buffer for
   *   better compression and may return no bytes
   */
  deflateChunk(chunk: Uint8Array, last: boolean, flush = true): Uint8Array {
    this.#checkOpen();
    if (!this.canCompress) {
      throw misuse("cannot compress with an 8-bit window; send uncompressed");
    }
    return this.#deflater.write(chunk, last, flush);
  }

  // --- lifetime ------------------------------------------------------------

  /** Frees both zlib contexts. Further calls throw. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#deflater.close();
    this.#inflater.close();
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new WebSocketError(
        "CLOSED",
        "permessage-deflate context is closed",
      );
    }
  }
}

function misuse(message: string): WebSocketError {
  return new WebSocketError("INVALID_ARGUMENT", message);
}

let supported: boolean | undefined;

/**
 * Loads `node:zlib` and checks that compression works in this runtime.
 * `connect()` and `acceptWebSocket()` call it when the `compression` option
 * is on; call it yourself before using {@linkcode PerMessageDeflate}
 * directly. Resolves to {@linkcode compressionSupported}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadCompression } from "./codec.ts";
 * assert.equal(await loadCompression(), true); // Deno 2's node:zlib works synchronously
 * ```
 */
export async function loadCompression(): Promise<boolean> {
  if (!await loadZlib()) return false;
  return compressionSupported();
}

/**
 * Whether this runtime lets {@linkcode PerMessageDeflate} run zlib
 * synchronously (checked once with a round trip). When `false`, do not offer
 * or accept the extension.
 */
export function compressionSupported(): boolean {
  if (supported !== undefined) return supported;
  if (!zlibLoaded()) return false;
  const params: DeflateParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  };
  let sender: PerMessageDeflate | null = null;
  let receiver: PerMessageDeflate | null = null;
  try {
    sender = new PerMessageDeflate(params, "server", { threshold: 0 });
    receiver = new PerMessageDeflate(params, "client");
    const text = new TextEncoder().encode("probe probe probe");
    let ok = true;
    for (let round = 0; round < 2 && ok; round++) {
      const out = receiver.inflate(sender.deflate(text)!, true);
      ok = out.length === 1 && out[0].length === text.length &&
        out[0].every((b, i) => b === text[i]);
    }
    supported = ok;
  } catch {
    supported = false;
  } finally {
    sender?.close();
    receiver?.close();
  }
  return supported;
}

/**
 * A client's deflate state from the server's `Sec-WebSocket-Extensions`
 * answer (`""`: none), for what we offered (`compression`, undefined when
 * nothing was offered). Throws `BAD_HANDSHAKE` for an answer that does not
 * fit the offer.
 */
export function clientDeflate(
  answer: string,
  compression: boolean | CompressionOptions | undefined,
  maxMessageSize: number | undefined,
): PerMessageDeflate | null {
  const params = compression ? acceptAnswer(answer || null, compression) : null;
  return agreedDeflate(params, "client", compression, maxMessageSize);
}

/**
 * The connection's deflate state for parameters agreed in a handshake (or
 * null when none were), with the caller's `compression` and
 * `maxMessageSize` options.
 */
export function agreedDeflate(
  params: DeflateParams | null | undefined,
  role: "client" | "server",
  compression: boolean | CompressionOptions | undefined,
  maxMessageSize: number | undefined,
): PerMessageDeflate | null {
  if (!params) return null;
  return new PerMessageDeflate(params, role, {
    threshold: typeof compression === "object"
      ? compression.threshold
      : undefined,
    maxMessageSize,
  });
}
