/**
 * permessage-deflate negotiation (RFC 7692 §7.1): the `compression` option,
 * the client's offer and its check of the answer, the server's choice among
 * offers, and the parameters both sides end up with.
 *
 * @module
 */

import { WebSocketError } from "../errors.ts";
import { type ExtensionElement, parseExtensions } from "../extension.ts";

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
/** The extension's registered name. */
export const EXTENSION_NAME = "permessage-deflate";

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
