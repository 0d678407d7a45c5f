/**
 * CI tests of how connections reach the server (issue 3): redirects,
 * credentials, HTTP CONNECT proxies (explicit and from the environment),
 * Unix sockets, IPv6, ports and Host, timeouts and cancellation at every
 * stage, permission errors and TLS trust.
 *
 * Tests that need permissions the test task does not grant (env variables,
 * Unix socket paths, a narrower --allow-net) run a `deno run` subprocess
 * with exactly those flags.
 */

import assert from "node:assert/strict";
import {
  connect,
  type ConnectOptions,
  perform,
  WebSocketError,
} from "../mod.ts";
import { DEFAULT_CONNECT_TIMEOUT } from "../src/client.ts";
import { testCerts } from "./servers/certs.ts";
import { startDenoEchoServer, startWsEchoServer } from "./servers/echo.ts";
import { startConnectProxy } from "./servers/proxy.ts";
import { peerMissing, startMicrosocks } from "./servers/peers.ts";
import {
  type RequestHead,
  type ScriptedPeer,
  type ScriptedServer,
  type ScriptedServerOptions,
  startScriptedServer,
} from "./servers/scripted.ts";
import { expectReject, finish, runChild, within } from "./helpers.ts";

const enc = new TextEncoder();

// ---------------------------------------------------------------- helpers

/** A predicate for assert.rejects: a WebSocketError with `code`. */
function wsError(code: string, check?: (e: WebSocketError) => void) {
  return (e: unknown) => {
    assert.ok(e instanceof WebSocketError, `not a WebSocketError: ${e}`);
    assert.equal(e.code, code, e.message);
    check?.(e);
    return true;
  };
}

/** Connects, exchanges one text message with an echo peer, and closes cleanly. */
async function echoOnce(
  url: string,
  options: ConnectOptions = {},
  text = "hello",
): Promise<URL> {
  const conn = await within(10000, `connect ${url}`, connect(url, options));
  await conn.send(text);
  assert.equal(await within(5000, "echo", conn.receive()), text);
  await within(5000, "close", conn.close());
  assert.equal((await conn.closed).wasClean, true);
  return conn.url;
}

/** What a server saw of one upgrade request. */
interface Seen {
  path: string;
  host: string | null;
  authorization: string | null;
  proxyAuthorization: string | null;
  cookie: string | null;
}

function seen(req: RequestHead): Seen {
  return {
    path: req.path,
    host: req.headers.get("host"),
    authorization: req.headers.get("authorization"),
    proxyAuthorization: req.headers.get("proxy-authorization"),
    cookie: req.headers.get("cookie"),
  };
}

/** Accepts the upgrade and echoes until the client closes. */
async function acceptAndEcho(peer: ScriptedPeer): Promise<void> {
  await peer.accept();
  await peer.echoUntilClose();
}

/**
 * A scripted server that answers by request path: a string is a Location to
 * redirect to (with `status`, default 302; `{port}` is replaced by the
 * server's port); a function handles the connection; other paths are
 * accepted and echoed. Every request is logged.
 */
function routedServer(
  routes: Record<string, string | ((peer: ScriptedPeer) => Promise<void>)>,
  opts: ScriptedServerOptions & { status?: number } = {},
): { server: ScriptedServer; requests: Seen[] } {
  const requests: Seen[] = [];
  const server: ScriptedServer = startScriptedServer(async (peer) => {
    const req = await peer.readRequest();
    requests.push(seen(req));
    const route = routes[req.path];
    if (typeof route === "string") {
      const location = route.replaceAll("{port}", String(server.port));
      await peer.writeRaw(
        `HTTP/1.1 ${opts.status ?? 302} Moved\r\nLocation: ${location}\r\n` +
          "Content-Length: 0\r\n\r\n",
      );
    } else if (route) await route(peer);
    else await acceptAndEcho(peer);
  }, opts);
  return { server, requests };
}

function basic(user: string, pass: string): string {
  return "Basic " + btoa(user + ":" + pass);
}

// -------------------------------------------------------------- redirects

Deno.test("redirect: a 3xx is HTTP_RETURNED_ERROR unless followRedirects is set", async () => {
  const { server, requests } = routedServer({ "/old": "/new" });
  await assert.rejects(
    connect(server.url + "/old"),
    wsError("HTTP_RETURNED_ERROR", (e) => {
      assert.equal(e.status, 302);
      assert.equal(e.headers?.get("location"), "/new");
    }),
  );
  assert.deepEqual(requests.map((r) => r.path), ["/old"]);
  await finish(server);
});

Deno.test("redirect: followRedirects follows a chain, mapping http to ws and keeping path + query", async () => {
  const { server, requests } = routedServer({
    "/start": "/second?x=1", // relative
    "/second?x=1": "http://127.0.0.1:{port}/third?y=2&z=%20", // http -> ws
  }, { status: 307 });
  const url = await echoOnce(server.url + "/start", { followRedirects: 2 });
  assert.equal(url.href, `ws://127.0.0.1:${server.port}/third?y=2&z=%20`);
  assert.deepEqual(requests.map((r) => r.path), [
    "/start",
    "/second?x=1",
    "/third?y=2&z=%20",
  ]);
  await finish(server);
});

