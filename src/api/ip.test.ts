import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { canonicalIP, cidrContains, cidrLast, cidrsOverlap, formatIP, parseCIDR, parseIP } from "./ip.js";

test("IPv4 parsing is strict dotted decimal", () => {
  assert.equal(parseIP("192.168.126.10")?.value, 0xc0a87e0an);
  for (const bad of [
    "010.0.0.1",
    "256.1.1.1",
    "1.2.3",
    "1.2.3.4.5",
    "0x7f.0.0.1",
    "1.2.3.4 ",
    "",
    "1..2.3",
  ]) {
    assert.equal(parseIP(bad), undefined, bad);
  }
});

test("IPv6 parsing and RFC 5952 formatting", () => {
  assert.equal(canonicalIP("FD00:10::"), "fd00:10::");
  assert.equal(canonicalIP("::ffff:1.2.3.4"), "::ffff:102:304");
  assert.equal(canonicalIP("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
  assert.equal(canonicalIP("::"), "::");
  assert.equal(canonicalIP("1::2::3"), undefined);
  assert.equal(canonicalIP("12345::"), undefined);
  assert.equal(canonicalIP("1:2:3:4:5:6:7:8:9"), undefined);
});

test("CIDR parsing masks host bits and answers containment", () => {
  const c = parseCIDR("192.168.126.11/18")!;
  assert.equal(formatIP({ family: 4, value: c.network }), "192.168.64.0");
  assert.ok(cidrContains(c, parseIP("192.168.126.10")!));
  assert.ok(!cidrContains(c, parseIP("192.168.128.1")!));
  assert.equal(formatIP({ family: 4, value: cidrLast(c) }), "192.168.127.255");
  assert.equal(parseCIDR("10.0.0.0/33"), undefined);
  assert.equal(parseCIDR("10.0.0.0"), undefined);
  assert.ok(cidrsOverlap(parseCIDR("10.128.0.0/14")!, parseCIDR("10.130.2.0/23")!));
  assert.ok(!cidrsOverlap(parseCIDR("10.128.0.0/23")!, parseCIDR("10.128.2.0/23")!));
});

test("property: format(parse(x)) round-trips for every address", () => {
  fc.assert(
    fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (s) => {
      const ip = parseIP(s);
      assert.ok(ip, s);
      assert.deepEqual(parseIP(formatIP(ip)), ip);
    }),
  );
});
