/**
 * permessage-deflate (RFC 7692): handshake negotiation for both roles and a
 * synchronous, incremental compressor/decompressor for message payloads.
 *
 * The compressor keeps one zlib context per direction for the life of the
 * connection (context takeover) and works synchronously, so the sans-I/O
 * protocol layer can call it inline. It drives the native handle behind a
 * `node:zlib` stream directly: the public `*Sync` helpers and
 * `_processChunk()` close their context after one call, and the stream API is
 * asynchronous.
 *
 * @module
 */

// node:zlib is loaded on first use (see loadCompression): connections
// without compression, and the CLI's start-up, never pay for it.
type Zlib = typeof import("node:zlib");
let zlib: Zlib | null = null;
/** zlib flush modes (fixed by zlib.h). */
const Z_NO_FLUSH = 0;
const Z_SYNC_FLUSH = 2;
import { WebSocketError } from "./errors.ts";
import { concat } from "./bytes.ts";

/** The parameters both sides agreed on, named as in RFC 7692 §7.1. */
export interface DeflateParams {
  /** The server resets its compressor after every message. */
  serverNoContextTakeover: boolean;
  /** The client resets its compressor after every message. */
  clientNoContextTakeover: boolean;
  /** Base-2 log of the LZ77 window the server compresses with (8..15). */
  serverMaxWindowBits: number;
  /** Base-2 log of the LZ77 window the client compresses with (8..15). */
  clientMaxWindowBits: number;
}

/**
 * The `compression` connection option.
 *
 * As a client the fields describe the offer; as a server they describe what
 * the server asks of the client and imposes on itself.
 */
export interface CompressionOptions {
  /**
   * Client: offer `client_no_context_takeover` (we reset our compressor per
   * message). Server: ask the client to reset its compressor per message.
   */
  clientNoContextTakeover?: boolean;
  /**
   * Client: offer `server_no_context_takeover` (the server must reset per
   * message). Server: reset our compressor per message and say so.
   */
  serverNoContextTakeover?: boolean;
  /**
   * Client: `true` (default) offers `client_max_window_bits` without a value,
   * a number 8..15 offers it with that value (and we compress with at most
   * that window), `false` leaves it out of the offer.
   * Server: a number asks the client for at most that window when the offer
   * allows it; `true`/`false` have no effect.
   */
  clientMaxWindowBits?: number | boolean;
  /**
   * Client: offer `server_max_window_bits` with this value (8..15).
   * Server: compress with at most this window and say so.
   */
  serverMaxWindowBits?: number;
  /** Messages shorter than this many bytes are sent uncompressed. Default 1024. */
  threshold?: number;
}

/** {@linkcode CompressionOptions} after validation, with defaults filled in. */
export interface ResolvedCompressionOptions {
  /** See {@linkcode CompressionOptions.clientNoContextTakeover}. */
  clientNoContextTakeover: boolean;
  /** See {@linkcode CompressionOptions.serverNoContextTakeover}. */
  serverNoContextTakeover: boolean;
  /** See {@linkcode CompressionOptions.clientMaxWindowBits}. */
  clientMaxWindowBits: number | boolean;
  /** See {@linkcode CompressionOptions.serverMaxWindowBits}; `null` when unset. */
  serverMaxWindowBits: number | null;
  /** See {@linkcode CompressionOptions.threshold}. */
  threshold: number;
}

/** Default {@linkcode CompressionOptions.threshold}: 1 KiB. */
export const DEFAULT_THRESHOLD = 1024;
/** Default limit of inflated bytes per message, as for `maxMessageSize`. */
export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;

const EXTENSION_NAME = "permessage-deflate";
/** The empty stored block a sync flush ends with (RFC 7692 §7.2.1). */
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);
/** We always inflate with the largest window: it decodes any smaller one. */
const INFLATE_WINDOW_BITS = 15;
const INFLATE_WINDOW = 1 << INFLATE_WINDOW_BITS;
/** Scratch size for deflate output. */
const OUTPUT_CHUNK = 64 * 1024;
/**
 * Inflate output chunks start small and double with the message, so small
 * messages keep little memory and big ones need few allocations.
 */
const MIN_INFLATE_CHUNK = 16 * 1024;
const MAX_INFLATE_CHUNK = 1024 * 1024;

// ---------------------------------------------------------------------------
// Options

