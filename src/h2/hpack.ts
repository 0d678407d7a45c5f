/**
 * HPACK header compression (RFC 7541): integer and string primitives, the
 * encoder and the decoder. Every decoding failure is a COMPRESSION_ERROR
 * connection error (the shared table state is lost).
 *
 * @module
 */

import { WebSocketError } from "../errors.ts";
import { connectionError, H2Code } from "./errors.ts";
import {
  huffmanDecode,
  huffmanEncode,
  huffmanEncodedLength,
} from "./huffman.ts";
import { DynamicTable, entrySize, type HeaderField } from "./hpack_table.ts";

export type { HeaderField } from "./hpack_table.ts";

/** A growable byte buffer for building header blocks. */
class ByteWriter {
  buf = new Uint8Array(256);
  length = 0;

  #room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const grown = new Uint8Array(
      Math.max(this.buf.length * 2, this.length + n),
    );
    grown.set(this.buf.subarray(0, this.length));
    this.buf = grown;
  }

  byte(b: number): void {
    this.#room(1);
    this.buf[this.length++] = b;
  }

  bytes(b: Uint8Array): void {
    this.#room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
}

/**
 * Writes `value` with an N-bit prefix (RFC 7541 §5.1); `first` holds the
 * bits above the prefix in the first byte.
 */
function writeInteger(
  w: ByteWriter,
  value: number,
  prefixBits: number,
  first: number,
): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    w.byte(first | value);
    return;
  }
  w.byte(first | max);
  value -= max;
  while (value >= 128) {
    w.byte((value % 128) | 128);
    value = Math.floor(value / 128);
  }
  w.byte(value);
}

/** Integers above this are refused: nothing legitimate in HPACK is that big. */
const MAX_INTEGER = 0x7fffffff;

/**
 * Encodes an integer with an N-bit prefix (RFC 7541 §5.1).
 *
 * @example RFC 7541 C.1.2: 1337 with a 5-bit prefix
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeInteger } from "./hpack.ts";
 * assert.deepEqual(encodeInteger(1337, 5), new Uint8Array([0x1f, 0x9a, 0x0a])); // RFC 7541 C.1.2
 * ```
 */
export function encodeInteger(value: number, prefixBits: number): Uint8Array {
  const w = new ByteWriter();
  writeInteger(w, value, prefixBits, 0);
  return w.buf.slice(0, w.length);
}

/**
 * Decodes an integer with an N-bit prefix at `pos`: `[value, next position]`.
 * Throws COMPRESSION_ERROR when truncated or above 2^31-1.
 */
export function decodeInteger(
  buf: Uint8Array,
  pos: number,
  prefixBits: number,
): [number, number] {
  if (pos >= buf.length) throw truncated();
  const max = (1 << prefixBits) - 1;
  let value = buf[pos++] & max;
  if (value < max) return [value, pos];
  for (let scale = 1;; scale *= 128) {
    if (pos >= buf.length) throw truncated();
    const b = buf[pos++];
    value += (b & 127) * scale;
    if (value > MAX_INTEGER) {
      throw connectionError(
        H2Code.COMPRESSION_ERROR,
        "HPACK integer above 2^31-1",
      );
    }
    if ((b & 128) === 0) return [value, pos];
  }
}

function truncated(): WebSocketError {
  return connectionError(
    H2Code.COMPRESSION_ERROR,
    "truncated HPACK header block",
  );
}

/** Latin-1 bytes to string: one char per octet, so any octets round-trip. */
function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 4096) {
    s += String.fromCharCode(...b.subarray(i, i + 4096));
  }
  return s;
}

function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) {
      throw new WebSocketError(
        "INVALID_ARGUMENT",
        `header text ${JSON.stringify(s.slice(0, 40))} is not Latin-1`,
      );
    }
    out[i] = c;
  }
  return out;
}

