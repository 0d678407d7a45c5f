/**
 * 6. UTF-8 handling of text messages (RFC 6455 §8.1, RFC 3629): valid text
 * split at and inside code points, and the classic UTF-8 decoder stress
 * cases (Markus Kuhn's test file, sections 2-5). Invalid text must fail the
 * connection with 1007 *as soon as* the bytes received stop being a prefix
 * of valid UTF-8: each invalid case sends the bytes up to and including the
 * offending byte, pauses, and only then sends the rest (fail-fast check).
 *
 * @module
 */

import { type CaseDef, type Expect, timing } from "../lib/judge.ts";
import type { Session } from "../lib/session.ts";
import { type FrameSpec, OP, utf8FailIndex } from "../lib/wire.ts";
import {
  bytes,
  FAIL_1007,
  fragment,
  NORMAL,
  splitAt,
  textMsg,
  utf8,
  WIRE,
} from "./util.ts";

const HELLO_UTF8 = utf8("Hello-µ@ßöäüàá-UTF-8!!");
const KOSME = bytes([
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
]);

/**
 * Sends wire pieces up to and including piece `k` (the one that makes the
 * text invalid), waits for the client to fail (up to the fail-fast pause),
 * marks the time, then sends the remaining pieces.
 */
async function sendFailFast(
  s: Session,
  pieces: Uint8Array[],
  k: number,
): Promise<boolean> {
  for (let i = 0; i <= k; i++) await s.sendRaw(pieces[i]);
  if (k + 1 >= pieces.length) return false;
  await s.waitClientGone(timing.failFastPauseMs);
  s.mark("rest of the message");
  for (let i = k + 1; i < pieces.length; i++) await s.sendRaw(pieces[i]);
  return true;
}

/** Expectation for text that may be valid or invalid. */
function verdictFor(payload: Uint8Array, failFast: boolean): Expect {
  if (utf8FailIndex(payload) === -1) {
    return { echoes: [textMsg(payload)], ending: NORMAL };
  }
  return {
    ending: failFast
      ? { ...FAIL_1007, failFastMark: "rest of the message" }
      : FAIL_1007,
  };
}

/**
 * One text frame. Valid text must be echoed; invalid text is sent in two
 * TCP chops split right after the offending byte.
 */
function textCase(id: string, what: string, payload: Uint8Array): CaseDef {
  const fail = utf8FailIndex(payload);
  const valid = fail === -1;
  return {
    id,
    description: `Send ${what} as one text frame${
      valid || fail >= payload.length - 1
        ? ""
        : `, in 2 TCP chops split after the invalid byte at offset ${fail}`
    }.`,
    expectation: valid
      ? "The text is echoed (it is valid UTF-8)."
      : fail >= payload.length
      ? "The client fails the connection with 1007 (the text ends inside a code point)."
      : "The client fails the connection with 1007, before the 2nd chop is sent (fail-fast).",
    async run(s) {
      const frame = s.encode({ opcode: OP.TEXT, payload });
      const head = frame.length - payload.length;
      if (valid || fail >= payload.length - 1) {
        await s.send({ opcode: OP.TEXT, payload });
        return verdictFor(payload, false);
      }
      s.note(
        "tx",
        `TEXT fin=1 len=${payload.length}: header + payload bytes 0..${fail}, then the rest after a pause`,
      );
      const ff = await sendFailFast(s, [
        frame.subarray(0, head + fail + 1),
        frame.subarray(head + fail + 1),
      ], 0);
      return verdictFor(payload, ff);
    },
  };
}

/**
 * A text message in fragments (`frames`), written frame by frame; for
 * invalid text the frames after the one holding the offending byte are sent
 * after the fail-fast pause.
 */
function fragmentedCase(
  id: string,
  what: string,
  frames: FrameSpec[],
): CaseDef {
  const payload = new Uint8Array(
    frames.flatMap((f) => [...(f.payload as Uint8Array)]),
  );
  const fail = utf8FailIndex(payload);
  return {
    id,
    description:
      `Send ${what} as a text message in ${frames.length} fragments, frame by frame.`,
    expectation: fail === -1
      ? "The whole text is echoed."
      : "The client fails the connection with 1007 at the frame holding the invalid byte (fail-fast).",
    async run(s) {
      const pieces = frames.map((f) => s.encode(f));
      if (fail === -1) {
        await s.send(frames, WIRE.frameWise);
        return verdictFor(payload, false);
      }
      // Index of the frame that holds the offending byte.
      let k = 0;
      for (let at = 0; k < frames.length; k++) {
        at += (frames[k].payload as Uint8Array).length;
        if (at > fail) break;
      }
      s.note(
        "tx",
        `${frames.length} text fragments; frames 0..${k} first, the rest after a pause`,
      );
      const ff = await sendFailFast(s, pieces, Math.min(k, frames.length - 1));
      return verdictFor(payload, ff);
    },
  };
}

