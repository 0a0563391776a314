// The CLI contract, exercised by spawning the compiled entry point (found beside this file, so
// it works in .build/<x>/ and in dist/), plus the exported functions directly.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { checkHttpProxy, parseReadTimeoutOption, parseResolveOptions, renderRouter } from "./cli.js";
import { staticResolver } from "./http-proxy/resolver.js";

const entry = join(dirname(fileURLToPath(import.meta.url)), "cli-entry.js");

function run(
  args: string[],
  env: Record<string, string>,
): { code: number | null; stdout: string; stderr: string } {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("EGRESS_")));
  const r = spawnSync(process.execPath, [entry, "router", ...args], {
    env: { ...clean, EGRESS_LOG_LEVEL: "silent", ...env },
    encoding: "utf8",
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const SEED = {
  EGRESS_ROUTER_MODE: "init",
  EGRESS_SOURCE: "192.168.12.99/24",
  EGRESS_GATEWAY: "192.168.12.1",
  EGRESS_DESTINATION:
    "80   tcp 203.0.113.25\n8080 tcp 203.0.113.26 80\n8443 tcp 203.0.113.26 443\n203.0.113.27\n",
};

test("render --output json: redirect mode", () => {
  const r = run(["render", "--output", "json"], SEED);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    mode: "init",
    source: "192.168.12.99",
    prefixLength: 24,
    gateway: "192.168.12.1",
    rules: [
      { port: 80, protocol: "tcp", destination: "203.0.113.25", remotePort: 80 },
      { port: 8080, protocol: "tcp", destination: "203.0.113.26", remotePort: 80 },
      { port: 8443, protocol: "tcp", destination: "203.0.113.26", remotePort: 443 },
    ],
    fallback: "203.0.113.27",
  });
  const bare = run(["render", "--output", "json"], {
    ...SEED,
    EGRESS_SOURCE: "192.168.12.99",
    EGRESS_DESTINATION: "203.0.113.25",
  });
  assert.deepEqual(JSON.parse(bare.stdout), {
    mode: "init",
    source: "192.168.12.99",
    prefixLength: null,
    gateway: "192.168.12.1",
    rules: [],
    fallback: "203.0.113.25",
  });
});

test("render --output json: dns-proxy mode", () => {
  const r = run(["render", "--output", "json"], {
    EGRESS_ROUTER_MODE: "dns-proxy",
    EGRESS_DNS_PROXY_DESTINATION: "80 172.16.12.11\n100 Example.com 8080\n",
  });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    mode: "dns-proxy",
    proxies: [
      { port: 80, target: "172.16.12.11", targetPort: 80 },
      { port: 100, target: "example.com", targetPort: 8080 },
    ],
  });
});

test("render without --output prints the nftables script", () => {
  const r = run(["render"], SEED);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^table ip egress-router \{$/m);
  assert.match(r.stdout, /tcp dport 8443 dnat to 203\.0\.113\.26:443/);
  assert.equal(r.stdout, renderRouter(SEED, "nft"));
});

test("invalid input: exit 1, nothing on stdout, one stderr line quoting the value", () => {
  const cases: [Record<string, string>, string][] = [
    [{ ...SEED, EGRESS_DESTINATION: "80 tcp 203.0.113.25\n70000 tcp 203.0.113.26" }, '"70000"'],
    [{ ...SEED, EGRESS_DESTINATION: "203.0.113.27\n80 tcp 203.0.113.25" }, '"203.0.113.27"'],
    [{ ...SEED, EGRESS_SOURCE: "192.168.12.999" }, '"192.168.12.999"'],
    [{ ...SEED, EGRESS_ROUTER_MODE: "redirect" }, '"redirect"'],
    [{ EGRESS_ROUTER_MODE: "dns-proxy", EGRESS_DNS_PROXY_DESTINATION: "53 1.2.3.4\n53 5.6.7.8" }, '"53"'],
  ];
  cases.forEach(([env, quoted], i) => {
    // Each process start costs ~0.3 s: the text output is checked for the first case only.
    for (const args of i === 0
      ? [["render", "--output", "json"], ["render"]]
      : [["render", "--output", "json"]]) {
      const r = run(args, env);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, "");
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
      assert.ok(r.stderr.includes(quoted), r.stderr);
    }
  });
  const line = run(["render"], {
    ...SEED,
    EGRESS_DESTINATION: "# c\n\n80 tcp 203.0.113.25\n80 udp 203.0.113.26",
  });
  assert.match(line.stderr, /EGRESS_DESTINATION line 4: .*"80"/);
});