Deno.test("redirect: a loop stops after followRedirects hops", async () => {
  const { server, requests } = routedServer({ "/loop": "/loop" });
  await assert.rejects(
    connect(server.url + "/loop", { followRedirects: 3 }),
    wsError("HTTP_RETURNED_ERROR", (e) => assert.equal(e.status, 302)),
  );
  assert.equal(requests.length, 4, "the first request and 3 redirects");
  await finish(server);
});

Deno.test("redirect: a chain longer than followRedirects fails; one hop more succeeds", async () => {
  const { server, requests } = routedServer({
    "/r3": "/r2",
    "/r2": "/r1",
    "/r1": "/r0",
  });
  await assert.rejects(
    connect(server.url + "/r3", { followRedirects: 2 }),
    wsError("HTTP_RETURNED_ERROR", (e) => {
      assert.equal(e.status, 302);
      assert.equal(e.headers?.get("location"), "/r0");
    }),
  );
  assert.deepEqual(requests.map((r) => r.path), ["/r3", "/r2", "/r1"]);
  const url = await echoOnce(server.url + "/r3", { followRedirects: 3 });
  assert.equal(url.pathname, "/r0");
  await finish(server);
});

Deno.test("redirect: a 3xx without Location fails even when following", async () => {
  const server = startScriptedServer(async (peer) => {
    await peer.readRequest();
    await peer.writeRaw("HTTP/1.1 301 Moved\r\nContent-Length: 0\r\n\r\n");
  });
  await assert.rejects(
    connect(server.url, { followRedirects: 5 }),
    wsError("HTTP_RETURNED_ERROR", (e) => assert.equal(e.status, 301)),
  );
  await finish(server);
});

Deno.test("redirect: wss to ws is refused unless allowInsecureRedirect; ws to https maps to wss", async () => {
  const { ca } = testCerts();
  const plain = routedServer({});
  const secure = routedServer({
    "/down": `ws://127.0.0.1:${plain.server.port}/plain`,
  }, { tls: true, hostname: "localhost" });
  const up = routedServer({
    "/up": `https://localhost:${secure.server.port}/secure`,
  });
  try {
    await assert.rejects(
      connect(secure.server.url + "/down", {
        followRedirects: 1,
        caCerts: [ca],
      }),
      wsError("BAD_HANDSHAKE", (e) => assert.match(e.message, /wss/)),
    );
    assert.equal(plain.server.connections, 0, "no insecure request was made");
    const url = await echoOnce(secure.server.url + "/down", {
      followRedirects: 1,
      caCerts: [ca],
      allowInsecureRedirect: true,
    });
    assert.equal(url.href, `ws://127.0.0.1:${plain.server.port}/plain`);
    const upgraded = await echoOnce(up.server.url + "/up", {
      followRedirects: 1,
      caCerts: [ca],
    });
    assert.equal(
      upgraded.href,
      `wss://localhost:${secure.server.port}/secure`,
    );
  } finally {
    await finish(up.server);
    await finish(secure.server);
    await finish(plain.server);
  }
});

// ------------------------------------------------------------ credentials

Deno.test("credentials: user:pass in the URL and auth send Basic, bearer sends Bearer", async () => {
  const { server, requests } = routedServer({});
  const host = `127.0.0.1:${server.port}`;
  await echoOnce(`ws://al%40ice:p%3Ass%20w@${host}/url`);
  await echoOnce(`ws://${host}/auth`, {
    auth: { username: "bob", password: "sécret" },
  });
  await echoOnce(`ws://${host}/bearer`, { bearer: "tok.en-1" });
  await echoOnce(`ws://${host}/none`);
  assert.deepEqual(
    requests.map((r) => [r.path, r.host, r.authorization]),
    [
      ["/url", host, basic("al@ice", "p:ss w")],
      [
        "/auth",
        host,
        "Basic " +
        btoa(String.fromCharCode(...enc.encode("bob:sécret"))),
      ],
      ["/bearer", host, "Bearer tok.en-1"],
      ["/none", host, null],
    ],
  );
  await finish(server);
});

