/**
 * Case definitions and grading: what a case expects back, how the server
 * ends the connection for it, and the verdict rules (see README.md).
 *
 * @module
 */

import { type Session, sleep } from "./session.ts";
import { isValidCloseCode, type OP, opName, preview } from "./wire.ts";

/** Verdicts, as in Autobahn's reports (plus UNIMPLEMENTED for features not built yet). */
export type Verdict =
  | "OK"
  | "NON-STRICT"
  | "FAILED"
  | "INFORMATIONAL"
  | "UNIMPLEMENTED";

/** A verdict with the reason for it. */
export interface Outcome {
  verdict: Verdict;
  reason: string;
}

/** A data message the client should echo. */
export interface Message {
  opcode: typeof OP.TEXT | typeof OP.BINARY;
  payload: Uint8Array;
}

/** How the connection must end. */
export type Ending =
  /** After the echoes, the server closes with 1000 and expects 1000 back. */
  | { by: "server" }
  /**
   * The client must fail the connection with one of `ok` (NON-STRICT: one of
   * `nonStrict`, or dropping TCP without a close frame). With `failFastMark`,
   * the failure must be seen before that mark was set.
   */
  | { by: "client"; ok: number[]; nonStrict?: number[]; failFastMark?: string }
  /** The case sent a close itself; the client's reply code must be in `ok` (null = empty close). */
  | {
    by: "server-sent";
    ok: Array<number | null>;
    nonStrict?: Array<number | null>;
    /** The server's close was invalid: dropping TCP without a close is NON-STRICT, not FAILED. */
    dropIsNonStrict?: boolean;
  };

/** What a case expects after it has sent its frames. */
export interface Expect {
  echoes?: Message[];
  /** Missing echoes give NON-STRICT instead of FAILED (Autobahn's rule for a message just before a bad frame). */
  echoesMayBeMissing?: boolean;
  /** Payloads of the pongs expected, in order. */
  pongs?: Uint8Array[];
  /** Only the last pong is required (RFC 6455 §5.5.3); fewer give NON-STRICT. */
  onlyLastPongRequired?: boolean;
  /** Every pong must have arrived before this mark, else NON-STRICT. */
  pongsBeforeMark?: string;
  ending: Ending;
  /** Milliseconds to wait for the echoes (default scales with the bytes sent). */
  timeoutMs?: number;
  /** For measurement cases: an OK result becomes INFORMATIONAL with this text. */
  info?: () => string;
}

/** One test case. */
export interface CaseDef {
  /** Autobahn-style number, e.g. "6.4.1". */
  id: string;
  /** What is sent. */
  description: string;
  /** What a conforming client does. */
  expectation: string;
  /** Sends the case's frames and says what to expect, or gives an outcome directly. */
  run(s: Session): Promise<Expect | Outcome>;
  /** Overall time limit of the case in ms (default 15 s). */
  limitMs?: number;
  /** Extension the server accepts in its 101 for this case (compression cases). */
  negotiate?: (offer: string) => string | null;
}

/**
 * How long the server waits for the client's reactions. Waiting only costs
 * time when a client does not react (a correct client ends each wait
 * early), so CI uses long waits to stay reliable on a loaded machine.
 */
export const timing = {
  /** Fail-fast pause: time a client gets to fail before the rest of an invalid message is sent. */
  failFastPauseMs: 500,
  /** Time a client gets to fail the connection, or to answer a ping between fragments. */
  reactionMs: 1000,
  /** Time a client gets to answer a close frame. */
  closeReplyMs: 2000,
};

