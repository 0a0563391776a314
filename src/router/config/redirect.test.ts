import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RouterConfigError } from "./errors.js";
import { parseEgressDestination, parseEgressGateway, parseEgressSource } from "./redirect.js";

const SEED = "80   tcp 203.0.113.25\n8080 tcp 203.0.113.26 80\n8443 tcp 203.0.113.26 443\n203.0.113.27\n";
const CONFIGMAP = `# Egress routes for Project "Test", version 3

80   tcp 203.0.113.25

8080 tcp 203.0.113.26 80
8443 tcp 203.0.113.26 443

# Fallback
203.0.113.27
`;

function expectError(fn: () => unknown, line: number | undefined, value: string, detail: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof RouterConfigError, `expected RouterConfigError, got ${String(e)}`);
    assert.equal(e.line, line, e.message);
    assert.equal(e.value, value, e.message);
    assert.match(e.detail, detail, e.message);
    // The one-line message names the line and quotes the value.
    if (line !== undefined) assert.ok(e.message.includes(`line ${line}`), e.message);
    assert.ok(e.message.includes(JSON.stringify(value)), e.message);
    assert.ok(!e.message.includes("\n"));
    return true;
  });
}

describe("EGRESS_DESTINATION", () => {
  test("the seed's multi-destination example", () => {
    const d = parseEgressDestination(SEED);
    assert.deepEqual(
      d.rules.map((r) => [r.port, r.protocol, r.destination, r.remotePort, r.line]),
      [
        [80, "tcp", "203.0.113.25", 80, 1],
        [8080, "tcp", "203.0.113.26", 80, 2],
        [8443, "tcp", "203.0.113.26", 443, 3],
      ],
    );
    assert.equal(d.fallback, "203.0.113.27");
  });

  test("ConfigMap form: comments and blank lines are skipped, line numbers stay physical", () => {
    const d = parseEgressDestination(CONFIGMAP);
    assert.deepEqual(
      d.rules.map((r) => r.line),
      [3, 5, 6],
    );
    assert.equal(d.fallback, "203.0.113.27");
    assert.deepEqual(parseEgressDestination(SEED.replace(/\n/g, "\r\n")), parseEgressDestination(SEED));
  });

  const valid: [string, string, { rules: [number, string, string, number][]; fallback: string | null }][] = [
    ["single fallback IP", "203.0.113.25", { rules: [], fallback: "203.0.113.25" }],
    [
      "udp with remote port",
      "53 udp 10.1.2.3 5353",
      { rules: [[53, "udp", "10.1.2.3", 5353]], fallback: null },
    ],
    [
      "port bounds",
      "1 tcp 10.0.0.1\n65535 tcp 10.0.0.1 1",
      {
        rules: [
          [1, "tcp", "10.0.0.1", 1],
          [65535, "tcp", "10.0.0.1", 1],
        ],
        fallback: null,
      },
    ],
    [
      "tabs and extra spaces",
      "\t 80 \t tcp   10.0.0.1  \n",
      { rules: [[80, "tcp", "10.0.0.1", 80]], fallback: null },
    ],
    [
      "inline comment",
      "80 tcp 10.0.0.1 # web\n10.0.0.9 # rest",
      { rules: [[80, "tcp", "10.0.0.1", 80]], fallback: "10.0.0.9" },
    ],
    ["trailing comment after fallback", "10.0.0.9\n# done\n\n", { rules: [], fallback: "10.0.0.9" }],
  ];
  for (const [name, input, want] of valid) {
    test(`valid: ${name}`, () => {
      const d = parseEgressDestination(input);
      assert.deepEqual(
        d.rules.map((r) => [r.port, r.protocol, r.destination, r.remotePort]),
        want.rules,
      );
      assert.equal(d.fallback, want.fallback);
    });
  }

  const invalid: [string, string | undefined, number | undefined, string, RegExp][] = [
    ["unset", undefined, undefined, "", /must be set/],
    ["only comments", "# nothing\n\n", undefined, "# nothing\n\n", /at least one rule/],
    ["fallback not last", "10.0.0.9\n80 tcp 10.0.0.1", 1, "10.0.0.9", /fallback IP must be the last line/],
    ["two fallbacks", "10.0.0.9\n10.0.0.8", 1, "10.0.0.9", /last line/],
    ["fallback not an IP", "80 tcp 10.0.0.1\nexample.com", 2, "example.com", /invalid line/],
    ["two fields", "80 tcp", 1, "80 tcp", /invalid line/],
    ["five fields", "80 tcp 10.0.0.1 80 x", 1, "80 tcp 10.0.0.1 80 x", /invalid line/],
    ["port 0", "0 tcp 10.0.0.1", 1, "0", /port must be/],
    ["port 65536", "65536 tcp 10.0.0.1", 1, "65536", /port must be/],
    ["port with leading zero", "080 tcp 10.0.0.1", 1, "080", /port must be/],
    ["port not a number", "http tcp 10.0.0.1", 1, "http", /port must be/],
    ["negative port", "-1 tcp 10.0.0.1", 1, "-1", /port must be/],
    ["remote port 0", "80 tcp 10.0.0.1 0", 1, "0", /remote port must be/],
    ["remote port 70000", "80 tcp 10.0.0.1 70000", 1, "70000", /remote port must be/],
    ["bad protocol", "80 sctp 10.0.0.1", 1, "sctp", /protocol must be/],
    ["protocol upper case", "80 TCP 10.0.0.1", 1, "TCP", /protocol must be/],
    ["octet 256", "80 tcp 10.0.0.256", 1, "10.0.0.256", /dotted-quad/],
    ["three octets", "80 tcp 10.0.1", 1, "10.0.1", /dotted-quad/],
    ["leading zero octet", "80 tcp 10.0.0.01", 1, "10.0.0.01", /dotted-quad/],
    ["host name destination", "80 tcp example.com", 1, "example.com", /dotted-quad/],
    ["IPv6 destination", "80 tcp 2001:db8::1", 1, "2001:db8::1", /dotted-quad/],
    ["CIDR destination", "80 tcp 10.0.0.0/8", 1, "10.0.0.0/8", /dotted-quad/],
    ["loopback destination", "80 tcp 127.0.0.1", 1, "127.0.0.1", /unicast/],
    ["multicast destination", "80 tcp 224.0.0.5", 1, "224.0.0.5", /unicast/],
    ["unspecified destination", "80 tcp 0.0.0.0", 1, "0.0.0.0", /unicast/],
    [
      "duplicate port same protocol",
      "80 tcp 10.0.0.1\n80 tcp 10.0.0.2",
      2,
      "80",
      /duplicate local port .*line 1/,
    ],
    [
      "duplicate port across protocols",
      "# c\n53 udp 10.0.0.1\n53 tcp 10.0.0.2",
      3,
      "53",
      /duplicate local port .*line 2/,
    ],
  ];
  for (const [name, input, line, value, detail] of invalid) {
    test(`error: ${name}`, () => expectError(() => parseEgressDestination(input), line, value, detail));
  }
});

