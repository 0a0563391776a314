import assert from "node:assert/strict";
import { test } from "node:test";
import { formatIP } from "../../api/ip.js";
import { hostNameProblem, looksNumeric, normalizeHostName, parseAddress } from "./host.js";

test("host names: normalization and validation", () => {
  assert.equal(normalizeHostName("WWW.Example.COM."), "www.example.com");
  for (const ok of ["a", "a-b.example", "_srv.example", "x1.y2", "123abc.example", "1.2.3.example"]) {
    assert.equal(hostNameProblem(ok), undefined, ok);
  }
  for (const bad of [
    "",
    "a..b",
    ".a",
    "-a.example",
    "a-.example",
    "a b",
    "a%2e",
    `${"a".repeat(64)}.x`,
    "1.2.3.4",
    "0x7f",
    "10",
  ]) {
    assert.notEqual(hostNameProblem(bad), undefined, bad);
  }
  assert.ok(
    looksNumeric("127.1") && looksNumeric("0x7f000001") && looksNumeric("a.0x") && !looksNumeric("a.b1"),
  );
});

test("IPv4-mapped and IPv4-compatible IPv6 addresses are read as IPv4", () => {
  assert.equal(formatIP(parseAddress("::ffff:127.0.0.3")!), "127.0.0.3");
  assert.equal(formatIP(parseAddress("::ffff:7f00:3")!), "127.0.0.3");
  assert.equal(formatIP(parseAddress("::127.0.0.3")!), "127.0.0.3");
  assert.equal(formatIP(parseAddress("::1")!), "::1");
  assert.equal(formatIP(parseAddress("2001:db8::1")!), "2001:db8::1");
});