Deno.test("credentials: kept on a same-host redirect, never sent to another host", async () => {
  // 127.0.0.1 and localhost reach the same server but are different hosts.
  const { server, requests } = routedServer({
    "/same": "/target",
    "/away": "ws://localhost:{port}/target",
  });
  const ip = `127.0.0.1:${server.port}`;
  const name = `localhost:${server.port}`;
  const follow = { followRedirects: 1 };
  await echoOnce(`ws://u:p@${ip}/same`, follow);
  await echoOnce(`ws://u:p@${ip}/away`, follow);
  await echoOnce(`ws://${ip}/away`, {
    ...follow,
    auth: { username: "u", password: "p" },
  });
  await echoOnce(`ws://${ip}/away`, { ...follow, bearer: "t" });
  await echoOnce(`ws://${ip}/away`, {
    ...follow,
    headers: { authorization: "Custom x", cookie: "a=b" },
  });
  assert.deepEqual(
    requests.map((r) => [r.path, r.host, r.authorization]),
    [
      ["/same", ip, basic("u", "p")],
      ["/target", ip, basic("u", "p")],
      ["/away", ip, basic("u", "p")],
      ["/target", name, null],
      ["/away", ip, basic("u", "p")],
      ["/target", name, null],
      ["/away", ip, "Bearer t"],
      ["/target", name, null],
      ["/away", ip, "Custom x"],
      ["/target", name, null],
    ],
  );
  // Cookies given as headers are dropped on the host change as well.
  assert.deepEqual(requests.slice(-2).map((r) => r.cookie), ["a=b", null]);
  await finish(server);
});

// ------------------------------------------------------------------ proxy

Deno.test("proxy: CONNECT tunnel to ws://, Host and target correct", async () => {
  const proxy = startConnectProxy();
  const { server, requests } = routedServer({});
  try {
    const target = `127.0.0.1:${server.port}`;
    await echoOnce(`ws://${target}/via?proxy=1`, { proxy: proxy.url });
    assert.equal(proxy.requests.length, 1);
    assert.equal(proxy.requests[0].method, "CONNECT");
    assert.equal(proxy.requests[0].target, target);
    assert.equal(proxy.requests[0].headers.get("host"), target);
    assert.equal(proxy.requests[0].headers.get("proxy-authorization"), null);
    assert.deepEqual(requests.map((r) => [r.path, r.host]), [
      ["/via?proxy=1", target],
    ]);
  } finally {
    await finish(server);
    await proxy.close();
  }
});

Deno.test("proxy: Basic auth from the proxy URL; TLS through the tunnel for wss://", async () => {
  const { ca } = testCerts();
  const proxy = startConnectProxy({
    auth: { username: "px user", password: "p@ss" },
  });
  const echo = await startWsEchoServer({ tls: true, hostname: "localhost" });
  try {
    const proxyUrl = new URL(proxy.url);
    proxyUrl.username = "px%20user";
    proxyUrl.password = "p%40ss";
    await echoOnce(echo.url + "/tls", { proxy: proxyUrl, caCerts: [ca] });
    assert.equal(proxy.requests.length, 1);
    assert.equal(proxy.requests[0].status, 200);
    assert.equal(proxy.requests[0].target, `localhost:${echo.port}`);
    assert.equal(
      proxy.requests[0].headers.get("proxy-authorization"),
      basic("px user", "p@ss"),
    );
    // The proxy credentials are for the proxy only.
    assert.equal(echo.lastRequestHeaders?.get("proxy-authorization"), null);
    assert.equal(echo.lastRequestHeaders?.get("authorization"), null);
  } finally {
    await echo.close();
    await proxy.close();
  }
});

Deno.test("proxy: a 407 (no or wrong credentials) and a 403 fail with the status", async () => {
  const proxy = startConnectProxy({ auth: { username: "u", password: "p" } });
  const refusing = startConnectProxy({ refuse: 403 });
  const { server } = routedServer({});
  try {
    for (const url of [proxy.url, proxy.url.replace("//", "//u:wrong@")]) {
      await assert.rejects(
        connect(server.url, { proxy: url }),
        wsError("CONNECT_FAILED", (e) => {
          assert.equal(e.status, 407);
          assert.match(e.message, /407/);
        }),
      );
    }
    await assert.rejects(
      connect(server.url, { proxy: refusing.url }),
      wsError("CONNECT_FAILED", (e) => assert.equal(e.status, 403)),
    );
    assert.deepEqual(proxy.requests.map((r) => r.status), [407, 407]);
    assert.equal(server.connections, 0, "nothing reached the server");
  } finally {
    await finish(server);
    await proxy.close();
    await refusing.close();
  }
});

Deno.test("proxy: default ports and IPv6 literals in the CONNECT target", async () => {
  const proxy = startConnectProxy({ refuse: 403 });
  try {
    for (const url of ["ws://localhost/", "wss://localhost/", "ws://[::1]/"]) {
      await assert.rejects(
        connect(url, { proxy: proxy.url }),
        wsError("CONNECT_FAILED"),
      );
    }
    assert.deepEqual(proxy.requests.map((r) => r.target), [
      "localhost:80",
      "localhost:443",
      "[::1]:80",
    ]);
  } finally {
    await proxy.close();
  }
  const tunnel = startConnectProxy();
  const { server, requests } = routedServer({}, { hostname: "::1" });
  try {
    await echoOnce(`ws://[::1]:${server.port}/six`, { proxy: tunnel.url });
    assert.equal(tunnel.requests[0].target, `[::1]:${server.port}`);
    assert.equal(requests[0].host, `[::1]:${server.port}`);
  } finally {
    await finish(server);
    await tunnel.close();
  }
});

