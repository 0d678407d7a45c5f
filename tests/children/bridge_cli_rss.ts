/**
 * Runs the CLI's `main()` in this process, sampling its RSS every 10 ms,
 * and when it returns prints the peak on stderr as `peak-rss-kib: N`.
 * (Deno grants /proc/self only with --allow-all, so VmHWM is out of reach.)
 *
 * @module
 */

import { main } from "../../src/cli/main.ts";

let peak = Deno.memoryUsage().rss;
const sampler = setInterval(() => {
  peak = Math.max(peak, Deno.memoryUsage().rss);
}, 10);
const code = await main(Deno.args);
clearInterval(sampler);
peak = Math.max(peak, Deno.memoryUsage().rss);
console.error(`peak-rss-kib: ${Math.round(peak / 1024)}`);
Deno.exit(code);
