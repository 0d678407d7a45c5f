/**
 * 1. Framing: text and binary messages of the sizes where the length
 * encoding changes (7-bit, 16-bit, 64-bit), one also in small TCP chops.
 *
 * @module
 */

import type { CaseDef } from "../lib/judge.ts";
import { OP } from "../lib/wire.ts";
import {
  asciiPayload,
  binaryMsg,
  binaryPayload,
  NORMAL,
  simpleCase,
  textMsg,
} from "./util.ts";

const SIZES = [0, 125, 126, 127, 128, 65535, 65536];

/** Cases 1.1.x (text) and 1.2.x (binary). */
export const framingCases: CaseDef[] = [];

for (
  const [group, opcode, name] of [[1, OP.TEXT, "text"], [
    2,
    OP.BINARY,
    "binary",
  ]] as const
) {
  const make = opcode === OP.TEXT ? asciiPayload : binaryPayload;
  const msg = opcode === OP.TEXT ? textMsg : binaryMsg;
  SIZES.forEach((size, i) => {
    const payload = make(size);
    framingCases.push(simpleCase(
      `1.${group}.${i + 1}`,
      `Send a ${name} message with a payload of ${size} bytes.`,
      `The message is echoed back as ${name}, then a clean close 1000.`,
      [{ opcode, payload }],
      { echoes: [msg(payload)], ending: NORMAL },
    ));
  });
  const payload = make(65536);
  framingCases.push(simpleCase(
    `1.${group}.8`,
    `Send a ${name} message of 65536 bytes, written in TCP chops of 997 bytes.`,
    `The message is echoed back as ${name}, then a clean close 1000.`,
    [{ opcode, payload }],
    { echoes: [msg(payload)], ending: NORMAL },
    { chop: 997 },
  ));
}