Deno.test("proxy: false disables the proxy; an unsupported proxy scheme is INVALID_ARGUMENT", async () => {
  const { server } = routedServer({});
  try {
    await echoOnce(server.url, { proxy: false });
    await assert.rejects(
      connect(server.url, { proxy: "socks4://127.0.0.1:1080" }),
      wsError("INVALID_ARGUMENT"),
    );
  } finally {
    await finish(server);
  }
});

// ------------------------------------------------------------ subprocesses

const MOD = new URL("../mod.ts", import.meta.url).href;
const SCRIPTED = new URL("./servers/scripted.ts", import.meta.url).href;

/** A child script: connect to `url`, echo one message, close; prints the outcome. */
function echoScript(url: string, options: ConnectOptions = {}): string {
  return `
import { connect } from ${JSON.stringify(MOD)};
try {
  const conn = await connect(${JSON.stringify(url)}, ${
    JSON.stringify(options)
  });
  await conn.send("from child");
  const reply = await conn.receive();
  await conn.close();
  console.log(JSON.stringify({ ok: true, reply }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, code: e.code, message: e.message }));
}
`;
}

const ENV_FLAG = "--allow-env=HTTP_PROXY,HTTPS_PROXY,ALL_PROXY,NO_PROXY";

Deno.test("env proxy: HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY where --allow-env grants them", async () => {
  const { ca } = testCerts();
  const proxy = startConnectProxy();
  const echo = await startWsEchoServer();
  const secure = await startWsEchoServer({ tls: true });
  const net = "--allow-net=127.0.0.1";
  const ok = { ok: true, reply: "from child" };
  try {
    // ws:// takes HTTP_PROXY (HTTPS_PROXY is for wss:// only).
    assert.deepEqual(
      await runChild(echoScript(echo.url + "/http"), [net, ENV_FLAG], {
        HTTP_PROXY: proxy.url,
        HTTPS_PROXY: "http://127.0.0.1:1",
      }),
      ok,
    );
    assert.equal(proxy.requests.length, 1);
    assert.equal(proxy.requests[0].target, `127.0.0.1:${echo.port}`);

    // wss:// takes HTTPS_PROXY, and TLS runs through the tunnel.
    assert.deepEqual(
      await runChild(
        echoScript(secure.url + "/https", { caCerts: [ca] }),
        [net, ENV_FLAG],
        { HTTPS_PROXY: proxy.url, HTTP_PROXY: "http://127.0.0.1:1" },
      ),
      ok,
    );
    assert.equal(proxy.requests.length, 2);
    assert.equal(proxy.requests[1].target, `127.0.0.1:${secure.port}`);

    // ALL_PROXY is the fallback.
    assert.deepEqual(
      await runChild(echoScript(echo.url + "/all"), [net, ENV_FLAG], {
        ALL_PROXY: proxy.url,
      }),
      ok,
    );
    assert.equal(proxy.requests.length, 3);

    // NO_PROXY excludes the host: the connection is direct.
    assert.deepEqual(
      await runChild(echoScript(echo.url + "/no"), [net, ENV_FLAG], {
        HTTP_PROXY: proxy.url,
        NO_PROXY: "example.com, 127.0.0.1",
      }),
      ok,
    );
    assert.equal(proxy.requests.length, 3, "NO_PROXY bypassed the proxy");
  } finally {
    await secure.close();
    await echo.close();
    await proxy.close();
  }
});

Deno.test("env proxy: a proxy variable readable but NO_PROXY not is PERMISSION_DENIED naming --allow-env=NO_PROXY, never a silent route", async () => {
  const proxy = startConnectProxy();
  const echo = await startWsEchoServer();
  const net = "--allow-net=127.0.0.1";
  try {
    // NO_PROXY would exclude 127.0.0.1, but the child cannot read it.
    const partial = await runChild(
      echoScript(echo.url + "/partial"),
      [net, "--allow-env=HTTP_PROXY"],
      { HTTP_PROXY: proxy.url, NO_PROXY: "127.0.0.1" },
    );
    assert.equal(partial.ok, false);
    assert.equal(partial.code, "PERMISSION_DENIED");
    assert.match(partial.message, /NO_PROXY cannot be read/);
    assert.match(partial.message, /--allow-env=NO_PROXY/);
    // ALL_PROXY readable, but HTTP_PROXY (which would win for ws://) not.
    const fallback = await runChild(
      echoScript(echo.url + "/fallback"),
      [net, "--allow-env=ALL_PROXY,NO_PROXY"],
      { ALL_PROXY: proxy.url, HTTP_PROXY: "http://127.0.0.1:1" },
    );
    assert.equal(fallback.code, "PERMISSION_DENIED");
    assert.match(fallback.message, /HTTP_PROXY cannot be read/);
    assert.equal(proxy.requests.length, 0, "nothing went through the proxy");
    assert.equal(echo.connections, 0, "nor around it");
  } finally {
    await echo.close();
    await proxy.close();
  }
});

const MICROSOCKS = peerMissing("microsocks", ["-h"]);