function hexOf(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");
}

/** One case per byte sequence, numbered `prefix.1`, `prefix.2`, … */
function seqCases(
  prefix: string,
  items: Array<[string, number[] | Uint8Array]>,
): CaseDef[] {
  return items.map(([what, seq], i) => {
    const b = seq instanceof Uint8Array ? seq : new Uint8Array(seq);
    return textCase(`${prefix}.${i + 1}`, `${what} (${hexOf(b)})`, b);
  });
}

/** U+XXXX as UTF-8 (also for noncharacters; TextEncoder encodes them as is). */
function cp(code: number): Uint8Array {
  return utf8(String.fromCodePoint(code));
}

const INCOMPLETE: Array<[string, number[]]> = [
  ["2-byte sequence of U+0000 without its last byte", [0xc0]],
  ["3-byte sequence of U+0000 without its last byte", [0xe0, 0x80]],
  ["4-byte sequence of U+0000 without its last byte", [0xf0, 0x80, 0x80]],
  ["5-byte sequence of U+0000 without its last byte", [0xf8, 0x80, 0x80, 0x80]],
  ["6-byte sequence of U+0000 without its last byte", [
    0xfc,
    0x80,
    0x80,
    0x80,
    0x80,
  ]],
  ["2-byte sequence of U+07FF without its last byte", [0xdf]],
  ["3-byte sequence of U+FFFF without its last byte", [0xef, 0xbf]],
  ["4-byte sequence of U+1FFFFF without its last byte", [0xf7, 0xbf, 0xbf]],
  ["5-byte sequence of U+3FFFFFF without its last byte", [
    0xfb,
    0xbf,
    0xbf,
    0xbf,
  ]],
  ["6-byte sequence of U+7FFFFFFF without its last byte", [
    0xfd,
    0xbf,
    0xbf,
    0xbf,
    0xbf,
  ]],
];

function range(from: number, to: number, withSpace: boolean): number[] {
  const out: number[] = [];
  for (let b = from; b <= to; b++) withSpace ? out.push(b, 0x20) : out.push(b);
  return out;
}

