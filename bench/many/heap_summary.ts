/**
 * Reads V8 heap snapshots (the `.heapsnapshot` JSON) and sums them up: the
 * JS heap by constructor, and every ArrayBuffer's backing store (memory
 * outside the JS heap) by size and by the chain of objects and fields that
 * holds it; the difference of two, divided by the connections opened in
 * between, is what one connection costs. Used by bench/many_heap.ts.
 *
 * @module
 */

/** The parts of a heap snapshot read here. */
export interface HeapSnapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

/** One line of a summary: how many more per connection, how many more bytes. */
export interface SummaryRow {
  what: string;
  perConn: number;
  bytesPerConn: number;
}

/** Node accessors over the flat arrays of a snapshot. */
class Graph {
  readonly count: number;
  readonly #s: HeapSnapshot;
  readonly #nf: number;
  readonly #ef: number;
  readonly #f: Record<string, number>;
  readonly #e: Record<string, number>;
  /** First edge (index into edges) of each node. */
  readonly #firstEdge: Uint32Array;

  constructor(snapshot: HeapSnapshot) {
    this.#s = snapshot;
    const meta = snapshot.snapshot.meta;
    this.#nf = meta.node_fields.length;
    this.#ef = meta.edge_fields.length;
    this.#f = Object.fromEntries(meta.node_fields.map((f, i) => [f, i]));
    this.#e = Object.fromEntries(meta.edge_fields.map((f, i) => [f, i]));
    this.count = snapshot.nodes.length / this.#nf;
    this.#firstEdge = new Uint32Array(this.count + 1);
    for (let i = 0, e = 0; i < this.count; i++) {
      this.#firstEdge[i] = e;
      e += snapshot.nodes[i * this.#nf + this.#f.edge_count] * this.#ef;
    }
    this.#firstEdge[this.count] = snapshot.edges.length;
  }

  type(node: number): string {
    const t = this.#s.nodes[node * this.#nf + this.#f.type];
    return this.#s.snapshot.meta.node_types[0][t];
  }

  name(node: number): string {
    return this.#s.strings[this.#s.nodes[node * this.#nf + this.#f.name]];
  }

  size(node: number): number {
    return this.#s.nodes[node * this.#nf + this.#f.self_size];
  }

  /** Calls `visit(to, edgeName, edgeType)` for every edge of `node`. */
  edges(
    node: number,
    visit: (to: number, name: string, type: string) => void,
  ): void {
    const { edges, strings } = this.#s;
    const types = this.#s.snapshot.meta.edge_types[0];
    for (
      let e = this.#firstEdge[node];
      e < this.#firstEdge[node + 1];
      e += this.#ef
    ) {
      const type = types[edges[e + this.#e.type]];
      const raw = edges[e + this.#e.name_or_index];
      // Slots are not told apart: buffers in one array sum up together.
      const name = type === "element" || type === "hidden"
        ? "[]"
        : strings[raw];
      visit(edges[e + this.#e.to_node] / this.#nf, name, type);
    }
  }
}

/** Objects that only wrap a backing store: a holder path goes past them. */
const BUFFER_TYPES = new Set([
  "ArrayBuffer",
  "SharedArrayBuffer",
  "Uint8Array",
  "Buffer",
  "DataView",
]);

/** Count and bytes, by what they are. */
export type Tally = Map<string, [count: number, bytes: number]>;

function add(map: Tally, key: string, size: number) {
  const entry = map.get(key) ?? [0, 0];
  entry[0]++;
  entry[1] += size;
  map.set(key, entry);
}

/** The two tallies of one snapshot: JS heap and ArrayBuffer backing stores. */
export interface HeapTally {
  /** The JS heap by constructor (strings and compiled code summed up each). */
  heap: Tally;
  /**
   * ArrayBuffer backing stores by size and by what holds them, e.g.
   * "262144 B ← ArrayBuffer.backing_store ← Uint8Array.buffer ←
   * WebSocketConnection.#readBuf": the first owner chain found that does not
   * go through V8's internal objects.
   */
  stores: Tally;
}

/** The name of the function a generator object (a suspended async call) runs. */
function generatorFunction(g: Graph, node: number): string {
  let name = "(anonymous)";
  g.edges(node, (to, field) => {
    if (field === "function" && g.name(to)) name = g.name(to);
  });
  return name;
}

/** Sums up one snapshot. */
export function tally(snapshot: HeapSnapshot): HeapTally {
  const g = new Graph(snapshot);
  const heap: Tally = new Map();
  const owners: [owner: number, field: string, rank: number][][] = Array.from(
    { length: g.count },
    () => [],
  );
  for (let i = 0; i < g.count; i++) {
    // The holder to name: a field of an object of ours first, then any
    // field, then array slots, then V8's internals (suspended frames' registers, ...).
    const name = g.name(i);
    const internal = name.startsWith("system /") || g.type(i) === "hidden" ||
      name === "Generator" || g.type(i) === "array";
    g.edges(i, (to, field, type) => {
      if (type === "weak") return;
      const rank = type === "property"
        ? (internal ? 1 : 0)
        : type === "element"
        ? 2
        : 3;
      owners[to].push([i, field, rank]);
    });
  }
  const path = (node: number): string => {
    const steps: string[] = [];
    const seen = new Set<number>([node]);
    // Up to the first field of an object that is not a buffer itself.
    for (let cur = node; steps.length < 5;) {
      let best: [number, string, number] | undefined;
      for (const candidate of owners[cur]) {
        if (seen.has(candidate[0])) continue;
        if (best === undefined || candidate[2] < best[2]) best = candidate;
      }
      if (best === undefined) break;
      const [owner, field, rank] = best;
      steps.push(`${g.name(owner) || g.type(owner)}.${field}`);
      seen.add(owner);
      cur = owner;
      if (rank === 0 && !BUFFER_TYPES.has(g.name(owner))) break;
    }
    return steps.join(" ← ");
  };
  const stores: Tally = new Map();
  for (let i = 0; i < g.count; i++) {
    const type = g.type(i);
    if (type === "native" && g.name(i) === "system / JSArrayBufferData") {
      add(stores, `${g.size(i)} B ← ${path(i)}`, g.size(i));
      continue;
    }
    const name = type.endsWith("string")
      ? "(strings)"
      : type === "code"
      ? "(compiled code)"
      : type === "closure"
      ? `closure ${g.name(i) || "(anonymous)"}`
      : type === "object" && g.name(i) === "Generator"
      ? `suspended async function ${generatorFunction(g, i)}`
      : `${type} ${g.name(i)}`;
    add(heap, name, g.size(i));
  }
  return { heap, stores };
}

/**
 * What `after` has more of than `before`, per connection (divided by `n`),
 * the `top` largest by bytes, leaving out what is below a byte per
 * connection.
 */
export function perConnection(
  after: Tally,
  before: Tally,
  n: number,
  top: number,
): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const [what, [count, bytes]] of after) {
    const [count0, bytes0] = before.get(what) ?? [0, 0];
    rows.push({
      what,
      perConn: (count - count0) / n,
      bytesPerConn: (bytes - bytes0) / n,
    });
  }
  // Below a byte per connection is what the process has once, not per connection.
  return rows.filter((r) => Math.abs(r.bytesPerConn) >= 1)
    .sort((a, b) => b.bytesPerConn - a.bytesPerConn).slice(0, top);
}

/** The sum of `bytes` over a tally's difference, per connection. */
export function totalPerConnection(
  after: Tally,
  before: Tally,
  n: number,
): number {
  let sum = 0;
  for (const [, [, bytes]] of after) sum += bytes;
  for (const [, [, bytes]] of before) sum -= bytes;
  return sum / n;
}

/** A Markdown table of summary rows. */
export function summaryTable(title: string, list: SummaryRow[]): string {
  const lines = [
    `| ${title} | per conn | bytes/conn |`,
    "| --- | ---: | ---: |",
  ];
  for (const r of list) {
    lines.push(
      `| ${r.what.replaceAll("|", "/")} | ${r.perConn.toFixed(2)} | ${
        Math.round(r.bytesPerConn).toLocaleString("en-US")
      } |`,
    );
  }
  return lines.join("\n");
}
