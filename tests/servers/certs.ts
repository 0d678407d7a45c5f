/**
 * Test-only TLS material from `tests/fixtures/` (see its README.md).
 *
 * Read lazily so that test files which never use TLS need no read permission.
 * @module
 */

/** PEM strings of the test CAs, the server and client leaves, and the untrusted ones. */
export interface TestCerts {
  /** The test CA certificate: pass as `caCerts` to trust `cert`. */
  ca: string;
  /** Server leaf certificate signed by `ca` (SANs: localhost, wsnc.test, 127.0.0.1, ::1). */
  cert: string;
  /** PKCS#8 private key of `cert`. */
  key: string;
  /** Self-signed leaf with the same SANs that `ca` does not vouch for. */
  untrustedCert: string;
  /** PKCS#8 private key of `untrustedCert`. */
  untrustedKey: string;
  /** The CA that mutual-TLS test servers trust for client certificates. */
  clientCa: string;
  /** Client leaf signed by `clientCa`. */
  clientCert: string;
  /** PKCS#8 private key of `clientCert`. */
  clientKey: string;
  /** Self-signed client leaf that `clientCa` did not sign. */
  wrongClientCert: string;
  /** PKCS#8 private key of `wrongClientCert`. */
  wrongClientKey: string;
}

let cached: TestCerts | undefined;

function readFixture(name: string): string {
  return Deno.readTextFileSync(new URL(`../fixtures/${name}`, import.meta.url));
}

/** Loads (once) the fixture certificates; needs `--allow-read` on the repository. */
export function testCerts(): TestCerts {
  cached ??= {
    ca: readFixture("ca.pem"),
    cert: readFixture("server.pem"),
    key: readFixture("server-key.pem"),
    untrustedCert: readFixture("untrusted.pem"),
    untrustedKey: readFixture("untrusted-key.pem"),
    clientCa: readFixture("client-ca.pem"),
    clientCert: readFixture("client.pem"),
    clientKey: readFixture("client-key.pem"),
    wrongClientCert: readFixture("client-wrong.pem"),
    wrongClientKey: readFixture("client-wrong-key.pem"),
  };
  return cached;
}

/** Formats a listening address as a URL authority (`[::1]:port` for IPv6). */
export function hostPort(hostname: string, port: number): string {
  return hostname.includes(":")
    ? `[${hostname}]:${port}`
    : `${hostname}:${port}`;
}
