/**
 * 2. Pings and pongs (RFC 6455 §5.5.2, §5.5.3).
 *
 * @module
 */

import type { CaseDef } from "../lib/judge.ts";
import { OP } from "../lib/wire.ts";
import {
  binaryPayload,
  bytes,
  FAIL_1002,
  NORMAL,
  simpleCase,
  utf8,
} from "./util.ts";

const SMALL_BINARY = bytes([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff]);
const TEN_PINGS = Array.from({ length: 10 }, (_, i) => utf8(`payload-${i}`));

/** Cases 2.x. */
export const pingCases: CaseDef[] = [
  simpleCase(
    "2.1",
    "Send a ping without payload.",
    "A pong without payload, then a clean close.",
    [{ opcode: OP.PING }],
    { pongs: [new Uint8Array(0)], ending: NORMAL },
  ),
  simpleCase(
    "2.2",
    'Send a ping with the text payload "Hello, world!".',
    "A pong with the same payload.",
    [{ opcode: OP.PING, payload: "Hello, world!" }],
    { pongs: [utf8("Hello, world!")], ending: NORMAL },
  ),
  simpleCase(
    "2.3",
    "Send a ping with a small binary payload.",
    "A pong with the same payload.",
    [{ opcode: OP.PING, payload: SMALL_BINARY }],
    { pongs: [SMALL_BINARY], ending: NORMAL },
  ),
  simpleCase(
    "2.4",
    "Send a ping with a binary payload of 125 bytes (the largest allowed).",
    "A pong with the same payload.",
    [{ opcode: OP.PING, payload: binaryPayload(125) }],
    { pongs: [binaryPayload(125)], ending: NORMAL },
  ),
  simpleCase(
    "2.5",
    "Send a ping with a binary payload of 126 bytes (control frames are limited to 125).",
    "The client fails the connection with 1002 and sends no pong.",
    [{ opcode: OP.PING, payload: binaryPayload(126) }],
    { ending: FAIL_1002 },
  ),
  simpleCase(
    "2.6",
    "Send a ping with a 125-byte payload in TCP chops of 1 byte.",
    "A pong with the same payload.",
    [{ opcode: OP.PING, payload: binaryPayload(125) }],
    { pongs: [binaryPayload(125)], ending: NORMAL },
    { chop: 1, delayMs: 1 },
  ),
  simpleCase(
    "2.7",
    "Send an unsolicited pong without payload.",
    "Nothing in reply (the pong is ignored), then a clean close.",
    [{ opcode: OP.PONG }],
    { ending: NORMAL },
  ),
  simpleCase(
    "2.8",
    'Send an unsolicited pong with the payload "unsolicited pong payload".',
    "Nothing in reply, then a clean close.",
    [{ opcode: OP.PONG, payload: "unsolicited pong payload" }],
    { ending: NORMAL },
  ),
  simpleCase(
    "2.9",
    'Send an unsolicited pong, then a ping with the payload "ping payload".',
    "Exactly one pong, with the ping's payload.",
    [{ opcode: OP.PONG, payload: "unsolicited pong payload" }, {
      opcode: OP.PING,
      payload: "ping payload",
    }],
    { pongs: [utf8("ping payload")], ending: NORMAL },
  ),
  simpleCase(
    "2.10",
    "Send 10 pings with distinct payloads in one write.",
    "10 pongs with the payloads in order (NON-STRICT: only the last one, as RFC 6455 §5.5.3 allows).",
    TEN_PINGS.map((payload) => ({ opcode: OP.PING, payload })),
    { pongs: TEN_PINGS, onlyLastPongRequired: true, ending: NORMAL },
  ),
  simpleCase(
    "2.11",
    "Send 10 pings with distinct payloads in TCP chops of 1 byte.",
    "10 pongs with the payloads in order (NON-STRICT: only the last one).",
    TEN_PINGS.map((payload) => ({ opcode: OP.PING, payload })),
    { pongs: TEN_PINGS, onlyLastPongRequired: true, ending: NORMAL },
    { chop: 1 },
  ),
];

// "payloads 0-125 bytes echoed in the pong": a sweep over every length.
pingCases.push({
  id: "2.12",
  description:
    "Send 126 pings, one after the other, with payloads of 0, 1, …, 125 bytes.",
  expectation: "126 pongs, each with its ping's payload, in order.",
  async run(s) {
    const payloads = Array.from({ length: 126 }, (_, n) => binaryPayload(n));
    for (const payload of payloads) {
      await s.send({ opcode: OP.PING, payload }, {
        note: `PING len=${payload.length}`,
      });
      if (
        !(await s.waitFor(
          () => s.pongs.length >= payload.length + 1 || s.dead,
          2000,
        ))
      ) break;
    }
    return { pongs: payloads, ending: NORMAL };
  },
});
