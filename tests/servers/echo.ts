/**
 * Echo servers built on independent WebSocket implementations, for testing
 * the client against real peers: Deno's own (`Deno.upgradeWebSocket`) and the
 * `ws` npm package (which also offers permessage-deflate).
 *
 * Both echo every message back with its type (text as text, binary as
 * binary) and answer with a 426 to anything that is not an upgrade.
 * @module
 */

// The brief pins `npm:ws@8` inline; the lead may move it to deno.json "imports".
// @ts-types="npm:@types/ws@8"
// deno-lint-ignore no-import-prefix
import { type WebSocket as WsSocket, WebSocketServer } from "npm:ws@8";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { hostPort, testCerts } from "./certs.ts";

/** `ws`'s own permessage-deflate options type. */
type PerMessageDeflateOptions = Exclude<
  NonNullable<
    ConstructorParameters<typeof WebSocketServer>[0]
  >["perMessageDeflate"],
  boolean | undefined
>;

/** Options shared by both echo servers. */
export interface EchoServerOptions {
  /** Address to listen on; default "127.0.0.1". */
  hostname?: string;
  /** Serve TLS: `true` uses the fixture server certificate, or give PEMs. */
  tls?: boolean | { cert: string; key: string };
  /** Subprotocols the server supports; it picks the first one the client offers. */
  protocols?: string[];
}

/** Options of {@linkcode startWsEchoServer}. */
export interface WsEchoServerOptions extends EchoServerOptions {
  /** Passed through to `ws`'s `WebSocketServer` (default false: no compression). */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Passed through to `ws` (largest accepted message, bytes); default ws's 100 MiB. */
  maxPayload?: number;
}

/** A running echo server. */
export interface EchoServer {
  readonly hostname: string;
  readonly port: number;
  /** `ws://host:port` or `wss://host:port`; any path is accepted. */
  readonly url: string;
  /** Headers of the most recent upgrade request. */
  readonly lastRequestHeaders?: Headers;
  /** TLS SNI of the most recent upgrade request (`ws` server over TLS only). */
  readonly lastServerName?: string;
  /** Number of WebSocket connections accepted so far. */
  readonly connections: number;
  /** Closes open sockets and the listener, and waits until both are gone. */
  close(): Promise<void>;
}

function tlsOf(
  opt: EchoServerOptions["tls"],
): { cert: string; key: string } | undefined {
  return opt === true ? testCerts() : opt || undefined;
}

/** Picks the first offered subprotocol that the server supports. */
function chooseProtocol(
  offered: string[],
  supported: string[] | undefined,
): string | undefined {
  return offered.find((p) => supported?.includes(p));
}

/** Starts an echo server using `Deno.serve` and `Deno.upgradeWebSocket`. */
export function startDenoEchoServer(
  opts: EchoServerOptions = {},
): Promise<EchoServer> {
  const hostname = opts.hostname ?? "127.0.0.1";
  const tls = tlsOf(opts.tls);
  const sockets = new Set<WebSocket>();
  let lastRequestHeaders: Headers | undefined;
  let connections = 0;

  const handler = (req: Request): Response => {
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade\n", { status: 426 });
    }
    lastRequestHeaders = new Headers(req.headers); // the request object dies after the upgrade
    const offered = (req.headers.get("sec-websocket-protocol") ?? "")
      .split(",").map((p) => p.trim()).filter((p) => p !== "");
    const protocol = chooseProtocol(offered, opts.protocols);
    const { socket, response } = Deno.upgradeWebSocket(
      req,
      protocol ? { protocol } : {},
    );
    connections++;
    socket.binaryType = "arraybuffer";
    sockets.add(socket);
    socket.onmessage = (e) => {
      // Deno delivers text as string and binary as ArrayBuffer: send back the same kind.
      if (socket.readyState === WebSocket.OPEN) socket.send(e.data);
    };
    socket.onclose = () => sockets.delete(socket);
    socket.onerror = () => sockets.delete(socket);
    return response;
  };

  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname,
      port: 0,
      ...(tls ?? {}),
      onListen: ({ port }) => {
        resolve({
          hostname,
          port,
          url: `${tls ? "wss" : "ws"}://${hostPort(hostname, port)}`,
          get lastRequestHeaders() {
            return lastRequestHeaders;
          },
          get connections() {
            return connections;
          },
          async close() {
            for (const socket of sockets) {
              try {
                socket.close(1001, "server shutting down");
              } catch {
                // Already closing.
              }
            }
            await server.shutdown();
          },
        });
      },
    }, handler);
  });
}

/** Starts an echo server using the `ws` npm package (`WebSocketServer`). */
export async function startWsEchoServer(
  opts: WsEchoServerOptions = {},
): Promise<EchoServer> {
  const hostname = opts.hostname ?? "127.0.0.1";
  const tls = tlsOf(opts.tls);
  const httpServer = tls
    ? https.createServer({ cert: tls.cert, key: tls.key })
    : http.createServer();
  httpServer.on("request", (_req, res) => {
    res.writeHead(426, { "content-type": "text/plain" });
    res.end("expected a WebSocket upgrade\n");
  });
  const wss = new WebSocketServer({
    server: httpServer,
    perMessageDeflate: opts.perMessageDeflate ?? false,
    maxPayload: opts.maxPayload,
    handleProtocols: (offered: Set<string>) =>
      chooseProtocol([...offered], opts.protocols) ?? false,
  });
  let lastRequestHeaders: Headers | undefined;
  let lastServerName: string | undefined;
  let connections = 0;

  wss.on("connection", (ws: WsSocket, req: http.IncomingMessage) => {
    connections++;
    const servername = (req.socket as { servername?: unknown }).servername;
    lastServerName = typeof servername === "string" ? servername : undefined;
    const headers = new Headers();
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
    }
    lastRequestHeaders = headers;
    ws.on("message", (data, isBinary) => {
      if (ws.readyState === ws.OPEN) ws.send(data, { binary: isBinary });
    });
    ws.on("error", () => ws.terminate());
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(0, hostname, () => resolve());
  });
  const port = (httpServer.address() as AddressInfo).port;

  return {
    hostname,
    port,
    url: `${tls ? "wss" : "ws"}://${hostPort(hostname, port)}`,
    get lastRequestHeaders() {
      return lastRequestHeaders;
    },
    get lastServerName() {
      return lastServerName;
    },
    get connections() {
      return connections;
    },
    async close() {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
}
