/**
 * The flipped suite: the same cases with the roles swapped. The scripted
 * side is the client (it masks its frames and connects), the implementation
 * under test is an echo *server* started as a subprocess; its frames must
 * be unmasked, and unmasked client frames must make it fail with 1002.
 *
 * @module
 */

import type { CaseDef } from "./judge.ts";
import { acceptKey, readRequest, writeAll } from "./handshake.ts";
import { type CaseResult, executeCase } from "./server.ts";
import { Session } from "./session.ts";
import type { RunOptions } from "./runner.ts";

/** How to start one server's driver. */
export interface ServerDriver {
  name: string;
  script: string;
  flags: string[];
}

const HERE = new URL("../clients/", import.meta.url);

/** Echo servers known to the flipped suite. */
export const SERVER_DRIVERS: Record<string, ServerDriver> = {
  wsnc: {
    name: "wsnc",
    script: new URL("wsnc_server.ts", HERE).pathname,
    flags: ["--allow-net=127.0.0.1"],
  },
  deno: {
    name: "deno",
    script: new URL("deno_server.ts", HERE).pathname,
    flags: ["--allow-net=127.0.0.1"],
  },
  ws: {
    name: "ws",
    script: new URL("ws_server.ts", HERE).pathname,
    flags: [
      "--allow-net=127.0.0.1",
      "--allow-env=WS_NO_BUFFER_UTIL,WS_NO_UTF_8_VALIDATE",
    ],
  },
};

interface RunningServer {
  child: Deno.ChildProcess;
  port: number;
  exited: boolean;
  stderr: Promise<string>;
  drainStdout: Promise<void>;
}

async function startServer(driver: ServerDriver): Promise<RunningServer> {
  const child = new Deno.Command("deno", {
    args: ["run", "--no-lock", "--quiet", ...driver.flags, driver.script],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const srv: RunningServer = {
    child,
    port: 0,
    exited: false,
    stderr: new Response(child.stderr).text().catch(() => ""),
    drainStdout: Promise.resolve(),
  };
  child.status.then(() => srv.exited = true);
  // The first stdout line is the port; keep draining the rest.
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) {
      throw new Error(
        `${driver.name} server exited before printing its port: ${await srv
          .stderr}`,
      );
    }
    text += new TextDecoder().decode(value);
  }
  srv.port = Number(text.split("\n")[0].trim());
  srv.drainStdout = (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })();
  return srv;
}

async function stopServer(srv: RunningServer): Promise<string> {
  if (!srv.exited) {
    try {
      srv.child.kill("SIGTERM");
    } catch { /* exited meanwhile */ }
  }
  await srv.child.status;
  await srv.drainStdout;
  return await srv.stderr;
}

/** Performs the client side of the opening handshake; returns the session. */
async function openSession(port: number, path: string): Promise<Session> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    conn.setNoDelay(true);
    const key = btoa(
      String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))),
    );
    await writeAll(
      conn,
      new TextEncoder().encode(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    // readRequest parses any HTTP head: for a response, "method" is the version and "target" the status.
    const res = await readRequest(conn);
    if (res.target !== "101") {
      throw new Error(`server answered ${res.method} ${res.target}`);
    }
    if (res.headers.get("sec-websocket-accept") !== await acceptKey(key)) {
      throw new Error("wrong Sec-WebSocket-Accept");
    }
    const session = new Session(conn, {
      method: "GET",
      target: path,
      headers: res.headers,
      rest: res.rest,
    }, "client");
    session.note("tx", `GET ${path} (upgrade)`);
    session.note("rx", "HTTP/1.1 101 Switching Protocols");
    return session;
  } catch (e) {
    conn.close();
    throw e;
  }
}

/** Runs `cases` with the roles flipped against the named echo server. */
export async function runServerRole(
  name: string,
  cases: CaseDef[],
  opts: RunOptions = {},
): Promise<CaseResult[]> {
  const driver = SERVER_DRIVERS[name];
  if (!driver) {
    throw new Error(
      `unknown server ${name}; known: ${
        Object.keys(SERVER_DRIVERS).join(", ")
      }`,
    );
  }
  const results: CaseResult[] = [];
  let srv = await startServer(driver);
  try {
    for (const caseDef of cases) {
      if (srv.exited) {
        // The server died during the previous case: blame it, and restart.
        const err = await stopServer(srv);
        const last = results.at(-1);
        if (last) {
          last.verdict = "FAILED";
          last.reason = `server process exited during this case: ${
            err.trim().split("\n").slice(-4).join("\n")
          }`;
        }
        srv = await startServer(driver);
      }
      let result: CaseResult;
      try {
        const session = await openSession(
          srv.port,
          `/runCase?case=${caseDef.id}`,
        );
        result = await executeCase(caseDef, session, () => Promise.resolve());
      } catch (e) {
        result = {
          id: caseDef.id,
          description: caseDef.description,
          expectation: caseDef.expectation,
          verdict: "FAILED",
          reason: `opening handshake failed: ${
            e instanceof Error ? e.message : e
          }`,
          durationMs: 0,
          trace: [],
          traceDropped: 0,
          clientClose: null,
          request: null,
        };
      }
      results.push(result);
      opts.onResult?.(result, results.length, cases.length);
    }
  } finally {
    await stopServer(srv);
  }
  return results;
}
