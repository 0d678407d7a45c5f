/**
 * The client side of TLS for `wss://` (and for `https://` proxies): checks
 * a client certificate and key before use, then runs the handshake with
 * `Deno.startTls` where it can (plain TCP, no client certificate) and with
 * `node:tls` otherwise (TLS inside a proxy's TLS, mutual TLS).
 *
 * @module
 */

import { createPrivateKey, X509Certificate } from "node:crypto";
import { WebSocketError } from "../errors.ts";
import { mapNetError, tlsHint } from "./net_error.ts";
import { nodeTls } from "./node_tls.ts";
import { closeQuietly, withAbort } from "./stream.ts";

/** What a TLS client handshake needs. */
export interface ClientTlsOptions {
  /** Name for SNI and the certificate check: the URL's host, never a mapped address. */
  hostname: string;
  /** Extra CA certificates (PEM) trusted in addition to the default roots. */
  caCerts?: string[];
  /** Client certificate chain (PEM), for servers that ask for one. */
  cert?: string;
  /** Private key of `cert` (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC). */
  key?: string;
  /** Aborts the handshake. */
  signal?: AbortSignal;
  /** Names the server in errors, e.g. `TLS with example.com:443`. */
  what: string;
  /** ALPN protocols to offer, most wanted first (none: no ALPN). */
  alpnProtocols?: string[];
}

/** A finished TLS client handshake. */
export interface ClientTls {
  /** The encrypted stream. */
  conn: Deno.Conn;
  /** The protocol the server chose in ALPN, or null. */
  alpnProtocol: string | null;
}

/**
 * Checks that `cert` and `key` are given together, parse, and belong to
 * each other; throws `INVALID_ARGUMENT` saying which is wrong.
 */
export function checkClientCertificate(cert?: string, key?: string): void {
  if (cert === undefined && key === undefined) return;
  if (cert === undefined || key === undefined) {
    throw new WebSocketError(
      "INVALID_ARGUMENT",
      `a client certificate needs both cert and key (${
        cert === undefined ? "cert" : "key"
      } is missing)`,
    );
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    throw new WebSocketError(
      "INVALID_ARGUMENT",
      "cert is not a PEM certificate",
      { cause: e },
    );
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (e) {
    throw new WebSocketError(
      "INVALID_ARGUMENT",
      "key is not a PEM private key",
      { cause: e },
    );
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new WebSocketError(
      "INVALID_ARGUMENT",
      `key does not match the client certificate (${x509.subject})`,
    );
  }
}

/**
 * Runs a TLS client handshake over `conn`. `tcp` says that `conn` is a plain
 * `Deno.TcpConn`, the only kind `Deno.startTls` takes. On failure `conn` is
 * closed and the error is `TLS_ERROR` (or `ABORTED`/`TIMEOUT` for the
 * signal).
 */
export async function startClientTls(
  conn: Deno.Conn,
  tcp: boolean,
  options: ClientTlsOptions,
): Promise<ClientTls> {
  const { hostname, caCerts, cert, key, signal, what, alpnProtocols } = options;
  try {
    if (!tcp || cert !== undefined) {
      const tls = await nodeTls(
        conn,
        { hostname, caCerts, cert, key, alpnProtocols },
        signal,
      );
      return {
        conn: tls as unknown as Deno.Conn,
        alpnProtocol: tls.alpnProtocol,
      };
    }
    return await nativeTls(
      conn as Deno.TcpConn,
      { hostname, caCerts, alpnProtocols },
      signal,
    );
  } catch (e) {
    closeQuietly(conn);
    const err = mapNetError(e, what, signal);
    if (err.code !== "CONNECT_FAILED") throw err;
    throw new WebSocketError("TLS_ERROR", err.message, { cause: e });
  }
}

async function nativeTls(
  conn: Deno.TcpConn,
  options: Deno.StartTlsOptions,
  signal: AbortSignal | undefined,
): Promise<ClientTls> {
  // startTls takes over the TCP resource: from then on only the TLS
  // connection can (and must) be closed, or it leaks after a failed handshake.
  const tls = await Deno.startTls(conn, options);
  try {
    const info = await withAbort(tls.handshake(), signal, () => tls.close());
    return { conn: tls, alpnProtocol: info.alpnProtocol };
  } catch (e) {
    closeQuietly(tls);
    throw e;
  }
}

/**
 * A `wss://` server that checks client certificates ends the connection
 * right after the TLS handshake when it dislikes ours or wants one: in TLS
 * 1.3 that check comes after our side of the handshake is done, and many
 * servers (Python's `ssl` under asyncio, Node for a rejected certificate)
 * send no alert first. An end before the server's first byte becomes a
 * `TLS_ERROR` that says so; other errors are returned as they are.
 */
export function explainEarlyEnd(
  err: WebSocketError,
  hasCert: boolean,
  what: string,
): WebSocketError {
  const abrupt = err.code === "CONNECTION_LOST" ||
    (err.code === "CONNECT_FAILED" && /reset/i.test(err.message)) ||
    (err.code === "TLS_ERROR" &&
      /close_notify|unexpected eof|reset/i.test(err.message) &&
      tlsHint(err.message) === "");
  if (!abrupt) return err;
  return new WebSocketError(
    "TLS_ERROR",
    `${what}: the server ended the connection after the TLS handshake without answering (${
      hasCert
        ? "it may have rejected our client certificate"
        : "a server that requires a client certificate does this: give cert and key"
    })`,
    { cause: err },
  );
}
