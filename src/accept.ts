/**
 * The server face: `acceptWebSocket()` reads a client's upgrade request from
 * an accepted `Deno.Conn`, answers it and returns a
 * {@linkcode WebSocketConnection} in the server role (it sends unmasked
 * frames and requires masked ones).
 *
 * @module
 */

import { WebSocketError } from "./errors.ts";
import {
  buildAcceptResponse,
  buildErrorResponse,
  computeAccept,
  HeadTooLargeError,
  MAX_HEAD_BYTES,
  parseRequestHead,
  type RequestHead,
  validateRequest,
} from "./handshake.ts";
import { type ConnectionOptions, WebSocketConnection } from "./connection.ts";
import { readHttpHead, withAbort, writeAll } from "./io/stream.ts";
import {
  agreedDeflate,
  loadCompression,
  negotiateOffer,
  resolveCompressionOptions,
} from "./deflate.ts";

/** Options of {@linkcode acceptWebSocket}. */
export interface AcceptOptions extends ConnectionOptions {
  /** Subprotocols we speak, in order of preference; the first one the client offers wins. */
  protocols?: string[];
  /** Extra response headers. */
  headers?: HeadersInit;
  /** Time limit in ms for the client to send its request (default 10000). */
  handshakeTimeout?: number;
  /**
   * Browser origins allowed to connect, like `ws`'s `verifyClient`: a list
   * (`"*"` accepts any) or a predicate. A request with an `Origin` header
   * that is not allowed gets 403 before `onRequest` runs; a request without
   * one (not from a browser) is accepted. Unset: every origin is accepted.
   * A server on 127.0.0.1 is reachable from every page a browser opens, so
   * set this when the server does more than echo (cross-site WebSocket
   * hijacking).
   */
  origins?: string[] | ((origin: string) => boolean);
  /** Inspect the request; throw a `WebSocketError` with `status` to refuse it. */
  onRequest?(request: RequestHead): void | Promise<void>;
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  426: "Upgrade Required",
  431: "Request Header Fields Too Large",
  502: "Bad Gateway",
};

/** After a 431, how long and how much of the rest of the request we read and drop. */
const DRAIN_MS = 1000;
const DRAIN_BYTES = 1024 * 1024;

/**
 * Answers a request head that grew past the limit with 431 and half-closes.
 * The client is likely still sending: closing with its bytes unread would
 * reset the connection and could destroy the answer before it is read, so
 * read and drop a bounded amount first.
 */
async function refuseOversizedHead(conn: Deno.Conn): Promise<void> {
  const answer = buildErrorResponse(
    431,
    REASONS[431],
    `request head larger than ${MAX_HEAD_BYTES} bytes\n`,
  );
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* already closed */ }
  }, DRAIN_MS);
  try {
    await writeAll(conn, new TextEncoder().encode(answer));
    await conn.closeWrite();
    const buf = new Uint8Array(16 * 1024);
    for (let drained = 0; drained < DRAIN_BYTES;) {
      const n = await conn.read(buf);
      if (n === null) break;
      drained += n;
    }
  } catch {
    /* the client went away, or the drain timer closed it */
  } finally {
    clearTimeout(timer);
  }
}

/** Throws 403 when `origins` does not allow the request's Origin header. */
function checkOrigin(
  head: RequestHead,
  origins: AcceptOptions["origins"],
): void {
  const origin = head.headers.get("origin");
  if (origins === undefined || origin === null) return;
  const allowed = typeof origins === "function"
    ? origins(origin)
    : origins.some((o) =>
      o === "*" || o.toLowerCase() === origin.toLowerCase()
    );
  if (!allowed) {
    throw new WebSocketError(
      "BAD_HANDSHAKE",
      `origin ${JSON.stringify(origin)} is not allowed`,
      { status: 403 },
    );
  }
}