Deno.test({
  name:
    "env proxy: ALL_PROXY=socks5h:// and HTTPS_PROXY=socks5:// (microsocks)",
  ignore: MICROSOCKS !== "",
  fn: async () => {
    const { ca } = testCerts();
    const socks = await startMicrosocks();
    const echo = await startWsEchoServer();
    const secure = await startWsEchoServer({ tls: true });
    const ok = { ok: true, reply: "from child" };
    try {
      const via = `127.0.0.1:${socks.port}`;
      assert.deepEqual(
        await runChild(echoScript(echo.url + "/all"), [
          "--allow-net=127.0.0.1",
          ENV_FLAG,
        ], { ALL_PROXY: `socks5h://${via}` }),
        ok,
      );
      assert.deepEqual(
        await runChild(
          echoScript(secure.url + "/https", { caCerts: [ca] }),
          ["--allow-net=127.0.0.1", ENV_FLAG],
          { HTTPS_PROXY: `socks5://${via}` },
        ),
        ok,
      );
      assert.equal(echo.connections + secure.connections, 2);
    } finally {
      await secure.close();
      await echo.close();
      await socks.close();
    }
  },
});

Deno.test("env proxy: without --allow-env the variables are not read, and nothing crashes", async () => {
  const proxy = startConnectProxy();
  const echo = await startWsEchoServer();
  try {
    const result = await runChild(
      echoScript(echo.url + "/noenv"),
      ["--allow-net=127.0.0.1"],
      { HTTP_PROXY: proxy.url, ALL_PROXY: proxy.url },
    );
    assert.deepEqual(result, { ok: true, reply: "from child" });
    assert.equal(proxy.requests.length, 0, "no proxy without env permission");
  } finally {
    await echo.close();
    await proxy.close();
  }
});

Deno.test("permissions: a host outside --allow-net fails with PERMISSION_DENIED naming the flag", async () => {
  // In this process: 127.0.0.2 is not in the test task's --allow-net.
  await assert.rejects(
    connect("ws://127.0.0.2:9/"),
    wsError("PERMISSION_DENIED", (e) => {
      assert.match(e.message, /--allow-net/);
      assert.match(e.message, /127\.0\.0\.2:9/);
    }),
  );
  // The proxy's host needs the permission too.
  await assert.rejects(
    connect("ws://127.0.0.1:9/", { proxy: "http://127.0.0.2:3128" }),
    wsError("PERMISSION_DENIED", (e) => assert.match(e.message, /--allow-net/)),
  );
  // A child allowed only 127.0.0.1 connecting to localhost.
  const echo = await startWsEchoServer();
  try {
    const result = await runChild(
      echoScript(`ws://localhost:${echo.port}/`),
      ["--allow-net=127.0.0.1"],
    );
    assert.equal(result.ok, false);
    assert.equal(result.code, "PERMISSION_DENIED");
    assert.match(result.message, /--allow-net/);
    assert.match(result.message, /localhost/);
    assert.equal(echo.connections, 0);
  } finally {
    await echo.close();
  }
});

// ------------------------------------------------------------ Unix socket

Deno.test("unix socket: the URL gives Host and path; the socket gives the bytes", async () => {
  // The test task cannot use a Unix socket: Deno 2.9 wants --allow-read,
  // --allow-write and --allow-net=unix:PATH for it, so a child with exactly
  // those flags runs both ends.
  const path = `/tmp/wsnc-test-${crypto.randomUUID()}.sock`;
  const script = `
import { connect } from ${JSON.stringify(MOD)};
import { ScriptedPeer } from ${JSON.stringify(SCRIPTED)};
const path = ${JSON.stringify(path)};
const urls = ["ws://example.test:8080/chat?room=1", "ws://example.test:80/", "ws://user:pw@[::1]/v6"];
const listener = Deno.listen({ transport: "unix", path });
const requests = [];
const serving = (async () => {
  for (let i = 0; i < urls.length; i++) {
    const peer = new ScriptedPeer(await listener.accept(), i);
    const req = await peer.readRequest();
    requests.push([req.path, req.headers.get("host"), req.headers.get("authorization")]);
    await peer.accept();
    await peer.echoUntilClose();
    await peer.end();
  }
})();
const results = [];
try {
  for (const url of urls) {
    const conn = await connect(url, { unixSocket: path });
    await conn.send("over unix");
    const reply = await conn.receive();
    await conn.close();
    results.push([reply, (await conn.closed).wasClean]);
  }
  await serving;
} finally {
  listener.close(); // Deno removes the socket file on close
  try {
    Deno.removeSync(path);
  } catch { /* already removed */ }
}
console.log(JSON.stringify({ requests, results }));
`;
  const out = await runChild(script, [
    `--allow-read=${path}`,
    `--allow-write=${path}`,
    `--allow-net=unix:${path}`,
  ]);
  assert.deepEqual(out.requests, [
    ["/chat?room=1", "example.test:8080", null],
    ["/", "example.test", null],
    ["/v6", "[::1]", basic("user", "pw")],
  ]);
  assert.deepEqual(out.results, [
    ["over unix", true],
    ["over unix", true],
    ["over unix", true],
  ]);
});

