/**
 * Echo-client driver for Deno's built-in `WebSocket`.
 *
 * @module
 */

import { caseUrl, parseDriverArgs } from "./args.ts";

const args = parseDriverArgs(Deno.args);

function runCase(url: string): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    ws.onmessage = (e) => {
      try {
        ws.send(e.data);
      } catch (err) {
        if (args.verbose) console.error(`${url}: send failed: ${err}`);
      }
    };
    ws.onerror = (e) => {
      if (args.verbose) {
        console.error(`${url}: error ${(e as ErrorEvent).message ?? ""}`);
      }
    };
    ws.onclose = (e) => {
      if (args.verbose) console.error(`${url}: closed ${e.code} ${e.reason}`);
      resolve();
    };
  });
}

for (let i = args.from; i <= args.to; i++) await runCase(caseUrl(args, i));
