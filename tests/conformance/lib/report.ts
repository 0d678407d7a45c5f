/**
 * Reports: a text summary per category, the list of non-OK cases, JSON, a
 * Markdown side-by-side table, and a static HTML page in the spirit of
 * Autobahn's (a grid of cases × clients; each case expands to what was sent
 * and what came back).
 *
 * @module
 */

import type { Verdict } from "./judge.ts";
import type { CaseResult } from "./server.ts";
import { CATEGORIES, compareIds } from "../cases/mod.ts";

/** Results per client name. */
export type SuiteResults = Record<string, CaseResult[]>;

const VERDICTS: Verdict[] = [
  "OK",
  "NON-STRICT",
  "FAILED",
  "UNIMPLEMENTED",
  "INFORMATIONAL",
];
const SHORT: Record<Verdict, string> = {
  "OK": "OK",
  "NON-STRICT": "NS",
  "FAILED": "FAIL",
  "UNIMPLEMENTED": "UNIMPL",
  "INFORMATIONAL": "INFO",
};

function category(id: string): string {
  return id.split(".")[0];
}

/** Verdict counts per category for one client. */
export function countByCategory(
  results: CaseResult[],
): Map<string, Record<Verdict, number>> {
  const out = new Map<string, Record<Verdict, number>>();
  for (const r of results) {
    const c = category(r.id);
    if (!out.has(c)) {
      out.set(
        c,
        Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<
          Verdict,
          number
        >,
      );
    }
    out.get(c)![r.verdict]++;
  }
  return new Map(
    [...out.entries()].sort((a, b) => Number(a[0]) - Number(b[0])),
  );
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

/** Plain-text summary: one table per client, then every non-OK case with its reason. */
export function textReport(all: SuiteResults): string {
  const lines: string[] = [];
  for (const [client, results] of Object.entries(all)) {
    lines.push(`\n== ${client} ==`);
    lines.push(
      `${pad("Category", 34)} ${pad("cases", 5, true)} ${
        VERDICTS.map((v) => pad(SHORT[v], 6, true)).join(" ")
      }`,
    );
    const totals = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<
      Verdict,
      number
    >;
    for (const [c, counts] of countByCategory(results)) {
      const n = VERDICTS.reduce((a, v) => a + counts[v], 0);
      for (const v of VERDICTS) totals[v] += counts[v];
      lines.push(
        `${pad(`${c} ${CATEGORIES[c] ?? ""}`, 34)} ${pad(String(n), 5, true)} ${
          VERDICTS.map((v) => pad(String(counts[v] || "·"), 6, true)).join(" ")
        }`,
      );
    }
    lines.push(
      `${pad("Total", 34)} ${pad(String(results.length), 5, true)} ${
        VERDICTS.map((v) => pad(String(totals[v]), 6, true)).join(" ")
      }`,
    );
  }
  for (const [client, results] of Object.entries(all)) {
    const bad = results.filter((r) =>
      r.verdict !== "OK" && r.verdict !== "INFORMATIONAL"
    );
    const unimpl = bad.filter((r) => r.verdict === "UNIMPLEMENTED");
    const shown = bad.filter((r) => r.verdict !== "UNIMPLEMENTED");
    lines.push(
      `\n-- ${client}: ${shown.length} case(s) FAILED or NON-STRICT --`,
    );
    for (const r of shown) {
      lines.push(`${pad(r.id, 8)} ${pad(r.verdict, 10)} ${r.reason}`);
    }
    if (unimpl.length > 0) {
      lines.push(
        `${unimpl.length} case(s) UNIMPLEMENTED: ${
          summarizeIds(unimpl.map((r) => r.id))
        } (${unimpl[0].reason})`,
      );
    }
    const info = results.filter((r) => r.verdict === "INFORMATIONAL");
    for (const r of info) {
      lines.push(`${pad(r.id, 8)} ${pad("INFO", 10)} ${r.reason}`);
    }
  }
  return lines.join("\n");
}

/** "12.1.1-12.5.10" style range over consecutive ids. */
function summarizeIds(ids: string[]): string {
  const sorted = [...ids].sort(compareIds);
  return sorted.length > 2
    ? `${sorted[0]} … ${sorted[sorted.length - 1]}`
    : sorted.join(", ");
}

/** Markdown table: one row per category, one column per client (OK / NON-STRICT / FAILED / other). */
export function markdownTable(all: SuiteResults): string {
  const clients = Object.keys(all);
  const per = clients.map((c) => countByCategory(all[c]));
  const cats = [...new Set(per.flatMap((m) => [...m.keys()]))].sort((a, b) =>
    Number(a) - Number(b)
  );
  const cell = (m: Map<string, Record<Verdict, number>>, c: string) => {
    const k = m.get(c);
    if (!k) return "–";
    const parts = [`${k.OK} OK`];
    if (k["NON-STRICT"]) parts.push(`${k["NON-STRICT"]} NON-STRICT`);
    if (k.FAILED) parts.push(`**${k.FAILED} FAILED**`);
    if (k.INFORMATIONAL) parts.push(`${k.INFORMATIONAL} INFO`);
    if (k.UNIMPLEMENTED) parts.push(`${k.UNIMPLEMENTED} UNIMPL`);
    return parts.join(", ");
  };
  const lines = [
    `| Category | Cases | ${clients.join(" | ")} |`,
    `| --- | ---: | ${clients.map(() => "---").join(" | ")} |`,
  ];
  for (const c of cats) {
    const n = Object.values(per[0].get(c) ?? {}).reduce((a, b) => a + b, 0);
    lines.push(
      `| ${c} ${CATEGORIES[c] ?? ""} | ${n} | ${
        per.map((m) => cell(m, c)).join(" | ")
      } |`,
    );
  }
  return lines.join("\n");
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

const COLORS: Record<Verdict, string> = {
  "OK": "#0a0",
  "NON-STRICT": "#9c0",
  "FAILED": "#e00",
  "UNIMPLEMENTED": "#999",
  "INFORMATIONAL": "#69c",
};

/** A self-contained HTML page: the case × client grid, then every case's details. */
export function htmlReport(
  all: SuiteResults,
  title = "wsnc conformance report",
): string {
  const clients = Object.keys(all);
  const byId = new Map<string, Map<string, CaseResult>>();
  for (const c of clients) {
    for (const r of all[c]) {
      if (!byId.has(r.id)) byId.set(r.id, new Map());
      byId.get(r.id)!.set(c, r);
    }
  }
  const ids = [...byId.keys()].sort(compareIds);
  const anchor = (id: string) => `case-${id.replace(/\./g, "_")}`;
  const out: string[] = [];
  out.push(
    `<!doctype html><html><head><meta charset="utf-8"><title>${
      esc(title)
    }</title><style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
table.grid{border-collapse:collapse}
table.grid td,table.grid th{border:1px solid #ccc;padding:2px 8px;text-align:left}
td.v{color:#fff;font-weight:600;text-align:center;cursor:pointer}
td.v a{color:#fff;text-decoration:none;display:block}
tr.cat th{background:#eee;text-align:left}
details{border:1px solid #ddd;margin:6px 0;padding:4px 8px}
summary{cursor:pointer}
pre{background:#f6f6f6;padding:6px;overflow-x:auto;font-size:12px;line-height:1.35}
.badge{color:#fff;padding:1px 6px;border-radius:3px;font-weight:600}
.tx{color:#036}.rx{color:#603}.note{color:#666}
</style></head><body>`,
  );
  out.push(
    `<h1>${esc(title)}</h1><p>Generated ${
      esc(new Date().toISOString())
    }. Verdicts: ${
      VERDICTS.map((v) =>
        `<span class="badge" style="background:${COLORS[v]}">${v}</span>`
      ).join(" ")
    }. Click a cell for what was sent and what came back.</p>`,
  );
  out.push("<h2>Summary</h2><table class=grid><tr><th>Category</th>");
  for (const c of clients) out.push(`<th>${esc(c)}</th>`);
  out.push("</tr>");
  const counts = clients.map((c) => countByCategory(all[c]));
  for (const cat of [...counts[0].keys()]) {
    out.push(`<tr><td>${esc(cat)} ${esc(CATEGORIES[cat] ?? "")}</td>`);
    for (const m of counts) {
      const k = m.get(cat);
      out.push(
        `<td>${
          k
            ? VERDICTS.filter((v) => k[v]).map((v) =>
              `<span style="color:${COLORS[v]}">${k[v]} ${v}</span>`
            ).join(", ")
            : ""
        }</td>`,
      );
    }
    out.push("</tr>");
  }
  out.push("</table><h2>Cases</h2><table class=grid><tr><th>Case</th>");
  for (const c of clients) out.push(`<th>${esc(c)}</th>`);
  out.push("</tr>");
  let lastCat = "";
  for (const id of ids) {
    const cat = category(id);
    if (cat !== lastCat) {
      out.push(
        `<tr class=cat><th colspan=${clients.length + 1}>${esc(cat)} ${
          esc(CATEGORIES[cat] ?? "")
        }</th></tr>`,
      );
      lastCat = cat;
    }
    out.push(`<tr><td><a href="#${anchor(id)}">${esc(id)}</a></td>`);
    for (const c of clients) {
      const r = byId.get(id)!.get(c);
      if (!r) {
        out.push("<td></td>");
        continue;
      }
      const dur = r.verdict === "UNIMPLEMENTED"
        ? ""
        : ` <small>${r.durationMs} ms</small>`;
      out.push(
        `<td class=v style="background:${COLORS[r.verdict]}" title="${
          esc(r.reason)
        }"><a href="#${anchor(id)}-${esc(c)}">${
          SHORT[r.verdict]
        }${dur}</a></td>`,
      );
    }
    out.push("</tr>");
  }
  out.push("</table><h2>Details</h2>");
  for (const id of ids) {
    const first = byId.get(id)!.values().next().value!;
    out.push(
      `<details id="${anchor(id)}"><summary><b>${esc(id)}</b> ${
        esc(first.description)
      }</summary>`,
    );
    out.push(`<p><b>Expected:</b> ${esc(first.expectation)}</p>`);
    for (const c of clients) {
      const r = byId.get(id)!.get(c);
      if (!r) continue;
      out.push(
        `<details id="${anchor(id)}-${esc(c)}"><summary>${
          esc(c)
        }: <span class=badge style="background:${
          COLORS[r.verdict]
        }">${r.verdict}</span> ${esc(r.reason)}</summary>`,
      );
      if (r.clientClose) {
        out.push(
          `<p>Client close: ${r.clientClose.code ?? "(no code)"} ${
            esc(JSON.stringify(r.clientClose.reason))
          }</p>`,
        );
      }
      const trace = r.trace.map((t) =>
        `<span class=${t.dir}>${String(t.t.toFixed(1)).padStart(9)} ms ${
          t.dir === "tx" ? "→" : t.dir === "rx" ? "←" : "·"
        } ${esc(t.text)}</span>`
      );
      if (r.traceDropped) {
        trace.push(`… ${r.traceDropped} more trace lines dropped`);
      }
      out.push(`<pre>${trace.join("\n")}</pre>`);
      if (r.request) {
        out.push(
          `<details><summary>Upgrade request</summary><pre>GET ${
            esc(r.request.target)
          }\n${
            r.request.headers.map(([k, v]) => `${esc(k)}: ${esc(v)}`).join("\n")
          }</pre></details>`,
        );
      }
      out.push("</details>");
    }
    out.push("</details>");
  }
  // Open the targeted case (and its parent) when a grid cell is clicked.
  out.push(`<script>
function openTarget(){const el=document.getElementById(decodeURIComponent(location.hash.slice(1)));
if(!el)return;for(let e=el;e;e=e.parentElement){if(e.tagName==="DETAILS")e.open=true;}el.scrollIntoView();}
addEventListener("hashchange",openTarget);openTarget();
</script></body></html>`);
  return out.join("\n");
}