/**
 * Validates the `compression` option. Returns `null` when compression is off.
 * Throws {@linkcode WebSocketError} `INVALID_ARGUMENT` on bad values, so the
 * caller can check it before connecting.
 */
export function resolveCompressionOptions(
  option: CompressionOptions | boolean | undefined | null,
): ResolvedCompressionOptions | null {
  if (option === undefined || option === null || option === false) return null;
  const o: CompressionOptions = option === true ? {} : option;
  if (typeof o !== "object") {
    throw badOption("compression must be a boolean or an object");
  }
  const cmwb = o.clientMaxWindowBits ?? true;
  if (typeof cmwb !== "boolean") {
    checkWindowBitsOption("clientMaxWindowBits", cmwb);
  }
  const smwb = o.serverMaxWindowBits ?? null;
  if (smwb !== null) checkWindowBitsOption("serverMaxWindowBits", smwb);
  const threshold = o.threshold ?? DEFAULT_THRESHOLD;
  if (!Number.isSafeInteger(threshold) || threshold < 0) {
    throw badOption("compression.threshold must be a non-negative integer");
  }
  return {
    clientNoContextTakeover: o.clientNoContextTakeover === true,
    serverNoContextTakeover: o.serverNoContextTakeover === true,
    clientMaxWindowBits: cmwb,
    serverMaxWindowBits: smwb,
    threshold,
  };
}

function checkWindowBitsOption(name: string, value: unknown): void {
  if (
    !Number.isInteger(value) || (value as number) < 8 || (value as number) > 15
  ) {
    throw badOption(`compression.${name} must be an integer from 8 to 15`);
  }
}

function badOption(message: string): WebSocketError {
  return new WebSocketError("INVALID_ARGUMENT", message);
}

// ---------------------------------------------------------------------------
// Sec-WebSocket-Extensions syntax (RFC 6455 §9.1)

/** One element of a `Sec-WebSocket-Extensions` list. */
export interface ExtensionElement {
  /** Extension token, lower-cased. */
  name: string;
  /** Parameters in order; names lower-cased, `null` for a parameter without value. */
  params: [name: string, value: string | null][];
}

const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Parses a `Sec-WebSocket-Extensions` value (several header lines joined with
 * ", " are fine). Quoted parameter values are unquoted; they must still be
 * tokens. Returns `null` when the value is malformed.
 */
export function parseExtensions(value: string): ExtensionElement[] | null {
  const s = value;
  let i = 0;
  const skipSpace = () => {
    while (i < s.length && (s[i] === " " || s[i] === "\t")) i++;
  };
  const token = (): string | null => {
    const start = i;
    while (i < s.length && TCHAR.test(s[i])) i++;
    return i > start ? s.slice(start, i) : null;
  };
  const quoted = (): string | null => {
    i++; // opening quote
    let out = "";
    while (i < s.length) {
      const c = s[i++];
      if (c === '"') return out;
      if (c === "\\") {
        if (i >= s.length) return null;
        out += s[i++];
      } else {
        out += c;
      }
    }
    return null; // unterminated
  };

  const result: ExtensionElement[] = [];
  for (;;) {
    skipSpace();
    if (i >= s.length) break;
    if (s[i] === ",") { // empty list element, allowed by the #rule
      i++;
      continue;
    }
    const name = token();
    if (name === null) return null;
    const params: [string, string | null][] = [];
    skipSpace();
    while (s[i] === ";") {
      i++;
      skipSpace();
      const paramName = token();
      if (paramName === null) return null;
      skipSpace();
      let paramValue: string | null = null;
      if (s[i] === "=") {
        i++;
        skipSpace();
        paramValue = s[i] === '"' ? quoted() : token();
        if (paramValue === null || !TOKEN.test(paramValue)) return null;
        skipSpace();
      }
      params.push([paramName.toLowerCase(), paramValue]);
    }
    if (i < s.length && s[i] !== ",") return null;
    result.push({ name: name.toLowerCase(), params });
  }
  return result;
}

// ---------------------------------------------------------------------------
// Negotiation

const WINDOW_BITS_VALUE = /^(?:[89]|1[0-5])$/; // 8..15, no leading zero

interface RawDeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  /** `undefined`: absent; `null`: present without value. */
  serverMaxWindowBits?: number | null;
  clientMaxWindowBits?: number | null;
}

