/**
 * The bridge flags (`--exec`, `--to-tcp`, `--from-tcp`, `--broadcast`,
 * `--reconnect`, `--allow-origin`): their `--help` lines and their parsing
 * into a checked {@linkcode BridgeConfig}.
 *
 * @module
 */

import type { FlagSpec } from "../args.ts";
import { CliError, ExitCode } from "../exit.ts";

/** Where a TCP bridge connects or listens. */
export interface TcpAddress {
  hostname: string;
  port: number;
}

/** What `--reconnect` asked for; delays in ms. */
export interface ReconnectConfig {
  /** Reconnect attempts in a row before giving up (Infinity: no limit). */
  max: number;
  minDelay: number;
  maxDelay: number;
  /** Reconnect after a clean close by the server too. */
  onClose: boolean;
}

/** The bridge part of the command line. */
export interface BridgeConfig {
  /** `--exec CMD [-- ARG...]`. */
  exec?: { command: string; args: string[] };
  /** `--to-tcp HOST:PORT` (listen mode). */
  toTcp?: TcpAddress;
  /** `--from-tcp [HOST:]PORT` (client mode). */
  fromTcp?: TcpAddress;
  /** `--broadcast` (listen mode). */
  broadcast: boolean;
  /** `--reconnect[=MAX]` (client mode). */
  reconnect?: ReconnectConfig;
  /** `--allow-origin ORIGIN`, repeatable. */
  allowOrigins: string[];
}

/** The bridge flags, in `--help` order. */
export const BRIDGE_FLAGS: Record<string, FlagSpec> = {
  "exec": {
    type: "string",
    short: "e",
    arg: "CMD",
    help:
      "run CMD per connection: its stdout lines (-b: chunks) are sent, messages go to its stdin; CMD's args follow --",
  },
  "to-tcp": {
    type: "string",
    arg: "HOST:PORT",
    help:
      "listen mode: tunnel each client to its own TCP connection to HOST:PORT",
  },
  "from-tcp": {
    type: "string",
    arg: "[HOST:]PORT",
    help:
      "client mode: tunnel each TCP connection to PORT over its own WebSocket",
  },
  "broadcast": {
    type: "boolean",
    help:
      "listen mode: relay every message to all other clients (slow ones: 1008)",
  },
  "allow-origin": {
    type: "string",
    multiple: true,
    arg: "ORIGIN",
    help: "listen mode: admit browser pages from ORIGIN (* any); repeatable",
  },
  "reconnect": {
    type: "string",
    arg: "[MAX]",
    help:
      "reconnect when lost or refused, at most MAX times in a row (default: no limit)",
  },
  "reconnect-delay": {
    type: "string",
    arg: "MIN[:MAX]",
    help:
      "backoff: MIN seconds, doubling up to MAX, with jitter (default 1:30)",
  },
  "reconnect-on-close": {
    type: "boolean",
    help: "reconnect after a clean close by the server too",
  },
};

const DEFAULT_MIN_DELAY = 1000;
const DEFAULT_MAX_DELAY = 30_000;

function usage(message: string): CliError {
  return new CliError(ExitCode.USAGE, message);
}

/**
 * Prepares the raw arguments for `parseArgs`: a bare `--reconnect` (no
 * `=MAX`, no number after it) gets an empty value, and everything after
 * `--` belongs to `--exec`'s command.
 */
export function splitBridgeArgs(
  args: string[],
): { args: string[]; execArgs: string[] } {
  const end = args.indexOf("--");
  const own = end === -1 ? args : args.slice(0, end);
  const execArgs = end === -1 ? [] : args.slice(end + 1);
  const out: string[] = [];
  for (let i = 0; i < own.length; i++) {
    if (own[i] === "--reconnect" && !/^\d+$/.test(own[i + 1] ?? "")) {
      out.push("--reconnect=");
    } else out.push(own[i]);
  }
  return { args: out, execArgs };
}

/** Parses `HOST:PORT` (IPv6 in brackets); `defaultHost` makes HOST optional. */
export function parseTcpAddress(
  flag: string,
  value: string,
  defaultHost?: string,
): TcpAddress {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:\[\]]+):)?(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  const host = m?.[1]?.replace(/^\[|\]$/g, "") ?? defaultHost;
  if (!m || port > 65535 || host === undefined) {
    throw usage(
      `--${flag} needs ${
        defaultHost ? "[HOST:]PORT" : "HOST:PORT"
      }, got "${value}"`,
    );
  }
  return { hostname: host, port };
}

function delaySeconds(value: string): number {
  const s = Number(value);
  if (value.trim() === "" || !Number.isFinite(s) || s < 0) {
    throw usage(`--reconnect-delay needs MIN[:MAX] seconds, got "${value}"`);
  }
  return Math.round(s * 1000);
}