Deno.test("unix socket: a path outside --allow-read/--allow-write is PERMISSION_DENIED", async () => {
  await assert.rejects(
    connect("ws://localhost/", { unixSocket: "/nonexistent-wsnc/x.sock" }),
    wsError(
      "PERMISSION_DENIED",
      (e) => assert.match(e.message, /--allow-(read|write)/),
    ),
  );
});

// ------------------------------------------------------------- IPv6, Host

Deno.test("ipv6: ws://[::1]:port and wss://[::1]:port with Host, path and query", async () => {
  const { ca } = testCerts();
  const { server, requests } = routedServer({}, { hostname: "::1" });
  const tls = routedServer({}, { hostname: "::1", tls: true });
  try {
    const url = await echoOnce(`ws://[::1]:${server.port}/six?a=1&b=%2F`);
    assert.equal(url.hostname, "[::1]");
    await echoOnce(`wss://[::1]:${tls.server.port}/secure`, { caCerts: [ca] });
    assert.deepEqual(requests.map((r) => [r.path, r.host]), [
      ["/six?a=1&b=%2F", `[::1]:${server.port}`],
    ]);
    assert.deepEqual(tls.requests.map((r) => [r.path, r.host]), [
      ["/secure", `[::1]:${tls.server.port}`],
    ]);
  } finally {
    await finish(tls.server);
    await finish(server);
  }
});

Deno.test("host: non-default ports are in Host; http(s) URLs map to ws(s)", async () => {
  const { server, requests } = routedServer({});
  try {
    await echoOnce(`http://localhost:${server.port}/p/a%20th?q=%C3%A9#`);
    assert.deepEqual(requests.map((r) => [r.path, r.host]), [
      ["/p/a%20th?q=%C3%A9", `localhost:${server.port}`],
    ]);
  } finally {
    await finish(server);
  }
});

// ------------------------------------------------------------------- TLS

Deno.test("tls: wss:// with the test CA works; without it or with an untrusted cert it is TLS_ERROR", async () => {
  const { ca, untrustedCert, untrustedKey } = testCerts();
  const wsTls = await startWsEchoServer({ tls: true, hostname: "localhost" });
  const denoTls = await startDenoEchoServer({ tls: true });
  const untrusted = await startWsEchoServer({
    tls: { cert: untrustedCert, key: untrustedKey },
    hostname: "localhost",
  });
  try {
    await echoOnce(wsTls.url + "/a", { caCerts: [ca] });
    await echoOnce(denoTls.url + "/b", { caCerts: [ca] }); // 127.0.0.1 SAN
    await assert.rejects(connect(wsTls.url), wsError("TLS_ERROR"));
    await assert.rejects(
      connect(untrusted.url, { caCerts: [ca] }),
      wsError("TLS_ERROR"),
    );
    assert.equal(untrusted.connections, 0);
  } finally {
    await untrusted.close();
    await denoTls.close();
    await wsTls.close();
  }
});

Deno.test("tls: a failed handshake closes the TCP connection", async () => {
  // A server that answers the ClientHello with plain HTTP: the handshake
  // fails at once and the client must close its socket.
  const server = startScriptedServer(async (peer) => {
    const [byte] = await peer.readBytes(1);
    assert.equal(byte, 0x16);
    await peer.writeRaw(
      "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
    );
    await peer.readUntilEof(5000); // throws if the client keeps the socket
  });
  await assert.rejects(
    within(5000, "connect", connect(`wss://127.0.0.1:${server.port}/`)),
    wsError("TLS_ERROR"),
  );
  await finish(server);
});

// ------------------------------------------------- timeouts, cancellation

/**
 * A TCP server that never answers: it records the first byte of each
 * connection (0x16 starts a TLS ClientHello, "G" an HTTP GET, "C" a
 * CONNECT), reports it, and then requires the client to drop the connection
 * within 5 s. With `clientDrops: false` it ends the connection itself once
 * `release` settles instead (see TLS_CLOSE_LIMITATION).
 */
function silentServer(
  onFirstByte?: (byte: number) => void,
  opts: { clientDrops?: boolean; release?: Promise<unknown> } = {},
): ScriptedServer {
  return startScriptedServer(async (peer) => {
    const [byte] = await peer.readBytes(1);
    onFirstByte?.(byte);
    if (opts.clientDrops ?? true) {
      await peer.readUntilEof(5000); // throws if the client never gives up
    } else {
      await opts.release;
    }
  });
}

/**
 * LIMITATION of Deno 2.9.6, not of wsnc: closing a `Deno.TlsConn` whose
 * handshake is pending cancels the handshake() promise but does not close
 * the TCP socket; Deno keeps it until the peer answers or closes (a peer
 * that never answers pins it until the process exits). Neither
 * `Deno.connect`'s signal nor `closeWrite()` helps. So the TLS-stage tests
 * check that connect() settles promptly with TIMEOUT / ABORTED, and the
 * server closes the connection itself; the ignored test below checks the
 * socket and will pass once Deno closes it.
 */
