/**
 * The HPACK indexing tables (RFC 7541 §2.3): the static table of Appendix A
 * and the dynamic table with its size accounting and eviction (§4).
 *
 * @module
 */

/** A header field: name and value as Latin-1 strings (one char per octet). */
export type HeaderField = [name: string, value: string];

/** RFC 7541 Appendix A; index 1 is `STATIC_TABLE[0]`. */
export const STATIC_TABLE: readonly HeaderField[] = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];

/** Per-entry overhead counted in the table size (RFC 7541 §4.1). */
export const ENTRY_OVERHEAD = 32;

/** The size an entry takes in a dynamic table. */
export function entrySize(name: string, value: string): number {
  return name.length + value.length + ENTRY_OVERHEAD;
}

const STATIC_FULL = new Map<string, number>();
const STATIC_NAME = new Map<string, number>();
STATIC_TABLE.forEach(([name, value], i) => {
  STATIC_FULL.set(name + "\0" + value, i + 1);
  if (!STATIC_NAME.has(name)) STATIC_NAME.set(name, i + 1);
});

/**
 * A dynamic table: newest entry first (index 62 of the combined address
 * space), evicting the oldest while the size exceeds the maximum.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DynamicTable } from "./hpack_table.ts";
 * const t = new DynamicTable(4096);
 * t.add(":authority", "www.example.com");
 * assert.equal(t.size, 57); // 32 + name + value (RFC 7541 §4.1)
 * assert.deepEqual(t.get(62), [":authority", "www.example.com"]);
 * ```
 */
export class DynamicTable {
  /** Sum of the entry sizes. */
  size = 0;
  #max: number;
  // Oldest first, so adding is a push and eviction a shift; the table holds
  // at most max/32 entries, so shifting is cheap.
  #entries: HeaderField[] = [];

  /** Creates an empty table of `maxSize` octets. */
  constructor(maxSize: number) {
    this.#max = maxSize;
  }

  /** The maximum size in force. */
  get maxSize(): number {
    return this.#max;
  }

  /** Number of entries. */
  get length(): number {
    return this.#entries.length;
  }

  /** Changes the maximum size, evicting as needed. */
  resize(maxSize: number): void {
    this.#max = maxSize;
    this.#evict(0);
  }

  /** Adds an entry (evicting first); an entry larger than the table empties it. */
  add(name: string, value: string): void {
    const size = entrySize(name, value);
    this.#evict(size);
    if (size <= this.#max) {
      this.#entries.push([name, value]);
      this.size += size;
    }
  }

  #evict(room: number): void {
    while (this.#entries.length > 0 && this.size + room > this.#max) {
      const [n, v] = this.#entries.shift()!;
      this.size -= entrySize(n, v);
    }
  }

  /** The field at a combined index (1..61 static, 62.. dynamic), or undefined. */
  get(index: number): HeaderField | undefined {
    if (index >= 1 && index <= STATIC_TABLE.length) {
      return STATIC_TABLE[index - 1];
    }
    return this.#entries[
      this.#entries.length - 1 - (index - STATIC_TABLE.length - 1)
    ];
  }

  /**
   * The combined index of a field: `full` when name and value match, else
   * `name` for the first entry with that name (static table first), 0 if none.
   */
  find(name: string, value: string): { full: number; name: number } {
    const full = STATIC_FULL.get(name + "\0" + value);
    if (full !== undefined) return { full, name: full };
    let byName = STATIC_NAME.get(name) ?? 0;
    const e = this.#entries;
    for (let i = e.length - 1; i >= 0; i--) {
      if (e[i][0] !== name) continue;
      const index = STATIC_TABLE.length + e.length - i;
      if (e[i][1] === value) return { full: index, name: byName || index };
      if (byName === 0) byName = index;
    }
    return { full: 0, name: byName };
  }

  /** The entries, newest first (for tests and traces). */
  entries(): HeaderField[] {
    return [...this.#entries].reverse();
  }
}