/**
 * Reads the parameters of one permessage-deflate element. Returns a reason
 * string when a parameter is unknown, repeated or has a bad value.
 */
function readParams(element: ExtensionElement): RawDeflateParams | string {
  const seen = new Set<string>();
  const p: RawDeflateParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
  };
  for (const [name, value] of element.params) {
    if (seen.has(name)) return `parameter ${name} is repeated`;
    seen.add(name);
    switch (name) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (value !== null) return `parameter ${name} must not have a value`;
        if (name === "server_no_context_takeover") {
          p.serverNoContextTakeover = true;
        } else p.clientNoContextTakeover = true;
        break;
      case "server_max_window_bits":
      case "client_max_window_bits": {
        let bits: number | null = null;
        if (value !== null) {
          if (!WINDOW_BITS_VALUE.test(value)) {
            return `parameter ${name} has invalid value "${value}"`;
          }
          bits = Number(value);
        }
        if (name === "server_max_window_bits") p.serverMaxWindowBits = bits;
        else p.clientMaxWindowBits = bits;
        break;
      }
      default:
        return `unknown parameter ${name}`;
    }
  }
  return p;
}

/**
 * Client: the `Sec-WebSocket-Extensions` value offering permessage-deflate,
 * e.g. `permessage-deflate; client_max_window_bits` for `compression: true`.
 */
export function offerHeader(options: CompressionOptions | true): string {
  const o = resolveCompressionOptions(options)!;
  let header = EXTENSION_NAME;
  if (o.clientNoContextTakeover) header += "; client_no_context_takeover";
  if (o.serverNoContextTakeover) header += "; server_no_context_takeover";
  if (o.serverMaxWindowBits !== null) {
    header += `; server_max_window_bits=${o.serverMaxWindowBits}`;
  }
  if (o.clientMaxWindowBits === true) header += "; client_max_window_bits";
  else if (typeof o.clientMaxWindowBits === "number") {
    header += `; client_max_window_bits=${o.clientMaxWindowBits}`;
  }
  return header;
}

/**
 * Client: validates the server's `Sec-WebSocket-Extensions` answer against
 * what we offered (RFC 7692 §7.1). Call it for every 101 response, with the
 * connection's `compression` option (off → any accepted extension fails).
 *
 * @param answer the response header value, or `null` when absent
 * @returns the agreed parameters, or `null` when compression was declined
 * @throws {WebSocketError} `BAD_HANDSHAKE` when the answer is malformed,
 *   accepts something we did not offer, or breaks a parameter rule
 */
export function acceptAnswer(
  answer: string | null,
  options: CompressionOptions | boolean | undefined | null,
): DeflateParams | null {
  const offer = resolveCompressionOptions(options);
  if (answer === null || answer.trim() === "") return null;
  const elements = parseExtensions(answer);
  if (elements === null) {
    throw badHandshake(`malformed Sec-WebSocket-Extensions: ${answer}`);
  }
  if (elements.length === 0) return null;
  for (const e of elements) {
    if (e.name !== EXTENSION_NAME || offer === null) {
      throw badHandshake(
        `server accepted extension ${e.name}, which was not offered`,
      );
    }
  }
  if (elements.length > 1) {
    throw badHandshake(`server accepted ${EXTENSION_NAME} more than once`);
  }
  const p = readParams(elements[0]);
  if (typeof p === "string") throw badHandshake(`${EXTENSION_NAME}: ${p}`);
  if (offer === null) return null; // unreachable: checked above; narrows the type

  // server_no_context_takeover: mandatory in the answer when we offered it
  // (§7.1.1.1); the server may also add it unasked.
  if (offer.serverNoContextTakeover && !p.serverNoContextTakeover) {
    throw badHandshake(
      `${EXTENSION_NAME}: server ignored the offered server_no_context_takeover`,
    );
  }
  // server_max_window_bits: needs a value; when offered the answer must
  // carry it with the same or a smaller value (§7.1.2.1).
  if (p.serverMaxWindowBits === null) {
    throw badHandshake(
      `${EXTENSION_NAME}: server_max_window_bits needs a value`,
    );
  }
  if (offer.serverMaxWindowBits !== null) {
    if (p.serverMaxWindowBits === undefined) {
      throw badHandshake(
        `${EXTENSION_NAME}: server ignored the offered server_max_window_bits`,
      );
    }
    if (p.serverMaxWindowBits > offer.serverMaxWindowBits) {
      throw badHandshake(
        `${EXTENSION_NAME}: server_max_window_bits=${p.serverMaxWindowBits} exceeds the offered ${offer.serverMaxWindowBits}`,
      );
    }
  }
  // client_max_window_bits: only when offered, always with a value, never
  // above a value we offered (§7.1.2.2).
  let clientBits = typeof offer.clientMaxWindowBits === "number"
    ? offer.clientMaxWindowBits
    : 15;
  if (p.clientMaxWindowBits !== undefined) {
    if (offer.clientMaxWindowBits === false) {
      throw badHandshake(
        `${EXTENSION_NAME}: server sent client_max_window_bits, which was not offered`,
      );
    }
    if (p.clientMaxWindowBits === null) {
      throw badHandshake(
        `${EXTENSION_NAME}: client_max_window_bits needs a value`,
      );
    }
    if (p.clientMaxWindowBits > clientBits) {
      throw badHandshake(
        `${EXTENSION_NAME}: client_max_window_bits=${p.clientMaxWindowBits} exceeds the offered ${clientBits}`,
      );
    }
    clientBits = p.clientMaxWindowBits;
  }
  return {
    serverNoContextTakeover: p.serverNoContextTakeover,
    // Offering client_no_context_takeover is a promise (§7.1.1.2); the
    // server may also demand it unasked.
    clientNoContextTakeover: p.clientNoContextTakeover ||
      offer.clientNoContextTakeover,
    serverMaxWindowBits: p.serverMaxWindowBits ?? 15,
    clientMaxWindowBits: clientBits,
  };
}

