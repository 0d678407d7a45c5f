/**
 * Scripted scenarios for the differential suite: each runs a raw scripted
 * server and drives a WHATWG-style `WebSocket` class against it, recording
 * every event (with `readyState` and the values it carries) and what the
 * server saw. The same scenario runs against Deno's built-in WebSocket and
 * ours; `web_websocket_test.ts` compares the two records.
 *
 * @module
 */

import {
  closePayload,
  OP,
  type ScriptedHandler,
  type ScriptedPeer,
  startScriptedServer,
} from "./servers/scripted.ts";
import { within } from "./helpers.ts";

/** What both classes offer (Deno's built-in and ours). */
export type WebSocketClass = new (
  url: string,
  protocols?: string | string[],
) => WebSocket;

/** One recorded run. */
export interface Record {
  /** Client events, in order, as short strings. */
  events: string[];
  /** What the scripted server saw, in order. */
  server: string[];
}

/** A scenario: the server's script and the client's actions. */
export interface Scenario {
  name: string;
  server: (peer: ScriptedPeer, log: string[]) => Promise<void>;
  /** Called right after construction; may attach more handlers. */
  client?: (ws: WebSocket, log: string[]) => void;
  /** Subprotocols to offer. */
  protocols?: string[];
}

/** Runs one scenario against one class; resolves after the close event. */
export async function runScenario(
  Ws: WebSocketClass,
  scenario: Scenario,
): Promise<Record> {
  const events: string[] = [];
  const server: string[] = [];
  const handler: ScriptedHandler = (peer) => scenario.server(peer, server);
  const srv = startScriptedServer(handler);
  const blobs: Promise<void>[] = [];
  try {
    const ws = new Ws(`${srv.url}/`, scenario.protocols);
    const closed = new Promise<void>((resolve) => {
      ws.addEventListener("open", () => {
        events.push(
          `open rs=${ws.readyState} protocol=${ws.protocol} ext=${ws.extensions}`,
        );
      });
      ws.addEventListener("message", (e) => {
        const ev = e as MessageEvent;
        const at = events.length;
        events.push("");
        const prefix = `message rs=${ws.readyState}`;
        blobs.push(
          describe(ev.data).then((d) => {
            events[at] = `${prefix} ${d}`;
          }),
        );
      });
      ws.addEventListener("error", (e) => {
        events.push(`error rs=${ws.readyState} ${e.constructor.name}`);
      });
      ws.addEventListener("close", (e) => {
        const ev = e as CloseEvent;
        events.push(
          `close rs=${ws.readyState} code=${ev.code} reason=${ev.reason} clean=${ev.wasClean}`,
        );
        resolve();
      });
    });
    scenario.client?.(ws, events);
    await within(10000, `${scenario.name}: close event`, closed);
    await Promise.all(blobs);
    await within(10000, `${scenario.name}: server`, srv.settled());
  } finally {
    await srv.close();
  }
  return { events, server };
}

/** A message's data as "text:…", "arraybuffer:…" or "blob:…" (bytes in hex). */
async function describe(data: unknown): Promise<string> {
  if (typeof data === "string") return `text:${JSON.stringify(data)}`;
  if (data instanceof ArrayBuffer) return `arraybuffer:${hex(data)}`;
  if (data instanceof Blob) return `blob:${hex(await data.arrayBuffer())}`;
  return `other:${String(data)}`;
}

function hex(buf: ArrayBuffer): string {
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** Reads frames until the client's close, logs it and echoes it. */
export async function echoUntilClose(
  peer: ScriptedPeer,
  log: string[],
): Promise<void> {
  for (;;) {
    const f = await peer.readFrame();
    if (f === null) {
      log.push("eof");
      return;
    }
    if (f.opcode === OP.CLOSE) {
      log.push(`close ${describeClose(f.payload)}`);
      await peer.sendFrame({ opcode: OP.CLOSE, payload: f.payload });
      return;
    }
    if (f.opcode === OP.PONG) {
      log.push(`pong ${new TextDecoder().decode(f.payload)}`);
      continue;
    }
    log.push(`frame op=${f.opcode} fin=${f.fin} len=${f.payload.length}`);
    await peer.sendFrame({ fin: f.fin, opcode: f.opcode, payload: f.payload });
  }
}

/** Waits for the client's close frame (or EOF) after the server closed or failed it. */
export async function logClientClose(
  peer: ScriptedPeer,
  log: string[],
): Promise<void> {
  for (;;) {
    let f;
    try {
      f = await peer.readFrame();
    } catch {
      log.push("eof");
      return;
    }
    if (f === null) {
      log.push("eof");
      return;
    }
    if (f.opcode === OP.CLOSE) {
      log.push(`close ${describeClose(f.payload)}`);
      return;
    }
    if (f.opcode === OP.PONG) log.push("pong");
  }
}

/** "code=1000 reason=bye" or "empty" for a close payload. */
export function describeClose(payload: Uint8Array): string {
  if (payload.length === 0) return "empty";
  const code = (payload[0] << 8) | payload[1];
  return `code=${code} reason=${new TextDecoder().decode(payload.subarray(2))}`;
}

/** The DOMException name `f` throws, "none", or another error's name with "!". */
export function thrown(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return e instanceof DOMException ? e.name : `${(e as Error).name}!`;
  }
  return "none";
}

export { closePayload, OP };
