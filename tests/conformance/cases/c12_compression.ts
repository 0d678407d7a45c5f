/**
 * 12 / 13. permessage-deflate (RFC 7692): compressed echoes of payloads that
 * compress well or not at all, 16 B - 128 KiB (12.x), and the negotiation
 * parameter combinations with compressed traffic both ways (13.x).
 *
 * Each case answers the client's offer in the 101 (`negotiate`). A client
 * that offers no permessage-deflate (or not the parameter a case needs) gets
 * UNIMPLEMENTED, not FAILED. The server compresses what it sends with the
 * suite's own codec (lib/deflate.ts) and inflates the echoes with the
 * client's negotiated window and context rules, so a client that uses more
 * than it agreed to fails to inflate (FAILED).
 *
 * @module
 */

import type { CaseDef, Expect, Message, Outcome } from "../lib/judge.ts";
import type { Session } from "../lib/session.ts";
import { deflateOffers } from "../lib/deflate.ts";
import { OP } from "../lib/wire.ts";
import { binaryMsg, textMsg, utf8 } from "./util.ts";

/** What a case asks for in its response; the client's demands are added. */
interface Wanted {
  serverNoContextTakeover?: boolean;
  clientNoContextTakeover?: boolean;
  serverMaxWindowBits?: number;
  clientMaxWindowBits?: number;
}

/**
 * Builds the response to the first acceptable permessage-deflate offer, or
 * null: the case's wishes plus what the offer demands of the server.
 */
function negotiator(want: Wanted): (header: string) => string | null {
  return (header) => {
    for (const offer of deflateOffers(header)) {
      const cmwbOffer = offer.get("client_max_window_bits");
      if (want.clientMaxWindowBits && !cmwbOffer) continue; // the client cannot limit its window
      const smwbOffer = offer.get("server_max_window_bits");
      let smwb = want.serverMaxWindowBits;
      if (typeof smwbOffer === "string") {
        smwb = Math.min(smwb ?? 15, Number(smwbOffer));
      }
      if (smwb !== undefined && smwb < 9) continue; // zlib's raw deflate has no 8-bit window
      const params = ["permessage-deflate"];
      if (
        want.serverNoContextTakeover || offer.has("server_no_context_takeover")
      ) {
        params.push("server_no_context_takeover");
      }
      if (
        want.clientNoContextTakeover || offer.has("client_no_context_takeover")
      ) {
        params.push("client_no_context_takeover");
      }
      if (smwb !== undefined) params.push(`server_max_window_bits=${smwb}`);
      if (want.clientMaxWindowBits) {
        const v = typeof cmwbOffer === "string"
          ? Math.min(want.clientMaxWindowBits, Number(cmwbOffer))
          : want.clientMaxWindowBits;
        params.push(`client_max_window_bits=${v}`);
      }
      return params.join("; ");
    }
    return null;
  };
}

/** Why a case could not negotiate: UNIMPLEMENTED. */
function unimplemented(s: Session, want: Wanted): Outcome {
  const offers = deflateOffers(
    s.request.headers.get("sec-websocket-extensions") ?? "",
  );
  if (offers.length === 0) {
    return {
      verdict: "UNIMPLEMENTED",
      reason: "client does not offer permessage-deflate",
    };
  }
  if (want.clientMaxWindowBits) {
    return {
      verdict: "UNIMPLEMENTED",
      reason: "client does not offer client_max_window_bits",
    };
  }
  return {
    verdict: "UNIMPLEMENTED",
    reason:
      "client's permessage-deflate offer cannot be accepted by this suite",
  };
}

/** Deterministic payload generators of different compressibility. */
const KINDS: Array<
  {
    what: string;
    opcode: typeof OP.TEXT | typeof OP.BINARY;
    make: (n: number) => Uint8Array;
  }
> = [
  {
    what: "text: JSON records",
    opcode: OP.TEXT,
    make: (n) =>
      fill(
        n,
        (i) =>
          `{"id":${i},"name":"user-${i * 7 % 1000}","tags":["a","b${
            i % 5
          }"],"score":${(i * 37) % 101}},`,
      ),
  },
  {
    what: "binary: a bitmap with long runs",
    opcode: OP.BINARY,
    make: (n) => {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        out[i] = ((i >> 6) * 13) % 7 === 0 ? 0xff : (i >> 9) & 1 ? 0x80 : 0x00;
      }
      return out;
    },
  },
  {
    what: "text: prose",
    opcode: OP.TEXT,
    make: (n) => {
      const words = [
        "wie",
        "Faust",
        "sprach",
        "der",
        "Geist",
        "über",
        "die",
        "Wälder",
        "und",
        "κόσμε",
        "Nacht",
        "Licht",
      ];
      return fill(
        n,
        (i) =>
          `${words[(i * 7 + (i >> 3)) % words.length]}${
            i % 11 === 10 ? ". " : " "
          }`,
      );
    },
  },
  {
    what: "text: repetitive HTML",
    opcode: OP.TEXT,
    make: (n) =>
      fill(n, (i) => `<div class="row"><span>item ${i}</span></div>\n`),
  },
  {
    what: "binary: incompressible pseudo-random bytes",
    opcode: OP.BINARY,
    make: (n) => {
      const out = new Uint8Array(n);
      let x = 0x9e3779b9;
      for (let i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        out[i] = x & 0xff;
      }
      return out;
    },
  },
];