function badHandshake(message: string): WebSocketError {
  return new WebSocketError("BAD_HANDSHAKE", message);
}

/**
 * Server: picks the first acceptable permessage-deflate offer of a client's
 * `Sec-WebSocket-Extensions` and builds the answer. Offers with unknown,
 * repeated or invalid parameters are declined (RFC 7692 §7.1); other
 * extensions are ignored.
 *
 * @param offer the request header value, or `null` when absent
 * @param options the server's `compression` option (default: on)
 * @returns the response header value and the agreed parameters, or `null`
 *   when nothing acceptable was offered (answer without the extension)
 * @throws {WebSocketError} `INVALID_ARGUMENT` for invalid options only
 */
export function negotiateOffer(
  offer: string | null,
  options: CompressionOptions | boolean = true,
): { header: string; params: DeflateParams } | null {
  const o = resolveCompressionOptions(options);
  if (o === null || offer === null) return null;
  const elements = parseExtensions(offer);
  if (elements === null) return null;
  for (const element of elements) {
    if (element.name !== EXTENSION_NAME) continue;
    const p = readParams(element);
    if (typeof p === "string") continue;
    // In an offer server_max_window_bits needs a value; client_max_window_bits may lack one.
    if (p.serverMaxWindowBits === null) continue;

    const serverNoContextTakeover = p.serverNoContextTakeover ||
      o.serverNoContextTakeover;
    const clientNoContextTakeover = p.clientNoContextTakeover ||
      o.clientNoContextTakeover;
    let serverBits: number | null = null;
    if (p.serverMaxWindowBits !== undefined) serverBits = p.serverMaxWindowBits;
    if (o.serverMaxWindowBits !== null) {
      serverBits = Math.min(serverBits ?? 15, o.serverMaxWindowBits);
    }
    // We may only limit the client's window when it said it can be limited.
    let clientBits: number | null = null;
    if (
      p.clientMaxWindowBits !== undefined &&
      typeof o.clientMaxWindowBits === "number"
    ) {
      clientBits = Math.min(p.clientMaxWindowBits ?? 15, o.clientMaxWindowBits);
    }

    let header = EXTENSION_NAME;
    if (serverNoContextTakeover) header += "; server_no_context_takeover";
    if (clientNoContextTakeover) header += "; client_no_context_takeover";
    if (serverBits !== null) header += `; server_max_window_bits=${serverBits}`;
    if (clientBits !== null) header += `; client_max_window_bits=${clientBits}`;
    return {
      header,
      params: {
        serverNoContextTakeover,
        clientNoContextTakeover,
        serverMaxWindowBits: serverBits ?? 15,
        // The client's own hint binds it too (§7.1.2.2).
        clientMaxWindowBits: clientBits ?? p.clientMaxWindowBits ?? 15,
      },
    };
  }
  return null;
}

