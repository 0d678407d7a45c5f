/**
 * The fuzzing server: accepts `ws://127.0.0.1:PORT/runCase?case=N&agent=A`
 * (Autobahn style; N counts from 1 within the cases prepared for agent A),
 * runs case N on the connection and records the graded result.
 *
 * @module
 */

import {
  type CaseDef,
  finish,
  isOutcome,
  type Outcome,
  timing,
  type Verdict,
} from "./judge.ts";
import {
  checkUpgradeRequest,
  readRequest,
  writeHttpError,
  writeSwitchingProtocols,
} from "./handshake.ts";
import { Session, type TraceEntry } from "./session.ts";
import { DeflateCodec, paramsOf } from "./deflate.ts";

/** The recorded result of one case for one client. */
export interface CaseResult {
  id: string;
  description: string;
  expectation: string;
  verdict: Verdict;
  reason: string;
  /** Wall time of the case in ms. */
  durationMs: number;
  trace: TraceEntry[];
  traceDropped: number;
  /** The client's close frame, if any. */
  clientClose: { code: number | null; reason: string } | null;
  /** The client's upgrade request line and headers. */
  request: { target: string; headers: Array<[string, string]> } | null;
}

interface AgentRun {
  cases: CaseDef[];
  results: Map<number, CaseResult>;
  onResult?: (index: number, result: CaseResult) => void;
}

const HANDSHAKE_TIMEOUT_MS = 5000;
const DEFAULT_LIMIT_MS = 15_000;

/** Raw `Deno.listen` server that runs the scripted cases. */
export class FuzzingServer {
  #listener: Deno.Listener | null = null;
  #agents = new Map<string, AgentRun>();
  #active = new Set<Promise<void>>();
  #acceptLoop: Promise<void> | null = null;
  /** Called whenever a connection arrives (for the runner's stall watchdog). */
  onConnection: (() => void) | null = null;

  /** Port the server listens on (after {@linkcode FuzzingServer.start}). */
  get port(): number {
    return (this.#listener!.addr as Deno.NetAddr).port;
  }

  /** Base URL for clients. */
  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** Starts listening on 127.0.0.1 on a free port. */
  start(): void {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#acceptLoop = this.#accept();
  }

  /** Registers the cases `agent` will run as /runCase?case=1..cases.length. */
  prepare(
    agent: string,
    cases: CaseDef[],
    onResult?: AgentRun["onResult"],
  ): Map<number, CaseResult> {
    const run: AgentRun = { cases, results: new Map(), onResult };
    this.#agents.set(agent, run);
    return run.results;
  }

  /** True while a connection is being handled. */
  get busy(): boolean {
    return this.#active.size > 0;
  }

  /** Resolves once no case is running. */
  async idle(): Promise<void> {
    while (this.#active.size > 0) await Promise.all([...this.#active]);
  }

  /** Stops listening and waits for running cases. */
  async close(): Promise<void> {
    try {
      this.#listener?.close();
    } catch { /* already closed */ }
    await this.#acceptLoop;
    await this.idle();
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener!) {
        this.onConnection?.();
        const p = this.#handle(conn).catch((e) =>
          console.error("conformance server:", e)
        );
        this.#active.add(p);
        p.finally(() => this.#active.delete(p));
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) throw e;
    }
  }

  async #handle(conn: Deno.Conn): Promise<void> {
    try {
      (conn as Deno.TcpConn).setNoDelay(true);
    } catch { /* not fatal */ }
    let timer: ReturnType<typeof setTimeout> | undefined;
    let request;
    try {
      request = await Promise.race([
        readRequest(conn),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error("no upgrade request within 5 s")),
            HANDSHAKE_TIMEOUT_MS,
          );
        }),
      ]);
    } catch {
      clearTimeout(timer);
      try {
        conn.close();
      } catch { /* gone */ }
      return;
    }
    clearTimeout(timer);
    const url = new URL(request.target, "http://127.0.0.1");
    const run = this.#agents.get(url.searchParams.get("agent") ?? "");
    const index = Number(url.searchParams.get("case"));
    const caseDef = run?.cases[index - 1];
    if (url.pathname !== "/runCase" || !run || !caseDef) {
      try {
        await writeHttpError(conn, 404, `no such case: ${request.target}\n`);
        conn.close();
      } catch { /* gone */ }
      return;
    }
    const offer = request.headers.get("sec-websocket-extensions") ?? "";
    const extension = caseDef.negotiate?.(offer) ?? null;
    const session = new Session(conn, request);
    session.extensions = extension ?? "";
    if (extension) session.deflate = new DeflateCodec(paramsOf(extension));
    session.note("rx", `${request.method} ${request.target}`);
    for (const p of checkUpgradeRequest(request)) {
      session.violations.push(`handshake: ${p}`);
    }
    const result = await executeCase(caseDef, session, async () => {
      await writeSwitchingProtocols(
        conn,
        request.headers.get("sec-websocket-key") ?? "",
        extension ? { "Sec-WebSocket-Extensions": extension } : {},
      );
      session.note(
        "tx",
        `HTTP/1.1 101 Switching Protocols${extension ? ` (${extension})` : ""}`,
      );
    });
    run.results.set(index, result);
    run.onResult?.(index, result);
  }
}

/**
 * Runs one case on an established session (after `handshake`), within the
 * case's time limit, closes TCP and returns the graded result.
 */
export async function executeCase(
  caseDef: CaseDef,
  session: Session,
  handshake: () => Promise<void>,
): Promise<CaseResult> {
  const started = performance.now();
  let outcome: Outcome;
  try {
    await handshake();
    outcome = await runWithLimit(caseDef, session);
  } catch (e) {
    outcome = {
      verdict: "FAILED",
      reason: `suite error: ${e instanceof Error ? e.stack : e}`,
    };
  } finally {
    await session.closeTcp();
  }
  const request = session.request;
  return {
    id: caseDef.id,
    description: caseDef.description,
    expectation: caseDef.expectation,
    verdict: outcome.verdict,
    reason: outcome.reason,
    durationMs: Math.round(performance.now() - started),
    trace: session.trace,
    traceDropped: session.traceDropped,
    clientClose: session.clientClose
      ? { code: session.clientClose.code, reason: session.clientClose.reason }
      : null,
    request: { target: request.target, headers: [...request.headers] },
  };
}

async function runWithLimit(caseDef: CaseDef, s: Session): Promise<Outcome> {
  const limitMs = caseDef.limitMs ?? DEFAULT_LIMIT_MS;
  const work = (async (): Promise<Outcome> => {
    const r = await caseDef.run(s);
    if (!isOutcome(r)) return await finish(s, r);
    // A case that decided on its own (UNIMPLEMENTED): end the connection politely.
    if (!s.clientGone) {
      await s.sendClose(1000);
      await s.waitClientGone(timing.closeReplyMs);
    }
    return r;
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), limitMs);
  });
  const first = await Promise.race([work, limit]);
  clearTimeout(timer);
  if (first !== null) return first;
  s.note("note", `case limit of ${limitMs} ms reached`);
  await s.closeTcp();
  await work.catch(() => null);
  return {
    verdict: "FAILED",
    reason: `case did not finish within ${limitMs / 1000} s (client stalled?)`,
  };
}