const TLS_CLOSE_LIMITATION = true;

Deno.test("timeout: connectTimeout against a server that accepts TCP but never answers the upgrade", async () => {
  const first: number[] = [];
  const server = silentServer((b) => first.push(b));
  await assert.rejects(
    within(
      5000,
      "connect",
      connect(server.url + "/x", { connectTimeout: 200 }),
    ),
    wsError("TIMEOUT", (e) => assert.match(e.message, /timed out/)),
  );
  await finish(server);
  assert.deepEqual(first, [0x47], "the request was sent"); // "G"
});

for (const clientDrops of [false, true]) {
  Deno.test({
    name: `timeout: connectTimeout covers the TLS handshake${
      clientDrops ? " and closes the TCP connection" : ""
    }`,
    // See TLS_CLOSE_LIMITATION: Deno keeps the socket of an unfinished handshake.
    ignore: clientDrops && TLS_CLOSE_LIMITATION,
    fn: async () => {
      const first: number[] = [];
      const release = Promise.withResolvers<void>();
      const server = silentServer((b) => first.push(b), {
        clientDrops,
        release: release.promise,
      });
      try {
        await assert.rejects(
          within(
            5000,
            "connect",
            connect(`wss://127.0.0.1:${server.port}/`, { connectTimeout: 200 }),
          ),
          wsError("TIMEOUT"),
        );
      } finally {
        release.resolve();
      }
      await finish(server);
      assert.deepEqual(first, [0x16], "a TLS ClientHello was sent");
    },
  });
}

Deno.test("timeout: connectTimeout covers a proxy that never answers CONNECT", async () => {
  const first: number[] = [];
  const proxy = silentServer((b) => first.push(b));
  await assert.rejects(
    within(
      5000,
      "connect",
      connect("ws://127.0.0.1:9/", {
        proxy: `http://127.0.0.1:${proxy.port}`,
        connectTimeout: 200,
      }),
    ),
    wsError("TIMEOUT"),
  );
  await finish(proxy);
  assert.deepEqual(first, [0x43], "CONNECT was sent"); // "C"
});

/**
 * A fake clock for the one timer that matters: while `fn` runs, a timer of
 * exactly DEFAULT_CONNECT_TIMEOUT ms fires after 150 ms instead, so the
 * tests of the default need not wait 30 s. Every other timer is untouched.
 */
async function withShortDefault<T>(fn: () => Promise<T>): Promise<T> {
  const real = globalThis.setTimeout;
  const short = (cb: () => void, ms?: number) =>
    real(cb, ms === DEFAULT_CONNECT_TIMEOUT ? 150 : ms);
  globalThis.setTimeout = short as typeof setTimeout;
  try {
    return await fn();
  } finally {
    globalThis.setTimeout = real;
  }
}

/**
 * Silent servers at each stage of the upgrade: TCP accepted and nothing
 * said; TLS done and no HTTP answer; half a response head, then nothing.
 */
const SILENT_STAGES: [
  string,
  ScriptedServerOptions,
  (p: ScriptedPeer) => Promise<void>,
][] = [
  ["TCP accepted, no answer", {}, async (peer) => {
    await peer.readUntilEof(5000);
  }],
  ["TLS accepted, no HTTP answer", { tls: true }, async (peer) => {
    await peer.readRequest();
    await peer.readUntilEof(5000);
  }],
  ["a partial response head, then nothing", {}, async (peer) => {
    await peer.readRequest();
    await peer.writeRaw("HTTP/1.1 101 Switching Protocols\r\nUpgrade: webs");
    await peer.readUntilEof(5000);
  }],
];

for (const [stage, serverOptions, handler] of SILENT_STAGES) {
  for (const given of [200, undefined]) {
    Deno.test(
      `timeout: ${stage}: ${
        given === undefined
          ? `the default connectTimeout (${DEFAULT_CONNECT_TIMEOUT} ms, on a fake clock)`
          : `connectTimeout ${given}`
      } ends connect() and drops the connection`,
      async () => {
        const { ca } = testCerts();
        const server = startScriptedServer(handler, serverOptions);
        const err = await withShortDefault(() =>
          expectReject(
            within(
              5000,
              "connect",
              connect(server.url + "/silent", {
                caCerts: [ca],
                connectTimeout: given,
              }),
            ),
            "TIMEOUT",
          )
        );
        assert.match(
          err.message,
          given === undefined
            ? new RegExp(
              `after ${DEFAULT_CONNECT_TIMEOUT} ms \\(the default connectTimeout\\)`,
            )
            : /after 200 ms \(connectTimeout\)/,
        );
        await finish(server); // each handler requires the client to drop it
      },
    );
  }
}

