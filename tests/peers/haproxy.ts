/**
 * Test-only: HAProxy (2.4+) as an RFC 8441 front. It accepts extended
 * CONNECT on its HTTP/2 fronts (TLS with ALPN h2, and cleartext h2 with
 * prior knowledge) and speaks an HTTP/1.1 upgrade to one backend. Runs in
 * the foreground with its configuration on stdin.
 *
 * @module
 */

const BUNDLE = new URL("../fixtures/server-bundle.pem", import.meta.url)
  .pathname;

/** Why haproxy cannot run here (no permission, not installed), or null. */
export function haproxyMissing(): string | null {
  if (
    Deno.permissions.querySync({ name: "run", command: "haproxy" }).state !==
      "granted"
  ) return "no --allow-run=haproxy";
  try {
    const ok = new Deno.Command("haproxy", {
      args: ["-v"],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
    return ok ? null : "haproxy -v failed";
  } catch {
    return "haproxy is not installed";
  }
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A running HAProxy. */
export interface Haproxy {
  /** Port of the TLS front (ALPN h2, http/1.1; the test certificate). */
  tls: number;
  /** Port of the cleartext h2 front (prior knowledge). */
  h2c: number;
  /** Kills it; returns its stderr. */
  stop(): Promise<string>;
}

/** Starts HAProxy with both fronts in front of 127.0.0.1:`backendPort`. */
export async function startHaproxy(backendPort: number): Promise<Haproxy> {
  const tls = freePort(), h2c = freePort();
  const config = [
    "defaults",
    "  mode http",
    "  timeout connect 5s",
    "  timeout client 30s",
    "  timeout server 30s",
    "  timeout tunnel 30s",
    "frontend fe",
    `  bind 127.0.0.1:${tls} ssl crt ${BUNDLE} alpn h2,http/1.1`,
    `  bind 127.0.0.1:${h2c} proto h2`,
    // Shows the backend which HTTP version the client spoke to the front.
    '  http-request add-header via "%[req.ver] haproxy"',
    "  default_backend be",
    "backend be",
    `  server s1 127.0.0.1:${backendPort}`,
    "",
  ].join("\n");
  const child = new Deno.Command("haproxy", {
    args: ["-db", "-f", "/dev/stdin"],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(config));
  await w.close();
  // Ready when both fronts accept connections.
  for (const port of [tls, h2c]) {
    for (let i = 0;; i++) {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        break;
      } catch (e) {
        if (i >= 100) {
          child.kill();
          await child.status;
          throw new Error(`haproxy did not start: ${await stderr}`, {
            cause: e,
          });
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
  return {
    tls,
    h2c,
    async stop() {
      child.kill();
      await child.status;
      return await stderr;
    },
  };
}
