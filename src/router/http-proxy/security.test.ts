// Security suite for the HTTP proxy: real origin servers on 127.0.0.2 ("allowed") and 127.0.0.3
// ("denied"), a fake resolver mapping names onto them, and raw requests that try every known way
// to smuggle a denied destination past an allow/deny list. The denied origin must see zero
// connections through all of it.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { parseHttpProxyDestination } from "../config/proxy.js";
import type { HostResolver } from "./resolver.js";
import { staticResolver } from "./resolver.js";
import { type RunningHttpProxy, startHttpProxy } from "./server.js";
import { absoluteGet, connectThrough, type Origin, rawExchange, startOrigin } from "./testing.js";

let allowed: Origin;
let denied: Origin;
/** Policy A: deny the denied address (and a domain), allow everything else. */
let denyList: RunningHttpProxy;
/** Policy B: allow only the allowed address and one name. */
let allowList: RunningHttpProxy;
/** Policy C: name rules only, so only name normalization protects. */
let nameOnly: RunningHttpProxy;
/** Policy A with a resolver whose answer changes between calls (DNS rebinding). */
let rebinding: RunningHttpProxy;

const names = {
  "allowed.example": ["127.0.0.2"],
  "evil.example": ["127.0.0.3"],
  "mixed.example": ["127.0.0.2", "127.0.0.3"],
  "mapped.example": ["::ffff:127.0.0.3"],
  "www.denied.example": ["127.0.0.3"],
  "denied.example": ["127.0.0.3"],
};

before(async () => {
  allowed = await startOrigin("127.0.0.2", "allowed");
  denied = await startOrigin("127.0.0.3", "denied");
  const resolver = staticResolver(names);
  const common = { resolver, port: 0, host: "127.0.0.1", connectTimeoutMs: 2000 };
  denyList = await startHttpProxy({
    ...common,
    policy: parseHttpProxyDestination("!127.0.0.3\n!*.denied.example\n*"),
  });
  allowList = await startHttpProxy({
    ...common,
    policy: parseHttpProxyDestination("127.0.0.2\nallowed.example"),
  });
  nameOnly = await startHttpProxy({
    ...common,
    policy: parseHttpProxyDestination("!*.denied.example\n!evil.example\n*"),
  });
  let calls = 0;
  const flipping: HostResolver = {
    async resolve() {
      calls++;
      return resolver.resolve(calls % 2 === 1 ? "allowed.example" : "evil.example");
    },
  };
  rebinding = await startHttpProxy({
    ...common,
    resolver: flipping,
    policy: parseHttpProxyDestination("!127.0.0.3\n*"),
  });
});

after(async () => {
  await Promise.all([denyList, allowList, nameOnly, rebinding].filter(Boolean).map((p) => p.close()));
  await Promise.all([allowed, denied].filter(Boolean).map((o) => o.close()));
  // Checked last, after every test in the file ran.
});

