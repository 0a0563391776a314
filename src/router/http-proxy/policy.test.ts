import assert from "node:assert/strict";
import { test } from "node:test";
import { type IP, parseIP } from "../../api/ip.js";
import { parseHttpProxyDestination } from "../config/proxy.js";
import { decideHost, needsAddresses } from "./policy.js";
import { parseHost } from "./target.js";

const ips = (...s: string[]): IP[] => s.map((x) => parseIP(x)!);

test("first match wins; *.domain covers the domain and subdomains; default deny", () => {
  const p = parseHttpProxyDestination(
    "!bad.corp.example\n*.corp.example\nwww.example.com\n10.0.0.0/8\n!10.1.0.0/16\n",
  );
  const table: [string, string[], boolean][] = [
    ["corp.example", ["192.0.2.1"], true],
    ["a.b.corp.example", ["192.0.2.1"], true],
    ["BAD.corp.example.", ["192.0.2.1"], false],
    ["notcorp.example", ["192.0.2.1"], false],
    ["www.example.com", ["192.0.2.1"], true],
    ["example.com", ["192.0.2.1"], false],
    ["sub.www.example.com", ["192.0.2.1"], false],
    ["10.1.2.3", [], true], // 10/8 comes first
    ["11.0.0.1", [], false],
    ["[::ffff:10.9.9.9]", [], true],
    ["other.example", ["10.2.3.4"], true], // allowed through its address
    ["other.example", ["10.2.3.4", "192.0.2.1"], false], // every address must be allowed
    ["other.example", [], false],
  ];
  for (const [target, addrs, allow] of table) {
    assert.equal(decideHost(p, parseHost(target), ips(...addrs)).allow, allow, `${target} ${addrs}`);
  }
});

test("IP rules apply to the addresses a name resolves to", () => {
  const p = parseHttpProxyDestination("!*.example.com\n!192.168.1.0/24\n*");
  assert.equal(decideHost(p, parseHost("www.example.com"), ips("8.8.8.8")).allow, false);
  assert.equal(decideHost(p, parseHost("innocent.test"), ips("192.168.1.7")).allow, false);
  assert.equal(decideHost(p, parseHost("innocent.test"), ips("::ffff:192.168.1.7")).allow, false);
  assert.equal(decideHost(p, parseHost("innocent.test"), ips("192.168.2.7")).allow, true);
  const v = decideHost(p, parseHost("innocent.test"), ips("192.168.2.7", "192.168.1.1"));
  assert.equal(v.allow, false);
  assert.equal(v.rule?.line, 2);
});

test("names decided by name rules alone need no lookup", () => {
  const p = parseHttpProxyDestination("!*.example.com\nok.test\n!192.168.1.0/24\n*");
  assert.equal(needsAddresses(p, "www.example.com"), false);
  assert.equal(needsAddresses(p, "ok.test"), false);
  assert.equal(needsAddresses(p, "other.test"), true);
  assert.equal(needsAddresses(parseHttpProxyDestination("a.test"), "b.test"), false);
  // IP rules with the same action as the name's verdict cannot change it.
  assert.equal(needsAddresses(parseHttpProxyDestination("10.0.0.0/8\nok.test"), "ok.test"), false);
  assert.equal(needsAddresses(parseHttpProxyDestination("10.0.0.0/8\nok.test"), "other.test"), true);
  assert.equal(needsAddresses(parseHttpProxyDestination("!10.0.0.0/8\nok.test"), "other.test"), false);
});