// ---------------------------------------------------------------------------
// zlib access

/** The native handle inside a `node:zlib` stream (Node and Deno share it). */
interface ZlibHandle {
  /**
   * Runs deflate()/inflate() once. Leaves [avail_out, avail_in] in the
   * stream's `_writeState` and reports errors through `onerror`.
   */
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): void;
  reset(): void;
  close(): void;
  onerror: (message: string, errno: number) => void;
}

/** A zlib context driven synchronously through its native handle. */
class ZlibContext {
  readonly handle: ZlibHandle;
  /** [avail_out, avail_in] after the last write. */
  readonly state: Uint32Array;
  /** Message of the last zlib error, cleared by {@linkcode write}. */
  error: string | null = null;

  constructor(kind: "deflate" | "inflate", windowBits: number) {
    const stream = kind === "deflate"
      ? loadedZlib().createDeflateRaw({ windowBits, memLevel: 8 })
      : loadedZlib().createInflateRaw({ windowBits });
    const internals = stream as unknown as {
      _handle?: ZlibHandle;
      _writeState?: Uint32Array;
    };
    const handle = internals._handle;
    const state = internals._writeState;
    if (
      !handle || typeof handle.writeSync !== "function" ||
      typeof handle.reset !== "function" || !(state instanceof Uint32Array)
    ) {
      throw new Error(
        "node:zlib does not expose a synchronous zlib handle here",
      );
    }
    this.handle = handle;
    this.state = state;
    handle.onerror = (message) => {
      this.error = message;
    };
  }

  /** Returns [produced, consumed]; check {@linkcode error} afterwards. */
  write(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): [number, number] {
    this.error = null;
    this.handle.writeSync(flush, input, inOff, inLen, out, outOff, outLen);
    return [outLen - this.state[0], inLen - this.state[1]];
  }
}

let supported: boolean | undefined;

function loadedZlib(): Zlib {
  if (zlib === null) {
    throw new WebSocketError(
      "INVALID_ARGUMENT",
      "compression is not loaded: await loadCompression() first",
    );
  }
  return zlib;
}

/**
 * Loads `node:zlib` and checks that compression works in this runtime.
 * `connect()` and `acceptWebSocket()` call it when the `compression` option
 * is on; call it yourself before using {@linkcode PerMessageDeflate}
 * directly. Resolves to {@linkcode compressionSupported}.
 *
 * @example
 * ```ts
 * import { loadCompression } from "./deflate.ts";
 * console.log(await loadCompression()); // true on Deno 2
 * ```
 */
export async function loadCompression(): Promise<boolean> {
  if (zlib === null) {
    try {
      zlib = await import("node:zlib");
    } catch {
      return false;
    }
  }
  return compressionSupported();
}

/**
 * Whether this runtime lets {@linkcode PerMessageDeflate} run zlib
 * synchronously (checked once with a round trip). When `false`, do not offer
 * or accept the extension.
 */
export function compressionSupported(): boolean {
  if (supported !== undefined) return supported;
  if (zlib === null) return false;
  try {
    const d = new PerMessageDeflate(
      {
        serverNoContextTakeover: false,
        clientNoContextTakeover: false,
        serverMaxWindowBits: 15,
        clientMaxWindowBits: 15,
      },
      "server",
      { threshold: 0 },
    );
    const peer = new PerMessageDeflate(
      {
        serverNoContextTakeover: false,
        clientNoContextTakeover: false,
        serverMaxWindowBits: 15,
        clientMaxWindowBits: 15,
      },
      "client",
    );
    const text = new TextEncoder().encode("probe probe probe");
    let ok = true;
    for (let round = 0; round < 2 && ok; round++) {
      const packed = d.deflate(text)!;
      const out = concat(peer.inflate(packed, true));
      ok = out.length === text.length && out.every((b, i) => b === text[i]);
    }
    d.close();
    peer.close();
    supported = ok;
  } catch {
    supported = false;
  }
  return supported;
}