/** Default echo wait: 3 s plus 1 s per MiB sent. */
function echoTimeout(s: Session, e: Expect): number {
  return e.timeoutMs ?? 3000 + Math.ceil(s.bytesSent / 1048576) * 1000;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function describeMessage(m: { opcode: number; payload: Uint8Array }): string {
  return `${opName(m.opcode)}(${m.payload.length}) ${preview(m.payload, 24)}`;
}

function describeClose(s: Session): string {
  const c = s.clientClose;
  if (c) {
    return c.code === null
      ? "an empty close frame"
      : `close ${c.code}${c.reason ? ` "${c.reason}"` : ""}`;
  }
  if (s.eofAt !== null) return "a TCP close without a close frame";
  return "nothing (the connection stayed open)";
}

/**
 * Drives the end of the connection as `e.ending` says, closes TCP and grades
 * what the client did.
 */
export async function finish(s: Session, e: Expect): Promise<Outcome> {
  const nEchoes = e.echoes?.length ?? 0;
  const nPongs = e.pongs?.length ?? 0;
  const ending = e.ending;
  if (ending.by === "server") {
    await s.waitFor(
      () =>
        s.clientGone ||
        (s.messages.length >= nEchoes && s.pongs.length >= nPongs),
      echoTimeout(s, e),
    );
    // Linger a moment for stray frames (an extra echo or pong would fail the case).
    await s.waitFor(() => s.clientGone, 20);
    if (!s.clientGone) {
      s.note("note", "suite starts the closing handshake");
      await s.sendClose(1000);
      await s.waitClientGone(timing.closeReplyMs);
    }
  } else if (ending.by === "client") {
    // Messages before a bad frame may still be echoed: give them time too.
    await s.waitClientGone(
      Math.max(timing.reactionMs, nEchoes ? echoTimeout(s, e) : 0),
    );
    if (s.clientClose && s.serverCloseSentAt === null) {
      const code = s.clientClose.code;
      await s.sendClose(code !== null && isValidCloseCode(code) ? code : 1000);
    }
  } else {
    await s.waitClientGone(timing.closeReplyMs);
  }
  // A client that has not closed yet gets a moment for its close reply
  // before TCP goes away, so that its last frames are recorded.
  if (s.clientClose && s.eofAt === null) {
    await s.waitFor(() => s.eofAt !== null, 10);
  }
  await s.closeTcp();
  await s.settled();
  await sleep(0);
  const verdict = grade(s, e);
  // The flipped suite tests a server: name the peer right in the reasons.
  if (s.role === "client") {
    verdict.reason = verdict.reason.replace(/\bclient\b/g, "server");
  }
  if (verdict.verdict === "OK" && e.info) {
    return { verdict: "INFORMATIONAL", reason: e.info() };
  }
  return verdict;
}

/** Applies the verdict rules of README.md to what was recorded. */
export function grade(s: Session, e: Expect): Outcome {
  if (s.violations.length > 0) {
    return {
      verdict: "FAILED",
      reason: `client broke the protocol: ${s.violations.join("; ")}`,
    };
  }
  const soft: string[] = [];
  const expected = e.echoes ?? [];
  for (let i = 0; i < Math.min(expected.length, s.messages.length); i++) {
    const want = expected[i], got = s.messages[i];
    if (want.opcode !== got.opcode || !sameBytes(want.payload, got.payload)) {
      return {
        verdict: "FAILED",
        reason: `echo #${i + 1} differs: sent ${
          describeMessage(want)
        }, got back ${describeMessage(got)}`,
      };
    }
  }
  if (s.messages.length > expected.length) {
    return {
      verdict: "FAILED",
      reason: `client sent ${
        s.messages.length - expected.length
      } unexpected message(s), first: ${
        describeMessage(s.messages[expected.length])
      }`,
    };
  }
  if (s.messages.length < expected.length) {
    const text = `${
      expected.length - s.messages.length
    } of ${expected.length} echo(es) missing; client sent ${describeClose(s)}`;
    if (!e.echoesMayBeMissing) return { verdict: "FAILED", reason: text };
    soft.push(text);
  }

  const pongs = e.pongs ?? [];
  if (s.pongs.length > pongs.length) {
    return {
      verdict: "FAILED",
      reason:
        `${s.pongs.length} pong(s) received, ${pongs.length} expected (extra pong ${
          preview(s.pongs[pongs.length].payload, 24)
        })`,
    };
  }
  if (s.pongs.length < pongs.length) {
    const last = s.pongs.at(-1);
    if (
      e.onlyLastPongRequired && last &&
      sameBytes(last.payload, pongs[pongs.length - 1])
    ) {
      soft.push(
        `only ${s.pongs.length} of ${pongs.length} pongs (allowed: RFC 6455 §5.5.3 needs only the last)`,
      );
    } else {
      return {
        verdict: "FAILED",
        reason:
          `${s.pongs.length} of ${pongs.length} pong(s) received; client sent ${
            describeClose(s)
          }`,
      };
    }
  } else {
    for (let i = 0; i < pongs.length; i++) {
      if (!sameBytes(pongs[i], s.pongs[i].payload)) {
        return {
          verdict: "FAILED",
          reason: `pong #${i + 1} payload ${
            preview(s.pongs[i].payload, 24)
          } is not the ping's ${preview(pongs[i], 24)}`,
        };
      }
    }
  }
  if (e.pongsBeforeMark && s.pongs.length > 0) {
    const mark = s.marks.get(e.pongsBeforeMark);
    const late = s.pongs.filter((p) => mark === undefined || p.t > mark);
    if (mark !== undefined && late.length > 0) {
      soft.push(
        `pong sent only at ${
          late[0].t
        } ms, after the rest of the message went out at ${mark} ms`,
      );
    }
  }

  const close = s.clientClose;
  const ending = e.ending;
  if (ending.by === "server") {
    if (!close) {
      return {
        verdict: "FAILED",
        reason: s.eofAt === null
          ? "client did not answer our close 1000"
          : s.serverCloseSentAt === null
          ? "client closed TCP without a close frame"
          : "client closed TCP without answering our close frame",
      };
    }
    if (s.serverCloseSentAt === null || close.t < s.serverCloseSentAt) {
      return {
        verdict: "FAILED",
        reason: `client closed first with ${describeClose(s)}`,
      };
    }
    if (close.code === null) {
      soft.push("client answered close 1000 with an empty close frame");
    } else if (close.code !== 1000) {
      return {
        verdict: "FAILED",
        reason: `client answered close 1000 with ${describeClose(s)}`,
      };
    }
  } else if (ending.by === "client") {
    if (!close && s.eofAt === null) {
      return {
        verdict: "FAILED",
        reason: "client did not fail the connection",
      };
    }
    if (!close) soft.push("client dropped TCP without sending a close frame");
    else if (close.code === null || !ending.ok.includes(close.code)) {
      if (close.code !== null && ending.nonStrict?.includes(close.code)) {
        soft.push(
          `client failed with close ${close.code}, expected ${
            ending.ok.join(" or ")
          }`,
        );
      } else {
        return {
          verdict: "FAILED",
          reason: `client sent ${describeClose(s)}, expected close ${
            ending.ok.join(" or ")
          }`,
        };
      }
    }
    if (ending.failFastMark) {
      const mark = s.marks.get(ending.failFastMark);
      const at = close?.t ?? s.eofAt!;
      if (mark !== undefined && at > mark) {
        soft.push(
          `not fail-fast: client failed at ${at} ms, only after the rest of the message was sent at ${mark} ms`,
        );
      }
    }
  } else if (!close) {
    if (!ending.dropIsNonStrict || s.eofAt === null) {
      return {
        verdict: "FAILED",
        reason: `client answered our close with ${describeClose(s)}`,
      };
    }
    soft.push("client dropped TCP without sending a close frame");
  } else {
    if (!ending.ok.includes(close.code)) {
      if (ending.nonStrict?.includes(close.code)) {
        soft.push(
          `client answered with ${describeClose(s)}, expected ${
            ending.ok.map(String).join(" or ")
          }`,
        );
      } else {
        return {
          verdict: "FAILED",
          reason: `client answered with ${describeClose(s)}, expected ${
            ending.ok.map((c) => c === null ? "an empty close" : `close ${c}`)
              .join(" or ")
          }`,
        };
      }
    }
  }
  if (soft.length > 0) {
    return { verdict: "NON-STRICT", reason: soft.join("; ") };
  }
  return { verdict: "OK", reason: "" };
}

/** True for an {@linkcode Outcome} (as opposed to an {@linkcode Expect}). */
export function isOutcome(x: Expect | Outcome): x is Outcome {
  return "verdict" in x;
}
