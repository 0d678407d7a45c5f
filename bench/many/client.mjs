// @ts-check
/**
 * The measuring half of every many-connections client process: opens N
 * connections with the opener it is given, samples RSS and CPU, does one
 * echo round, and reports to the driver (bench/many.ts) in JSON lines:
 *
 * 1. `{"phase":"open",...}` once all N are open (after a forced GC); then it
 *    waits for the driver's `round` line (the driver samples the server
 *    meanwhile),
 * 2. `{"phase":"round",...}` once every connection got its echo (after a
 *    forced GC); then it waits for stdin to close and exits without closing
 *    the sockets one by one (the kernel does).
 *
 * On failure it prints `{"phase":"error","error":"..."}` and exits with 1.
 *
 * @module
 */

import { commands, exit, forceGc, report, sample, within } from "./runtime.mjs";

/**
 * @typedef {object} ClientJob
 * @property {string} url ws://127.0.0.1:PORT/
 * @property {number} n connections to open
 * @property {number} payloadSize bytes of the one binary message per connection
 * @property {number} concurrency opening handshakes in flight at most
 * @property {number} timeoutMs bound of each phase (opening all, the round, each driver command)
 * @property {boolean} [pauseBeforeOpen] report `{"phase":"ready"}` first and
 *   wait for the driver's `open` line (bench/many_heap.ts takes its baseline
 *   heap snapshot then)
 */

/**
 * @typedef {object} OpenConnection
 * @property {(payload: Uint8Array) => unknown} send sends one binary message
 */

/**
 * Opens one connection. `onMessage` gets the byte length of each message
 * received, `onGone` is called if the connection ends or fails.
 *
 * @typedef {(url: string, onMessage: (length: number) => void,
 *   onGone: (error: unknown) => void) => Promise<OpenConnection>} Opener
 */

/**
 * Runs the whole client side of one measurement; never returns.
 *
 * @param {ClientJob} job
 * @param {Opener} open
 * @returns {Promise<never>}
 */
export async function runClient(job, open) {
  const control = commands();
  try {
    await measure(job, open, control);
    await within(job.timeoutMs, "the driver's last word", control.next());
    exit(0);
  } catch (err) {
    report({ phase: "error", error: String(err) });
    exit(1);
  }
  throw new Error("unreachable");
}

/**
 * @param {ClientJob} job
 * @param {Opener} open
 * @param {ReturnType<typeof commands>} control
 */
async function measure(job, open, control) {
  const { n, url, timeoutMs } = job;
  const payload = new Uint8Array(job.payloadSize);
  for (let i = 0; i < payload.length; i++) payload[i] = i & 0xff;

  /** Echoes received per connection: exactly one each is expected. */
  const echoes = new Uint8Array(n);
  let echoed = 0;
  /** @type {unknown} */
  let failure = null;
  /** @type {(value?: unknown) => void} */
  let allEchoed = () => {};
  /** @type {(err: unknown) => void} */
  let failRound = () => {};
  const fail = (/** @type {unknown} */ err) => {
    failure ??= err;
    failRound(err);
  };

  /** @type {OpenConnection[]} */
  const conns = new Array(n);
  await forceGc();
  let before = sample();
  if (job.pauseBeforeOpen) {
    report({ phase: "ready", before });
    const go = await within(timeoutMs, "the driver's open", control.next());
    if (go !== "open") throw new Error(`driver said ${go}, not open`);
    before = sample();
  }
  const openStart = performance.now();
  let next = 0;
  const opener = async () => {
    while (next < n && failure === null) {
      const i = next++;
      conns[i] = await open(url, (length) => {
        if (length !== payload.length) {
          fail(new Error(`connection ${i}: echo of ${length} bytes`));
        } else if (echoes[i]++ > 0) {
          fail(new Error(`connection ${i}: more than one echo`));
        } else if (++echoed === n) allEchoed();
      }, (err) => fail(new Error(`connection ${i} ended: ${err}`)));
    }
  };
  const openers = [];
  for (let k = 0; k < Math.min(job.concurrency, n); k++) openers.push(opener());
  await within(timeoutMs, `opening ${n} connections`, Promise.all(openers));
  if (failure !== null) throw failure;
  const openMs = performance.now() - openStart;
  const openCpuUs = sample().cpuUs - before.cpuUs;
  await forceGc();
  const idle = sample();
  report({ phase: "open", n, openMs, openCpuUs, before, idle });

  const go = await within(timeoutMs, "the driver's round", control.next());
  if (go !== "round") throw new Error(`driver said ${go}, not round`);
  if (failure !== null) throw failure;
  const done = new Promise((resolve, reject) => {
    allEchoed = resolve;
    failRound = reject;
  });
  const roundCpu = sample().cpuUs;
  const roundStart = performance.now();
  for (const conn of conns) {
    const sent = conn.send(payload);
    if (sent instanceof Promise) sent.catch(fail);
  }
  await within(timeoutMs, `the echo round over ${n} connections`, done);
  const roundMs = performance.now() - roundStart;
  const roundCpuUs = sample().cpuUs - roundCpu;
  await forceGc();
  const after = sample();
  report({ phase: "round", n, echoed, roundMs, roundCpuUs, after });
}
