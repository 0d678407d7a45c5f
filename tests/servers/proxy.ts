/**
 * A small HTTP CONNECT proxy on loopback for tests of proxied connections.
 *
 * Answers `CONNECT host:port` with `HTTP/1.1 200 Connection established` and
 * then pipes bytes both ways. Every request is recorded in `requests`.
 * Refusals (405, 407, 403, 502, ...) are sent with `Connection: close` and the
 * connection is closed after them.
 * @module
 */

import { hostPort } from "./certs.ts";
import { ConnReader, parseRequestHead } from "./reader.ts";

/** Options of {@linkcode startConnectProxy}. */
export interface ConnectProxyOptions {
  /** Demand `Proxy-Authorization: Basic` with these credentials (else 407). */
  auth?: { username: string; password: string };
  /** Refuse every request with this status (e.g. 403, or 407 with `Proxy-Authenticate`). */
  refuse?: number;
  /** Address to listen on; default "127.0.0.1". */
  hostname?: string;
}

/** One request received by the proxy. */
export interface ProxyRequest {
  /** HTTP method (normally "CONNECT"). */
  method: string;
  /** Request target, e.g. "127.0.0.1:8080". */
  target: string;
  headers: Headers;
  /** Status the proxy answered with (200 when it tunnelled). */
  status: number;
}

/** A running CONNECT proxy. */
export interface ConnectProxy {
  readonly hostname: string;
  readonly port: number;
  /** `http://host:port`. */
  readonly url: string;
  /** Every request head received, in arrival order. */
  readonly requests: ProxyRequest[];
  /** Closes the listener and every client and tunnel connection, then waits. */
  close(): Promise<void>;
}

const REASONS: Record<number, string> = {
  200: "Connection established",
  400: "Bad Request",
  403: "Forbidden",
  405: "Method Not Allowed",
  407: "Proxy Authentication Required",
  502: "Bad Gateway",
};

/** Only loopback targets may be tunnelled to: tests never reach outside. */
const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"]);

/** Splits a CONNECT target `host:port` or `[v6]:port`; null when malformed. */
function parseTarget(
  target: string,
): { hostname: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(target);
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { hostname: m[1] ?? m[2], port };
}

/** Starts a CONNECT proxy on a free loopback port. */
export function startConnectProxy(
  opts: ConnectProxyOptions = {},
): ConnectProxy {
  const hostname = opts.hostname ?? "127.0.0.1";
  const listener = Deno.listen({ hostname, port: 0 });
  const port = listener.addr.port;
  const requests: ProxyRequest[] = [];
  const conns = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  let closing = false;

  const expected = opts.auth
    ? "Basic " + btoa(`${opts.auth.username}:${opts.auth.password}`)
    : undefined;

  const track = (conn: Deno.Conn) => {
    conns.add(conn);
    return conn;
  };
  const closeConn = (conn: Deno.Conn) => {
    if (!conns.delete(conn)) return;
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  };

  const refuse = async (conn: Deno.Conn, status: number) => {
    const lines = [`HTTP/1.1 ${status} ${REASONS[status] ?? "Refused"}`];
    if (status === 407) {
      lines.push('Proxy-Authenticate: Basic realm="wsnc-test-proxy"');
    }
    lines.push("Content-Length: 0", "Connection: close", "", "");
    await writeAll(conn, new TextEncoder().encode(lines.join("\r\n")));
  };

  const serveClient = async (client: Deno.Conn) => {
    const reader = new ConnReader(client);
    try {
      const head = await reader.readHead(5000);
      if (head === null) return;
      const req = parseRequestHead(head);
      const record: ProxyRequest = {
        method: req.method,
        target: req.path,
        headers: req.headers,
        status: 0,
      };
      requests.push(record);
      const target = parseTarget(req.path);
      let status = 200;
      if (opts.refuse !== undefined) status = opts.refuse;
      else if (req.method !== "CONNECT") status = 405;
      else if (
        expected && req.headers.get("proxy-authorization") !== expected
      ) status = 407;
      else if (!target) status = 400;
      else if (!LOOPBACK.has(target.hostname)) status = 403;
      let upstream: Deno.Conn | undefined;
      if (status === 200 && target) {
        try {
          upstream = track(await Deno.connect(target));
        } catch {
          status = 502;
        }
      }
      record.status = status;
      if (!upstream) {
        await refuse(client, status);
        return;
      }
      await writeAll(
        client,
        new TextEncoder().encode(`HTTP/1.1 200 ${REASONS[200]}\r\n\r\n`),
      );
      // Bytes the client sent right behind its CONNECT head belong to the tunnel.
      const early = reader.consume(reader.buffered.length);
      if (early.length > 0) await writeAll(upstream, early);
      // A reset on either side tears down the whole tunnel, as a real proxy would.
      const up = upstream;
      const abort = () => {
        closeConn(client);
        closeConn(up);
      };
      await Promise.all([pipe(client, up, abort), pipe(up, client, abort)]);
      closeConn(up);
    } catch {
      // A test client that vanishes mid-request is not a proxy failure.
    } finally {
      closeConn(client);
    }
  };

  const acceptLoop = (async () => {
    try {
      for await (const conn of listener) {
        if (closing) {
          conn.close();
          continue;
        }
        const task = serveClient(track(conn));
        tasks.add(task);
        task.finally(() => tasks.delete(task));
      }
    } catch {
      // Listener closed.
    }
  })();

  return {
    hostname,
    port,
    url: `http://${hostPort(hostname, port)}`,
    requests,
    async close() {
      if (closing) return;
      closing = true;
      listener.close();
      await acceptLoop;
      for (const conn of [...conns]) closeConn(conn);
      await Promise.all([...tasks]);
    },
  };
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/** Copies `from` to `to` until EOF (then half-closes `to`) or an error (then calls `onError`). */
async function pipe(
  from: Deno.Conn,
  to: Deno.Conn,
  onError: () => void,
): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buf);
      if (n === null) break;
      await writeAll(to, buf.subarray(0, n));
    }
    await to.closeWrite();
  } catch {
    onError();
  }
}