test("http-proxy --check prints allow or deny; invalid configuration exits 1 quoting the line", async () => {
  const env = { EGRESS_HTTP_PROXY_DESTINATION: "!*.example.com\n!192.168.1.0/24\n*\n" };
  const cases: [string[], string][] = [
    [["--check", "www.example.com"], "deny"],
    [["--check", "EXAMPLE.com."], "deny"],
    [["--check", "192.168.1.20"], "deny"],
    [["--check", "192.168.2.20"], "allow"],
    [["--check", "0xc0a80114"], "deny"],
    [["--check", "inside.test", "--resolve", "inside.test=192.168.1.5"], "deny"],
    [["--check", "outside.test", "--resolve", "outside.test=10.0.0.5"], "allow"],
  ];
  // One process per verdict kind; the rest of the table goes through the exported function.
  for (const [args, want] of [cases[0]!, cases[3]!, cases[5]!]) {
    const r = run(["http-proxy", ...args], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${want}\n`, args.join(" "));
  }
  for (const [args, want] of cases) {
    const resolve = args[2] === "--resolve" ? parseResolveOptions([args[3]!]) : {};
    assert.equal(
      (await checkHttpProxy(env, args[1]!, staticResolver(resolve))).verdict,
      want,
      args.join(" "),
    );
  }
  const bad = run(["http-proxy", "--check", "a.test"], {
    EGRESS_HTTP_PROXY_DESTINATION: "a.test\n*\n!b.test",
  });
  assert.equal(bad.code, 1);
  assert.equal(bad.stdout, "");
  assert.match(bad.stderr, /line 2: .*"\*"/);
});

test("checkHttpProxy and --resolve parsing", async () => {
  assert.deepEqual(parseResolveOptions(["A.test.=10.0.0.1,10.0.0.2", "a.test=10.0.0.3"]), {
    "a.test": ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
  });
  assert.throws(() => parseResolveOptions(["nope"]));
  const env = { EGRESS_HTTP_PROXY_DESTINATION: "10.0.0.0/8\nok.test" };
  const r = staticResolver({ "in.test": ["10.1.1.1"], "out.test": ["11.1.1.1"] });
  assert.equal((await checkHttpProxy(env, "in.test", r)).verdict, "allow");
  assert.equal((await checkHttpProxy(env, "out.test", r)).verdict, "deny");
  assert.equal((await checkHttpProxy(env, "missing.test", r)).verdict, "deny");
  assert.equal((await checkHttpProxy(env, "ok.test", r)).verdict, "allow");
  assert.equal((await checkHttpProxy(env, "[::ffff:10.0.0.1]", r)).verdict, "allow");
});

test("http-proxy --read-timeout takes whole seconds; anything else exits 1 quoting the value", () => {
  assert.equal(parseReadTimeoutOption("900"), 900_000);
  assert.equal(parseReadTimeoutOption("0"), 0);
  for (const bad of ["", "-1", "1.5", "15m", "1e3", "9999999999"]) {
    assert.throws(() => parseReadTimeoutOption(bad), new RegExp(`--read-timeout .*${JSON.stringify(bad)}`));
  }
  const r = run(["http-proxy", "--port", "0", "--listen", "127.0.0.1", "--read-timeout", "15m"], {
    EGRESS_HTTP_PROXY_DESTINATION: "*",
  });
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /--read-timeout expects whole seconds \(0 for none\): "15m"/);
});
