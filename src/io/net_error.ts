/**
 * Turning what Deno's network calls (and `node:tls`) throw into a
 * {@linkcode WebSocketError} with a message a person can act on: the
 * permission flag to add, or what a TLS alert from the server means.
 *
 * @module
 */

import { WebSocketError, type WebSocketErrorCode } from "../errors.ts";

/** Alerts a server sends when it wanted a client certificate and got none. */
const CERT_REQUIRED = /certificate ?required|PEER_DID_NOT_RETURN/i;
/** Alerts a server sends about the client certificate it was given. */
const CERT_REJECTED =
  /alert.*(bad ?certificate|unknown ?ca|certificate ?unknown|unsupported ?certificate|certificate ?(revoked|expired)|access ?denied|decrypt ?error)/i;

/** What a TLS failure means for the caller, when the message says so. */
export function tlsHint(message: string): string {
  if (CERT_REQUIRED.test(message)) {
    return " (the server requires a client certificate: give cert and key)";
  }
  if (CERT_REJECTED.test(message)) {
    return " (the server rejected our client certificate)";
  }
  return "";
}

/**
 * Turns an error thrown by a Deno network call into a
 * {@linkcode WebSocketError} with a message a person can act on.
 */
export function mapNetError(
  err: unknown,
  what: string,
  signal?: AbortSignal,
): WebSocketError {
  if (err instanceof WebSocketError) return err;
  if (signal?.aborted) {
    const reason = signal.reason;
    if (reason instanceof WebSocketError) return reason;
    return new WebSocketError("ABORTED", `${what}: aborted`, { cause: reason });
  }
  const e = err as Error & { code?: unknown };
  const msg = e?.message ?? String(err);
  let code: WebSocketErrorCode = "CONNECT_FAILED";
  if (
    e instanceof Deno.errors.NotCapable ||
    e instanceof Deno.errors.PermissionDenied
  ) {
    code = "PERMISSION_DENIED";
    const flag = /run again with the (--allow-[a-z]+) flag/.exec(msg)?.[1];
    const need = /Requires (\w+) access to "([^"]*)"/.exec(msg);
    const hint = need && flag ? ` (run with ${flag}=${need[2]})` : "";
    return new WebSocketError(code, `${what}: permission denied${hint}`, {
      cause: err,
    });
  }
  if (e instanceof Deno.errors.TimedOut) code = "TIMEOUT";
  else if (
    e instanceof Deno.errors.InvalidData ||
    /certificate|tls|ssl|handshake|alert/i.test(msg) ||
    /^(ERR_SSL|ERR_TLS|UNABLE_TO|CERT_|DEPTH_ZERO|SELF_SIGNED)/.test(
      String(e?.code ?? ""),
    )
  ) {
    return new WebSocketError("TLS_ERROR", `${what}: ${msg}${tlsHint(msg)}`, {
      cause: err,
    });
  }
  return new WebSocketError(code, `${what}: ${msg}`, { cause: err });
}