/** Cases 6.x. */
export const utf8Cases: CaseDef[] = [
  {
    id: "6.1.1",
    description: "Send an empty text message.",
    expectation: "An empty text message is echoed.",
    async run(s) {
      await s.send({ opcode: OP.TEXT });
      return { echoes: [textMsg("")], ending: NORMAL };
    },
  },
  {
    id: "6.1.2",
    description: "Send a text message of 3 empty fragments.",
    expectation: "An empty text message is echoed.",
    async run(s) {
      await s.send([{ opcode: OP.TEXT, fin: false }, {
        opcode: OP.CONT,
        fin: false,
      }, { opcode: OP.CONT }]);
      return { echoes: [textMsg("")], ending: NORMAL };
    },
  },
  {
    id: "6.1.3",
    description:
      'Send a text message of 3 fragments: empty, "middle frame payload", empty.',
    expectation: "The text is echoed.",
    async run(s) {
      await s.send([{ opcode: OP.TEXT, fin: false }, {
        opcode: OP.CONT,
        fin: false,
        payload: "middle frame payload",
      }, { opcode: OP.CONT }]);
      return { echoes: [textMsg("middle frame payload")], ending: NORMAL };
    },
  },
  textCase("6.2.1", '"Hello-µ@ßöäüàá-UTF-8!!"', HELLO_UTF8),
  fragmentedCase(
    "6.2.2",
    '"Hello-µ@ßöäüàá-UTF-8!!" split at code point boundaries (2 frames)',
    splitAt(OP.TEXT, HELLO_UTF8, [7]),
  ),
  fragmentedCase(
    "6.2.3",
    '"Hello-µ@ßöäüàá-UTF-8!!" in 1-byte frames (splits inside code points)',
    fragment(OP.TEXT, HELLO_UTF8, 1),
  ),
  fragmentedCase(
    "6.2.4",
    '"κόσμε" in 1-byte frames',
    fragment(OP.TEXT, KOSME, 1),
  ),
  fragmentedCase(
    "6.2.5",
    '"κόσμε" split inside the 3-byte "ό" (2 frames)',
    splitAt(OP.TEXT, KOSME, [3]),
  ),
  fragmentedCase(
    "6.2.6",
    '"𝄞 and 😀" (4-byte code points) in 1-byte frames',
    fragment(OP.TEXT, utf8("𝄞 and 😀"), 1),
  ),
  {
    id: "6.2.7",
    description: '"κόσμε𝄞" in one frame, written in TCP chops of 1 byte.',
    expectation: "The text is echoed.",
    async run(s) {
      const payload = bytes([...KOSME], "𝄞");
      await s.send({ opcode: OP.TEXT, payload }, WIRE.byteWise);
      return { echoes: [textMsg(payload)], ending: NORMAL };
    },
  },
  textCase(
    "6.3.1",
    '"κόσμε" + a UTF-16 surrogate (ed a0 80) + "edited"',
    bytes([...KOSME, 0xed, 0xa0, 0x80], "edited"),
  ),
  fragmentedCase(
    "6.3.2",
    '"κόσμε" + a UTF-16 surrogate (ed a0 80) + "edited", in 1-byte frames',
    fragment(OP.TEXT, bytes([...KOSME, 0xed, 0xa0, 0x80], "edited"), 1),
  ),
  fragmentedCase(
    "6.4.1",
    'Fragments "κόσμε" | f4 90 80 80 (above U+10FFFF) | "edited"',
    splitAt(OP.TEXT, bytes([...KOSME, 0xf4, 0x90, 0x80, 0x80], "edited"), [
      11,
      15,
    ]),
  ),
  fragmentedCase(
    "6.4.2",
    'Fragments "κόσμε" f4 | 90 80 80 | "edited" (the invalid byte starts the 2nd fragment)',
    splitAt(OP.TEXT, bytes([...KOSME, 0xf4, 0x90, 0x80, 0x80], "edited"), [
      12,
      15,
    ]),
  ),
  {
    id: "6.4.3",
    description:
      'One text frame in 3 TCP chops: header + "κόσμε" | f4 90 80 80 (above U+10FFFF) | "edited"; pause after the 2nd.',
    expectation:
      "The client fails the connection with 1007 before the 3rd chop (fail-fast).",
    async run(s) {
      const payload = bytes([...KOSME, 0xf4, 0x90, 0x80, 0x80], "edited");
      const f = s.encode({ opcode: OP.TEXT, payload });
      const h = f.length - payload.length;
      s.note("tx", `TEXT fin=1 len=${payload.length} in 3 chops`);
      const ff = await sendFailFast(s, [
        f.subarray(0, h + 11),
        f.subarray(h + 11, h + 15),
        f.subarray(h + 15),
      ], 1);
      return verdictFor(payload, ff);
    },
  },
  {
    id: "6.4.4",
    description:
      'One text frame in 3 TCP chops: header + "κόσμε" f4 | 90 | 80 80 "edited"; pause after the 2nd.',
    expectation:
      "The client fails the connection with 1007 before the 3rd chop (fail-fast).",
    async run(s) {
      const payload = bytes([...KOSME, 0xf4, 0x90, 0x80, 0x80], "edited");
      const f = s.encode({ opcode: OP.TEXT, payload });
      const h = f.length - payload.length;
      s.note("tx", `TEXT fin=1 len=${payload.length} in 3 chops`);
      const ff = await sendFailFast(s, [
        f.subarray(0, h + 12),
        f.subarray(h + 12, h + 13),
        f.subarray(h + 13),
      ], 1);
      return verdictFor(payload, ff);
    },
  },
  ...seqCases("6.5", [
    ['"κόσμε"', KOSME],
    ['"Hello-µ@ßöäüàá-UTF-8!!"', HELLO_UTF8],
    ["mixed scripts and emoji", utf8("Ünïcödé ☃ 𝄞 中文 😀 עברית")],
  ]),
  ...seqCases(
    "6.6",
    Array.from(
      { length: 11 },
      (
        _,
        i,
      ): [string, Uint8Array] => [
        `the first ${i + 1} bytes of "κόσμε"`,
        KOSME.slice(0, i + 1),
      ],
    ),
  ),
  ...seqCases("6.7", [
    ["U+0000, first 1-byte sequence", [0x00]],
    ["U+0080, first 2-byte sequence", [0xc2, 0x80]],
    ["U+0800, first 3-byte sequence", [0xe0, 0xa0, 0x80]],
    ["U+10000, first 4-byte sequence", [0xf0, 0x90, 0x80, 0x80]],
  ]),
  ...seqCases("6.8", [
    ["first 5-byte sequence (U+200000, not UTF-8)", [
      0xf8,
      0x88,
      0x80,
      0x80,
      0x80,
    ]],
    ["first 6-byte sequence (U+4000000, not UTF-8)", [
      0xfc,
      0x84,
      0x80,
      0x80,
      0x80,
      0x80,
    ]],
  ]),
  ...seqCases("6.9", [
    ["U+007F, last 1-byte sequence", [0x7f]],
    ["U+07FF, last 2-byte sequence", [0xdf, 0xbf]],
    ["U+FFFF, last 3-byte sequence (a noncharacter, valid)", [
      0xef,
      0xbf,
      0xbf,
    ]],
    ["U+1FFFFF, last 4-byte form (above U+10FFFF)", [0xf7, 0xbf, 0xbf, 0xbf]],
  ]),
  ...seqCases("6.10", [
    ["U+3FFFFFF, last 5-byte form", [0xfb, 0xbf, 0xbf, 0xbf, 0xbf]],
    ["U+7FFFFFFF, last 6-byte form", [0xfd, 0xbf, 0xbf, 0xbf, 0xbf, 0xbf]],
    ["U+110000, first code point above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
  ]),
  ...seqCases("6.11", [
    ["U+D7FF, last before the surrogates", [0xed, 0x9f, 0xbf]],
    ["U+E000, first after the surrogates", [0xee, 0x80, 0x80]],
    ["U+FFFD, the replacement character", [0xef, 0xbf, 0xbd]],
    ["U+10FFFF, the last code point", [0xf4, 0x8f, 0xbf, 0xbf]],
    ["U+110000 (invalid)", [0xf4, 0x90, 0x80, 0x80]],
  ]),
  ...seqCases("6.12", [
    ["a lone continuation byte 80", [0x80]],
    ["a lone continuation byte bf", [0xbf]],
    ["2 continuation bytes", [0x80, 0xbf]],
    ["3 continuation bytes", [0x80, 0xbf, 0x80]],
    ["4 continuation bytes", [0x80, 0xbf, 0x80, 0xbf]],
    ["5 continuation bytes", [0x80, 0xbf, 0x80, 0xbf, 0x80]],
    ["6 continuation bytes", [0x80, 0xbf, 0x80, 0xbf, 0x80, 0xbf]],
    ["7 continuation bytes", [0x80, 0xbf, 0x80, 0xbf, 0x80, 0xbf, 0x80]],
    ["all 64 continuation bytes 80..bf", range(0x80, 0xbf, false)],
  ]),
  ...seqCases("6.13", [
    [
      "all 32 2-byte lead bytes c0..df, each followed by a space",
      range(0xc0, 0xdf, true),
    ],
    [
      "all 16 3-byte lead bytes e0..ef, each followed by a space",
      range(0xe0, 0xef, true),
    ],
    [
      "all 8 4-byte lead bytes f0..f7, each followed by a space",
      range(0xf0, 0xf7, true),
    ],
    [
      "all 4 5-byte lead bytes f8..fb, each followed by a space",
      range(0xf8, 0xfb, true),
    ],
    [
      "both 6-byte lead bytes fc, fd, each followed by a space",
      range(0xfc, 0xfd, true),
    ],
  ]),
  ...seqCases("6.14", INCOMPLETE),
  ...seqCases("6.15", [[
    "all 10 incomplete sequences of 6.14 concatenated",
    INCOMPLETE.flatMap(([, b]) => b),
  ]]),
  ...seqCases("6.16", [
    ["the impossible byte fe", [0xfe]],
    ["the impossible byte ff", [0xff]],
    ["fe fe ff ff", [0xfe, 0xfe, 0xff, 0xff]],
  ]),
  ...seqCases("6.17", [
    ["overlong '/' in 2 bytes", [0xc0, 0xaf]],
    ["overlong '/' in 3 bytes", [0xe0, 0x80, 0xaf]],
    ["overlong '/' in 4 bytes", [0xf0, 0x80, 0x80, 0xaf]],
    ["overlong '/' in 5 bytes", [0xf8, 0x80, 0x80, 0x80, 0xaf]],
    ["overlong '/' in 6 bytes", [0xfc, 0x80, 0x80, 0x80, 0x80, 0xaf]],
  ]),
  ...seqCases("6.18", [
    ["maximum overlong 2-byte sequence (U+007F)", [0xc1, 0xbf]],
    ["maximum overlong 3-byte sequence (U+07FF)", [0xe0, 0x9f, 0xbf]],
    ["maximum overlong 4-byte sequence (U+FFFF)", [0xf0, 0x8f, 0xbf, 0xbf]],
    ["maximum overlong 5-byte sequence (U+1FFFFF)", [
      0xf8,
      0x87,
      0xbf,
      0xbf,
      0xbf,
    ]],
    ["maximum overlong 6-byte sequence (U+3FFFFFF)", [
      0xfc,
      0x83,
      0xbf,
      0xbf,
      0xbf,
      0xbf,
    ]],
  ]),
  ...seqCases("6.19", [
    ["overlong NUL in 2 bytes", [0xc0, 0x80]],
    ["overlong NUL in 3 bytes", [0xe0, 0x80, 0x80]],
    ["overlong NUL in 4 bytes", [0xf0, 0x80, 0x80, 0x80]],
    ["overlong NUL in 5 bytes", [0xf8, 0x80, 0x80, 0x80, 0x80]],
    ["overlong NUL in 6 bytes", [0xfc, 0x80, 0x80, 0x80, 0x80, 0x80]],
  ]),
  ...seqCases("6.20", [
    ["lone surrogate U+D800", [0xed, 0xa0, 0x80]],
    ["lone surrogate U+DB7F", [0xed, 0xad, 0xbf]],
    ["lone surrogate U+DB80", [0xed, 0xae, 0x80]],
    ["lone surrogate U+DBFF", [0xed, 0xaf, 0xbf]],
    ["lone surrogate U+DC00", [0xed, 0xb0, 0x80]],
    ["lone surrogate U+DF80", [0xed, 0xbe, 0x80]],
    ["lone surrogate U+DFFF", [0xed, 0xbf, 0xbf]],
  ]),
  ...seqCases(
    "6.21",
    ([
      [0xa0, 0x80, 0xb0, 0x80],
      [0xa0, 0x80, 0xbf, 0xbf],
      [0xad, 0xbf, 0xb0, 0x80],
      [0xad, 0xbf, 0xbf, 0xbf],
      [
        0xae,
        0x80,
        0xb0,
        0x80,
      ],
      [0xae, 0x80, 0xbf, 0xbf],
      [0xaf, 0xbf, 0xb0, 0x80],
      [0xaf, 0xbf, 0xbf, 0xbf],
    ] as const).map((
      [a, b, c, d],
    ): [string, number[]] => {
      const hi = 0xd000 | ((a & 0x3f) << 6) | (b & 0x3f);
      const lo = 0xd000 | ((c & 0x3f) << 6) | (d & 0x3f);
      return [
        `paired surrogates U+${hi.toString(16).toUpperCase()} U+${
          lo.toString(16).toUpperCase()
        }`,
        [0xed, a, b, 0xed, c, d],
      ];
    }),
  ),
  ...seqCases(
    "6.22",
    Array.from({ length: 34 }, (_, i): [string, Uint8Array] => {
      const code = (Math.floor(i / 2) << 16) | (i % 2 ? 0xffff : 0xfffe);
      return [
        `noncharacter U+${
          code.toString(16).toUpperCase().padStart(4, "0")
        } (valid)`,
        cp(code),
      ];
    }),
  ),
  ...seqCases("6.23", [
    ["U+FFFD", cp(0xfffd)],
    [
      "the noncharacters U+FDD0..U+FDEF (valid)",
      Array.from({ length: 32 }, (_, i) => [...cp(0xfdd0 + i)]).flat(),
    ],
    ["a byte order mark U+FEFF", cp(0xfeff)],
    ["NUL bytes inside text", [0x61, 0x00, 0x62, 0x00]],
    ['"κόσμε" + ef bf (U+FFFF without its last byte) + "edited"', [
      ...KOSME,
      0xef,
      0xbf,
      ...utf8("edited"),
    ]],
  ]),
];
