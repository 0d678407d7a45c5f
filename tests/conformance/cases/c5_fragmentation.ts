/**
 * 5. Fragmentation (RFC 6455 §5.4): fragmented control frames, fragmented
 * text on the wire in different ways, control frames between fragments
 * (answered before the message completes), and continuation frames where
 * none is allowed or where one is due.
 *
 * @module
 */

import { type CaseDef, type Expect, timing } from "../lib/judge.ts";
import type { SendOptions, Session } from "../lib/session.ts";
import { type FrameSpec, OP } from "../lib/wire.ts";
import { FAIL_1002, NORMAL, simpleCase, textMsg, utf8, WIRE } from "./util.ts";

const F1 = "fragment1";
const F2 = "fragment2";
const TWO_FRAGMENTS: FrameSpec[] = [
  { opcode: OP.TEXT, payload: F1, fin: false },
  { opcode: OP.CONT, payload: F2, fin: true },
];
const PING: FrameSpec = { opcode: OP.PING, payload: "ping payload" };

/**
 * Sends the first fragment and a ping, waits for the pong (up to 1 s), then
 * sends the last fragment: a pong that only comes after the message is
 * complete is NON-STRICT.
 */
function pingBetweenFragments(
  id: string,
  how: string,
  opts: SendOptions,
): CaseDef {
  return {
    id,
    description:
      `Send a text message in 2 fragments with a ping between them, ${how}; the last fragment is only sent after the pong (or a timeout).`,
    expectation:
      "The pong arrives before the message is complete; then the echo of the whole message.",
    async run(s: Session): Promise<Expect> {
      await s.send([TWO_FRAGMENTS[0], PING], opts);
      await s.waitFor(() => s.pongs.length > 0 || s.dead, timing.reactionMs);
      s.mark("last fragment");
      await s.send(TWO_FRAGMENTS[1], opts);
      return {
        echoes: [textMsg(F1 + F2)],
        pongs: [utf8("ping payload")],
        pongsBeforeMark: "last fragment",
        ending: NORMAL,
      };
    },
  };
}

function orphanContinuation(
  id: string,
  fin: boolean,
  how: string,
  opts: SendOptions,
): CaseDef {
  return simpleCase(
    id,
    `Send a continuation frame (FIN=${
      fin ? 1 : 0
    }) with nothing to continue, then a text message; ${how}.`,
    "The client fails the connection with 1002; the text is not echoed.",
    [{ opcode: OP.CONT, payload: "non-continuation payload", fin }, {
      opcode: OP.TEXT,
      payload: "Hello, world!",
    }],
    { ending: FAIL_1002 },
    opts,
  );
}

/** Five fragments with two pings inside and a 1 s pause before the last three. */
function slowFragments(id: string, how: string, opts: SendOptions): CaseDef {
  const parts = [
    "fragment1",
    "fragment2",
    "fragment3",
    "fragment4",
    "fragment5",
  ];
  return {
    id,
    description:
      `Send a text message in 5 fragments, with a ping after the 1st and after the 2nd, then pause 1 s, then the last 3; ${how}.`,
    expectation:
      "Both pongs arrive during the pause (before the message completes); then the echo.",
    async run(s: Session): Promise<Expect> {
      const frames = parts.map((p, i): FrameSpec => ({
        opcode: i === 0 ? OP.TEXT : OP.CONT,
        payload: p,
        fin: i === parts.length - 1,
      }));
      await s.send([
        frames[0],
        { opcode: OP.PING, payload: "pongme 1!" },
        frames[1],
        {
          opcode: OP.PING,
          payload: "pongme 2!",
        },
      ], opts);
      await new Promise((r) => setTimeout(r, 1000));
      s.mark("rest of the message");
      await s.send(frames.slice(2), opts);
      return {
        echoes: [textMsg(parts.join(""))],
        pongs: [utf8("pongme 1!"), utf8("pongme 2!")],
        pongsBeforeMark: "rest of the message",
        ending: NORMAL,
      };
    },
  };
}