/**
 * Accepts a WebSocket upgrade on a connection from `Deno.listen()`. A bad
 * request gets an HTTP error answer, the connection is closed and the
 * promise rejects with `BAD_HANDSHAKE`.
 *
 * @example An echo server
 * ```ts
 * import assert from "node:assert/strict";
 * import { acceptWebSocket, connect } from "../mod.ts";
 *
 * // Serve every connection until the listener closes; a bad request only
 * // rejects its own session.
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const sessions: Promise<void>[] = [];
 * const serving = (async () => {
 *   for await (const tcp of listener) {
 *     sessions.push(acceptWebSocket(tcp).then(async (conn) => {
 *       for await (const message of conn) await conn.send(message);
 *     }).catch(() => {}));
 *   }
 * })();
 *
 * // A client tries it.
 * const client = await connect(`ws://127.0.0.1:${listener.addr.port}/`);
 * await client.send("ping");
 * assert.equal(await client.receive(), "ping");
 * await client.close();
 * listener.close();
 * await serving;
 * await Promise.all(sessions);
 * ```
 */
export async function acceptWebSocket(
  conn: Deno.Conn,
  options: AcceptOptions = {},
): Promise<WebSocketConnection> {
  resolveCompressionOptions(options.compression); // INVALID_ARGUMENT early
  let responseHeaders: Headers;
  try {
    responseHeaders = new Headers(options.headers);
  } catch (e) {
    conn.close();
    throw new WebSocketError(
      "INVALID_ARGUMENT",
      `invalid response header: ${(e as Error).message}`,
    );
  }
  const controller = new AbortController();
  const timer = setTimeout(
    () =>
      controller.abort(
        new WebSocketError(
          "TIMEOUT",
          "client did not finish its upgrade request in time",
        ),
      ),
    options.handshakeTimeout ?? 10000,
  );
  try {
    const { head, rest } = await withAbort(
      readHttpHead(conn, "client").then(({ head, rest }) => ({
        head: parseRequestHead(head, head.length),
        rest,
      })),
      controller.signal,
      () => conn.close(),
    );
    let upgrade;
    try {
      upgrade = validateRequest(head);
      checkOrigin(head, options.origins);
      await options.onRequest?.(head);
    } catch (e) {
      const status = e instanceof WebSocketError && e.status ? e.status : 400;
      const why = e instanceof Error ? e.message : String(e);
      await writeAll(
        conn,
        new TextEncoder().encode(
          buildErrorResponse(status, REASONS[status] ?? "Error", why + "\n"),
        ),
      )
        .catch(() => {});
      throw e instanceof WebSocketError
        ? e
        : new WebSocketError("BAD_HANDSHAKE", why, { status });
    }
    const protocol = options.protocols?.find((p) =>
      upgrade.protocols.includes(p)
    ) ?? "";
    const accept = computeAccept(upgrade.key);
    const compression = (options.compression && await loadCompression())
      ? options.compression
      : undefined;
    const agreed = compression
      ? negotiateOffer(upgrade.extensions || null, compression)
      : null;
    await writeAll(
      conn,
      new TextEncoder().encode(
        buildAcceptResponse(
          accept,
          protocol,
          agreed?.header ?? "",
          responseHeaders,
        ),
      ),
    );
    const host = head.headers.get("host") ?? "localhost";
    let url: URL;
    try {
      url = new URL(head.target, `ws://${host}`);
    } catch {
      url = new URL("ws://localhost/");
    }
    return new WebSocketConnection(conn, {
      url,
      role: "server",
      protocol,
      extensions: agreed?.header ?? "",
      response: { status: 101, headers: head.headers, httpVersion: "1.1" },
      leftover: rest,
      options,
      deflate: agreedDeflate(
        agreed?.params,
        "server",
        compression,
        options.maxMessageSize,
      ),
    });
  } catch (e) {
    if (e instanceof HeadTooLargeError) await refuseOversizedHead(conn);
    try {
      conn.close();
    } catch { /* already closed */ }
    if (e instanceof WebSocketError) throw e;
    throw new WebSocketError(
      "CONNECTION_LOST",
      `upgrade failed: ${(e as Error)?.message ?? e}`,
      { cause: e },
    );
  } finally {
    clearTimeout(timer);
  }
}
