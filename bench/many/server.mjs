// @ts-check
/**
 * The driver's side of every many-connections echo server process: once
 * listening it prints `{"port":N}`; then each `stats` line on stdin makes it
 * force a GC and print `{"open":…,"echoed":…,"rss":…,…}` (connections open
 * now, messages echoed so far, a {@linkcode sample} taken after the GC whose
 * `cpuUs` leaves out the CPU of these forced GCs); stdin closing ends the
 * process.
 *
 * @module
 */

import { commands, exit, forceGc, report, sample } from "./runtime.mjs";

/** What a server counts, updated by the server itself. */
export class ServerCounts {
  open = 0;
  echoed = 0;
}

/**
 * Announces `port` and answers the driver until stdin closes; never returns.
 *
 * @param {number} port
 * @param {ServerCounts} counts
 * @returns {Promise<never>}
 */
export async function serveDriver(port, counts) {
  report({ port });
  const control = commands();
  let gcCpuUs = 0;
  for (;;) {
    const line = await control.next();
    if (line === null) break;
    if (line !== "stats") continue;
    // CPU spent in these forced collections is not the server's work:
    // it is left out of the cpuUs reported.
    const gcStart = sample().cpuUs;
    await forceGc();
    const now = sample();
    gcCpuUs += now.cpuUs - gcStart;
    report({
      open: counts.open,
      echoed: counts.echoed,
      ...now,
      cpuUs: now.cpuUs - gcCpuUs,
    });
  }
  exit(0);
  throw new Error("unreachable");
}
