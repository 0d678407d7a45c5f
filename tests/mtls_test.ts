/**
 * Mutual TLS (issue 14): `cert` / `key` against a server we did not write
 * that requires a client certificate (Python `ssl` with CERT_REQUIRED under
 * `websockets`), with one it accepts, one it rejects and none; a key that
 * does not match; and the client certificate through a proxy tunnel and a
 * `resolve` mapping (node:tls over the tunnel).
 */

import assert from "node:assert/strict";
import { connect, type ConnectOptions } from "../mod.ts";
import { expectReject, within } from "./helpers.ts";
import { testCerts } from "./servers/certs.ts";
import { startConnectProxy } from "./servers/proxy.ts";
import {
  type Peer,
  peerMissing,
  PYTHON,
  startMtlsServer,
} from "./servers/peers.ts";

const PYTHON_MISSING = peerMissing(PYTHON, ["-c", "import ssl, websockets"]);
if (PYTHON_MISSING) {
  console.log(`skipping the mutual-TLS tests: ${PYTHON_MISSING}`);
}

/** Runs `fn` against a fresh mutual-TLS server, then stops it. */
function withServer(name: string, fn: (server: Peer) => Promise<void>) {
  Deno.test({
    name,
    ignore: PYTHON_MISSING !== "",
    fn: async () => {
      const server = await startMtlsServer();
      try {
        await fn(server);
      } finally {
        await server.close();
      }
    },
  });
}

/** Connects, expects the greeting naming our certificate, echoes once, closes cleanly. */
async function greetAndEcho(url: string, options: ConnectOptions) {
  const conn = await within(10000, `connect ${url}`, connect(url, options));
  assert.equal(
    await within(5000, "greeting", conn.receive()),
    "client wsnc test client",
  );
  await conn.send("over mutual TLS");
  assert.equal(await within(5000, "echo", conn.receive()), "over mutual TLS");
  await within(5000, "close", conn.close());
  assert.equal((await conn.closed).wasClean, true);
}

withServer(
  "mtls: a certificate the server's CA signed is accepted",
  async (server) => {
    const { ca, clientCert, clientKey } = testCerts();
    await greetAndEcho(`wss://localhost:${server.port}/`, {
      caCerts: [ca],
      cert: clientCert,
      key: clientKey,
    });
  },
);

withServer(
  "mtls: a certificate the server does not trust is TLS_ERROR saying so",
  async (server) => {
    const { ca, wrongClientCert, wrongClientKey } = testCerts();
    const err = await expectReject(
      within(
        10000,
        "connect",
        connect(`wss://localhost:${server.port}/`, {
          caCerts: [ca],
          cert: wrongClientCert,
          key: wrongClientKey,
        }),
      ),
      "TLS_ERROR",
    );
    assert.match(err.message, /rejected our client certificate/);
  },
);

withServer(
  "mtls: no certificate for a server that requires one is TLS_ERROR naming cert and key",
  async (server) => {
    const { ca } = testCerts();
    const err = await expectReject(
      within(
        10000,
        "connect",
        connect(`wss://localhost:${server.port}/`, { caCerts: [ca] }),
      ),
      "TLS_ERROR",
    );
    assert.match(err.message, /requires a client certificate.*cert and key/);
  },
);

withServer(
  "mtls: through an HTTP CONNECT tunnel and with resolve (wsnc.test -> 127.0.0.1)",
  async (server) => {
    const { ca, clientCert, clientKey } = testCerts();
    const proxy = startConnectProxy();
    try {
      const tls = { caCerts: [ca], cert: clientCert, key: clientKey };
      await greetAndEcho(`wss://localhost:${server.port}/`, {
        ...tls,
        proxy: proxy.url,
      });
      assert.equal(proxy.requests[0].target, `localhost:${server.port}`);
      await greetAndEcho(`wss://wsnc.test:${server.port}/`, {
        ...tls,
        resolve: [`wsnc.test:${server.port}:127.0.0.1`],
      });
    } finally {
      await proxy.close();
    }
  },
);

Deno.test("mtls: a key that does not match, a lone cert or key, and non-PEM input are INVALID_ARGUMENT before connecting", async () => {
  const { clientCert, clientKey, untrustedKey } = testCerts();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `wss://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`;
  let accepted = 0;
  const accepting = (async () => {
    for await (const c of listener) {
      accepted++;
      c.close();
    }
  })();
  try {
    const cases: [ConnectOptions, RegExp][] = [
      [{ cert: clientCert, key: untrustedKey }, /key does not match/],
      [{ cert: clientCert }, /needs both cert and key \(key is missing\)/],
      [{ key: clientKey }, /cert is missing/],
      [{ cert: "not a certificate", key: clientKey }, /cert is not a PEM/],
      [{ cert: clientCert, key: "not a key" }, /key is not a PEM/],
    ];
    for (const [options, message] of cases) {
      const err = await expectReject(connect(url, options), "INVALID_ARGUMENT");
      assert.match(err.message, message);
    }
    assert.equal(accepted, 0, "nothing was connected");
  } finally {
    listener.close();
    await accepting;
  }
});
