/**
 * An HTTP/2 front for the suite: the scripted server speaks HTTP/1.1, so
 * the client's RFC 8441 streams reach it through a front that turns each
 * extended CONNECT into an HTTP/1.1 upgrade and relays the bytes. Two
 * fronts: HAProxy (a real peer, `tests/peers/haproxy.ts`) and a test-only
 * Node `http2` front (`tests/peers/h2_front.mjs`) whose stream ends map
 * one to one onto TCP ends. Both are cleartext h2 with prior knowledge.
 *
 * @module
 */

import { haproxyMissing, startHaproxy } from "../../peers/haproxy.ts";
import { nodeMissing, startNodeScript } from "../../peers/node_h2.ts";

/** The fronts the runner knows. */
export type H2FrontKind = "haproxy" | "node";

/** A running front. */
export interface H2Front {
  kind: H2FrontKind;
  /** Base URL for clients (`ws://127.0.0.1:PORT`, h2c). */
  url: string;
  /** Stops it; returns its stderr. */
  stop(): Promise<string>;
}

const NODE_FRONT = new URL("../../peers/h2_front.mjs", import.meta.url)
  .pathname;

/** Why `kind` cannot run here, or null. */
export function h2FrontMissing(kind: H2FrontKind): string | null {
  return kind === "haproxy" ? haproxyMissing() : nodeMissing();
}

/** Starts a front of `kind` in front of 127.0.0.1:`backendPort`. */
export async function startH2Front(
  kind: H2FrontKind,
  backendPort: number,
): Promise<H2Front> {
  if (kind === "haproxy") {
    const h = await startHaproxy(backendPort);
    return { kind, url: `ws://127.0.0.1:${h.h2c}`, stop: () => h.stop() };
  }
  const peer = await startNodeScript(NODE_FRONT, String(backendPort));
  return {
    kind,
    url: `ws://127.0.0.1:${peer.port}`,
    stop: () => peer.stop(),
  };
}
