/**
 * Command-line parsing: flags (with `node:util` `parseArgs`) into a checked
 * {@linkcode Config}.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { isValidCloseCode } from "../../mod.ts";
import { CliError, ExitCode } from "./exit.ts";
import {
  BRIDGE_FLAGS,
  type BridgeConfig,
  parseBridgeFlags,
  splitBridgeArgs,
} from "./bridge/flags.ts";

/** Everything the command line asked for, validated; times are in ms. */
export interface Config {
  /** "client" connects to `url`; "listen" serves on `listen`. */
  mode: "client" | "listen";
  /** WebSocket URL (client mode). */
  url: string;
  /** Address to listen on (listen mode). */
  listen: { hostname: string; port: number };
  /** Extra request headers (client) or response headers (listen). */
  headers: [string, string][];
  /** Subprotocols to offer (client) or accept (listen). */
  protocols: string[];
  origin?: string;
  user?: { username: string; password: string };
  proxy?: string;
  proxyUser?: { username: string; password: string };
  proxyCacert?: string;
  unixSocket?: string;
  cacert?: string;
  /** `--http2`: "auto" (h2 via ALPN on wss://, else HTTP/1.1); `--http2-prior-knowledge`: "prior-knowledge". */
  http2?: "auto" | "prior-knowledge";
  /** Client certificate and key files (mutual TLS). */
  cert?: string;
  key?: string;
  /** `--resolve` and `--connect-to` entries, passed to the library as written. */
  resolve: string[];
  connectTo: string[];
  connectTimeout?: number;
  maxTime?: number;
  /** How many redirects to follow (0 without --location). */
  followRedirects: number;
  closeCode: number;
  closeReason: string;
  closeTimeout?: number;
  pingInterval?: number;
  pingTimeout?: number;
  /** Library `idleTimeout` in ms (both modes). */
  idleTimeout?: number;
  /** Library `sendTimeout` in ms (both modes). */
  sendTimeout?: number;
  keepNewlines: boolean;
  noClose: boolean;
  slash: boolean;
  /** --history FILE: the interactive line editor's history file. */
  history?: string;
  binary: boolean;
  text: boolean;
  chunkSize: number;
  oneMessage: boolean;
  execute: string[];
  wait?: number;
  /** After stdin EOF wait this long (ms) before closing; negative: until the peer closes. */
  eofWait?: number;
  maxMessages?: number;
  /** --trace / --trace-ascii: where ("-" is stderr) and whether text only. */
  trace?: { path: string; ascii: boolean };
  base64: boolean;
  head: boolean;
  showPingPong: boolean;
  verbose: boolean;
  quiet: boolean;
  raw: boolean;
  json: boolean;
  compress: boolean;
  echo: boolean;
  once: boolean;
  help: boolean;
  version: boolean;
  /** --exec, --to-tcp, --from-tcp, --broadcast, --reconnect, --allow-origin. */
  bridge: BridgeConfig;
}

/** What a flag takes, for the parser and for `--help`. */
export interface FlagSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  /** Placeholder of the value in `--help`. */
  arg?: string;
  /** One line for `--help`. */
  help: string;
}