/** Cases 5.x. */
export const fragmentationCases: CaseDef[] = [
  simpleCase(
    "5.1",
    "Send a ping fragmented into 2 frames (PING FIN=0, then CONT).",
    "The client fails the connection with 1002 (control frames must not be fragmented).",
    [{ opcode: OP.PING, payload: F1, fin: false }, {
      opcode: OP.CONT,
      payload: F2,
    }],
    { ending: FAIL_1002 },
  ),
  simpleCase(
    "5.2",
    "Send a pong fragmented into 2 frames (PONG FIN=0, then CONT).",
    "The client fails the connection with 1002.",
    [{ opcode: OP.PONG, payload: F1, fin: false }, {
      opcode: OP.CONT,
      payload: F2,
    }],
    { ending: FAIL_1002 },
  ),
  simpleCase(
    "5.3",
    "Send a text message in 2 fragments, in one write.",
    "The whole message is echoed.",
    TWO_FRAGMENTS,
    { echoes: [textMsg(F1 + F2)], ending: NORMAL },
  ),
  simpleCase(
    "5.4",
    "Send a text message in 2 fragments, frame by frame.",
    "The whole message is echoed.",
    TWO_FRAGMENTS,
    { echoes: [textMsg(F1 + F2)], ending: NORMAL },
    WIRE.frameWise,
  ),
  simpleCase(
    "5.5",
    "Send a text message in 2 fragments, in TCP chops of 1 byte.",
    "The whole message is echoed.",
    TWO_FRAGMENTS,
    { echoes: [textMsg(F1 + F2)], ending: NORMAL },
    WIRE.byteWise,
  ),
  simpleCase(
    "5.6",
    "Send a text message in 2 fragments with a ping between them, in one write.",
    "A pong and the echo of the whole message.",
    [TWO_FRAGMENTS[0], PING, TWO_FRAGMENTS[1]],
    {
      echoes: [textMsg(F1 + F2)],
      pongs: [utf8("ping payload")],
      ending: NORMAL,
    },
  ),
  pingBetweenFragments("5.7", "frame by frame", WIRE.frameWise),
  pingBetweenFragments("5.8", "in TCP chops of 1 byte", WIRE.byteWise),
  orphanContinuation("5.9", true, "in one write", WIRE.together),
  orphanContinuation("5.10", true, "frame by frame", WIRE.frameWise),
  orphanContinuation("5.11", true, "in TCP chops of 1 byte", WIRE.byteWise),
  orphanContinuation("5.12", false, "in one write", WIRE.together),
  orphanContinuation("5.13", false, "frame by frame", WIRE.frameWise),
  orphanContinuation("5.14", false, "in TCP chops of 1 byte", WIRE.byteWise),
  simpleCase(
    "5.15",
    "Send a text message in 2 fragments, then a continuation (FIN=0) with nothing to continue, then a text message.",
    "The first message is echoed, then 1002. (NON-STRICT if the echo is missing.)",
    [...TWO_FRAGMENTS, { opcode: OP.CONT, payload: "fragment3", fin: false }, {
      opcode: OP.TEXT,
      payload: "fragment4",
    }],
    { echoes: [textMsg(F1 + F2)], echoesMayBeMissing: true, ending: FAIL_1002 },
  ),
  simpleCase(
    "5.16",
    "Twice: a continuation (FIN=0) with nothing to continue, then a text message in 2 fragments.",
    "The client fails the connection with 1002 at the first frame; nothing is echoed.",
    [
      { opcode: OP.CONT, payload: "fragment1", fin: false },
      ...TWO_FRAGMENTS,
      { opcode: OP.CONT, payload: "fragment1", fin: false },
      ...TWO_FRAGMENTS,
    ],
    { ending: FAIL_1002 },
  ),
  simpleCase(
    "5.17",
    "Twice: a continuation (FIN=1) with nothing to continue, then a text message in 2 fragments.",
    "The client fails the connection with 1002 at the first frame; nothing is echoed.",
    [
      { opcode: OP.CONT, payload: "fragment1", fin: true },
      ...TWO_FRAGMENTS,
      { opcode: OP.CONT, payload: "fragment1", fin: true },
      ...TWO_FRAGMENTS,
    ],
    { ending: FAIL_1002 },
  ),
  simpleCase(
    "5.18",
    "Send a text message in 2 fragments where the 2nd frame has opcode TEXT instead of CONT.",
    "The client fails the connection with 1002.",
    [{ opcode: OP.TEXT, payload: F1, fin: false }, {
      opcode: OP.TEXT,
      payload: F2,
    }],
    { ending: FAIL_1002 },
  ),
  slowFragments("5.19", "in one write per step", WIRE.together),
  slowFragments("5.20", "frame by frame", WIRE.frameWise),
  simpleCase(
    "5.21",
    "Send a binary message in 3 fragments where the 2nd frame has opcode TEXT instead of CONT.",
    "The client fails the connection with 1002.",
    [{ opcode: OP.BINARY, payload: F1, fin: false }, {
      opcode: OP.TEXT,
      payload: F2,
      fin: false,
    }, {
      opcode: OP.CONT,
      payload: "fragment3",
    }],
    { ending: FAIL_1002 },
  ),
];
