/**
 * The suite's own permessage-deflate (RFC 7692) for the compression cases:
 * parsing the client's offer, and a compressor/decompressor pair built on
 * `node:zlib` streams flushed with Z_SYNC_FLUSH (independent of
 * src/deflate.ts).
 *
 * @module
 */

import {
  constants,
  createDeflateRaw,
  createInflateRaw,
  type DeflateRaw,
  type InflateRaw,
} from "node:zlib";

/** Negotiated parameters (RFC 7692 §7.1). */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

/** Parameters of one extension offer: name → value (true when it has none). */
export type ExtensionParams = Map<string, string | true>;

/** The permessage-deflate offers in a Sec-WebSocket-Extensions header, in order. */
export function deflateOffers(header: string): ExtensionParams[] {
  const offers: ExtensionParams[] = [];
  for (const ext of header.split(",")) {
    const [name, ...params] = ext.split(";").map((s) => s.trim());
    if (name.toLowerCase() !== "permessage-deflate") continue;
    const map: ExtensionParams = new Map();
    for (const p of params) {
      if (!p) continue;
      const eq = p.indexOf("=");
      if (eq < 0) map.set(p.toLowerCase(), true);
      else {map.set(
          p.slice(0, eq).trim().toLowerCase(),
          p.slice(eq + 1).trim().replace(/^"|"$/g, ""),
        );}
    }
    offers.push(map);
  }
  return offers;
}

/** Parses an accepted response (`permessage-deflate; …`) into parameters. */
export function paramsOf(response: string): DeflateParams {
  const p = deflateOffers(response)[0] ?? new Map();
  const bits = (v: string | true | undefined) =>
    typeof v === "string" ? Number(v) : 15;
  return {
    serverNoContextTakeover: p.has("server_no_context_takeover"),
    clientNoContextTakeover: p.has("client_no_context_takeover"),
    serverMaxWindowBits: bits(p.get("server_max_window_bits")),
    clientMaxWindowBits: bits(p.get("client_max_window_bits")),
  };
}

const TAIL = [0x00, 0x00, 0xff, 0xff];

function pump(
  stream: DeflateRaw | InflateRaw,
  data: Uint8Array,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    const onData = (c: Uint8Array) => chunks.push(c);
    const done = () => {
      stream.off("data", onData);
      stream.off("error", onError);
    };
    const onError = (e: Error) => {
      done();
      reject(e);
    };
    stream.on("data", onData);
    stream.on("error", onError);
    stream.write(data);
    stream.flush(constants.Z_SYNC_FLUSH, () => {
      done();
      const out = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
      let o = 0;
      for (const c of chunks) {
        out.set(c, o);
        o += c.length;
      }
      resolve(out);
    });
  });
}

/**
 * The server's side of a permessage-deflate connection: compresses what it
 * sends with the server parameters and inflates what the client sends with
 * the client parameters (a window or context the client agreed not to use
 * makes inflating fail).
 */
export class DeflateCodec {
  readonly params: DeflateParams;
  #deflater: DeflateRaw | null = null;
  #inflater: InflateRaw | null = null;

  constructor(params: DeflateParams) {
    this.params = params;
  }

  /** Compresses one message payload (RFC 7692 §7.2.1: sync flush, tail removed). */
  async compress(data: Uint8Array): Promise<Uint8Array> {
    if (this.params.serverNoContextTakeover) this.#closeDeflater();
    this.#deflater ??= createDeflateRaw({
      windowBits: this.params.serverMaxWindowBits,
    });
    const out = await pump(this.#deflater, data);
    const n = out.length;
    const tail = n >= 4 && TAIL.every((b, i) => out[n - 4 + i] === b);
    return tail ? out.subarray(0, n - 4) : out;
  }

  /** Inflates one received message payload (RFC 7692 §7.2.2: tail appended). */
  async decompress(data: Uint8Array): Promise<Uint8Array> {
    if (this.params.clientNoContextTakeover) this.#closeInflater();
    this.#inflater ??= createInflateRaw({
      windowBits: this.params.clientMaxWindowBits,
    });
    const input = new Uint8Array(data.length + 4);
    input.set(data);
    input.set(TAIL, data.length);
    return await pump(this.#inflater, input);
  }

  #closeDeflater(): void {
    this.#deflater?.close();
    this.#deflater = null;
  }

  #closeInflater(): void {
    this.#inflater?.close();
    this.#inflater = null;
  }

  /** Frees the zlib streams. */
  close(): void {
    this.#closeDeflater();
    this.#closeInflater();
  }
}