/** Every flag, in `--help` order. */
export const FLAGS: Record<string, FlagSpec> = {
  "header": {
    type: "string",
    short: "H",
    multiple: true,
    arg: '"Name: value"',
    help: "add a request header (listen: a response header); repeatable",
  },
  "protocol": {
    type: "string",
    short: "s",
    multiple: true,
    arg: "NAME",
    help: "offer (listen mode: accept) a subprotocol; repeatable",
  },
  "origin": {
    type: "string",
    short: "o",
    arg: "ORIGIN",
    help: "send an Origin header",
  },
  "user": {
    type: "string",
    short: "u",
    arg: "USER:PASS",
    help: "HTTP Basic credentials (alias --auth)",
  },
  "auth": { type: "string", arg: "USER:PASS", help: "same as --user" },
  "proxy": {
    type: "string",
    arg: "URL",
    help: "tunnel through a proxy: http://, https://, socks5:// or socks5h://",
  },
  "proxy-user": {
    type: "string",
    arg: "USER:PASS",
    help: "proxy credentials (Basic, or the SOCKS5 login)",
  },
  "proxy-cacert": {
    type: "string",
    arg: "FILE",
    help: "trust the CA certificates in this PEM file for an https:// proxy",
  },
  "unix-socket": {
    type: "string",
    arg: "PATH",
    help: "connect to a Unix socket (see the README for permissions)",
  },
  "cacert": {
    type: "string",
    arg: "FILE",
    help: "trust the CA certificates in this PEM file for wss://",
  },
  "http2": {
    type: "boolean",
    help: "WebSocket over HTTP/2 (RFC 8441) when the wss:// server offers it",
  },
  "http2-prior-knowledge": {
    type: "boolean",
    help: "WebSocket over HTTP/2 without negotiation (h2c on ws://)",
  },
  "cert": {
    type: "string",
    arg: "FILE",
    help: "client certificate (PEM) for mutual TLS; needs --key",
  },
  "key": { type: "string", arg: "FILE", help: "private key (PEM) of --cert" },
  "resolve": {
    type: "string",
    multiple: true,
    arg: "HOST:PORT:ADDR[,ADDR]",
    help: "connect to ADDR for HOST:PORT, Host/SNI/cert stay HOST; repeatable",
  },
  "connect-to": {
    type: "string",
    multiple: true,
    arg: "H1:P1:H2:P2",
    help: "connect to H2:P2 instead of H1:P1, Host/SNI/cert stay; repeatable",
  },
  "connect-timeout": {
    type: "string",
    arg: "S",
    help: "limit connect + TLS + upgrade to S seconds (default 30, 0: none)",
  },
  "max-time": {
    type: "string",
    short: "m",
    arg: "S",
    help: "limit the whole run to S seconds (client mode; 0: no limit)",
  },
  "location": {
    type: "boolean",
    short: "L",
    help: "follow redirects (3xx with Location)",
  },
  "max-redirs": {
    type: "string",
    arg: "N",
    help: "with --location, follow at most N redirects (default 10)",
  },
  "close-code": {
    type: "string",
    arg: "N",
    help: "close code of the final close (default 1000)",
  },
  "close-reason": {
    type: "string",
    arg: "TEXT",
    help: "close reason of the final close",
  },
  "close-timeout": {
    type: "string",
    arg: "S",
    help: "wait at most S seconds for the peer's close (default 5)",
  },
  "ping-interval": {
    type: "string",
    arg: "S",
    help: "send a ping every S seconds",
  },
  "ping-timeout": {
    type: "string",
    arg: "S",
    help: "exit with code 7 when a ping gets no pong in S seconds",
  },
  "idle-timeout": {
    type: "string",
    arg: "S",
    help: "close (1001) a connection that received nothing for S seconds",
  },
  "send-timeout": {
    type: "string",
    arg: "S",
    help: "drop a connection whose peer takes none of our data for S seconds",
  },
  "keep-newlines": {
    type: "boolean",
    help: "keep the line ending in each sent line",
  },
  "no-close": {
    type: "boolean",
    short: "n",
    help:
      "at stdin EOF keep receiving until the peer closes (or 10 s pass with nothing received)",
  },
  "eof-wait": {
    type: "string",
    arg: "S",
    help:
      "at stdin EOF wait S seconds, then close (nc -q); negative: until the peer closes",
  },
  "slash": {
    type: "boolean",
    help: "enable /ping /pong /close /binary commands on stdin",
  },
  "history": {
    type: "string",
    arg: "FILE",
    help:
      "on a terminal, keep the typed lines (Up/Down) in FILE, last 1000 (needs --allow-read=FILE --allow-write=FILE)",
  },
  "binary": {
    type: "boolean",
    short: "b",
    help: "send stdin as binary chunks; write received messages raw",
  },
  "text": {
    type: "boolean",
    short: "t",
    help: "text both ways: lines sent as text, received binary shown as UTF-8",
  },
  "chunk-size": {
    type: "string",
    arg: "N",
    help: "with --binary, bytes per message at most (default 65536)",
  },
  "one-message": {
    type: "boolean",
    short: "1",
    help: "send all of stdin as one message, print the first reply, close",
  },
  "execute": {
    type: "string",
    short: "x",
    multiple: true,
    arg: "MSG",
    help: "send MSG on open; repeatable",
  },
  "wait": {
    type: "string",
    short: "w",
    arg: "S",
    help: "wscat's spelling of --eof-wait S (counted from the end of input)",
  },
  "max-messages": {
    type: "string",
    arg: "N",
    help:
      "close after N received messages; stdin EOF waits for them (bounded by --eof-wait)",
  },
  "base64": {
    type: "boolean",
    help:
      "stdin lines are base64 for binary messages; binary printed as base64",
  },
  "head": {
    type: "boolean",
    short: "I",
    help: "print the handshake response status and headers to stdout",
  },
  "show-ping-pong": {
    type: "boolean",
    short: "P",
    help: "report received pings and pongs on stderr",
  },
  "verbose": {
    type: "boolean",
    short: "v",
    help: "headers and control frames (ping, pong, close) on stderr",
  },
  "quiet": {
    type: "boolean",
    short: "q",
    help: "no status lines on stderr (errors still)",
  },
  "trace": {
    type: "string",
    arg: "FILE",
    help:
      "log the handshake and every frame both ways with a hex dump to FILE (- : stderr)",
  },
  "trace-ascii": {
    type: "string",
    arg: "FILE",
    help: "like --trace, with the data as text only (curl's --trace-ascii)",
  },
  "compress": {
    type: "boolean",
    help: "offer permessage-deflate compression (listen: accept it)",
  },
  "raw": {
    type: "boolean",
    help: "after the upgrade, bytes in, bytes out (no framing)",
  },
  "json": {
    type: "boolean",
    help: "print each received frame piece as a JSON line with metadata",
  },
  "connect": {
    type: "string",
    short: "c",
    arg: "URL",
    help: "connect to URL (wscat's spelling of the URL argument)",
  },
  "listen": {
    type: "string",
    short: "l",
    arg: "[HOST:]PORT",
    help: "listen mode: accept WebSocket clients (HOST default 127.0.0.1)",
  },
  "echo": {
    type: "boolean",
    help: "listen mode: answer every message with itself",
  },
  "once": {
    type: "boolean",
    help: "listen mode and --from-tcp: exit after the first connection",
  },
  ...BRIDGE_FLAGS,
  "help": { type: "boolean", short: "h", help: "show this help" },
  "version": { type: "boolean", short: "V", help: "show the version" },
};

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const DEFAULT_CHUNK = 65536;
const DEFAULT_REDIRECTS = 10;

