/**
 * curl's `--resolve` and `--connect-to`: where to open the TCP connection for
 * a host and port, while the Host header, TLS SNI and the certificate check
 * keep the name from the URL. It is how a server is tested before DNS points
 * at it. Strings in, a plan out; no I/O.
 *
 * @module
 */

import { WebSocketError } from "../errors.ts";

/** One `--resolve HOST:PORT:ADDR[,ADDR...]` entry. */
export interface ResolveEntry {
  /** Host name (lower case), or "*" for any host. */
  host: string;
  /** Port, or "*" for any port. */
  port: number | "*";
  /** IP addresses to use instead of a DNS lookup, in the given order. */
  addresses: string[];
}

/** One `--connect-to HOST1:PORT1:HOST2:PORT2` entry; empty parts match (or keep) anything. */
export interface ConnectToEntry {
  /** Host to match (lower case), or "" for any. */
  fromHost: string;
  /** Port to match, or undefined for any. */
  fromPort?: number;
  /** Host to connect to instead, or "" to keep the host. */
  toHost: string;
  /** Port to connect to instead, or undefined to keep the port. */
  toPort?: number;
}

/** Parsed `resolve` and `connectTo` options. */
export interface RouteTable {
  resolve: ResolveEntry[];
  connectTo: ConnectToEntry[];
}

const IPV4 =
  /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function bad(option: string, spec: string, why: string): WebSocketError {
  return new WebSocketError(
    "INVALID_ARGUMENT",
    `${option} ${JSON.stringify(spec)}: ${why}`,
  );
}

/** True for an IPv4 or IPv6 literal (IPv6 without brackets). */
export function isIpLiteral(s: string): boolean {
  if (IPV4.test(s)) return true;
  if (!s.includes(":") || !/^[0-9a-fA-F:.]+$/.test(s)) return false;
  try {
    new URL(`http://[${s}]/`);
    return true;
  } catch {
    return false;
  }
}

/** Strips the brackets of an IPv6 literal and lower-cases a name. */
function normalizeHost(host: string): string {
  return host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
}

function parsePort(
  option: string,
  spec: string,
  value: string,
): number | undefined {
  if (value === "") return undefined;
  const n = Number(value);
  if (!/^\d{1,5}$/.test(value) || n < 1 || n > 65535) {
    throw bad(option, spec, `${JSON.stringify(value)} is not a port`);
  }
  return n;
}

/** A host part: `[v6]`, or a name/IPv4 without colons. */
const HOST = String.raw`(\[[0-9a-fA-F:.]+\]|[^:\[\]]*)`;

/**
 * Parses curl's `--resolve` syntax: `HOST:PORT:ADDR[,ADDR]...`, HOST may be
 * `*`, PORT may be `*`, IPv6 addresses with or without brackets.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseResolve } from "./resolve.ts";
 * assert.deepEqual(parseResolve("wsnc.test:443:127.0.0.1,[::1]").addresses, ["127.0.0.1", "::1"]);
 * ```
 */
export function parseResolve(spec: string): ResolveEntry {
  const m = new RegExp(`^${HOST}:(\\*|\\d*):(.+)$`).exec(spec);
  if (!m || m[1] === "") {
    throw bad("resolve", spec, "expected HOST:PORT:ADDRESS[,ADDRESS...]");
  }
  const port = m[2] === "*" ? "*" : parsePort("resolve", spec, m[2]);
  if (port === undefined) throw bad("resolve", spec, "the port is missing");
  const addresses = m[3].split(",").map((a) => normalizeHost(a.trim()));
  for (const a of addresses) {
    if (!isIpLiteral(a)) {
      throw bad("resolve", spec, `${JSON.stringify(a)} is not an IP address`);
    }
  }
  return { host: normalizeHost(m[1]), port, addresses };
}

/**
 * Parses curl's `--connect-to` syntax: `HOST1:PORT1:HOST2:PORT2`; an empty
 * HOST1/PORT1 matches any, an empty HOST2/PORT2 keeps the original.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseConnectTo } from "./resolve.ts";
 * assert.equal(parseConnectTo("wsnc.test:443:127.0.0.1:8443").toPort, 8443);
 * ```
 */
export function parseConnectTo(spec: string): ConnectToEntry {
  const m = new RegExp(`^${HOST}:(\\d*):${HOST}:(\\d*)$`).exec(spec);
  if (!m) throw bad("connectTo", spec, "expected HOST1:PORT1:HOST2:PORT2");
  return {
    fromHost: normalizeHost(m[1]),
    fromPort: parsePort("connectTo", spec, m[2]),
    toHost: normalizeHost(m[3]),
    toPort: parsePort("connectTo", spec, m[4]),
  };
}

/** Parses the `resolve` and `connectTo` options (INVALID_ARGUMENT when malformed). */
export function parseRoutes(
  resolve: readonly string[] = [],
  connectTo: readonly string[] = [],
): RouteTable {
  return {
    resolve: resolve.map(parseResolve),
    connectTo: connectTo.map(parseConnectTo),
  };
}

/** Where to connect for `host:port` after the first matching `connectTo` entry. */
export function applyConnectTo(
  table: RouteTable,
  host: string,
  port: number,
): { host: string; port: number } {
  const h = normalizeHost(host);
  for (const e of table.connectTo) {
    if (e.fromHost !== "" && e.fromHost !== h) continue;
    if (e.fromPort !== undefined && e.fromPort !== port) continue;
    return { host: e.toHost || host, port: e.toPort ?? port };
  }
  return { host, port };
}

/** The addresses the first matching `resolve` entry gives `host:port`, or undefined. */
export function resolvedAddresses(
  table: RouteTable,
  host: string,
  port: number,
): string[] | undefined {
  const h = normalizeHost(host);
  for (const e of table.resolve) {
    if (e.host !== "*" && e.host !== h) continue;
    if (e.port !== "*" && e.port !== port) continue;
    return e.addresses;
  }
  return undefined;
}
