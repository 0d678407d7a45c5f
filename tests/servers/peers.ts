/**
 * Real third-party peers for the reach tests, run as child processes on
 * free loopback ports: `microsocks` (SOCKS5), `tinyproxy` (HTTP CONNECT
 * proxy), `socat` (a TLS-terminating front for an HTTPS proxy) and Python's
 * `ssl` + `websockets` (a mutual-TLS WebSocket server). Each needs its
 * binary and `--allow-run` for it; {@linkcode peerMissing} says why one
 * cannot run so that its tests skip with one clear line.
 *
 * @module
 */

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;

/** Python with the `websockets` package (the pyenv shim on PATH lacks it). */
export const PYTHON = "/usr/bin/python3";

/**
 * Why `cmd` cannot be run here ("" when it can): not installed, or not
 * allowed by `--allow-run`. Runs `cmd args` once, synchronously.
 */
export function peerMissing(cmd: string, args: string[]): string {
  try {
    const out = new Deno.Command(cmd, { args, stdout: "null", stderr: "null" })
      .outputSync();
    return out.code === 127 ? `${cmd} is not installed` : "";
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return `${cmd} is not installed`;
    if (e instanceof Deno.errors.NotCapable) {
      return `${cmd} is not allowed (run the tests with --allow-run=${cmd})`;
    }
    return `${cmd} cannot run: ${(e as Error).message}`;
  }
}

/** A free TCP port on 127.0.0.1 (free when this returns; peers bind it next). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Waits until something accepts TCP connections on 127.0.0.1:`port`. */
async function waitForPort(port: number, child: Deno.ChildProcess) {
  let exited = false;
  child.status.then(() => exited = true);
  for (let i = 0; i < 100; i++) {
    if (exited) throw new Error(`peer exited before listening on ${port}`);
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nothing listened on 127.0.0.1:${port} within 5 s`);
}

/** A running peer process. */
export interface Peer {
  readonly port: number;
  /** What the process wrote to stdout and stderr so far. */
  log(): string;
  /** Stops the process and waits for it and its pipes. */
  close(): Promise<void>;
}

/**
 * Spawns `cmd`, collects its output, and waits for it to listen on `port`
 * (or, with `ready`, for that text on its output).
 */
async function spawnPeer(
  cmd: string,
  args: string[],
  port: number,
  stdin?: string,
  ready?: string,
): Promise<Peer> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const chunk of stream) text += dec.decode(chunk);
  };
  const pipes = Promise.all([collect(child.stdout), collect(child.stderr)]);
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already exited */ }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 3000);
    await child.status;
    clearTimeout(timer);
    await pipes;
  };
  try {
    if (stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(stdin));
      await w.close();
    }
    if (ready === undefined) await waitForPort(port, child);
    else {
      for (let i = 0; !text.includes(ready); i++) {
        if (i === 100) throw new Error(`no "${ready}" within 5 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } catch (e) {
    await stop();
    throw new Error(`${cmd} did not start: ${(e as Error).message}\n${text}`);
  }
  return { port, log: () => text, close: stop };
}

/** `microsocks` on a free port; with `auth`, it demands RFC 1929 credentials. */
export function startMicrosocks(
  auth?: { username: string; password: string },
): Promise<Peer> {
  const port = freePort();
  const args = ["-i", "127.0.0.1", "-p", String(port)];
  if (auth) args.push("-u", auth.username, "-P", auth.password);
  return spawnPeer("microsocks", args, port);
}

/**
 * `tinyproxy` in the foreground on a free port, its config given on stdin
 * (so no file is written); with `auth`, it demands Basic credentials.
 * Its log (stderr) records every CONNECT.
 */
export function startTinyproxy(
  auth?: { username: string; password: string },
): Promise<Peer> {
  const port = freePort();
  const config = [
    `Port ${port}`,
    "Listen 127.0.0.1",
    "Timeout 30",
    "MaxClients 20",
    "LogLevel Connect",
    "DisableViaHeader Yes",
    ...(auth ? [`BasicAuth ${auth.username} ${auth.password}`] : []),
    "",
  ].join("\n");
  return spawnPeer("tinyproxy", ["-d", "-c", "/dev/stdin"], port, config);
}

/**
 * `socat` terminating TLS (the fixture server certificate, no client
 * certificate asked) on a free port and forwarding each connection in
 * plain TCP to 127.0.0.1:`target`: with tinyproxy behind it, an HTTPS proxy.
 */
export function startTlsFront(target: number): Promise<Peer> {
  const port = freePort();
  return spawnPeer("socat", [
    `openssl-listen:${port},bind=127.0.0.1,reuseaddr,fork,cert=${FIXTURES}server.pem,key=${FIXTURES}server-key.pem,verify=0`,
    `tcp:127.0.0.1:${target}`,
  ], port);
}

const MTLS_SERVER = `
import asyncio, ssl, sys, websockets
fixtures, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(fixtures + "server.pem", fixtures + "server-key.pem")
ctx.load_verify_locations(fixtures + "client-ca.pem")
ctx.verify_mode = ssl.CERT_REQUIRED
async def echo(ws, path=None):
    subject = dict(x[0] for x in ws.transport.get_extra_info("peercert")["subject"])
    await ws.send("client " + subject["commonName"])
    async for message in ws:
        await ws.send(message)
async def main():
    async with websockets.serve(echo, "127.0.0.1", port, ssl=ctx):
        print("listening", flush=True)
        await asyncio.Future()
asyncio.run(main())
`;

/**
 * A Python `websockets` server over `ssl` that requires a client
 * certificate signed by the fixture client CA (`CERT_REQUIRED`). It greets
 * each client with `client <CN of its certificate>`, then echoes.
 */
export function startMtlsServer(): Promise<Peer> {
  const port = freePort();
  return spawnPeer(PYTHON, ["-c", MTLS_SERVER, FIXTURES, String(port)], port);
}

const BLACKHOLE = `
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
listener = socket.socket(family)
listener.bind((host, port))
listener.listen(0)
held = []
for _ in range(3):  # fill the accept queue: later SYNs are dropped
    c = socket.socket(family)
    c.setblocking(False)
    try:
        c.connect((host, port))
    except BlockingIOError:
        pass
    held.append(c)
time.sleep(0.3)
print("ready", flush=True)
time.sleep(600)
`;

/**
 * An address that never answers: a listener on `hostname:port` (the port
 * may be in use on another address) whose accept queue is full and never
 * drained, so a connect to it waits for SYN retries (minutes), as a
 * firewalled host would.
 */
export function startBlackhole(hostname: string, port: number): Promise<Peer> {
  return spawnPeer(
    PYTHON,
    ["-c", BLACKHOLE, hostname, String(port)],
    port,
    undefined,
    "ready",
  );
}