function usage(message: string): CliError {
  return new CliError(ExitCode.USAGE, message);
}

/** Seconds (fractions allowed) to milliseconds. */
function seconds(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const s = Number(value);
  if (value.trim() === "" || !Number.isFinite(s)) {
    throw usage(`--${flag} needs a number of seconds, got "${value}"`);
  }
  if (s < 0) throw usage(`--${flag} cannot be negative, got "${value}"`);
  return Math.round(s * 1000);
}

/** Like `seconds`, but 0 means no limit (curl's --connect-timeout 0). */
function limit(flag: string, value: string | undefined): number | undefined {
  const ms = seconds(flag, value);
  return ms === 0 ? undefined : ms;
}

/** Like `seconds`, but negative values are allowed (they mean "no limit"). */
function signedSeconds(
  flag: string,
  value: string | undefined,
): number | undefined {
  if (value === undefined) return undefined;
  const s = Number(value);
  if (value.trim() === "" || !Number.isFinite(s)) {
    throw usage(`--${flag} needs a number of seconds, got "${value}"`);
  }
  return s < 0 ? -1 : Math.round(s * 1000);
}

/** Like `seconds`, but 0 is refused (a 0 s ping period would spin). */
function positive(flag: string, value: string | undefined): number | undefined {
  const ms = seconds(flag, value);
  if (ms === 0) throw usage(`--${flag} must be more than 0 seconds`);
  return ms;
}

function integer(
  flag: string,
  value: string | undefined,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < min || n > max) {
    throw usage(`--${flag} needs a whole number from ${min} to ${max}`);
  }
  return n;
}

/** Parses `-H "Name: value"`. */
export function parseHeader(value: string): [string, string] {
  // A URL here means `-H` took the URL as its value: say so rather than send it.
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw usage(`-H needs "Name: value", got the URL ${value}`);
  }
  const colon = value.indexOf(":");
  const name = colon === -1 ? "" : value.slice(0, colon).trim();
  if (!TOKEN.test(name)) {
    throw usage(`-H needs "Name: value", got ${JSON.stringify(value)}`);
  }
  return [name, value.slice(colon + 1).trim()];
}

/** Parses `--listen [HOST:]PORT` (IPv6 hosts in brackets). */
export function parseListen(
  value: string,
): { hostname: string; port: number } {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:\[\]]*):)?(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    throw usage(`--listen needs [HOST:]PORT, got "${value}"`);
  }
  const host = m[1] ? m[1].replace(/^\[|\]$/g, "") : "127.0.0.1";
  return { hostname: host, port };
}

