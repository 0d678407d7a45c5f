/**
 * 3. Reserved bits: with no extension negotiated, any RSV bit must fail the
 * connection (RFC 6455 §5.2). A valid message just before the bad frame
 * must still be delivered (echoed) first; a ping after it must not be
 * answered.
 *
 * @module
 */

import { type CaseDef, timing } from "../lib/judge.ts";
import { closePayload, OP } from "../lib/wire.ts";
import {
  binaryPayload,
  FAIL_1002,
  simpleCase,
  textMsg,
  utf8,
  WIRE,
} from "./util.ts";

const HELLO = "Hello, world!";

/** Cases 3.x. */
export const rsvCases: CaseDef[] = [
  simpleCase(
    "3.1",
    "Send a small text message with RSV1 set.",
    "The client fails the connection with 1002.",
    [{ opcode: OP.TEXT, payload: HELLO, rsv: 4 }],
    { ending: FAIL_1002 },
  ),
  simpleCase(
    "3.2",
    "Send a small text message, then the same with RSV2 set, then a ping; all in one write.",
    "The first message is echoed, then 1002; no pong. (NON-STRICT if the first echo is missing.)",
    [{ opcode: OP.TEXT, payload: HELLO }, {
      opcode: OP.TEXT,
      payload: HELLO,
      rsv: 2,
    }, {
      opcode: OP.PING,
      payload: "ping",
    }],
    { echoes: [textMsg(HELLO)], echoesMayBeMissing: true, ending: FAIL_1002 },
  ),
  {
    id: "3.3",
    description:
      "Send a small text message and wait for its echo, then the same with RSV1+RSV2 set (3), then a ping; frame by frame.",
    expectation: "The first message is echoed, then 1002; no pong.",
    async run(s) {
      await s.send({ opcode: OP.TEXT, payload: HELLO });
      await s.waitFor(() => s.messages.length > 0 || s.dead, timing.reactionMs);
      await s.send([{ opcode: OP.TEXT, payload: HELLO, rsv: 3 }, {
        opcode: OP.PING,
        payload: "ping",
      }], WIRE.frameWise);
      return { echoes: [textMsg(HELLO)], ending: FAIL_1002 };
    },
  },
  simpleCase(
    "3.4",
    "Send a small text message, then the same with RSV3 set, then a ping; in TCP chops of 1 byte.",
    "The first message is echoed, then 1002; no pong. (NON-STRICT if the first echo is missing.)",
    [{ opcode: OP.TEXT, payload: HELLO }, {
      opcode: OP.TEXT,
      payload: HELLO,
      rsv: 1,
    }, {
      opcode: OP.PING,
      payload: "ping",
    }],
    { echoes: [textMsg(HELLO)], echoesMayBeMissing: true, ending: FAIL_1002 },
    WIRE.byteWise,
  ),
  simpleCase(
    "3.5",
    "Send a small binary message with RSV1+RSV3 set (5).",
    "The client fails the connection with 1002.",
    [{ opcode: OP.BINARY, payload: binaryPayload(8), rsv: 5 }],
    { ending: FAIL_1002 },
  ),
  simpleCase(
    "3.6",
    "Send a ping with RSV1+RSV2 set (6).",
    "The client fails the connection with 1002; no pong.",
    [{ opcode: OP.PING, payload: utf8("ping"), rsv: 6 }],
    { ending: FAIL_1002 },
  ),
  simpleCase(
    "3.7",
    "Send a close 1000 with all RSV bits set (7).",
    "The client fails the connection with 1002 (not a normal close reply).",
    [{ opcode: OP.CLOSE, payload: closePayload(1000), rsv: 7 }],
    {
      ending: {
        by: "server-sent",
        ok: [1002],
        nonStrict: [1007, 1008, 1011],
        dropIsNonStrict: true,
      },
    },
  ),
];