// ---------------------------------------------------------------------------
// Compression

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
 * All methods are synchronous. After `inflate` throws, the receive side is
 * unusable: fail the connection with the error's `closeCode`.
 *
 * @example Round trip
 * ```ts
 * import { PerMessageDeflate, type DeflateParams } from "./deflate.ts";
 * const params: DeflateParams = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
 * const client = new PerMessageDeflate(params, "client", { threshold: 0 });
 * const server = new PerMessageDeflate(params, "server");
 * const payload = client.deflate(new TextEncoder().encode("Hello"))!; // send with RSV1
 * const chunks = server.inflate(payload, true);                       // → ["Hello" bytes]
 * client.close();
 * server.close();
 * ```
 */
export class PerMessageDeflate {
  /** The agreed parameters. */
  readonly params: DeflateParams;
  /** Which end of the connection this is. */
  readonly role: "client" | "server";
  /** Messages shorter than this are sent uncompressed. */
  readonly threshold: number;
  /** Inflated-size limit per message. */
  readonly maxMessageSize: number;

  readonly #sendNoContextTakeover: boolean;
  readonly #sendWindowBits: number;
  readonly #receiveNoContextTakeover: boolean;

  #deflater: ZlibContext | null = null;
  #deflateOut: Uint8Array | null = null;
  #deflating = false;

  #inflater: ZlibContext | null = null;
  #inflateOut: Uint8Array | null = null;
  #inflatePos = 0;
  #inflating = false;
  #inflatedSize = 0;
  /** Compressed bytes received for the current message. */
  #inflateInputSize = 0;
  /** The peer's DEFLATE stream ended with a BFINAL block in this message. */
  #streamEnded = false;
  #failed: WebSocketError | null = null;
  /** Last output bytes, to rebuild the window after a BFINAL block. */
  #history: HistoryRing | null = null;
  #closed = false;

