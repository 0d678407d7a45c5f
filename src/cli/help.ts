/**
 * The `--help` text, generated from the flag table so that every flag is
 * listed exactly once.
 *
 * @module
 */

import { FLAGS } from "./args.ts";
import { ExitCode } from "./exit.ts";
import { VERSION } from "./version.ts";

const EXIT_HELP: [number, string][] = [
  [ExitCode.OK, "closed cleanly (or closed by us)"],
  [ExitCode.ERROR, "other error (e.g. permission denied)"],
  [ExitCode.USAGE, "usage error: bad flag, value or URL"],
  [ExitCode.CONNECT, "connection failed or lost without a close frame"],
  [ExitCode.TLS, "TLS failure"],
  [ExitCode.REFUSED, "handshake refused: HTTP status other than 101"],
  [ExitCode.PROTOCOL, "protocol error: bad 101 response or bad frames"],
  [ExitCode.TIMEOUT, "timeout (--connect-timeout, --max-time, --ping-timeout)"],
  [ExitCode.PEER_CLOSE, "peer closed with a code other than 1000/1001/1005"],
  [ExitCode.INTERRUPTED, "interrupted by SIGINT (Ctrl-C)"],
];

/** The full `--help` text. */
export function helpText(): string {
  const rows = Object.entries(FLAGS).map(([name, spec]) => {
    const short = spec.short ? `-${spec.short}, ` : "    ";
    const arg = spec.arg ? ` ${spec.arg}` : "";
    return [`  ${short}--${name}${arg}`, spec.help];
  });
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  const flags = rows.map(([left, help]) => left.padEnd(width) + help);
  const codes = EXIT_HELP.map(([code, what]) =>
    `  ${String(code).padStart(3)}  ${what}`
  );
  return [
    `wsnc ${VERSION}: netcat for WebSocket (RFC 6455)`,
    "",
    "Usage:",
    "  wsnc [options] <ws-url>           client: stdin lines out, messages in",
    "  wsnc --listen [HOST:]PORT [opts]  server: accept clients, same piping",
    "",
    "Each stdin line is sent as one text message; each received message is",
    "printed followed by a newline. At stdin EOF a close (1000) is sent and",
    "replies are printed until the peer's close arrives. On a terminal,",
    "input is prompted with '> ' and messages are shown as '< '.",
    "Listen mode serves clients one after another while stdin lasts (-n:",
    "keep serving after EOF; --echo: serve clients concurrently, forever).",
    "",
    "Options:",
    ...flags,
    "",
    "Slash commands (with --slash): /ping [data]  /pong [data]",
    "  /close [code [reason]]  /binary <base64>  //text sends '/text'",
    "",
    "Exit codes:",
    ...codes,
    "",
    "Examples:",
    "  echo hello | wsnc ws://127.0.0.1:8080/chat",
    "  wsnc -1 -H 'Authorization: Bearer t0k3n' wss://example.com/api < req.json",
    "  wsnc --listen 8080 --echo",
    "",
    "Bridges (see the README's Bridges section): with --exec, --to-tcp or",
    "--broadcast, a request with an Origin header (a browser page) is refused",
    "with 403 unless --allow-origin names it.",
    "  wsnc --listen 8080 --to-tcp 127.0.0.1:22      SSH behind a WebSocket",
    "  wsnc --from-tcp 2222 ws://gw:8080/            then: ssh -p 2222 127.0.0.1",
    "  wsnc --listen 8080 --exec /usr/bin/python3 -- -u bot.py",
    "  wsnc --listen 8080 --broadcast --allow-origin https://chat.example",
    "  wsnc --reconnect=10 --reconnect-delay 1:30 -x subscribe wss://feed/",
    "",
  ].join("\n");
}