/** `n` bytes of text built from `piece(i)`, cut at a code point and padded with spaces. */
function fill(n: number, piece: (i: number) => string): Uint8Array {
  const parts: string[] = [];
  for (let i = 0, len = 0; len < n; i++) {
    const p = piece(i);
    parts.push(p);
    len += utf8(p).length;
  }
  const b = utf8(parts.join(""));
  let k = Math.min(n, b.length);
  while (k > 0 && k < b.length && (b[k] & 0xc0) === 0x80) k--; // b[k] would continue a code point
  const out = new Uint8Array(n).fill(0x20);
  out.set(b.subarray(0, k));
  return out;
}

const SIZES = [16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072];
const PER_CASE = 10;

/** A compression case: negotiate `want`, then send messages compressed. */
function deflateCase(
  id: string,
  description: string,
  want: Wanted,
  messages: () => Array<{ msg: Message; fragSize?: number; plain?: boolean }>,
): CaseDef {
  return {
    id,
    description,
    expectation:
      "Every message is echoed (compressed or not, as the client likes, within the negotiated parameters).",
    negotiate: negotiator(want),
    limitMs: 30_000,
    async run(s: Session): Promise<Expect | Outcome> {
      if (!s.deflate) return unimplemented(s, want);
      s.note("note", `negotiated: ${s.extensions}`);
      const list = messages();
      for (const [k, m] of list.entries()) {
        const opts = k > 2 ? { silent: true } : {};
        if (m.plain) {
          await s.send({ opcode: m.msg.opcode, payload: m.msg.payload }, opts);
        } else {await s.sendCompressed(
            m.msg.opcode,
            m.msg.payload,
            m.fragSize ?? 0,
            opts,
          );}
      }
      return { echoes: list.map((m) => m.msg), ending: { by: "server" } };
    },
  };
}

/** Cases 12.x and 13.x. */
export const compressionCases: CaseDef[] = [];

KINDS.forEach((kind, g) => {
  SIZES.forEach((n, i) => {
    compressionCases.push(deflateCase(
      `12.${g + 1}.${i + 1}`,
      `permessage-deflate (default parameters): send ${PER_CASE} compressed messages of ${n} bytes (${kind.what}).`,
      {},
      () => {
        const payload = kind.make(n);
        const msg = kind.opcode === OP.TEXT
          ? textMsg(payload)
          : binaryMsg(payload);
        return Array.from({ length: PER_CASE }, () => ({ msg }));
      },
    ));
  });
});

const NEGOTIATIONS: Array<[string, Wanted]> = [
  ["default parameters", {}],
  ["client_no_context_takeover", { clientNoContextTakeover: true }],
  ["server_no_context_takeover", { serverNoContextTakeover: true }],
  ["server_max_window_bits=9", { serverMaxWindowBits: 9 }],
  ["server_max_window_bits=15", { serverMaxWindowBits: 15 }],
  ["client_max_window_bits=9", { clientMaxWindowBits: 9 }],
  ["client and server no_context_takeover", {
    clientNoContextTakeover: true,
    serverNoContextTakeover: true,
  }],
];

/** A mix for 13.x: text and binary, empty to 70 KB, a fragmented one and an uncompressed one. */
function mix(): Array<{ msg: Message; fragSize?: number; plain?: boolean }> {
  const out: Array<{ msg: Message; fragSize?: number; plain?: boolean }> = [];
  for (const [k, n] of [0, 16, 1000, 10_000, 70_000, 1000, 16].entries()) {
    const kind = KINDS[k % KINDS.length];
    const p = kind.make(n);
    out.push({ msg: kind.opcode === OP.TEXT ? textMsg(p) : binaryMsg(p) });
  }
  out.push({ msg: textMsg(KINDS[3].make(5000)), fragSize: 100 }); // compressed data in 100-byte frames
  out.push({ msg: textMsg("sent without compression"), plain: true }); // RSV1 = 0 is allowed
  out.push({ msg: textMsg(KINDS[0].make(3000)) });
  return out;
}

NEGOTIATIONS.forEach(([what, want], g) => {
  compressionCases.push(deflateCase(
    `13.${g + 1}.1`,
    `Negotiate permessage-deflate with ${what}; send 10 messages (0-70 000 bytes, one in 100-byte compressed fragments, one uncompressed).`,
    want,
    mix,
  ));
});
