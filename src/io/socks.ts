/**
 * A SOCKS5 client (RFC 1928) with username/password authentication
 * (RFC 1929): the greeting, the optional login and the CONNECT request on an
 * open connection to the proxy. Every reply code becomes a `CONNECT_FAILED`
 * that says what the proxy reported.
 *
 * @module
 */

import { WebSocketError } from "../errors.ts";
import { isIpLiteral } from "./resolve.ts";
import { readExactly, type ReadWriter, writeAll } from "./stream.ts";

const VERSION = 5;
const NO_AUTH = 0x00;
const USER_PASS = 0x02;
const NO_ACCEPTABLE = 0xff;
const CMD_CONNECT = 0x01;
const ATYP_IPV4 = 0x01;
const ATYP_DOMAIN = 0x03;
const ATYP_IPV6 = 0x04;

/** RFC 1928 §6 reply codes, in words. */
export const SOCKS5_REPLIES: Record<number, string> = {
  0x01: "general SOCKS server failure",
  0x02: "connection not allowed by ruleset",
  0x03: "network unreachable",
  0x04: "host unreachable",
  0x05: "connection refused",
  0x06: "TTL expired",
  0x07: "command not supported",
  0x08: "address type not supported",
};

/** Username and password for RFC 1929. */
export interface SocksAuth {
  username: string;
  password: string;
}

function failed(message: string): WebSocketError {
  return new WebSocketError("CONNECT_FAILED", message);
}

/** The greeting: version, then the methods we offer. */
export function encodeGreeting(withAuth: boolean): Uint8Array {
  return withAuth
    ? Uint8Array.of(VERSION, 2, NO_AUTH, USER_PASS)
    : Uint8Array.of(VERSION, 1, NO_AUTH);
}

/** RFC 1929's request: version 1, then length-prefixed username and password. */
export function encodeLogin(auth: SocksAuth): Uint8Array {
  const enc = new TextEncoder();
  const user = enc.encode(auth.username);
  const pass = enc.encode(auth.password);
  if (user.length > 255 || pass.length > 255) {
    throw new WebSocketError(
      "INVALID_ARGUMENT",
      "SOCKS5 username and password are 255 bytes at most (RFC 1929)",
    );
  }
  return Uint8Array.of(1, user.length, ...user, pass.length, ...pass);
}

function ipv6Bytes(address: string): Uint8Array {
  // Expand "::" and an embedded IPv4 tail into eight 16-bit groups.
  let groups = address.split(":");
  const last = groups[groups.length - 1];
  if (last.includes(".")) {
    const v4 = last.split(".").map(Number);
    groups.splice(
      -1,
      1,
      ((v4[0] << 8) | v4[1]).toString(16),
      ((v4[2] << 8) | v4[3]).toString(16),
    );
  }
  const gap = groups.indexOf("");
  if (gap !== -1) {
    const head = groups.slice(0, gap).filter((g) => g !== "");
    const tail = groups.slice(gap).filter((g) => g !== "");
    groups = [
      ...head,
      ...Array(8 - head.length - tail.length).fill("0"),
      ...tail,
    ];
  }
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  });
  return out;
}

/**
 * The CONNECT request for `host:port`: an IPv4/IPv6 literal goes as an
 * address, anything else as a domain name for the proxy to resolve.
 */
export function encodeConnect(host: string, port: number): Uint8Array {
  let address: Uint8Array;
  if (isIpLiteral(host) && !host.includes(":")) {
    address = Uint8Array.of(ATYP_IPV4, ...host.split(".").map(Number));
  } else if (isIpLiteral(host)) {
    address = Uint8Array.of(ATYP_IPV6, ...ipv6Bytes(host));
  } else {
    const name = new TextEncoder().encode(host);
    if (name.length > 255) {
      throw new WebSocketError(
        "INVALID_ARGUMENT",
        "a host name sent to a SOCKS5 proxy is 255 bytes at most",
      );
    }
    address = Uint8Array.of(ATYP_DOMAIN, name.length, ...name);
  }
  return Uint8Array.of(
    VERSION,
    CMD_CONNECT,
    0,
    ...address,
    port >> 8,
    port & 0xff,
  );
}

/** The message for a CONNECT reply code other than 0. */
export function replyMessage(code: number): string {
  return SOCKS5_REPLIES[code] ??
    `unassigned reply code 0x${code.toString(16).padStart(2, "0")}`;
}

/**
 * Runs the SOCKS5 exchange on `conn` (already connected to the proxy) so
 * that it carries a tunnel to `host:port`. `proxyName` names the proxy in
 * errors. Reads exactly the proxy's replies, nothing after them.
 */
export async function socks5Handshake(
  conn: ReadWriter,
  host: string,
  port: number,
  auth: SocksAuth | undefined,
  proxyName: string,
): Promise<void> {
  const who = `SOCKS5 proxy ${proxyName}`;
  const eof = () => failed(`${who} closed the connection during the handshake`);
  const request = encodeConnect(host, port); // INVALID_ARGUMENT before any I/O
  const login = auth ? encodeLogin(auth) : undefined;
  await writeAll(conn, encodeGreeting(auth !== undefined));
  const [version, method] = await readExactly(conn, 2, eof);
  if (version !== VERSION) {
    throw failed(
      `${proxyName} is not a SOCKS5 proxy (reply version ${version})`,
    );
  }
  if (method === USER_PASS && login) {
    await writeAll(conn, login);
    const [, status] = await readExactly(conn, 2, eof);
    if (status !== 0) {
      throw failed(
        `${who} rejected the username and password (status ${status})`,
      );
    }
  } else if (method !== NO_AUTH) {
    throw failed(
      method === NO_ACCEPTABLE && !auth
        ? `${who} wants authentication: give a username and password (in the proxy URL or proxyAuth)`
        : `${who} accepts none of the authentication methods we offered (it chose 0x${
          method.toString(16).padStart(2, "0")
        })`,
    );
  }
  await writeAll(conn, request);
  const head = await readExactly(conn, 4, eof);
  if (head[0] !== VERSION) {
    throw failed(`${who} sent a malformed reply (version ${head[0]})`);
  }
  if (head[1] !== 0) {
    throw failed(
      `${who} could not connect to ${
        host.includes(":") ? `[${host}]` : host
      }:${port}: ${replyMessage(head[1])} (reply ${head[1]})`,
    );
  }
  // The bound address: its length depends on its type.
  let rest: number;
  if (head[3] === ATYP_IPV4) rest = 4 + 2;
  else if (head[3] === ATYP_IPV6) rest = 16 + 2;
  else if (head[3] === ATYP_DOMAIN) {
    rest = (await readExactly(conn, 1, eof))[0] + 2;
  } else {
    throw failed(`${who} sent a reply with address type ${head[3]}`);
  }
  await readExactly(conn, rest, eof);
}
