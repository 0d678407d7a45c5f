/**
 * Test-only: runs tests/peers/h2_ws_echo.mjs (Node's http2 with RFC 8441)
 * as a child process and tells whether node can run here.
 *
 * @module
 */
import { within } from "../helpers.ts";

const PEER = new URL("./h2_ws_echo.mjs", import.meta.url).pathname;

/** Why the node peer cannot run (no permission, no node), or null. */
export function nodeMissing(): string | null {
  if (
    Deno.permissions.querySync({ name: "run", command: "node" }).state !==
      "granted"
  ) {
    return "no --allow-run=node";
  }
  try {
    return new Deno.Command("node", {
        args: ["--version"],
        stdout: "null",
        stderr: "null",
      })
        .outputSync().success
      ? null
      : "node --version failed";
  } catch {
    return "node is not on PATH";
  }
}

/** A running node peer. */
export interface NodePeer {
  /** Its port on 127.0.0.1. */
  port: number;
  /** Kills it; returns its stderr. */
  stop(): Promise<string>;
}

/** Starts the echo peer (`h2_ws_echo.mjs`) with `args`. */
export function startNode(...args: string[]): Promise<NodePeer> {
  return startNodeScript(PEER, ...args);
}

/** Starts a Node peer script that prints its port on its first line. */
export async function startNodeScript(
  script: string,
  ...args: string[]
): Promise<NodePeer> {
  const child = new Deno.Command("node", {
    args: [script, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let line = "";
  try {
    while (!line.includes("\n")) {
      const { value, done } = await within(
        10000,
        "node peer's port",
        reader.read(),
      );
      if (done) break;
      line += value;
    }
  } finally {
    await reader.cancel();
  }
  const port = Number(line.trim());
  if (!(port > 0)) {
    child.kill();
    await child.status;
    throw new Error(`node peer did not start: ${await stderr}`);
  }
  return {
    port,
    async stop() {
      child.kill();
      await child.status;
      return await stderr;
    },
  };
}

/** Runs `run` against a fresh peer started with `args`; prints its stderr on failure. */
export async function withPeer(
  args: string[],
  run: (peer: NodePeer) => Promise<void>,
): Promise<void> {
  const peer = await startNode(...args);
  try {
    await run(peer);
  } catch (e) {
    const log = await peer.stop();
    if (log) console.error(`node peer stderr:\n${log}`);
    throw e;
  }
  await peer.stop();
}
