/**
 * Exit codes of the CLI and the mapping from errors to them.
 *
 * @module
 */

import { WebSocketError } from "../../mod.ts";

/** Process exit codes; listed in `--help` and the README. */
export const ExitCode = {
  /** The connection closed cleanly (or we closed it). */
  OK: 0,
  /** Any other failure (permission denied, I/O error). */
  ERROR: 1,
  /** Bad flag, bad flag value or bad URL. */
  USAGE: 2,
  /** TCP connect failed, or the connection was lost without a close frame. */
  CONNECT: 3,
  /** TLS negotiation or certificate check failed. */
  TLS: 4,
  /** The server answered the upgrade with an HTTP status other than 101. */
  REFUSED: 5,
  /** Bad 101 response, or the peer broke the WebSocket protocol. */
  PROTOCOL: 6,
  /** --connect-timeout, --max-time or --ping-timeout expired. */
  TIMEOUT: 7,
  /** The peer closed with a code other than 1000, 1001 or 1005. */
  PEER_CLOSE: 8,
  /** Ended by SIGINT (Ctrl-C). */
  INTERRUPTED: 130,
} as const;

/** An error the CLI reports as one line and an exit code. */
export class CliError extends Error {
  /** The process exit code to use. */
  readonly exitCode: number;
  /** Creates an error with the exit code it stands for. */
  constructor(exitCode: number, message: string) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/** What to print and which code to exit with for an error. */
export interface ErrorReport {
  /** Exit code. */
  code: number;
  /** Lines for stderr (without the "wsnc: " prefix). */
  lines: string[];
}

const CODE_OF: Record<string, number> = {
  HTTP_RETURNED_ERROR: ExitCode.REFUSED,
  BAD_HANDSHAKE: ExitCode.PROTOCOL,
  PROTOCOL_ERROR: ExitCode.PROTOCOL,
  INVALID_PAYLOAD: ExitCode.PROTOCOL,
  MESSAGE_TOO_BIG: ExitCode.PROTOCOL,
  CLOSED: ExitCode.CONNECT,
  CONNECTION_LOST: ExitCode.CONNECT,
  CONNECT_FAILED: ExitCode.CONNECT,
  TLS_ERROR: ExitCode.TLS,
  TIMEOUT: ExitCode.TIMEOUT,
  ABORTED: ExitCode.INTERRUPTED,
  PERMISSION_DENIED: ExitCode.ERROR,
  INVALID_ARGUMENT: ExitCode.USAGE,
};

const BODY_PREVIEW = 200;

/** Makes a response body preview printable on one line. */
export function bodyPreview(body: Uint8Array): string {
  const text = new TextDecoder().decode(body.subarray(0, BODY_PREVIEW)).trim();
  // JSON escaping keeps control characters and newlines from breaking the line.
  const quoted = JSON.stringify(text).slice(1, -1);
  return body.length > BODY_PREVIEW ? quoted + "..." : quoted;
}

/**
 * An aborted connection carries the reason it was aborted for (a timeout or
 * an interrupt) as its cause; report that reason.
 */
function unwrapAbort(e: WebSocketError): WebSocketError {
  return e.code === "ABORTED" && e.cause instanceof WebSocketError
    ? e.cause
    : e;
}

/**
 * What rustls' certificate and record errors mean for the person at the
 * keyboard, and what to try. The raw reason is printed after the sentence.
 */
const TLS_HINTS: [RegExp, string][] = [
  [
    /CaUsedAsEndEntity/,
    "the server's certificate is itself a CA certificate (CA:TRUE, often a self-signed test certificate); certificate checks refuse that: give the server a certificate signed by that CA, or skip the check for this host (see --help, certificate checks)",
  ],
  [
    /UnknownIssuer|UnknownCA|self.signed/i,
    "the server's certificate is not signed by a CA this machine trusts: pass that CA with --cacert FILE",
  ],
  [
    /InvalidContentType|corrupt message|wrong version number/i,
    "the server did not answer with TLS: is that port speaking TLS? (use ws:// for a plain port)",
  ],
  [
    /NotValidForName|CertNotValidForName|not valid for name/i,
    "the server's certificate is not valid for this host name",
  ],
  [
    /Expired/i,
    "the server's certificate has expired (or this machine's clock is wrong)",
  ],
  [
    /NotValidYet/i,
    "the server's certificate is not valid yet (or this machine's clock is wrong)",
  ],
];

function tlsLines(message: string): string[] {
  for (const [pattern, sentence] of TLS_HINTS) {
    if (pattern.test(message)) return [sentence, `(${message})`];
  }
  return [message];
}

/** Maps any thrown value to an exit code and the lines to print. */
export function reportError(err: unknown): ErrorReport {
  if (err instanceof CliError) {
    return { code: err.exitCode, lines: [err.message] };
  }
  if (err instanceof WebSocketError) {
    const e = unwrapAbort(err);
    const code = CODE_OF[e.code] ?? ExitCode.ERROR;
    if (e.code === "HTTP_RETURNED_ERROR" && e.status !== undefined) {
      const status = `HTTP ${e.status}${
        e.statusText ? " " + e.statusText : ""
      }`;
      const lines = [`server refused the upgrade: ${status}`];
      if (e.body && e.body.length > 0) {
        lines.push(`response body: ${bodyPreview(e.body)}`);
      }
      const location = e.headers?.get("location");
      if (e.status >= 300 && e.status < 400 && location) {
        lines.push(`redirected to ${location} (-L/--location follows it)`);
      }
      return { code, lines };
    }
    if (e.code === "TLS_ERROR") return { code, lines: tlsLines(e.message) };
    return { code, lines: [e.message] };
  }
  if (err instanceof Deno.errors.BrokenPipe) {
    return { code: ExitCode.OK, lines: [] };
  }
  if (
    err instanceof Deno.errors.AddrInUse ||
    err instanceof Deno.errors.AddrNotAvailable ||
    err instanceof Deno.errors.ConnectionRefused
  ) {
    return { code: ExitCode.CONNECT, lines: [(err as Error).message] };
  }
  if (
    err instanceof Deno.errors.NotCapable ||
    err instanceof Deno.errors.PermissionDenied
  ) {
    return {
      code: ExitCode.ERROR,
      lines: [`permission denied: ${(err as Error).message.split("\n")[0]}`],
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: ExitCode.ERROR, lines: [message.split("\n")[0]] };
}
