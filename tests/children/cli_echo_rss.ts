/**
 * Child process of cli_hostile_test.ts: the CLI's `--listen --echo --once`
 * (its real entry point, main()) with this process's peak resident memory
 * sampled. The CLI's own lines go to stderr ("listening on ..."); the last
 * stdout line is JSON: the exit code and the peak RSS in bytes.
 *
 *   deno run --allow-net=127.0.0.1 cli_echo_rss.ts
 */
import { main } from "../../src/cli/main.ts";

// Sampled every 5 ms and at the end, as in fragment_flood.ts: held memory
// shows up in the last samples even when the busy loop delays the timer.
let peak = 0;
const sample = () => peak = Math.max(peak, Deno.memoryUsage().rss);
const sampler = setInterval(sample, 5);
const code = await main(["--listen", "127.0.0.1:0", "--echo", "--once"]);
sample();
clearInterval(sampler);
console.log(JSON.stringify({ code, peak }));
Deno.exit(0);