/** Options of {@linkcode HpackEncoder}. */
export interface HpackEncoderOptions {
  /** Dynamic table size to start with (the peer's SETTINGS_HEADER_TABLE_SIZE); default 4096. */
  tableSize?: number;
  /** Use Huffman coding unless it is longer (RFC 7541 C.6.2 uses it at equal length); default true. */
  huffman?: boolean;
}

/** Field names never added to a table (RFC 7541 §7.1.3): they carry secrets. */
const SENSITIVE = new Set(["authorization", "proxy-authorization", "cookie"]);

/**
 * Encodes header lists. Fields found whole in a table are indexed; others
 * are literals added to the dynamic table (names looked up in the static
 * table first), except secrets and entries larger than the table.
 *
 * @example RFC 7541 C.3.1
 * ```ts
 * import assert from "node:assert/strict";
 * import { HpackEncoder } from "./hpack.ts";
 * const block = new HpackEncoder({ huffman: false }).encode([
 *   [":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"],
 * ]);
 * assert.equal(block.length, 20); // RFC 7541 C.3.1
 * ```
 */
export class HpackEncoder {
  /** The table the peer's decoder mirrors. */
  readonly table: DynamicTable;
  #huffman: boolean;
  /** Our own cap on the table, whatever the peer allows. */
  #limit: number;
  /** Size updates owed at the start of the next block (smallest, then final). */
  #pendingUpdates: number[] = [];

