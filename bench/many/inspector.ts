/**
 * Just enough of the V8 inspector protocol to take a heap snapshot of a
 * child process started with `--inspect=127.0.0.1:PORT` (Deno or Node).
 *
 * @module
 */

import type { HeapSnapshot } from "./heap_summary.ts";

/** A session with one inspected process. */
export class Inspector {
  #ws: WebSocket;
  #next = 0;
  #replies = new Map<
    number,
    (reply: { error?: { message: string } }) => void
  >();
  #chunks: string[] = [];

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (e) => {
      const message = JSON.parse(e.data as string);
      if (message.method === "HeapProfiler.addHeapSnapshotChunk") {
        this.#chunks.push(message.params.chunk);
      } else if (message.id !== undefined) {
        this.#replies.get(message.id)?.(message);
        this.#replies.delete(message.id);
      }
    };
  }

  /** Connects to the first target of the inspector on `port`, within `ms`. */
  static async connect(port: number, ms: number): Promise<Inspector> {
    const deadline = Date.now() + ms;
    let targets: { webSocketDebuggerUrl: string }[] = [];
    while (targets.length === 0) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/json/list`);
        targets = await res.json();
      } catch (err) {
        if (Date.now() > deadline) {
          throw new Error(`no inspector on port ${port}: ${err}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error("inspector connection failed"));
    });
    return new Inspector(ws);
  }

  #call(method: string, ms: number): Promise<void> {
    const id = ++this.#next;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${method}: no answer after ${ms} ms`)),
        ms,
      );
      this.#replies.set(id, (reply) => {
        clearTimeout(timer);
        if (reply.error) reject(new Error(`${method}: ${reply.error.message}`));
        else resolve();
      });
      this.#ws.send(JSON.stringify({ id, method, params: {} }));
    });
  }

  /** A full heap snapshot (after a GC), parsed. */
  async heapSnapshot(ms: number): Promise<HeapSnapshot> {
    this.#chunks = [];
    await this.#call("HeapProfiler.enable", ms);
    await this.#call("HeapProfiler.collectGarbage", ms);
    await this.#call("HeapProfiler.takeHeapSnapshot", ms);
    const text = this.#chunks.join("");
    this.#chunks = [];
    return JSON.parse(text) as HeapSnapshot;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#ws.onclose = () => resolve();
      this.#ws.close();
    });
  }
}