describe("HTTP proxy security", () => {
  test("sanity: the allowed origin is reachable, the denied one is refused by address and by name", async () => {
    for (const proxy of [denyList, allowList]) {
      const ok = await rawExchange(proxy.port, absoluteGet(`http://127.0.0.2:${allowed.port}/x`));
      assert.equal(ok.status, 200);
      assert.match(ok.body, /allowed GET \/x 0/);
      const no = await rawExchange(proxy.port, absoluteGet(`http://127.0.0.3:${denied.port}/x`));
      assert.equal(no.status, 403);
    }
    assert.equal(
      (await rawExchange(denyList.port, absoluteGet(`http://evil.example:${denied.port}/`))).status,
      403,
    );
    assert.equal(
      (await rawExchange(allowList.port, absoluteGet(`http://allowed.example:${allowed.port}/`))).status,
      200,
    );
  });

  const d = (): number => denied.port;
  const literalTricks: [string, () => string][] = [
    ["decimal", () => `http://2130706435:${d()}/`],
    ["octal", () => `http://0177.0.0.3:${d()}/`],
    ["octal last octet", () => `http://127.0.0.03:${d()}/`],
    ["hex", () => `http://0x7f000003:${d()}/`],
    ["dotted hex", () => `http://0x7f.0x0.0x0.0x3:${d()}/`],
    ["short form", () => `http://127.3:${d()}/`],
    ["IPv4-mapped IPv6", () => `http://[::ffff:127.0.0.3]:${d()}/`],
    ["IPv4-mapped IPv6 hex", () => `http://[::ffff:7f00:3]:${d()}/`],
    ["IPv4-compatible IPv6", () => `http://[::127.0.0.3]:${d()}/`],
    ["trailing dot", () => `http://127.0.0.3.:${d()}/`],
    ["userinfo", () => `http://allowed.example@127.0.0.3:${d()}/`],
    ["userinfo with port", () => `http://127.0.0.2:${allowed.port}@127.0.0.3:${d()}/`],
    ["backslash", () => `http://127.0.0.2\\@127.0.0.3:${d()}/`],
    ["percent-encoded octet", () => `http://127.0.0.%33:${d()}/`],
    ["percent-encoded all", () => `http://%31%32%37%2e%30%2e%30%2e%33:${d()}/`],
    ["name into denied range", () => `http://evil.example:${d()}/`],
    ["mixed-case name into denied range", () => `http://EvIl.ExAmPlE.:${d()}/`],
    ["name with one denied address", () => `http://mixed.example:${d()}/`],
    ["name to an IPv4-mapped denied address", () => `http://mapped.example:${d()}/`],
    ["domain rule, mixed case, trailing dot", () => `http://WWW.Denied.Example.:${d()}/`],
    ["apex of a denied domain", () => `http://denied.example:${d()}/`],
    ["upper-case scheme", () => `HTTP://127.0.0.3:${d()}/`],
  ];
  for (const [name, url] of literalTricks) {
    test(`absolute-form GET: ${name}`, async () => {
      for (const proxy of [denyList, allowList]) {
        const r = await rawExchange(proxy.port, absoluteGet(url()));
        assert.ok(r.status === 400 || r.status === 403, `${url()} → ${r.status}`);
      }
    });
    test(`CONNECT: ${name}`, async () => {
      const u = url();
      const authority = u.replace(/^http:\/\//i, "").replace(/\/$/, "");
      for (const proxy of [denyList, allowList]) {
        const r = await connectThrough(
          proxy.port,
          authority,
          null,
          "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert.ok(r.status === 400 || r.status === 403, `${authority} → ${r.status}`);
      }
    });
  }

  test("name rules are compared case-insensitively without the trailing dot", async () => {
    for (const host of ["EVIL.example", "evil.example.", "Www.Denied.EXAMPLE.", "denied.example"]) {
      const r = await rawExchange(nameOnly.port, absoluteGet(`http://${host}:${d()}/`));
      assert.equal(r.status, 403, host);
      const c = await connectThrough(nameOnly.port, `${host}:${d()}`, null, "");
      assert.equal(c.status, 403, host);
    }
  });

  test("CONNECT and Host must agree", async () => {
    const c = await connectThrough(denyList.port, `127.0.0.2:${allowed.port}`, `127.0.0.3:${d()}`, "");
    assert.equal(c.status, 400);
    const ok = await connectThrough(
      denyList.port,
      `127.0.0.2:${allowed.port}`,
      `127.0.0.2:${allowed.port}`,
      "GET /t HTTP/1.1\r\nHost: 127.0.0.2\r\nConnection: close\r\n\r\n",
    );
    assert.equal(ok.status, 200);
    assert.match(ok.tunneled, /allowed GET \/t/);
  });

  test("absolute URL and Host must agree; two Host headers are refused", async () => {
    const mismatch = await rawExchange(
      denyList.port,
      absoluteGet(`http://127.0.0.2:${allowed.port}/`, `Host: 127.0.0.3:${d()}\r\n`),
    );
    assert.equal(mismatch.status, 400);
    const two = await rawExchange(
      denyList.port,
      absoluteGet(
        `http://127.0.0.2:${allowed.port}/`,
        `Host: 127.0.0.2:${allowed.port}\r\nHost: 127.0.0.3:${d()}\r\n`,
      ),
    );
    assert.equal(two.status, 400);
  });

  test("origin-form requests (the proxy addressed as a server) never route on Host", async () => {
    const r = await rawExchange(
      denyList.port,
      `GET / HTTP/1.1\r\nHost: 127.0.0.3:${d()}\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(r.status, 400);
  });

  test("requests to the proxy itself follow the rules and cannot loop", async () => {
    const self = await rawExchange(allowList.port, absoluteGet(`http://127.0.0.1:${allowList.port}/`));
    assert.equal(self.status, 403);
    // Allowed by "*": forwarded once as origin-form, which the proxy refuses with 400.
    const loop = await rawExchange(denyList.port, absoluteGet(`http://127.0.0.1:${denyList.port}/`));
    assert.equal(loop.status, 400);
  });

  test("non-HTTP ports follow the same rules", async () => {
    assert.equal((await connectThrough(denyList.port, "127.0.0.3:22", null, "")).status, 403);
    assert.equal((await connectThrough(allowList.port, "127.0.0.4:25", null, "")).status, 403);
    assert.equal((await rawExchange(allowList.port, absoluteGet("http://127.0.0.3:6379/"))).status, 403);
  });

  test("DNS rebinding: the proxy connects to the address it checked", async () => {
    for (let i = 0; i < 4; i++) {
      const r = await rawExchange(rebinding.port, absoluteGet(`http://rebind.example:${allowed.port}/r${i}`));
      // Odd lookups answer 127.0.0.2 (allowed, served), even ones 127.0.0.3 (denied, 403).
      assert.ok(r.status === 200 || r.status === 403, String(r.status));
      if (r.status === 200) assert.match(r.body, /allowed GET \/r/);
    }
  });

  test("the denied origin received zero connections", () => {
    assert.equal(denied.connections, 0, JSON.stringify(denied.requests));
    assert.ok(allowed.connections > 0);
  });
});