function parseReconnect(
  max: string | undefined,
  delay: string | undefined,
  onClose: boolean,
): ReconnectConfig | undefined {
  if (max === undefined) {
    if (delay !== undefined) throw usage("--reconnect-delay needs --reconnect");
    if (onClose) throw usage("--reconnect-on-close needs --reconnect");
    return undefined;
  }
  if (max !== "" && !/^\d+$/.test(max)) {
    throw usage(`--reconnect=MAX needs a whole number, got "${max}"`);
  }
  const [minText, maxText] = (delay ?? "").split(":");
  const minDelay = delay === undefined
    ? DEFAULT_MIN_DELAY
    : delaySeconds(minText);
  const maxDelay = maxText === undefined
    ? Math.max(minDelay, DEFAULT_MAX_DELAY)
    : delaySeconds(maxText);
  if (maxDelay < minDelay) {
    throw usage("--reconnect-delay MIN:MAX needs MIN <= MAX");
  }
  return {
    max: max === "" ? Infinity : Number(max),
    minDelay,
    maxDelay,
    onClose,
  };
}

/** The parsed flag values `parseBridgeFlags` reads. */
export interface BridgeFlagValues {
  str(name: string): string | undefined;
  bool(name: string): boolean;
  list(name: string): string[];
}

/**
 * Checks and collects the bridge flags. `mode` is the mode the rest of the
 * command line selected; `execArgs` what followed `--`.
 */
export function parseBridgeFlags(
  v: BridgeFlagValues,
  mode: "client" | "listen",
  execArgs: string[],
): BridgeConfig {
  const need = (flag: string, wanted: "client" | "listen") => {
    if (mode !== wanted) {
      throw usage(
        `--${flag} ${wanted === "listen" ? "needs --listen" : "needs a URL"}`,
      );
    }
  };
  const exec = v.str("exec");
  const toTcp = v.str("to-tcp");
  const fromTcp = v.str("from-tcp");
  const broadcast = v.bool("broadcast");
  const allowOrigins = v.list("allow-origin");
  if (exec === undefined && execArgs.length > 0) {
    throw usage(`arguments after -- are for --exec: "${execArgs[0]}"`);
  }
  if (exec !== undefined && exec.trim() === "") {
    throw usage("--exec needs a command");
  }
  if (toTcp !== undefined) need("to-tcp", "listen");
  if (fromTcp !== undefined) need("from-tcp", "client");
  if (broadcast) need("broadcast", "listen");
  if (allowOrigins.length > 0) need("allow-origin", "listen");
  const bridges = [
    exec !== undefined && "--exec",
    toTcp !== undefined && "--to-tcp",
    fromTcp !== undefined && "--from-tcp",
    broadcast && "--broadcast",
    v.bool("echo") && "--echo",
  ].filter((b) => b !== false);
  if (bridges.length > 1) {
    throw usage(`${bridges[0]} and ${bridges[1]} exclude each other`);
  }
  if (bridges.length > 0 && bridges[0] !== "--echo") {
    // These shape the byte stream themselves.
    for (const flag of ["raw", "json", "base64", "one-message", "slash"]) {
      if (v.bool(flag)) {
        throw usage(`${bridges[0]} and --${flag} exclude each other`);
      }
    }
  }
  const reconnect = parseReconnect(
    v.str("reconnect"),
    v.str("reconnect-delay"),
    v.bool("reconnect-on-close"),
  );
  if (reconnect) {
    need("reconnect", "client");
    if (exec !== undefined || fromTcp !== undefined) {
      throw usage(
        `--reconnect and ${
          exec !== undefined ? "--exec" : "--from-tcp"
        } exclude each other`,
      );
    }
  }
  return {
    exec: exec === undefined ? undefined : { command: exec, args: execArgs },
    toTcp: toTcp === undefined ? undefined : parseTcpAddress("to-tcp", toTcp),
    fromTcp: fromTcp === undefined
      ? undefined
      : parseTcpAddress("from-tcp", fromTcp, "127.0.0.1"),
    broadcast,
    reconnect,
    allowOrigins,
  };
}

/** True when the bridge, not stdin, feeds the connection. */
export function bridgeOwnsStdio(b: BridgeConfig): boolean {
  return b.exec !== undefined || b.toTcp !== undefined ||
    b.fromTcp !== undefined || b.broadcast;
}

/**
 * The Origin check for listen mode. A listener on 127.0.0.1 is reachable
 * from every page a browser opens: a bridge that runs programs, opens TCP
 * connections or relays between clients refuses every Origin but those
 * given with --allow-origin. Plain echo and stdin stay open unless
 * --allow-origin is given.
 */
export function listenOrigins(b: BridgeConfig): string[] | undefined {
  if (b.allowOrigins.length > 0) return b.allowOrigins;
  return b.exec || b.toTcp || b.broadcast ? [] : undefined;
}
