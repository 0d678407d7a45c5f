/**
 * Happy eyeballs (RFC 8305 §5) over a list of IP addresses: start a TCP
 * connect to the first, start the next one 250 ms later (or at once when an
 * attempt fails), keep the first that connects and cancel the others.
 *
 * `Deno.connect` does this itself for a host name (its `autoSelectFamily`),
 * but it cannot be given a list of addresses: this is for the lists that
 * `resolve` entries (`--resolve host:port:addr1,addr2`) hand us.
 *
 * @module
 */

import { WebSocketError } from "../errors.ts";
import { resolvedAddresses, type RouteTable } from "./resolve.ts";
import { closeQuietly } from "./stream.ts";

/** RFC 8305 §8's recommended "Connection Attempt Delay". */
export const ATTEMPT_DELAY = 250;

/**
 * Orders addresses as RFC 8305 §4 asks: alternate the address families,
 * starting with the family of the first address given.
 */
export function interleaveFamilies(addresses: readonly string[]): string[] {
  const first = addresses[0]?.includes(":");
  const same = addresses.filter((a) => a.includes(":") === first);
  const other = addresses.filter((a) => a.includes(":") !== first);
  const out: string[] = [];
  for (let i = 0; i < Math.max(same.length, other.length); i++) {
    if (i < same.length) out.push(same[i]);
    if (i < other.length) out.push(other[i]);
  }
  return out;
}

/**
 * Connects to `port` on the first of `addresses` that answers, racing them
 * (see the module doc). Rejects with the failure of every address when none
 * connects; a permission error is rethrown as it is.
 */
export function connectFirst(
  addresses: readonly string[],
  port: number,
  signal?: AbortSignal,
  delay: number = ATTEMPT_DELAY,
): Promise<Deno.TcpConn> {
  const order = interleaveFamilies(addresses);
  if (order.length === 1) {
    return Deno.connect({ hostname: order[0], port, signal });
  }
  return new Promise<Deno.TcpConn>((resolve, reject) => {
    const attempts: AbortController[] = [];
    const failures: string[] = [];
    let started = 0;
    let failed = 0;
    let done = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = () => {
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      for (const a of attempts) a.abort();
    };
    const onAbort = () => {
      if (done) return;
      finish();
      reject(signal!.reason);
    };
    const startNext = () => {
      clearTimeout(timer);
      if (done || started === order.length) return;
      const hostname = order[started++];
      const attempt = new AbortController();
      attempts.push(attempt);
      Deno.connect({ hostname, port, signal: attempt.signal }).then(
        (conn) => {
          if (done) return closeQuietly(conn); // a late winner
          finish();
          resolve(conn);
        },
        (err) => {
          if (done) return;
          if (
            err instanceof Deno.errors.NotCapable ||
            err instanceof Deno.errors.PermissionDenied
          ) {
            finish();
            return reject(err);
          }
          failures.push(`${hostname}: ${(err as Error)?.message ?? err}`);
          if (++failed === order.length) {
            finish();
            return reject(
              new WebSocketError(
                "CONNECT_FAILED",
                `no address accepted a connection on port ${port} (${
                  failures.join("; ")
                })`,
                { cause: err },
              ),
            );
          }
          startNext(); // §5: a failure starts the next attempt at once
        },
      );
      timer = setTimeout(startNext, delay);
    };
    if (signal?.aborted) return reject(signal.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    startNext();
  });
}

/**
 * Opens TCP to `host:port`: to the addresses a `resolve` entry gives it
 * (raced as above), else by name through `Deno.connect`, which runs its own
 * happy eyeballs over what DNS returns.
 */
export function openTcp(
  host: string,
  port: number,
  routes: RouteTable,
  signal?: AbortSignal,
): Promise<Deno.TcpConn> {
  const addresses = resolvedAddresses(routes, host, port);
  if (addresses) return connectFirst(addresses, port, signal);
  return Deno.connect({ hostname: host, port, signal });
}