/** Accepts ws/wss/http/https URLs; a bare `host:port/path` gets `ws://`. */
export function normalizeUrl(value: string): string {
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value);
  // A bare word (no scheme, port, path or dot) is more likely a typo or a
  // misplaced argument than a host on port 80.
  if (!hasScheme && /^[^.:/\[\]]+$/.test(value) && value !== "localhost") {
    throw usage(
      `"${value}" is not a WebSocket URL (write ws://${value}:PORT/ if it is a host)`,
    );
  }
  const withScheme = hasScheme ? value : `ws://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw usage(`invalid URL "${value}"`);
  }
  if (!["ws:", "wss:", "http:", "https:"].includes(url.protocol)) {
    throw usage(`unsupported URL scheme ${url.protocol} (use ws:// or wss://)`);
  }
  return url.href;
}

/**
 * `--eof-wait -1` as `--eof-wait=-1`: parseArgs calls a value starting with
 * a dash ambiguous (it could be the short flag -1), but after a flag that
 * takes a value, a negative number can only be that value.
 */
function joinNegativeValues(args: string[]): string[] {
  const takesValue = new Set<string>();
  for (const [name, spec] of Object.entries(FLAGS)) {
    if (spec.type !== "string") continue;
    takesValue.add(`--${name}`);
    if (spec.short) takesValue.add(`-${spec.short}`);
  }
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (
      takesValue.has(args[i]) && next !== undefined && /^-\d/.test(next)
    ) {
      // Short flags take their value glued on: -w-1.
      out.push(
        args[i].startsWith("--") ? `${args[i]}=${next}` : args[i] + next,
      );
      i++;
    } else {
      out.push(args[i]);
    }
    if (args[i] === "--") {
      out.push(...args.slice(i + 1));
      break;
    }
  }
  return out;
}

