// The trace-matrix harness's pure parts: the generator is deterministic per seed and covers every
// field it claims to; the comparison finds verdict and source disagreements and prints them; the
// trace output parser refuses answers that do not line up with the queries. No root, no lab.
import assert from "node:assert/strict";
import { test } from "node:test";
import { addrTarget, type MatrixPod, type Observation, podTarget } from "./matrix.js";
import type { ProbeResult } from "./probe-script.js";
import {
  batchFile,
  cellFor,
  compare,
  fingerprint,
  parseTraceLines,
  renderDisagreements,
  TraceOutputError,
} from "./trace-compare.js";
import { type GenWorld, generateSet, Prng } from "./trace-gen.js";

const pod = (namespace: string, name: string, ip: string): MatrixPod => ({
  namespace,
  name,
  ip,
  node: "node1",
  netns: `egp-t-${name}`,
  labels: {},
});
const a = pod("tx", "a", "10.128.0.2");
const b = pod("ty", "b", "10.128.2.2");
const web = addrTarget("203.0.113.25", 7000);
const dns = addrTarget("www.foo.com", 53, "DNS", "192.168.126.200");
const cells = [cellFor(a, podTarget(b, 7001, "UDP")), cellFor(a, web), cellFor(a, dns)];

const line = (
  from: string,
  to: string,
  verdict: string,
  sources: object[],
  decidedBy: object = { kind: "default" },
) => JSON.stringify({ query: { line: 1, from, to }, verdict, decidedBy, sources });

function seen(results: Record<string, ProbeResult>): Observation {
  return {
    matrix: new Map([["tx/a", new Map(Object.entries(results).map(([k, v]) => [k, v.ok]))]]),
    details: new Map([["tx/a", new Map(Object.entries(results))]]),
  };
}

test("cells: pods by name with port/proto, addresses as written, DNS as UDP 53 to the resolver", () => {
  assert.deepEqual(
    cells.map((c) => [c.to, c.checkSource]),
    [
      ["ty/b:7001/udp", true],
      ["203.0.113.25:7000/tcp", true],
      ["192.168.126.200:53/udp", false],
    ],
  );
  assert.equal(
    batchFile(cells),
    "tx/a ty/b:7001/udp\ntx/a 203.0.113.25:7000/tcp\ntx/a 192.168.126.200:53/udp\n",
  );
});

test("compare: verdict and source disagreements, DNS source not compared; table names every column", () => {
  const out = [
    line("tx/a", "ty/b:7001/udp", "allowed", [{ kind: "pod", address: "10.128.0.2" }]),
    line("tx/a", "203.0.113.25:7000/tcp", "allowed", [{ kind: "egressIP", address: "192.168.126.120" }]),
    line("tx/a", "192.168.126.200:53/udp", "denied", [], {
      kind: "networkpolicy-isolation",
      direction: "egress",
    }),
  ].join("\n");
  const answers = parseTraceLines(out, cells);
  const obs = seen({
    [cells[0]!.target.key]: { ok: true, src: "10.128.0.2", ms: 1 },
    [web.key]: { ok: true, src: "192.168.126.11", ms: 1 },
    [dns.key]: { ok: true, src: "1.2.3.4", ms: 1 },
  });
  const wrong = compare(cells, answers, obs);
  assert.deepEqual(
    wrong.map((d) => [d.cell.to, d.what]),
    [
      ["203.0.113.25:7000/tcp", "source"],
      ["192.168.126.200:53/udp", "verdict"],
    ],
  );
  const table = renderDisagreements(wrong);
  assert.match(table, /^from +to +port\/proto +trace +real/);
  assert.match(
    table,
    /tx\/a +203\.0\.113\.25 +7000\/tcp +allowed by no policy applies \(default accept\) \(source 192\.168\.126\.120\) +connected, source seen 192\.168\.126\.11/,
  );
  assert.match(
    table,
    /192\.168\.126\.200 \(DNS www\.foo\.com\) +53\/dns +denied by NetworkPolicy egress isolation: no rule allows it +connected, source seen 1\.2\.3\.4/,
  );
  // Agreement: nothing to report; a change in either side changes the fingerprint.
  const agreeing = seen({
    [cells[0]!.target.key]: { ok: true, src: "10.128.0.2", ms: 1 },
    [web.key]: { ok: true, src: "192.168.126.120", ms: 1 },
    [dns.key]: { ok: false, err: "DNS:ETIMEOUT", ms: 1 },
  });
  assert.deepEqual(compare(cells, answers, agreeing), []);
  assert.notEqual(fingerprint(cells, answers, agreeing), fingerprint(cells, answers, obs));
});

test("parseTraceLines refuses a missing line, another query's answer and an error line", () => {
  const ok = line("tx/a", "ty/b:7001/udp", "allowed", []);
  assert.throws(() => parseTraceLines(ok, cells), TraceOutputError);
  assert.throws(
    () => parseTraceLines([ok, ok, ok].join("\n"), cells),
    /line 2 answers .* expected tx\/a 203\.0\.113\.25:7000\/tcp/,
  );
  const err = JSON.stringify({ query: { from: "tx/a", to: "ty/b:7001/udp" }, error: "pod not found" });
  assert.throws(() => parseTraceLines([err, ok, ok].join("\n"), cells), /pod not found/);
});

const world: GenWorld = {
  namespaces: [
    { name: "tx", labels: { ns: "tx", team: "red" } },
    { name: "ty", labels: { ns: "ty", team: "blue" } },
  ],
  podLabels: { pod: ["a", "b"], role: ["web", "db"] },
  podSubnets: ["10.128.0.0/23", "10.128.2.0/23"],
  clusterNetwork: "10.128.0.0/14",
  outsideCidrs: ["203.0.113.0/24", "1.2.3.0/24"],
  dnsNames: ["www.foo.com"],
  nodeSelectors: [{ matchLabels: { site: "a" } }],
};

test("generator: the same seed gives the same sets, another seed other ones", () => {
  assert.deepEqual(generateSet(5, 2, world), generateSet(5, 2, world));
  assert.notDeepEqual(generateSet(5, 2, world), generateSet(6, 2, world));
  assert.notDeepEqual(generateSet(5, 1, world), generateSet(5, 2, world));
  const r = new Prng(1);
  const xs = Array.from({ length: 1000 }, () => r.int(0, 9));
  for (let v = 0; v <= 9; v++) assert.ok(xs.filter((x) => x === v).length > 50, `value ${v} drawn`);
});

test("generator: over a few seeds every field appears", () => {
  const text = Array.from({ length: 20 }, (_, s) =>
    Array.from({ length: 3 }, (_, i) => JSON.stringify(generateSet(s, i + 1, world).docs)).join(""),
  ).join("");
  for (const field of [
    '"podSelector":{}',
    '"matchLabels"',
    '"matchExpressions"',
    '"namespaceSelector"',
    '"ipBlock"',
    '"except"',
    '"endPort"',
    '"port":"echo-http"',
    '"protocol":"UDP"',
    '"policyTypes":["Ingress","Egress"]',
    '"ingress":[]',
    '"egress":[',
    '"kind":"EgressFirewall"',
    '"kind":"EgressNetworkPolicy"',
    '"dnsName"',
    '"nodeSelector"',
    '"ports":[{"protocol":"TCP"',
  ])
    assert.ok(text.includes(field), `${field} generated`);
});