  /**
   * Creates the state for one connection; zlib contexts are made on first use.
   *
   * @param params the agreed parameters, from {@linkcode acceptAnswer} or
   *   {@linkcode negotiateOffer}
   * @param role `"client"` compresses with the client_* parameters and
   *   inflates with the server_* ones; `"server"` the other way round
   */
  constructor(
    params: DeflateParams,
    role: "client" | "server",
    options: PerMessageDeflateOptions = {},
  ) {
    this.params = { ...params };
    this.role = role;
    this.threshold = options.threshold ?? DEFAULT_THRESHOLD;
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    const client = role === "client";
    this.#sendNoContextTakeover = client
      ? params.clientNoContextTakeover
      : params.serverNoContextTakeover;
    this.#sendWindowBits = client
      ? params.clientMaxWindowBits
      : params.serverMaxWindowBits;
    this.#receiveNoContextTakeover = client
      ? params.serverNoContextTakeover
      : params.clientNoContextTakeover;
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
   *
   * @returns inflated bytes produced by this piece, possibly none; the arrays
   *   are owned by the caller
   * @throws {WebSocketError} `INVALID_PAYLOAD` (closeCode 1007) for corrupt
   *   data, `MESSAGE_TOO_BIG` (closeCode 1009) as soon as the message
   *   inflates past `maxMessageSize` (at most that plus one byte is produced)
   */
  inflate(piece: Uint8Array, last: boolean): Uint8Array[] {
    this.#checkOpen();
    if (this.#failed) throw this.#failed;
    if (this.#inflater === null) {
      this.#inflater = new ZlibContext("inflate", INFLATE_WINDOW_BITS);
      if (!this.#receiveNoContextTakeover) {
        this.#history = new HistoryRing(INFLATE_WINDOW);
      }
    }
    if (!this.#inflating) {
      this.#inflating = true;
      this.#inflatedSize = 0;
      this.#inflateInputSize = 0;
      this.#streamEnded = false;
    }
    this.#inflateInputSize += piece.length;
    const out: Uint8Array[] = [];
    try {
      this.#inflateInput(piece, out);
      // A message without a single payload byte is empty (RFC 7692 asks for
      // 0x00, but some senders send nothing): the tail alone would leave
      // zlib inside a stored-block header and break the next message.
      if (last && this.#inflateInputSize > 0) this.#inflateInput(TAIL, out);
    } catch (err) {
      if (err instanceof WebSocketError) this.#failed = err;
      throw err;
    }
    const buf = this.#inflateOut;
    if (buf !== null && this.#inflatePos > 0) {
      // Hand over a mostly full buffer; copy a little data out of a big one.
      if (this.#inflatePos >= buf.length / 2) {
        out.push(buf.subarray(0, this.#inflatePos));
        this.#inflateOut = null;
      } else {
        out.push(buf.slice(0, this.#inflatePos));
      }
      this.#inflatePos = 0;
    }
    this.#history?.pushTail(out);
    if (last) {
      this.#inflating = false;
      // Keep only a small scratch buffer between messages.
      if (
        this.#inflateOut !== null && this.#inflateOut.length > MIN_INFLATE_CHUNK
      ) {
        this.#inflateOut = null;
      }
      if (this.#receiveNoContextTakeover) {
        this.#inflater.handle.reset();
      } else if (this.#streamEnded) {
        this.#restartInflaterWithHistory();
      }
    }
    return out;
  }

  #inflateInput(input: Uint8Array, out: Uint8Array[]): void {
    const z = this.#inflater!;
    let off = 0;
    let len = input.length;
    while (len > 0 && !this.#streamEnded) {
      if (this.#inflateOut === null) {
        const size = Math.min(
          MAX_INFLATE_CHUNK,
          Math.max(MIN_INFLATE_CHUNK, this.#inflatedSize),
        );
        this.#inflateOut = new Uint8Array(size);
      }
      const buf = this.#inflateOut;
      const free = buf.length - this.#inflatePos;
      // Never let zlib produce more than one byte past the limit.
      const room = this.maxMessageSize - this.#inflatedSize + 1;
      const outLen = room < free ? room : free;
      const [produced, consumed] = z.write(
        Z_SYNC_FLUSH,
        input,
        off,
        len,
        buf,
        this.#inflatePos,
        outLen,
      );
      if (z.error !== null) {
        throw new WebSocketError(
          "INVALID_PAYLOAD",
          `invalid compressed data: ${z.error}`,
          { closeCode: 1007 },
        );
      }
      this.#inflatePos += produced;
      this.#inflatedSize += produced;
      off += consumed;
      len -= consumed;
      if (this.#inflatedSize > this.maxMessageSize) {
        throw new WebSocketError(
          "MESSAGE_TOO_BIG",
          `message inflates to more than ${this.maxMessageSize} bytes`,
          { closeCode: 1009 },
        );
      }
      if (this.#inflatePos === buf.length) { // hand the full buffer over
        out.push(buf);
        this.#inflateOut = null;
        this.#inflatePos = 0;
      }
      // With output space left, inflate() stops short of consuming all input
      // only at the end of the DEFLATE stream (a BFINAL block). What follows
      // is ignored, like the 0x00 after the final block in RFC 7692 §7.2.3.4.
      if (produced < outLen && len > 0) this.#streamEnded = true;
    }
  }

  /**
   * After a BFINAL block zlib accepts no more input, and a reset clears its
   * window. With context takeover the next message may refer to this one's
   * bytes, so replay the last 32 KiB into the fresh context as stored blocks
   * (`node:zlib` in Deno ignores `dictionary` for raw inflate).
   */
  #restartInflaterWithHistory(): void {
    const z = this.#inflater!;
    z.handle.reset();
    const history = this.#history!.snapshot();
    if (history.length === 0) return;
    const stored = storedBlock(history);
    const sink = new Uint8Array(history.length);
    const [produced] = z.write(
      Z_SYNC_FLUSH,
      stored,
      0,
      stored.length,
      sink,
      0,
      sink.length,
    );
    if (z.error !== null || produced !== history.length) {
      throw new Error(`could not restore the inflate window: ${z.error}`);
    }
  }

  // --- sending -------------------------------------------------------------

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
    if (this.#deflating) {
      throw badOption(
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
      throw badOption(
        "cannot compress with an 8-bit window; send uncompressed",
      );
    }
    if (this.#deflater === null) {
      this.#deflater = new ZlibContext("deflate", this.#sendWindowBits);
    }
    this.#deflating = true;
    const z = this.#deflater;
    const mode = last || flush ? Z_SYNC_FLUSH : Z_NO_FLUSH;
    const chunks: Uint8Array[] = [];
    let total = 0;
    let off = 0;
    let len = chunk.length;
    for (;;) {
      if (this.#deflateOut === null) {
        this.#deflateOut = new Uint8Array(OUTPUT_CHUNK);
      }
      const buf = this.#deflateOut;
      const [produced, consumed] = z.write(
        mode,
        chunk,
        off,
        len,
        buf,
        0,
        buf.length,
      );
      if (z.error !== null) throw new Error(`deflate failed: ${z.error}`);
      off += consumed;
      len -= consumed;
      total += produced;
      if (produced === buf.length) { // full: hand it over, zlib may have more
        chunks.push(buf);
        this.#deflateOut = null;
        continue;
      }
      if (produced > 0) chunks.push(buf.subarray(0, produced));
      break;
    }
    let end = total;
    if (last) {
      this.#deflating = false;
      if (this.#sendNoContextTakeover) z.handle.reset();
      // A second sync flush without new input emits nothing. The payload of
      // an empty message is then the header byte of an empty stored block,
      // which the receiver's appended tail completes (RFC 7692 §7.2.3.6).
      if (total === 0) return Uint8Array.of(0x00);
      if (!endsWithTail(chunks, total)) {
        throw new Error("deflate output lacks the sync-flush tail");
      }
      end = total - TAIL.length;
    }
    // Copy out of the reused scratch buffer (and drop the tail).
    const result = new Uint8Array(end);
    let pos = 0;
    for (const c of chunks) {
      const n = Math.min(c.length, end - pos);
      result.set(n === c.length ? c : c.subarray(0, n), pos);
      pos += n;
      if (pos === end) break;
    }
    return result;
  }

  // --- lifetime ------------------------------------------------------------

  /** Frees both zlib contexts. Further calls throw. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#deflater?.handle.close();
    this.#inflater?.handle.close();
    this.#deflater = null;
    this.#inflater = null;
    this.#deflateOut = null;
    this.#inflateOut = null;
    this.#history = null;
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

/** Keeps the last `size` bytes written to it. */
class HistoryRing {
  readonly #buf: Uint8Array;
  #pos = 0;
  #length = 0;

  constructor(size: number) {
    this.#buf = new Uint8Array(size);
  }

  /** Appends the last bytes of `chunks` (only what can still be kept). */
  pushTail(chunks: Uint8Array[]): void {
    let start = chunks.length;
    let kept = 0;
    while (start > 0 && kept < this.#buf.length) kept += chunks[--start].length;
    for (let i = start; i < chunks.length; i++) {
      const c = chunks[i];
      this.#push(
        c.length > this.#buf.length
          ? c.subarray(c.length - this.#buf.length)
          : c,
      );
    }
  }

  #push(bytes: Uint8Array): void {
    const size = this.#buf.length;
    let src = bytes;
    while (src.length > 0) {
      const n = Math.min(src.length, size - this.#pos);
      this.#buf.set(src.subarray(0, n), this.#pos);
      this.#pos = (this.#pos + n) % size;
      src = src.subarray(n);
    }
    this.#length = Math.min(size, this.#length + bytes.length);
  }

  /** The kept bytes, oldest first. */
  snapshot(): Uint8Array {
    const size = this.#buf.length;
    if (this.#length < size) return this.#buf.slice(0, this.#length);
    const out = new Uint8Array(size);
    out.set(this.#buf.subarray(this.#pos), 0);
    out.set(this.#buf.subarray(0, this.#pos), size - this.#pos);
    return out;
  }
}

/** `data` (≤ 65535 bytes) as one non-final stored DEFLATE block. */
function storedBlock(data: Uint8Array): Uint8Array {
  const n = data.length;
  const block = new Uint8Array(5 + n);
  // byte 0: BFINAL=0, BTYPE=00, padding
  block[1] = n & 0xff;
  block[2] = n >>> 8;
  block[3] = ~n & 0xff;
  block[4] = (~n >>> 8) & 0xff;
  block.set(data, 5);
  return block;
}

function endsWithTail(chunks: Uint8Array[], total: number): boolean {
  if (total < TAIL.length) return false;
  let matched = 0;
  for (let i = chunks.length - 1; i >= 0 && matched < TAIL.length; i--) {
    const c = chunks[i];
    for (let j = c.length - 1; j >= 0 && matched < TAIL.length; j--) {
      if (c[j] !== TAIL[TAIL.length - 1 - matched]) return false;
      matched++;
    }
  }
  return matched === TAIL.length;
}
