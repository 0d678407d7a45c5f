/**
 * Runs the CLI's `main()` in this process and, when it returns, prints the
 * process's peak RSS (VmHWM from /proc/self/status) on stderr as
 * `peak-rss-kib: N`. Needs `--allow-read=/proc/self/status` besides the
 * CLI's own permissions.
 *
 * @module
 */

import { main } from "../../src/cli/main.ts";

const code = await main(Deno.args);
const status = Deno.readTextFileSync("/proc/self/status");
const kib = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1] ?? "0";
console.error(`peak-rss-kib: ${kib}`);
Deno.exit(code);