describe("EGRESS_SOURCE and EGRESS_GATEWAY", () => {
  test("source with and without prefix length", () => {
    assert.deepEqual(parseEgressSource("192.168.12.99"), { address: "192.168.12.99", prefixLength: null });
    assert.deepEqual(parseEgressSource("192.168.12.99/24"), { address: "192.168.12.99", prefixLength: 24 });
    assert.deepEqual(parseEgressSource(" 10.0.0.5/32 "), { address: "10.0.0.5", prefixLength: 32 });
    assert.deepEqual(parseEgressSource("10.0.0.5/1"), { address: "10.0.0.5", prefixLength: 1 });
  });
  const bad: [string, string | undefined, string, RegExp][] = [
    ["unset", undefined, "", /must be set/],
    ["empty", "", "", /must be set/],
    ["prefix 0", "10.0.0.5/0", "10.0.0.5/0", /prefix length/],
    ["prefix 33", "10.0.0.5/33", "10.0.0.5/33", /prefix length/],
    ["prefix with leading zero", "10.0.0.5/024", "10.0.0.5/024", /prefix length/],
    ["empty prefix", "10.0.0.5/", "10.0.0.5/", /prefix length/],
    ["octet 300", "10.0.0.300/24", "10.0.0.300/24", /dotted-quad/],
    ["name", "router.example", "router.example", /dotted-quad/],
    ["loopback", "127.0.0.5", "127.0.0.5", /unicast/],
  ];
  for (const [name, input, value, detail] of bad) {
    test(`source error: ${name}`, () =>
      expectError(() => parseEgressSource(input), undefined, value, detail));
  }
  test("gateway", () => {
    assert.equal(parseEgressGateway("192.168.12.1"), "192.168.12.1");
    expectError(() => parseEgressGateway(undefined), undefined, "", /must be set/);
    expectError(() => parseEgressGateway("192.168.12.1/24"), undefined, "192.168.12.1/24", /dotted-quad/);
    expectError(() => parseEgressGateway("1.2.3.04"), undefined, "1.2.3.04", /dotted-quad/);
    expectError(
      () => parseEgressGateway("10.0.0.5", { address: "10.0.0.5", prefixLength: 24 }),
      undefined,
      "10.0.0.5",
      /differ from EGRESS_SOURCE/,
    );
  });
});