/** Parses the command line; throws a usage {@linkcode CliError} when it is wrong. */
export function parseCommandLine(commandLine: string[]): Config {
  const { args, execArgs } = splitBridgeArgs(commandLine);
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = {};
  for (const [name, spec] of Object.entries(FLAGS)) {
    options[name] = { type: spec.type };
    if (spec.short) options[name].short = spec.short;
    if (spec.multiple) options[name].multiple = true;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(args),
      options,
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    // parseArgs explains over several lines; the first says what is wrong.
    throw usage((e as Error).message.split("\n")[0].split(". ")[0]);
  }
  const v = parsed.values as Record<string, string | boolean | string[]>;
  const str = (name: string) => v[name] as string | undefined;
  const bool = (name: string) => v[name] === true;
  const list = (name: string) => (v[name] as string[] | undefined) ?? [];

  const help = bool("help"), version = bool("version");
  // Headers first: a URL swallowed by -H is reported as such, not as "missing URL".
  const headers = list("header").map(parseHeader);
  // Likewise a URL taken as the value of -w, -m, --chunk-size...
  for (const [name, spec] of Object.entries(FLAGS)) {
    const value = v[name];
    if (
      spec.type === "string" && (spec.arg === "S" || spec.arg === "N") &&
      typeof value === "string" && /^[a-z][a-z0-9+.-]*:\/\//i.test(value)
    ) {
      throw usage(
        `--${name} needs ${
          spec.arg === "S" ? "a number of seconds" : "a whole number"
        }, got the URL ${value}`,
      );
    }
  }
  const positionals = parsed.positionals;
  const listenSpec = str("listen");
  const urlArgs = [...positionals];
  if (str("connect") !== undefined) urlArgs.unshift(str("connect")!);
  if (!help && !version) {
    if (listenSpec !== undefined && urlArgs.length > 0) {
      throw usage("give either a URL or --listen, not both");
    }
    if (listenSpec === undefined && urlArgs.length === 0) {
      throw usage("missing the WebSocket URL (or --listen PORT)");
    }
    if (urlArgs.length > 1) {
      throw usage(`unexpected argument "${urlArgs[1]}" after the URL`);
    }
  }
  const mode = listenSpec !== undefined ? "listen" : "client";
  const exclusive = (a: string, b: string) => {
    if (bool(a) && bool(b)) throw usage(`--${a} and --${b} exclude each other`);
  };
  exclusive("binary", "text");
  exclusive("text", "base64");
  exclusive("text", "json");
  exclusive("binary", "base64");
  exclusive("raw", "json");
  exclusive("raw", "base64");
  exclusive("raw", "text");
  exclusive("raw", "one-message");
  exclusive("raw", "compress");
  exclusive("http2", "http2-prior-knowledge");
  for (const flag of ["http2", "http2-prior-knowledge"]) {
    if (bool(flag) && mode === "listen") {
      throw usage(`--${flag} is for clients (listen serves HTTP/1.1)`);
    }
  }
  if (str("trace") !== undefined && str("trace-ascii") !== undefined) {
    throw usage("--trace and --trace-ascii exclude each other");
  }
  const tracePath = str("trace") ?? str("trace-ascii");
  for (const flag of ["echo", "once"]) {
    // --from-tcp listens too: --once serves its first TCP connection.
    const listens = mode === "listen" ||
      (flag === "once" && str("from-tcp") !== undefined);
    if (bool(flag) && !listens) {
      throw usage(`--${flag} needs --listen`);
    }
  }

  const credentials = (spec: string | undefined) => {
    if (spec === undefined) return undefined;
    const colon = spec.indexOf(":");
    return colon === -1 ? { username: spec, password: "" } : {
      username: spec.slice(0, colon),
      password: spec.slice(colon + 1),
    };
  };
  const user = credentials(str("user") ?? str("auth"));
  if ((str("cert") === undefined) !== (str("key") === undefined)) {
    throw usage("--cert and --key go together");
  }
  const protocols = list("protocol").flatMap((p) => p.split(","))
    .map((p) => p.trim()).filter((p) => p !== "");
  for (const p of protocols) {
    if (!TOKEN.test(p)) throw usage(`invalid subprotocol name "${p}"`);
  }
  const closeCode = integer("close-code", str("close-code"), 1000, 4999) ??
    1000;
  if (!isValidCloseCode(closeCode)) {
    throw usage(
      `--close-code ${closeCode} may not be sent (use 1000-1003, 1007-1014 or 3000-4999)`,
    );
  }
  const closeReason = str("close-reason") ?? "";
  if (new TextEncoder().encode(closeReason).length > 123) {
    throw usage("--close-reason is longer than 123 bytes");
  }
  const proxy = str("proxy");
  if (proxy !== undefined) {
    try {
      new URL(proxy);
    } catch {
      throw usage(`invalid proxy URL "${proxy}"`);
    }
  }

  return {
    mode,
    url: mode === "client" && urlArgs.length > 0
      ? normalizeUrl(urlArgs[0])
      : "",
    listen: listenSpec !== undefined
      ? parseListen(listenSpec)
      : { hostname: "127.0.0.1", port: 0 },
    headers,
    protocols,
    origin: str("origin"),
    user,
    proxy,
    proxyUser: credentials(str("proxy-user")),
    proxyCacert: str("proxy-cacert"),
    unixSocket: str("unix-socket"),
    cacert: str("cacert"),
    http2: bool("http2")
      ? "auto"
      : bool("http2-prior-knowledge")
      ? "prior-knowledge"
      : undefined,
    cert: str("cert"),
    key: str("key"),
    resolve: list("resolve"),
    connectTo: list("connect-to"),
    connectTimeout: seconds("connect-timeout", str("connect-timeout")),
    maxTime: limit("max-time", str("max-time")),
    followRedirects: bool("location")
      ? integer("max-redirs", str("max-redirs"), 0) ?? DEFAULT_REDIRECTS
      : 0,
    closeCode,
    closeReason,
    closeTimeout: seconds("close-timeout", str("close-timeout")),
    pingInterval: positive("ping-interval", str("ping-interval")),
    pingTimeout: positive("ping-timeout", str("ping-timeout")),
    idleTimeout: positive("idle-timeout", str("idle-timeout")),
    sendTimeout: positive("send-timeout", str("send-timeout")),
    keepNewlines: bool("keep-newlines"),
    noClose: bool("no-close"),
    slash: bool("slash"),
    history: str("history"),
    binary: bool("binary"),
    text: bool("text"),
    chunkSize: integer("chunk-size", str("chunk-size"), 1) ?? DEFAULT_CHUNK,
    oneMessage: bool("one-message"),
    execute: list("execute"),
    wait: seconds("wait", str("wait")),
    eofWait: signedSeconds("eof-wait", str("eof-wait")),
    maxMessages: integer("max-messages", str("max-messages"), 1),
    trace: tracePath === undefined
      ? undefined
      : { path: tracePath, ascii: str("trace") === undefined },
    base64: bool("base64"),
    head: bool("head"),
    showPingPong: bool("show-ping-pong"),
    verbose: bool("verbose"),
    quiet: bool("quiet"),
    raw: bool("raw"),
    json: bool("json"),
    compress: bool("compress"),
    echo: bool("echo"),
    once: bool("once"),
    help,
    version,
    bridge: parseBridgeFlags({ str, bool, list }, mode, execArgs),
  };
}
