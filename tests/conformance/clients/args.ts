/**
 * Command line shared by the echo-client drivers:
 * `<baseUrl> <agent> <from> <to> [--verbose] [--http2]`. The driver runs cases
 * from..to (1-based) one after the other, Autobahn style.
 *
 * @module
 */

/** Parsed driver arguments. */
export interface DriverArgs {
  base: string;
  agent: string;
  from: number;
  to: number;
  verbose: boolean;
  /** `--http2`: connect over HTTP/2 (h2c with prior knowledge, RFC 8441). */
  http2: boolean;
}

/** Parses `Deno.args`. */
export function parseDriverArgs(args: string[]): DriverArgs {
  const [base, agent, from, to] = args;
  if (!base || !agent || !from || !to) {
    throw new Error(
      "usage: <ws://127.0.0.1:PORT> <agent> <fromCase> <toCase> [--verbose] [--http2]",
    );
  }
  return {
    base,
    agent,
    from: Number(from),
    to: Number(to),
    verbose: args.includes("--verbose"),
    http2: args.includes("--http2"),
  };
}

/** URL of case `i` for `agent`. */
export function caseUrl(a: DriverArgs, i: number): string {
  return `${a.base}/runCase?case=${i}&agent=${encodeURIComponent(a.agent)}`;
}
