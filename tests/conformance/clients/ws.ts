/**
 * Echo-client driver for the `ws` package (npm:ws@8). Needs
 * `--allow-env=WS_NO_BUFFER_UTIL,WS_NO_UTF_8_VALIDATE`.
 *
 * @module
 */

// @ts-types="npm:@types/ws@8"
// deno-lint-ignore no-import-prefix
import WebSocket from "npm:ws@8";
import { caseUrl, parseDriverArgs } from "./args.ts";

const args = parseDriverArgs(Deno.args);

function runCase(url: string): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on("message", (data, isBinary) => {
      ws.send(data as Buffer, { binary: isBinary }, (err) => {
        if (err && args.verbose) {
          console.error(`${url}: send failed: ${err.message}`);
        }
      });
    });
    ws.on("error", (err) => {
      if (args.verbose) console.error(`${url}: error ${err.message}`);
    });
    ws.on("close", (code, reason) => {
      if (args.verbose) console.error(`${url}: closed ${code} ${reason}`);
      resolve();
    });
  });
}

for (let i = args.from; i <= args.to; i++) await runCase(caseUrl(args, i));
