/**
 * **wsnc** on the command line: netcat for WebSocket.
 *
 * ```sh
 * echo hello | deno run --allow-net=127.0.0.1 cli.ts ws://127.0.0.1:8080/
 * deno run --allow-net=127.0.0.1 cli.ts --listen 8080 --echo
 * ```
 *
 * Run with `--help` for every flag and the exit codes.
 *
 * @module
 */

export { main } from "./src/cli/main.ts";
export { VERSION } from "./src/cli/version.ts";
export { ExitCode } from "./src/cli/exit.ts";

import { main } from "./src/cli/main.ts";

if (import.meta.main) {
  // Exit explicitly: a pending stdin read would otherwise keep the process alive.
  Deno.exit(await main(Deno.args));
}
