/**
 * 11. Masking, for the flipped suite only (the scripted side is the client
 * and the library under test is the server): a server must fail the
 * connection with 1002 on any unmasked client frame (RFC 6455 §5.1).
 *
 * @module
 */

import type { CaseDef } from "../lib/judge.ts";
import { closePayload, OP } from "../lib/wire.ts";
import { FAIL_1002, simpleCase, textMsg, WIRE } from "./util.ts";

const HELLO = "Hello, world!";

/** Cases 11.1.x. */
export const maskingCases: CaseDef[] = [
  simpleCase(
    "11.1.1",
    "Send an unmasked text message.",
    "The server fails the connection with 1002 and does not echo.",
    [{ opcode: OP.TEXT, payload: HELLO, unmasked: true }],
    { ending: FAIL_1002 },
  ),
  simpleCase(
    "11.1.2",
    "Send an unmasked binary message of 200 bytes.",
    "The server fails the connection with 1002.",
    [{ opcode: OP.BINARY, payload: new Uint8Array(200), unmasked: true }],
    { ending: FAIL_1002 },
  ),
  simpleCase(
    "11.1.3",
    "Send an unmasked ping.",
    "The server fails the connection with 1002 and sends no pong.",
    [{ opcode: OP.PING, payload: "ping", unmasked: true }],
    { ending: FAIL_1002 },
  ),
  simpleCase(
    "11.1.4",
    "Send a masked text message, then an unmasked one, then a masked ping.",
    "The first message is echoed, then 1002; no pong. (NON-STRICT if the echo is missing.)",
    [{ opcode: OP.TEXT, payload: HELLO }, {
      opcode: OP.TEXT,
      payload: HELLO,
      unmasked: true,
    }, {
      opcode: OP.PING,
      payload: "ping",
    }],
    { echoes: [textMsg(HELLO)], echoesMayBeMissing: true, ending: FAIL_1002 },
  ),
  simpleCase(
    "11.1.5",
    "Send a fragmented text message whose 2nd (last) fragment is unmasked, frame by frame.",
    "The server fails the connection with 1002 and echoes nothing.",
    [{ opcode: OP.TEXT, payload: "fragment1", fin: false }, {
      opcode: OP.CONT,
      payload: "fragment2",
      unmasked: true,
    }],
    { ending: FAIL_1002 },
    WIRE.frameWise,
  ),
  simpleCase(
    "11.1.6",
    "Send an unmasked close 1000.",
    "The server fails the connection with 1002 (not a normal close reply).",
    [{ opcode: OP.CLOSE, payload: closePayload(1000), unmasked: true }],
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
