import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { DEFAULT_TOPOLOGY } from "./paths.js";
import { parseTopology, TopologyError } from "./topology.js";
import { checkNetworkMode, LabError } from "./up.js";

const MIN = `
networks:
  - name: host
    subnets: [192.168.126.0/18]
    gateway: 192.168.126.1
controlPlane: { network: host, address: 192.168.126.2 }
nodes:
  - name: node1
    interfaces: [{ network: host, address: 192.168.126.11 }]
`;

test("the default topology parses and has the seed's addresses", () => {
  const t = parseTopology(readFileSync(DEFAULT_TOPOLOGY, "utf8"), DEFAULT_TOPOLOGY);
  assert.deepEqual(
    t.nodes.map((n) => [n.name, n.interfaces.map((i) => i.addresses[0])]),
    [
      ["node1", ["192.168.126.11/18", "192.168.12.11/24"]],
      ["node2", ["192.168.126.12/18", "192.168.12.12/24"]],
      ["node3", ["192.168.126.13/18", "192.168.12.13/24"]],
    ],
  );
  assert.equal(t.nodes[0]!.labels.site, "springfield-1");
  assert.equal(
    t.nodes[1]!.labels.site,
    "springfield-1",
    "a second springfield-1 node for the router RC's failover",
  );
  assert.equal(t.nodes[1]!.labels["k8s.ovn.org/egress-assignable"], "");
  assert.deepEqual(t.controlPlane, { network: "host", address: "192.168.126.2/18", port: 6443 });
  assert.equal(t.networks[0]!.subnets[0], "192.168.64.0/18");
  const web = t.externals.find((x) => x.name === "web")!;
  for (const a of ["203.0.113.25/24", "203.0.113.26/24", "203.0.113.27/24", "1.2.3.4/24", "192.168.1.10/24"])
    assert.ok(web.interfaces[0]!.addresses.includes(a), a);
  assert.deepEqual(web.echo?.http, [80, 8080]);
  assert.equal(t.dns?.server, "ext1");
  assert.deepEqual(t.dns?.records["www.foo.com"], ["1.2.3.4"]);
  assert.equal(t.externals.find((x) => x.name === "router")!.forwarding, true);
});

test("minimal topology: defaults", () => {
  const t = parseTopology(MIN, "min.yaml");
  assert.deepEqual(t.nodes, [
    {
      name: "node1",
      interfaces: [{ name: "eth0", network: "host", addresses: ["192.168.126.11/18"] }],
      labels: {},
    },
  ]);
  assert.deepEqual(t.externals, []);
  assert.equal(t.dns, undefined);
});

function errorsOf(text: string): string[] {
  try {
    parseTopology(text, "t.yaml");
  } catch (e) {
    assert.ok(e instanceof TopologyError, String(e));
    return e.causes.map(
      (c) => `${c.field}: ${c.detail}${c.value === undefined ? "" : ` (${JSON.stringify(c.value)})`}`,
    );
  }
  return [];
}

