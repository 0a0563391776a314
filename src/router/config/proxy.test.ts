import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatCIDR } from "../../api/ip.js";
import { RouterConfigError } from "./errors.js";
import { parseDnsProxyDestination, parseHttpProxyDestination } from "./proxy.js";

function expectError(fn: () => unknown, line: number | undefined, value: string, detail: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof RouterConfigError, String(e));
    assert.equal(e.line, line, e.message);
    assert.equal(e.value, value, e.message);
    assert.match(e.detail, detail, e.message);
    assert.ok(e.message.includes(JSON.stringify(value)), e.message);
    return true;
  });
}

describe("EGRESS_HTTP_PROXY_DESTINATION", () => {
  test("the seed's example", () => {
    const p = parseHttpProxyDestination("!*.example.com\n!192.168.1.0/24\n*\n");
    assert.deepEqual(
      p.rules.map((r) => [r.action, r.kind, r.value, r.line]),
      [
        ["deny", "domain", "*.example.com", 1],
        ["deny", "cidr", "192.168.1.0/24", 2],
        ["allow", "all", "*", 3],
      ],
    );
  });

  test("every line kind, normalized", () => {
    const p = parseHttpProxyDestination(
      "# allow-list\n192.168.1.1\n10.0.0.7/8\nWWW.Example.COM.\n*.Corp.Example\n!evil.corp.example\n::ffff:10.9.9.9\n2001:db8::/32\n",
    );
    const view = p.rules.map((r) =>
      r.kind === "ip" || r.kind === "cidr"
        ? [r.action, r.kind, formatCIDR(r.cidr)]
        : [r.action, r.kind, r.value],
    );
    assert.deepEqual(view, [
      ["allow", "ip", "192.168.1.1/32"],
      ["allow", "cidr", "10.0.0.0/8"],
      ["allow", "host", "WWW.Example.COM."],
      ["allow", "domain", "*.Corp.Example"],
      ["deny", "host", "evil.corp.example"],
      ["allow", "ip", "10.9.9.9/32"],
      ["allow", "cidr", "2001:db8::/32"],
    ]);
    const host = p.rules[2]!;
    assert.ok(host.kind === "host" && host.name === "www.example.com");
    const domain = p.rules[3]!;
    assert.ok(domain.kind === "domain" && domain.name === "corp.example");
  });

  const invalid: [string, string | undefined, number | undefined, string, RegExp][] = [
    ["unset", undefined, undefined, "", /must be set/],
    ["empty", "\n# x\n", undefined, "\n# x\n", /at least one rule/],
    ["star not last", "*\n!10.0.0.0/8", 1, "*", /must be the last line/],
    ["negated star", "!*", 1, "!*", /not a rule/],
    ["bare bang", "!", 1, "!", /nothing after/],
    ["bad CIDR length", "10.0.0.0/33", 1, "10.0.0.0/33", /invalid CIDR/],
    ["CIDR with bad octet", "10.0.0.300/8", 1, "10.0.0.300/8", /invalid CIDR/],
    ["octal-looking IP", "010.0.0.1", 1, "010.0.0.1", /not a valid IP/],
    ["short IP", "10.1", 1, "10.1", /not a valid IP/],
    ["hex IP", "0x7f000001", 1, "0x7f000001", /not a valid IP/],
    ["wildcard in the middle", "www.*.example.com", 1, "www.*.example.com", /wildcard/],
    ["bad domain", "*.exa_mple..com", 1, "*.exa_mple..com", /invalid domain/],
    ["space inside line", "example.com other.com", 1, "example.com other.com", /one rule per line/],
    ["percent in name", "ex%61mple.com", 1, "ex%61mple.com", /not a valid host name/],
    ["third line bad", "a.example\nb.example\n-bad-.example", 3, "-bad-.example", /not a valid host name/],
  ];
  for (const [name, input, line, value, detail] of invalid) {
    test(`error: ${name}`, () => expectError(() => parseHttpProxyDestination(input), line, value, detail));
  }
});

describe("EGRESS_DNS_PROXY_DESTINATION", () => {
  test("IP and name targets, with and without target port", () => {
    const p = parseDnsProxyDestination(
      "# dns proxy\n80 172.16.12.11\n100 Example.COM. 8080\n8443 10.0.0.1 443\n",
    );
    assert.deepEqual(
      p.map((x) => [x.port, x.target, x.targetPort, x.isName, x.line]),
      [
        [80, "172.16.12.11", 80, false, 2],
        [100, "example.com", 8080, true, 3],
        [8443, "10.0.0.1", 443, false, 4],
      ],
    );
  });
  const invalid: [string, string | undefined, number | undefined, string, RegExp][] = [
    ["unset", undefined, undefined, "", /must be set/],
    ["empty", "", undefined, "", /at least one/],
    ["one field", "80", 1, "80", /invalid line/],
    ["four fields", "80 a.example 80 x", 1, "80 a.example 80 x", /invalid line/],
    ["port 0", "0 a.example", 1, "0", /port must be/],
    ["target port 65536", "80 a.example 65536", 1, "65536", /target port must be/],
    ["duplicate port", "80 a.example\n80 b.example", 2, "80", /duplicate local port.*line 1/],
    ["bad IP", "80 10.0.0.999", 1, "10.0.0.999", /dotted-quad/],
    ["numeric non-canonical", "80 0x0a000001", 1, "0x0a000001", /dotted-quad/],
    ["bad name", "80 bad_name!.example", 1, "bad_name!.example", /not a valid host name/],
  ];
  for (const [name, input, line, value, detail] of invalid) {
    test(`error: ${name}`, () => expectError(() => parseDnsProxyDestination(input), line, value, detail));
  }
});