Deno.test("timeout: connectTimeout 0 means no limit (the default timer is not armed)", async () => {
  const reached = Promise.withResolvers<number>();
  const server = silentServer(reached.resolve);
  const controller = new AbortController();
  const attempt = withShortDefault(() =>
    connect(server.url, { connectTimeout: 0, signal: controller.signal })
  );
  await within(5000, "request sent", reached.promise);
  // Past the fake clock's 150 ms, connect() is still waiting.
  await new Promise((r) => setTimeout(r, 400));
  controller.abort(new Error("enough"));
  await expectReject(within(5000, "connect", attempt), "ABORTED");
  await finish(server);
  await assert.rejects(
    connect(server.url, { connectTimeout: -1 }),
    wsError("INVALID_ARGUMENT"),
  );
});

Deno.test("timeout: connectTimeout does not limit an open connection", async () => {
  const { server } = routedServer({
    "/slow": async (peer) => {
      await peer.accept();
      const msg = await peer.readMessage();
      await new Promise((r) => setTimeout(r, 800)); // longer than connectTimeout
      await peer.sendFrame({ opcode: 1, payload: msg!.payload });
      await peer.echoUntilClose();
    },
  });
  try {
    await echoOnce(server.url + "/slow", { connectTimeout: 500 });
  } finally {
    await finish(server);
  }
});

Deno.test("abort: a signal aborted before connect makes no connection", async () => {
  const { server, requests } = routedServer({});
  const reason = new Error("not now");
  await assert.rejects(
    connect(server.url + "/never", { signal: AbortSignal.abort(reason) }),
    wsError("ABORTED", (e) => assert.equal(e.cause, reason)),
  );
  // The next connection is the server's first one.
  await echoOnce(server.url + "/probe");
  assert.deepEqual(requests.map((r) => r.path), ["/probe"]);
  assert.equal(server.connections, 1);
  await finish(server);
});

/** Connects to `url` and aborts as soon as the server has read `stage`'s first byte. */
async function abortAtFirstByte(
  url: string,
  server: ScriptedServer,
  reached: Promise<number>,
  controller: AbortController,
  options: ConnectOptions = {},
): Promise<number> {
  const reason = new Error("stop");
  const attempt = connect(url, { ...options, signal: controller.signal });
  const byte = await within(5000, "first byte", reached);
  controller.abort(reason);
  await assert.rejects(
    within(5000, "connect after abort", attempt),
    wsError("ABORTED", (e) => assert.equal(e.cause, reason)),
  );
  await finish(server);
  return byte;
}

Deno.test("abort: during the TLS handshake", async () => {
  const reached = Promise.withResolvers<number>();
  const controller = new AbortController();
  // See TLS_CLOSE_LIMITATION: the server ends the connection after the abort.
  const server = silentServer(reached.resolve, {
    clientDrops: false,
    release: new Promise((r) =>
      controller.signal.addEventListener("abort", r, { once: true })
    ),
  });
  const byte = await abortAtFirstByte(
    `wss://127.0.0.1:${server.port}/`,
    server,
    reached.promise,
    controller,
  );
  assert.equal(byte, 0x16);
});

Deno.test("abort: while waiting for the 101", async () => {
  const reached = Promise.withResolvers<number>();
  const server = silentServer(reached.resolve);
  const byte = await abortAtFirstByte(
    server.url,
    server,
    reached.promise,
    new AbortController(),
  );
  assert.equal(byte, 0x47);
});

Deno.test("abort: while waiting for the proxy's CONNECT answer", async () => {
  const reached = Promise.withResolvers<number>();
  const proxy = silentServer(reached.resolve);
  const byte = await abortAtFirstByte(
    "ws://127.0.0.1:9/",
    proxy,
    reached.promise,
    new AbortController(),
    { proxy: `http://127.0.0.1:${proxy.port}` },
  );
  assert.equal(byte, 0x43);
});

Deno.test("abort: while open, a pending recv() rejects and the connection ends", async () => {
  const { server } = routedServer({
    "/open": async (peer) => {
      await peer.accept();
      await peer.readUntilEof(5000); // the abort drops the connection
    },
  });
  const controller = new AbortController();
  const conn = await connect(server.url + "/open", {
    signal: controller.signal,
  });
  const pending = conn.recv(new Uint8Array(16));
  controller.abort(new Error("user abort"));
  await assert.rejects(within(5000, "recv", pending), wsError("ABORTED"));
  assert.deepEqual(await within(5000, "closed", conn.closed), {
    code: 1006,
    reason: "",
    wasClean: false,
  });
  await assert.rejects(conn.send("late"), WebSocketError);
  await finish(server);
});

Deno.test("abort: while perform() waits for frames", async () => {
  const opened = Promise.withResolvers<void>();
  const { server } = routedServer({
    "/perform": async (peer) => {
      await peer.accept();
      await peer.sendFrame({ opcode: 1, payload: "one" });
      await peer.readUntilEof(5000);
    },
  });
  const controller = new AbortController();
  let frames = 0;
  const done = perform(server.url + "/perform", {
    signal: controller.signal,
    onFrame: () => {
      frames++;
      opened.resolve();
    },
  });
  await within(5000, "first frame", opened.promise);
  controller.abort();
  await assert.rejects(within(5000, "perform", done), wsError("ABORTED"));
  assert.equal(frames, 1);
  await finish(server);
});