test("errors name the field and the value", () => {
  const rows: [string, string, RegExp][] = [
    [
      "outside subnet",
      MIN.replace("192.168.126.11", "10.0.0.1"),
      /^nodes\[0\]\.interfaces\[0\]\.address: not inside 192\.168\.64\.0\/18 \("10\.0\.0\.1"\)/,
    ],
    [
      "CIDR as address",
      MIN.replace("address: 192.168.126.11", "address: 192.168.126.11/18"),
      /nodes\[0\]\.interfaces\[0\]\.address: expected a plain IPv4 address/,
    ],
    [
      "unknown network",
      MIN.replace("{ network: host, address: 192.168.126.11 }", "{ network: nope, address: 1.1.1.1 }"),
      /nodes\[0\]\.interfaces\[0\]\.network: no such network \("nope"\)/,
    ],
    ["reserved name", MIN.replace("name: node1", "name: fabric"), /nodes\[0\]\.name: reserved/],
    ["bad name", MIN.replace("name: node1", "name: Node_1"), /nodes\[0\]\.name: expected 1-20 characters/],
    [
      "duplicate address",
      MIN.replace("address: 192.168.126.2 }", "address: 192.168.126.11 }"),
      /address already used at/,
    ],
    [
      "unknown field",
      MIN.replace("  - name: node1", "  - name: node1\n    colour: red"),
      /nodes\[0\]\.colour: unknown field/,
    ],
    [
      "bad subnet",
      MIN.replace("[192.168.126.0/18]", "[192.168.126.0]"),
      /networks\[0\]\.subnets\[0\]: expected an IPv4 CIDR/,
    ],
    [
      "gateway outside",
      MIN.replace("gateway: 192.168.126.1", "gateway: 10.1.1.1"),
      /networks\[0\]\.gateway: not inside/,
    ],
    ["no nodes key", MIN.replace(/nodes:[\s\S]*/, ""), /^nodes: Required value/],
    ["bad label", `${MIN}    labels: { "bad key!": "" }\n`, /nodes\[0\]\.labels: invalid label key/],
    [
      "bad port",
      MIN.replace("address: 192.168.126.2 }", "address: 192.168.126.2, port: 70000 }"),
      /controlPlane\.port: expected a port/,
    ],
    [
      "dns server unknown",
      `${MIN}dns: { server: nobody, records: {} }\n`,
      /dns\.server: expected the name of an external host/,
    ],
    [
      "echo tcp/http share ports",
      `${MIN}externals:\n  - name: e\n    interfaces: [{ network: host, addresses: [192.168.126.200] }]\n    echo: { tcp: [80], http: [80] }\n`,
      /externals\[0\]\.echo: a TCP port is listed twice/,
    ],
  ];
  for (const [what, text, want] of rows) {
    const errs = errorsOf(text);
    assert.ok(
      errs.some((e) => want.test(e)),
      `${what}: ${JSON.stringify(errs)}`,
    );
  }
  assert.deepEqual(errorsOf(MIN), []);
});

test("error message lists every cause with the source file", () => {
  assert.throws(
    () =>
      parseTopology(MIN.replace("192.168.126.11", "10.0.0.1").replace("name: node1", "name: cp"), "bad.yaml"),
    (e: unknown) =>
      e instanceof TopologyError &&
      /^bad\.yaml: invalid topology:\n {2}nodes\[0\]\.name/.test(e.message) &&
      e.causes.length === 2,
  );
});

test("networkMode: default multitenant, every mode accepted, others rejected naming field and value", () => {
  assert.equal(parseTopology(MIN, "t.yaml").networkMode, "multitenant");
  for (const mode of ["multitenant", "networkpolicy", "subnet"])
    assert.equal(parseTopology(`networkMode: ${mode}\n${MIN}`, "t.yaml").networkMode, mode);
  for (const bad of ["ovs-multitenant", "NetworkPolicy", "42", '""'])
    assert.deepEqual(errorsOf(`networkMode: ${bad}\n${MIN}`), [
      `networkMode: expected one of multitenant, networkpolicy, subnet (${JSON.stringify(
        parseTopologyValue(bad),
      )})`,
    ]);
});

/** The YAML scalar as the parser sees it (a number stays a number). */
function parseTopologyValue(raw: string): unknown {
  if (raw === '""') return "";
  return /^\d+$/.test(raw) ? Number(raw) : raw;
}

test("dns.ttl: whole seconds, kept in the topology", () => {
  const ext = `externals:\n  - name: e\n    interfaces: [{ network: host, addresses: [192.168.126.200] }]\n`;
  const t = parseTopology(`${MIN}${ext}dns: { server: e, records: {}, ttl: 3 }\n`, "t.yaml");
  assert.equal(t.dns?.ttl, 3);
  assert.equal(parseTopology(`${MIN}${ext}dns: { server: e, records: {} }\n`, "t.yaml").dns?.ttl, undefined);
  for (const bad of ["-1", "1.5", "x", "100000"])
    assert.ok(
      errorsOf(`${MIN}${ext}dns: { server: e, records: {}, ttl: ${bad} }\n`).some((e) =>
        e.startsWith("dns.ttl: expected whole seconds"),
      ),
      bad,
    );
});

test("lab up --network-mode: same values, error names the flag and the value", () => {
  assert.equal(checkNetworkMode("networkpolicy"), "networkpolicy");
  assert.throws(
    () => checkNetworkMode("ovs-subnet"),
    (e: unknown) =>
      e instanceof LabError &&
      e.message ===
        '--network-mode: Invalid value: "ovs-subnet": expected one of multitenant, networkpolicy, subnet',
  );
});