  /** Creates an encoder. */
  constructor(options: HpackEncoderOptions = {}) {
    this.#limit = options.tableSize ?? 4096;
    this.table = new DynamicTable(this.#limit);
    this.#huffman = options.huffman ?? true;
  }

  /**
   * Applies the peer's SETTINGS_HEADER_TABLE_SIZE: the table shrinks (or
   * grows up to our limit) and the next block starts with a size update.
   */
  setMaxTableSize(peerMax: number): void {
    const size = Math.min(peerMax, this.#limit);
    if (size === this.table.maxSize && this.#pendingUpdates.length === 0) {
      return;
    }
    // RFC 7541 §4.2: signal the smallest size set since the last block,
    // then the final one.
    const p = this.#pendingUpdates;
    const smallest = p.length > 0 ? Math.min(p[0], size) : size;
    this.#pendingUpdates = smallest < size ? [smallest, size] : [size];
    this.table.resize(size);
  }

  /** Encodes one header list into a header block. */
  encode(fields: Iterable<HeaderField>): Uint8Array {
    const w = new ByteWriter();
    for (const size of this.#pendingUpdates) writeInteger(w, size, 5, 0x20);
    this.#pendingUpdates = [];
    for (const [name, value] of fields) {
      const { full, name: nameIndex } = this.table.find(name, value);
      if (full > 0) {
        writeInteger(w, full, 7, 0x80);
        continue;
      }
      if (SENSITIVE.has(name)) {
        writeInteger(w, nameIndex, 4, 0x10);
      } else if (entrySize(name, value) > this.table.maxSize) {
        writeInteger(w, nameIndex, 4, 0x00);
      } else {
        writeInteger(w, nameIndex, 6, 0x40);
        this.table.add(name, value);
      }
      if (nameIndex === 0) this.#string(w, name);
      this.#string(w, value);
    }
    return w.buf.slice(0, w.length);
  }

  #string(w: ByteWriter, s: string): void {
    const raw = latin1Bytes(s);
    if (this.#huffman) {
      const n = huffmanEncodedLength(raw);
      if (n <= raw.length) {
        writeInteger(w, n, 7, 0x80);
        w.bytes(huffmanEncode(raw));
        return;
      }
    }
    writeInteger(w, raw.length, 7, 0);
    w.bytes(raw);
  }
}

/** Options of {@linkcode HpackDecoder}. */
export interface HpackDecoderOptions {
  /** Our SETTINGS_HEADER_TABLE_SIZE: the largest table the peer may use; default 4096. */
  maxTableSize?: number;
  /**
   * The table size in force before the peer's first size update; default
   * the smaller of 4096 (the protocol's initial value) and `maxTableSize`.
   */
  tableSize?: number;
  /**
   * Largest decoded header list (RFC 9113 §6.5.2: names + values + 32 per
   * field); default 64 KiB.
   */
  maxHeaderListSize?: number;
}

/**
 * Decodes header blocks. Memory is bounded by the block (the caller bounds
 * it) and by the table size we advertised.
 *
 * @example RFC 7541 C.2.4
 * ```ts
 * import assert from "node:assert/strict";
 * import { HpackDecoder } from "./hpack.ts";
 * assert.deepEqual(new HpackDecoder().decode(new Uint8Array([0x82])), [[":method", "GET"]]);
 * ```
 */
export class HpackDecoder {
  /** The table mirrored from the peer's encoder. */
  readonly table: DynamicTable;
  /** The largest table size the peer may ask for (our setting). */
  maxTableSize: number;
  /** Largest decoded header list; see {@linkcode HpackDecoderOptions}. */
  maxHeaderListSize: number;

  /** Creates a decoder. */
  constructor(options: HpackDecoderOptions = {}) {
    this.maxTableSize = options.maxTableSize ?? 4096;
    this.maxHeaderListSize = options.maxHeaderListSize ?? 64 * 1024;
    this.table = new DynamicTable(
      options.tableSize ?? Math.min(4096, this.maxTableSize),
    );
  }

  /**
   * Decodes one complete header block. Returns null when the list exceeds
   * `maxHeaderListSize`: the block is still decoded to the end, so the table
   * stays in step with the peer, but its fields are dropped.
   */
  decode(block: Uint8Array): HeaderField[] | null {
    const fields: HeaderField[] = [];
    let listSize = 0, pos = 0, fieldSeen = false;
    while (pos < block.length) {
      const b = block[pos];
      if ((b & 0xe0) === 0x20) {
        if (fieldSeen) {
          throw connectionError(
            H2Code.COMPRESSION_ERROR,
            "dynamic table size update after a header field",
          );
        }
        let size;
        [size, pos] = decodeInteger(block, pos, 5);
        if (size > this.maxTableSize) {
          throw connectionError(
            H2Code.COMPRESSION_ERROR,
            `table size update to ${size} above our limit ${this.maxTableSize}`,
          );
        }
        this.table.resize(size);
        continue;
      }
      fieldSeen = true;
      let field: HeaderField;
      if (b & 0x80) {
        let index;
        [index, pos] = decodeInteger(block, pos, 7);
        field = this.#lookup(index);
      } else {
        const indexing = (b & 0xc0) === 0x40;
        let index, name, value;
        [index, pos] = decodeInteger(block, pos, indexing ? 6 : 4);
        if (index === 0) [name, pos] = readString(block, pos);
        else name = this.#lookup(index)[0];
        [value, pos] = readString(block, pos);
        field = [name, value];
        if (indexing) this.table.add(name, value);
      }
      listSize += entrySize(field[0], field[1]);
      if (listSize <= this.maxHeaderListSize) fields.push(field);
    }
    return listSize <= this.maxHeaderListSize ? fields : null;
  }

  #lookup(index: number): HeaderField {
    const f = index === 0 ? undefined : this.table.get(index);
    if (f === undefined) {
      throw connectionError(
        H2Code.COMPRESSION_ERROR,
        `HPACK index ${index} is not in the table`,
      );
    }
    return f;
  }
}

function readString(buf: Uint8Array, pos: number): [string, number] {
  if (pos >= buf.length) throw truncated();
  const huffman = (buf[pos] & 0x80) !== 0;
  let len;
  [len, pos] = decodeInteger(buf, pos, 7);
  if (pos + len > buf.length) throw truncated();
  const raw = buf.subarray(pos, pos + len);
  return [latin1(huffman ? huffmanDecode(raw) : raw), pos + len];
}
