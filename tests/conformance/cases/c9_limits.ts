/**
 * 9. Limits and performance: big messages, many small fragments, small TCP
 * chops, and 1000 round trips (timed, informational).
 *
 * @module
 */

import type { CaseDef, Message } from "../lib/judge.ts";
import { OP } from "../lib/wire.ts";
import {
  asciiPayload,
  binaryMsg,
  binaryPayload,
  fragment,
  NORMAL,
  textMsg,
} from "./util.ts";

const KiB = 1024;
const MiB = 1024 * 1024;

function size(n: number): string {
  return n >= MiB ? `${n / MiB} MiB` : n >= KiB ? `${n / KiB} KiB` : `${n} B`;
}

function kinds() {
  return [
    { name: "text", opcode: OP.TEXT, make: asciiPayload, msg: textMsg },
    { name: "binary", opcode: OP.BINARY, make: binaryPayload, msg: binaryMsg },
  ] as const;
}

/** Cases 9.x. */
export const limitCases: CaseDef[] = [];

kinds().forEach((k, ki) => {
  // 9.1 / 9.2: single big messages.
  [64 * KiB, 256 * KiB, MiB, 4 * MiB, 8 * MiB, 16 * MiB].forEach((n, i) => {
    limitCases.push({
      id: `9.${1 + ki}.${i + 1}`,
      description: `Send a ${k.name} message of ${size(n)} in one frame.`,
      expectation: "The message is echoed.",
      limitMs: 60_000,
      async run(s) {
        const payload = k.make(n);
        await s.send({ opcode: k.opcode, payload });
        return { echoes: [k.msg(payload)], ending: NORMAL };
      },
    });
  });
  // 9.3 / 9.4: 4 MiB in fragments of various sizes.
  [64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB].forEach(
    (frag, i) => {
      limitCases.push({
        id: `9.${3 + ki}.${i + 1}`,
        description: `Send a ${k.name} message of 4 MiB in fragments of ${
          size(frag)
        }.`,
        expectation: "The message is echoed.",
        limitMs: 60_000,
        async run(s) {
          const payload = k.make(4 * MiB);
          await s.send(fragment(k.opcode, payload, frag));
          return { echoes: [k.msg(payload)], ending: NORMAL };
        },
      });
    },
  );
  // 9.5 / 9.6: 1 MiB in small TCP chops.
  [64, 128, 256, 512, 1024, 2048].forEach((chop, i) => {
    limitCases.push({
      id: `9.${5 + ki}.${i + 1}`,
      description:
        `Send a ${k.name} message of 1 MiB in one frame, written in TCP chops of ${chop} bytes.`,
      expectation: "The message is echoed.",
      limitMs: 60_000,
      async run(s) {
        const payload = k.make(MiB);
        await s.send({ opcode: k.opcode, payload }, { chop });
        return { echoes: [k.msg(payload)], ending: NORMAL };
      },
    });
  });
  // 9.7 / 9.8: 1000 round trips.
  [0, 16, 64, 256, KiB, 4 * KiB].forEach((n, i) => {
    limitCases.push({
      id: `9.${7 + ki}.${i + 1}`,
      description: `Send 1000 ${k.name} messages of ${
        size(n)
      }, each after the echo of the previous one.`,
      expectation:
        "Every message is echoed; the time taken is reported (informational).",
      limitMs: 60_000,
      async run(s) {
        const payload = k.make(n);
        const echoes: Message[] = [];
        const start = performance.now();
        for (let r = 0; r < 1000 && !s.dead; r++) {
          await s.send(
            { opcode: k.opcode, payload },
            r === 0
              ? { note: `1000 × ${k.name} len=${n}, one at a time` }
              : { silent: true },
          );
          echoes.push(k.msg(payload));
          if (!(await s.waitFor(() => s.messages.length > r || s.dead, 5000))) {
            break;
          }
        }
        const ms = performance.now() - start;
        return {
          echoes,
          ending: NORMAL,
          info: () =>
            `1000 round trips in ${ms.toFixed(0)} ms (${
              ms.toFixed(0)
            } µs each on average)`,
        };
      },
    });
  });
});

/** Case 10.1.1. */
export const autoFragmentCases: CaseDef[] = [{
  id: "10.1.1",
  description:
    "Send a text message of 64 KiB fragmented into frames of 1300 bytes.",
  expectation: "The whole message is echoed.",
  async run(s) {
    const payload = asciiPayload(64 * KiB);
    await s.send(fragment(OP.TEXT, payload, 1300));
    return { echoes: [textMsg(payload)], ending: NORMAL };
  },
}];
