// @ts-check
/**
 * What every many-connections process (client or server, under Deno or
 * Node) needs from its runtime, through `node:` modules both runtimes have:
 * a forced GC, RSS and CPU samples, JSON lines to the driver on stdout and
 * command lines from it on stdin.
 *
 * Plain JavaScript so that Node runs it as it is (the `ws` processes).
 *
 * @module
 */

import process from "node:process";
import { createInterface } from "node:readline";

/** One sample of this process's memory (bytes) and CPU time (µs). */
export function sample() {
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  return {
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    external: memory.external,
    arrayBuffers: memory.arrayBuffers,
    cpuUs: cpu.user + cpu.system,
  };
}

/** @typedef {ReturnType<typeof sample>} Sample */

/**
 * Forces full garbage collections (needs `--expose-gc` under Node,
 * `--v8-flags=--expose-gc` under Deno), with turns of the event loop
 * between them so that finalizers and freed native resources run too.
 */
export async function forceGc() {
  const gc = /** @type {{ gc?: () => void }} */ (globalThis).gc;
  if (gc === undefined) {
    throw new Error("no gc(): run with --expose-gc (Deno: --v8-flags=)");
  }
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Prints one JSON line for the driver.
 *
 * @param {unknown} value
 */
export function report(value) {
  process.stdout.write(JSON.stringify(value) + "\n");
}

/**
 * The driver's commands, one per stdin line. `next()` resolves with the
 * next line, or null once stdin closed (the driver is done or gone).
 */
export function commands() {
  const lines = createInterface({ input: process.stdin });
  /** @type {string[]} */
  const queued = [];
  /** @type {((line: string | null) => void)[]} */
  const waiting = [];
  let closed = false;
  lines.on("line", (line) => {
    const wake = waiting.shift();
    if (wake) wake(line);
    else queued.push(line);
  });
  lines.on("close", () => {
    closed = true;
    for (const wake of waiting.splice(0)) wake(null);
  });
  return {
    /** @returns {Promise<string | null>} */
    next() {
      const line = queued.shift();
      if (line !== undefined) return Promise.resolve(line);
      if (closed) return Promise.resolve(null);
      return new Promise((resolve) => waiting.push(resolve));
    },
    close() {
      lines.close();
    },
  };
}

/**
 * Rejects after `ms` unless `promise` settles first; the timer never keeps
 * the process alive past the promise.
 *
 * @template T
 * @param {number} ms
 * @param {string} what
 * @param {Promise<T>} promise
 * @returns {Promise<T>}
 */
export function within(ms, what, promise) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no result after ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Ends the process at once (open sockets are closed by the kernel). */
export function exit(code = 0) {
  process.exit(code);
}
