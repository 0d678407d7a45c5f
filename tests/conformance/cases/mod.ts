/**
 * Every case of the suite, in Autobahn order.
 *
 * @module
 */

import type { CaseDef } from "../lib/judge.ts";
import { framingCases } from "./c1_framing.ts";
import { pingCases } from "./c2_ping.ts";
import { rsvCases } from "./c3_rsv.ts";
import { opcodeCasesAll } from "./c4_opcodes.ts";
import { fragmentationCases } from "./c5_fragmentation.ts";
import { utf8Cases } from "./c6_utf8.ts";
import { closeCases } from "./c7_close.ts";
import { autoFragmentCases, limitCases } from "./c9_limits.ts";
import { compressionCases } from "./c12_compression.ts";
import { maskingCases } from "./c11_masking.ts";

/** Compares Autobahn case numbers component by component ("5.10" after "5.9"). */
export function compareIds(a: string, b: string): number {
  const x = a.split(".").map(Number), y = b.split(".").map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? -1) - (y[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

/** All cases, sorted by number. */
export const allCases: CaseDef[] = [
  ...framingCases,
  ...pingCases,
  ...rsvCases,
  ...opcodeCasesAll,
  ...fragmentationCases,
  ...utf8Cases,
  ...closeCases,
  ...limitCases,
  ...autoFragmentCases,
  ...compressionCases,
].sort((a, b) => compareIds(a.id, b.id));

/** Category names by first number. */
export const CATEGORIES: Record<string, string> = {
  "1": "Framing",
  "2": "Pings/Pongs",
  "3": "Reserved Bits",
  "4": "Opcodes",
  "5": "Fragmentation",
  "6": "UTF-8 Handling",
  "7": "Close Handling",
  "9": "Limits/Performance",
  "10": "Misc (auto-fragmentation)",
  "11": "Masking (server role only)",
  "12": "permessage-deflate payloads",
  "13": "permessage-deflate negotiation",
};

/**
 * Cases selected by id prefixes: "5.6" selects 5.6 and 5.6.x, "6" all of
 * category 6. A prefix ending in "." or with a "*" matches textually.
 */
export function selectCases(
  prefixes: string[] | undefined,
  cases: CaseDef[] = allCases,
): CaseDef[] {
  if (!prefixes || prefixes.length === 0) return cases;
  return cases.filter((c) =>
    prefixes.some((p) => {
      if (p.endsWith("*")) return c.id.startsWith(p.slice(0, -1));
      return c.id === p || c.id.startsWith(p.endsWith(".") ? p : p + ".");
    })
  );
}

/**
 * Cases of the flipped suite (the library as a server): everything but
 * compression, plus the masking cases 11.x that only a server can fail.
 */
export const serverRoleCases: CaseDef[] = [
  ...allCases.filter((c) => !c.id.startsWith("12.") && !c.id.startsWith("13.")),
  ...maskingCases,
].sort((a, b) => compareIds(a.id, b.id));
