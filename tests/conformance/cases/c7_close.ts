/**
 * 7. The closing handshake (RFC 6455 §5.5.1, §7): frames after a close are
 * ignored, close payload sizes, invalid UTF-8 in the reason, and valid and
 * invalid status codes.
 *
 * @module
 */

import type { CaseDef, Ending } from "../lib/judge.ts";
import { closePayload, OP } from "../lib/wire.ts";
import { asciiPayload, bytes, simpleCase, textMsg } from "./util.ts";

const CLOSE_1000 = { opcode: OP.CLOSE, payload: closePayload(1000) };
const REPLY_1000: Ending = { by: "server-sent", ok: [1000] };
const REPLY_1002: Ending = {
  by: "server-sent",
  ok: [1002],
  nonStrict: [1007, 1008, 1011],
  dropIsNonStrict: true,
};

const VALID_CODES = [
  1000,
  1001,
  1002,
  1003,
  1007,
  1008,
  1009,
  1010,
  1011,
  1012,
  1013,
  1014,
  3000,
  3999,
  4000,
  4999,
];
const INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999];

/** Cases 7.x. */
export const closeCases: CaseDef[] = [
  simpleCase(
    "7.1.1",
    'Send the text "Hello World!", then a close 1000.',
    "The text is echoed, then the close is answered with 1000. (NON-STRICT if the echo is missing.)",
    [{ opcode: OP.TEXT, payload: "Hello World!" }, CLOSE_1000],
    {
      echoes: [textMsg("Hello World!")],
      echoesMayBeMissing: true,
      ending: REPLY_1000,
    },
  ),
  simpleCase(
    "7.1.2",
    "Send two close frames (1000) in a row.",
    "One close 1000 in reply; the second close is ignored.",
    [CLOSE_1000, CLOSE_1000],
    { ending: REPLY_1000 },
  ),
  simpleCase(
    "7.1.3",
    "Send a close 1000, then a ping.",
    "A close 1000 in reply and no pong.",
    [CLOSE_1000, { opcode: OP.PING, payload: "ping after close" }],
    { ending: REPLY_1000 },
  ),
  simpleCase(
    "7.1.4",
    "Send a close 1000, then a text message.",
    "A close 1000 in reply and no echo.",
    [CLOSE_1000, { opcode: OP.TEXT, payload: "text after close" }],
    { ending: REPLY_1000 },
  ),
  simpleCase(
    "7.1.5",
    "Send the first fragment of a text message, a close 1000, then the last fragment.",
    "A close 1000 in reply and no echo (the message never completed before the close).",
    [{ opcode: OP.TEXT, payload: "fragment1", fin: false }, CLOSE_1000, {
      opcode: OP.CONT,
      payload: "fragment2",
    }],
    { ending: REPLY_1000 },
  ),
  simpleCase(
    "7.1.6",
    "Send a 256 KiB text message, a close 1000, then a ping, in one write.",
    "The text is echoed (NON-STRICT if not), the close answered with 1000, no pong.",
    [{ opcode: OP.TEXT, payload: asciiPayload(262144) }, CLOSE_1000, {
      opcode: OP.PING,
      payload: "ping after close",
    }],
    {
      echoes: [textMsg(asciiPayload(262144))],
      echoesMayBeMissing: true,
      ending: REPLY_1000,
    },
  ),
  simpleCase(
    "7.3.1",
    "Send a close frame with an empty payload (no code, no reason).",
    "A close in reply: empty or 1000.",
    [{ opcode: OP.CLOSE }],
    { ending: { by: "server-sent", ok: [null, 1000] } },
  ),
  simpleCase(
    "7.3.2",
    "Send a close frame with a 1-byte payload.",
    "The client fails the connection with 1002 (a close payload is empty or at least 2 bytes).",
    [{ opcode: OP.CLOSE, payload: new Uint8Array([0x03]) }],
    { ending: REPLY_1002 },
  ),
  simpleCase(
    "7.3.3",
    "Send a close 1000 without a reason.",
    "A close 1000 in reply.",
    [CLOSE_1000],
    { ending: REPLY_1000 },
  ),
  simpleCase(
    "7.3.4",
    'Send a close 1000 with the reason "Hello World!".',
    "A close 1000 in reply.",
    [{ opcode: OP.CLOSE, payload: closePayload(1000, "Hello World!") }],
    { ending: REPLY_1000 },
  ),
  simpleCase(
    "7.3.5",
    "Send a close 1000 with a 123-byte reason (payload 125 bytes, the maximum).",
    "A close 1000 in reply.",
    [{ opcode: OP.CLOSE, payload: closePayload(1000, asciiPayload(123)) }],
    { ending: REPLY_1000 },
  ),
  simpleCase(
    "7.3.6",
    "Send a close 1000 with a 124-byte reason (payload 126 bytes, too long for a control frame).",
    "The client fails the connection with 1002.",
    [{ opcode: OP.CLOSE, payload: closePayload(1000, asciiPayload(124)) }],
    { ending: REPLY_1002 },
  ),
  simpleCase(
    "7.5.1",
    'Send a close 1000 whose reason is not UTF-8 ("κόσμε" ed a0 80 "edited").',
    "The client fails the connection with 1007.",
    [{
      opcode: OP.CLOSE,
      payload: closePayload(
        1000,
        bytes([
          0xce,
          0xba,
          0xe1,
          0xbd,
          0xb9,
          0xcf,
          0x83,
          0xce,
          0xbc,
          0xce,
          0xb5,
          0xed,
          0xa0,
          0x80,
        ], "edited"),
      ),
    }],
    {
      ending: {
        by: "server-sent",
        ok: [1007],
        nonStrict: [1002],
        dropIsNonStrict: true,
      },
    },
  ),
  ...VALID_CODES.map((code, i) =>
    simpleCase(
      `7.7.${i + 1}`,
      `Send a close with the valid code ${code}.`,
      `A close in reply echoing ${code} (NON-STRICT: 1000 or empty).`,
      [{ opcode: OP.CLOSE, payload: closePayload(code) }],
      { ending: { by: "server-sent", ok: [code], nonStrict: [1000, null] } },
    )
  ),
  ...INVALID_CODES.map((code, i) =>
    simpleCase(
      `7.9.${i + 1}`,
      `Send a close with the invalid code ${code}.`,
      "The client fails the connection with 1002.",
      [{ opcode: OP.CLOSE, payload: closePayload(code) }],
      { ending: REPLY_1002 },
    )
  ),
  ...[5000, 65535].map((code, i): CaseDef => ({
    id: `7.13.${i + 1}`,
    description: `Send a close with the code ${code}, which no RFC defines.`,
    expectation:
      "Informational: what the client replies (1002 is the natural answer).",
    async run(s) {
      await s.send({ opcode: OP.CLOSE, payload: closePayload(code, "") });
      return {
        ending: {
          by: "server-sent",
          ok: [1002, 1000, code, null],
          dropIsNonStrict: true,
        },
        info: () =>
          `client replied with ${s.clientClose?.code ?? "an empty close"}`,
      };
    },
  })),
];
