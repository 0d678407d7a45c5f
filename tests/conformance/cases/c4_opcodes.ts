/**
 * 4. Reserved opcodes 3-7 (data) and 11-15 (control) must fail the
 * connection with 1002 (RFC 6455 §5.2).
 *
 * @module
 */

import type { CaseDef } from "../lib/judge.ts";
import { OP } from "../lib/wire.ts";
import { FAIL_1002, simpleCase, textMsg, WIRE } from "./util.ts";

const HELLO = "Hello, world!";

function opcodeCases(group: number, first: number, kind: string): CaseDef[] {
  const ops = [first, first + 1, first + 2, first + 3, first + 4];
  return [
    simpleCase(
      `4.${group}.1`,
      `Send a frame with the reserved ${kind} opcode ${ops[0]} and no payload.`,
      "The client fails the connection with 1002.",
      [{ opcode: ops[0] }],
      { ending: FAIL_1002 },
    ),
    simpleCase(
      `4.${group}.2`,
      `Send a frame with the reserved ${kind} opcode ${ops[1]} and a payload.`,
      "The client fails the connection with 1002.",
      [{ opcode: ops[1], payload: "reserved opcode payload" }],
      { ending: FAIL_1002 },
    ),
    simpleCase(
      `4.${group}.3`,
      `Send a small text message, then a frame with opcode ${
        ops[2]
      }, then a ping; in one write.`,
      "The text is echoed, then 1002; no pong. (NON-STRICT if the echo is missing.)",
      [{ opcode: OP.TEXT, payload: HELLO }, { opcode: ops[2] }, {
        opcode: OP.PING,
      }],
      { echoes: [textMsg(HELLO)], echoesMayBeMissing: true, ending: FAIL_1002 },
    ),
    simpleCase(
      `4.${group}.4`,
      `Send a small text message, then a frame with opcode ${
        ops[3]
      } and a payload, then a ping; frame by frame.`,
      "The text is echoed, then 1002; no pong. (NON-STRICT if the echo is missing.)",
      [{ opcode: OP.TEXT, payload: HELLO }, {
        opcode: ops[3],
        payload: "reserved opcode payload",
      }, {
        opcode: OP.PING,
      }],
      { echoes: [textMsg(HELLO)], echoesMayBeMissing: true, ending: FAIL_1002 },
      WIRE.frameWise,
    ),
    simpleCase(
      `4.${group}.5`,
      `Send a small text message, then a frame with opcode ${
        ops[4]
      } and a payload, then a ping; in TCP chops of 1 byte.`,
      "The text is echoed, then 1002; no pong. (NON-STRICT if the echo is missing.)",
      [{ opcode: OP.TEXT, payload: HELLO }, {
        opcode: ops[4],
        payload: "reserved opcode payload",
      }, {
        opcode: OP.PING,
      }],
      { echoes: [textMsg(HELLO)], echoesMayBeMissing: true, ending: FAIL_1002 },
      WIRE.byteWise,
    ),
  ];
}

/** Cases 4.1.x (opcodes 3-7) and 4.2.x (opcodes 11-15). */
export const opcodeCasesAll: CaseDef[] = [
  ...opcodeCases(1, 3, "non-control"),
  ...opcodeCases(2, 11, "control"),
];
