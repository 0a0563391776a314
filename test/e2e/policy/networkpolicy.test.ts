// NetworkPolicy end to end (MISSION §10) in a lab with networkMode networkpolicy: namespaces x, y, z
// (label ns=<name>) with pods a, b, c (label pod=<name>) spread over the three nodes, plus
// default/d. Each case applies its NetworkPolicies, then real TCP/UDP connections from every pod to
// every pod (and, for egress cases, to outside hosts) must equal the case's hand-written
// expectation (grids printed on mismatch); the policies are deleted before the next case. The cases
// cover every field: podSelector, namespaceSelector, both, matchExpressions, ipBlock with except,
// ports, named ports (resolved per pod), endPort, TCP/UDP, policyTypes, default deny, additive
// allows, established replies and flows that outlive a new policy; then the seed file
// 004-network-policies.yaml applied unchanged. SCTP is not covered: the echo image cannot serve it
// (Node has no SCTP sockets). One lab for the file; `after` tears it down, also on failure.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseManifests } from "../../../src/cli/apply.js";
import { Probe } from "../lab/probe.js";
import { ECHO_PORTS, EXAMPLES, labSkip, OUTSIDE, type PodSpec, PolicyLab } from "./support/cluster.js";
import {
  addrTarget,
  assertMatrix,
  type MatrixPod,
  podKey,
  podTarget,
  type Target,
} from "./support/matrix.js";

const SKIP = labSkip();
const L = new PolicyLab("n");
let pods: MatrixPod[] = [];
/** Pod subnets by node (HostSubnet.subnet), for ipBlock cases. */
const subnets = new Map<string, string>();

// ------------------------------------------------------------------ expectation helpers
const key = (p: MatrixPod | undefined) => (p ? podKey(p) : "");
const ns = (p: MatrixPod | undefined) => p?.namespace ?? "";
const isPod = (t: Target, ...keys: string[]) => keys.includes(key(t.pod));
const inNs = (t: Target, ...names: string[]) => names.includes(ns(t.pod));
const tcp = (t: Target, port: number) => t.protocol === "TCP" && t.port === port;
const udp = (t: Target, port: number) => t.protocol === "UDP" && t.port === port;

type PortSet = "t7000" | "u7001" | "t8080";
interface Case {
  name: string;
  /** Policies (namespace from metadata.namespace, default x). */
  policies: object[];
  expect: (from: MatrixPod, to: Target) => boolean;
  /** Pod ports probed (default t7000 only). */
  ports?: PortSet[];
  /** Outside targets probed too. */
  outside?: Target[];
}

function np(name: string, namespace: string, spec: object): object {
  return { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name, namespace }, spec };
}

const sel = (labels: Record<string, string>) => ({ matchLabels: labels });
const ALL = {};

function targetsFor(c: Case): Target[] {
  const ports = c.ports ?? ["t7000"];
  const out: Target[] = [];
  for (const p of pods)
    for (const x of ports) out.push(podTarget(p, Number(x.slice(1)), x.startsWith("u") ? "UDP" : "TCP"));
  return [...out, ...(c.outside ?? [])];
}

const web25 = addrTarget(OUTSIDE.web25, 7000);
const web26 = addrTarget(OUTSIDE.web26, 7000);
const foo4 = addrTarget(OUTSIDE.foo4, 7000);
const foo4udp = addrTarget(OUTSIDE.foo4, 7001, "UDP");
const foo4http = addrTarget(OUTSIDE.foo4, 8080);
const ext1 = addrTarget(OUTSIDE.ext1, 7000);
const dnsQuery = addrTarget("www.foo.com", 53, "DNS", OUTSIDE.dns);
dnsQuery.key = "dns www.foo.com@ext1";
dnsQuery.host = "www.foo.com";

/** Filled in `before` (needs node2's pod subnet). */
let ipBlockCase: Case;

const CASES: Case[] = [
  {
    name: "no policy: everything open",
    policies: [],
    expect: () => true,
    ports: ["t7000", "u7001", "t8080"],
    outside: [web25, foo4],
  },
  {
    name: "default deny ingress in x (podSelector {}, ingress [])",
    policies: [np("deny-in", "x", { podSelector: ALL, ingress: [] })],
    expect: (_f, t) => !inNs(t, "x"),
    ports: ["t7000", "u7001"],
  },
  {
    name: "default deny ingress via policyTypes [Ingress] and no rules",
    policies: [np("deny-in", "x", { podSelector: ALL, policyTypes: ["Ingress"] })],
    expect: (_f, t) => !inNs(t, "x"),
  },
  {
    name: "default deny egress in x (policyTypes [Egress]): x reaches nothing, others still reach x",
    policies: [np("deny-out", "x", { podSelector: ALL, policyTypes: ["Egress"] })],
    expect: (f) => ns(f) !== "x",
    ports: ["t7000", "u7001"],
    outside: [web25, ext1, dnsQuery],
  },
  {
    name: "deny all ingress and egress in x",
    policies: [np("deny-all", "x", { podSelector: ALL, policyTypes: ["Ingress", "Egress"] })],
    expect: (f, t) => ns(f) !== "x" && !inNs(t, "x"),
    outside: [web25],
  },
  {
    name: "podSelector matchLabels: deny ingress to x/a only",
    policies: [np("deny-a", "x", { podSelector: sel({ pod: "a" }), ingress: [] })],
    expect: (_f, t) => !isPod(t, "x/a"),
  },
  {
    name: "allow from the same namespace (from: podSelector {})",
    policies: [np("same-ns", "x", { podSelector: ALL, ingress: [{ from: [{ podSelector: ALL }] }] })],
    expect: (f, t) => !inNs(t, "x") || ns(f) === "x",
  },
  {
    name: "namespaceSelector ns=y into x/a",
    policies: [
      np("from-y", "x", {
        podSelector: sel({ pod: "a" }),
        ingress: [{ from: [{ namespaceSelector: sel({ ns: "y" }) }] }],
      }),
    ],
    expect: (f, t) => !isPod(t, "x/a") || ns(f) === "y",
  },
  {
    name: "namespaceSelector {}: every pod of every namespace into x/a (default included)",
    policies: [
      np("from-all-ns", "x", {
        podSelector: sel({ pod: "a" }),
        ingress: [{ from: [{ namespaceSelector: ALL }] }],
      }),
    ],
    expect: () => true,
  },
  {
    name: "podSelector pod=b: only x/b (selector is namespace-local)",
    policies: [
      np("from-b", "x", {
        podSelector: sel({ pod: "a" }),
        ingress: [{ from: [{ podSelector: sel({ pod: "b" }) }] }],
      }),
    ],
    expect: (f, t) => !isPod(t, "x/a") || key(f) === "x/b",
  },
  {
    name: "namespaceSelector AND podSelector in one peer: only y/b",
    policies: [
      np("y-and-b", "x", {
        podSelector: sel({ pod: "a" }),
        ingress: [{ from: [{ namespaceSelector: sel({ ns: "y" }), podSelector: sel({ pod: "b" }) }] }],
      }),
    ],
    expect: (f, t) => !isPod(t, "x/a") || key(f) === "y/b",
  },
  {
    name: "namespaceSelector OR podSelector (two peers): y/* and x/b",
    policies: [
      np("y-or-b", "x", {
        podSelector: sel({ pod: "a" }),
        ingress: [{ from: [{ namespaceSelector: sel({ ns: "y" }) }, { podSelector: sel({ pod: "b" }) }] }],
      }),
    ],
    expect: (f, t) => !isPod(t, "x/a") || ns(f) === "y" || key(f) === "x/b",
  },
  {
    name: "matchExpressions pod In [b, c] (podSelector of the policy and of the peer)",
    policies: [
      np("expr-in", "x", {
        podSelector: { matchExpressions: [{ key: "pod", operator: "In", values: ["a", "b"] }] },
        ingress: [
          {
            from: [
              { podSelector: { matchExpressions: [{ key: "pod", operator: "In", values: ["b", "c"] }] } },
            ],
          },
        ],
      }),
    ],
    expect: (f, t) => !isPod(t, "x/a", "x/b") || key(f) === "x/b" || key(f) === "x/c",
  },
  {
    name: "namespaceSelector NotIn [y] and Exists: x, z (default has no ns label)",
    policies: [
      np("expr-notin", "x", {
        podSelector: sel({ pod: "a" }),
        ingress: [
          {
            from: [
              {
                namespaceSelector: {
                  matchExpressions: [
                    { key: "ns", operator: "Exists" },
                    { key: "ns", operator: "NotIn", values: ["y"] },
                  ],
                },
              },
            ],
          },
        ],
      }),
    ],
    expect: (f, t) => !isPod(t, "x/a") || ns(f) === "x" || ns(f) === "z",
  },
  {
    name: "namespaceSelector DoesNotExist: only namespaces without the ns label (default)",
    policies: [
      np("expr-dne", "x", {
        podSelector: sel({ pod: "a" }),
        ingress: [
          { from: [{ namespaceSelector: { matchExpressions: [{ key: "ns", operator: "DoesNotExist" }] } }] },
        ],
      }),
    ],
    expect: (f, t) => !isPod(t, "x/a") || ns(f) === "default",
  },
  {
    name: "ports: TCP 7000 only (no from: any source)",
    policies: [
      np("tcp7000", "x", {
        podSelector: sel({ pod: "a" }),
        ingress: [{ ports: [{ protocol: "TCP", port: 7000 }] }],
      }),
    ],
    expect: (_f, t) => !isPod(t, "x/a") || tcp(t, 7000),
    ports: ["t7000", "u7001", "t8080"],
  },
  {
    name: "ports: UDP 7001 only",
    policies: [
      np("udp7001", "x", {
        podSelector: sel({ pod: "a" }),
        ingress: [{ ports: [{ protocol: "UDP", port: 7001 }] }],
      }),
    ],
    expect: (_f, t) => !isPod(t, "x/a") || udp(t, 7001),
    ports: ["t7000", "u7001", "t8080"],
  },
  {
    name: "ports: protocol defaults to TCP (port 7001 without protocol opens no UDP)",
    policies: [
      np("port7001", "x", { podSelector: sel({ pod: "a" }), ingress: [{ ports: [{ port: 7001 }] }] }),
    ],
    expect: (_f, t) => !isPod(t, "x/a"),
    ports: ["t7000", "u7001"],
  },
  {
    name: "named port echo-http (8080 on every x pod)",
    policies: [np("named", "x", { podSelector: ALL, ingress: [{ ports: [{ port: "echo-http" }] }] })],
    expect: (_f, t) => !inNs(t, "x") || tcp(t, 8080),
    ports: ["t7000", "u7001", "t8080"],
  },
  {
    name: "named port resolved per pod: z/a serve=7000, z/b serve=8080, z/c none",
    policies: [
      np("serve", "z", { podSelector: ALL, ingress: [{ ports: [{ protocol: "TCP", port: "serve" }] }] }),
    ],
    expect: (_f, t) =>
      !inNs(t, "z") || (isPod(t, "z/a") && tcp(t, 7000)) || (isPod(t, "z/b") && tcp(t, 8080)),
    ports: ["t7000", "t8080"],
  },
  {
    name: "named UDP port echo-udp",
    policies: [
      np("named-udp", "x", {
        podSelector: sel({ pod: "a" }),
        ingress: [{ ports: [{ protocol: "UDP", port: "echo-udp" }] }],
      }),
    ],
    expect: (_f, t) => !isPod(t, "x/a") || udp(t, 7001),
    ports: ["t7000", "u7001"],
  },
  {
    name: "endPort: TCP 7000-8080 opens both TCP ports, not UDP",
    policies: [
      np("range", "x", {
        podSelector: sel({ pod: "a" }),
        ingress: [{ ports: [{ protocol: "TCP", port: 7000, endPort: 8080 }] }],
      }),
    ],
    expect: (_f, t) => !isPod(t, "x/a") || t.protocol === "TCP",
    ports: ["t7000", "u7001", "t8080"],
  },
  {
    name: "endPort: TCP 7001-8079 opens neither 7000 nor 8080",
    policies: [
      np("range2", "x", {
        podSelector: sel({ pod: "a" }),
        ingress: [{ ports: [{ protocol: "TCP", port: 7001, endPort: 8079 }] }],
      }),
    ],
    expect: (_f, t) => !isPod(t, "x/a"),
    ports: ["t7000", "t8080"],
  },
  {
    name: "additive: two policies on x/a (from y; from z on 8080 only)",
    policies: [
      np("add-y", "x", {
        podSelector: sel({ pod: "a" }),
        ingress: [{ from: [{ namespaceSelector: sel({ ns: "y" }) }] }],
      }),
      np("add-z", "x", {
        podSelector: sel({ pod: "a" }),
        ingress: [
          { from: [{ namespaceSelector: sel({ ns: "z" }) }], ports: [{ protocol: "TCP", port: 8080 }] },
        ],
      }),
    ],
    expect: (f, t) => !isPod(t, "x/a") || ns(f) === "y" || (ns(f) === "z" && tcp(t, 8080)),
    ports: ["t7000", "t8080"],
  },
  {
    name: "additive rules in one policy (from + ports AND within a rule, OR across rules)",
    policies: [
      np("rules", "x", {
        podSelector: sel({ pod: "a" }),
        ingress: [
          { from: [{ namespaceSelector: sel({ ns: "y" }) }], ports: [{ protocol: "TCP", port: 7000 }] },
          { from: [{ namespaceSelector: sel({ ns: "z" }) }], ports: [{ protocol: "TCP", port: 8080 }] },
        ],
      }),
    ],
    expect: (f, t) => !isPod(t, "x/a") || (ns(f) === "y" && tcp(t, 7000)) || (ns(f) === "z" && tcp(t, 8080)),
    ports: ["t7000", "t8080"],
  },
  {
    name: "a policy in y does not touch x (namespace scope)",
    policies: [np("deny-y", "y", { podSelector: ALL, ingress: [] })],
    expect: (_f, t) => !inNs(t, "y"),
  },
  {
    name: "egress podSelector: x/a only to x/b",
    policies: [
      np("eg-b", "x", {
        podSelector: sel({ pod: "a" }),
        policyTypes: ["Egress"],
        egress: [{ to: [{ podSelector: sel({ pod: "b" }) }] }],
      }),
    ],
    expect: (f, t) => key(f) !== "x/a" || isPod(t, "x/b"),
    outside: [web25],
  },
  {
    name: "egress namespaceSelector ns=y with port TCP 7000",
    policies: [
      np("eg-y", "x", {
        podSelector: sel({ pod: "a" }),
        policyTypes: ["Egress"],
        egress: [{ to: [{ namespaceSelector: sel({ ns: "y" }) }], ports: [{ protocol: "TCP", port: 7000 }] }],
      }),
    ],
    expect: (f, t) => key(f) !== "x/a" || (inNs(t, "y") && tcp(t, 7000)),
    ports: ["t7000", "t8080"],
  },
  {
    name: "egress ipBlock 203.0.113.0/24 except 203.0.113.26/32 (outside hosts)",
    policies: [
      np("eg-ipblock", "x", {
        podSelector: ALL,
        policyTypes: ["Egress"],
        egress: [{ to: [{ ipBlock: { cidr: "203.0.113.0/24", except: ["203.0.113.26/32"] } }] }],
      }),
    ],
    expect: (f, t) => ns(f) !== "x" || t.host === OUTSIDE.web25,
    outside: [web25, web26, foo4, ext1],
  },
  {
    name: "egress ipBlock 1.2.3.0/24 with ports TCP 7000 and UDP 7001 (not TCP 8080)",
    policies: [
      np("eg-foo", "x", {
        podSelector: sel({ pod: "a" }),
        policyTypes: ["Egress"],
        egress: [
          {
            to: [{ ipBlock: { cidr: "1.2.3.0/24" } }],
            ports: [
              { protocol: "TCP", port: 7000 },
              { protocol: "UDP", port: 7001 },
            ],
          },
        ],
      }),
    ],
    expect: (f, t) => key(f) !== "x/a" || t.key === foo4.key || t.key === foo4udp.key,
    outside: [foo4, foo4udp, foo4http, web25],
  },
  {
    name: "egress deny-all plus DNS to the lab resolver (UDP 53): names resolve, hosts unreachable",
    policies: [
      np("eg-dns", "x", {
        podSelector: ALL,
        policyTypes: ["Egress"],
        egress: [
          { to: [{ ipBlock: { cidr: `${OUTSIDE.dns}/32` } }], ports: [{ protocol: "UDP", port: 53 }] },
        ],
      }),
    ],
    expect: (f, t) => ns(f) !== "x" || t.key === dnsQuery.key,
    outside: [dnsQuery, ext1, web25],
  },
  {
    name: "egress rules without policyTypes imply Ingress too: x/a isolated for ingress",
    policies: [
      np("eg-implied", "x", {
        podSelector: sel({ pod: "a" }),
        egress: [{ to: [{ namespaceSelector: ALL }] }],
      }),
    ],
    expect: (f, t) => !isPod(t, "x/a") && (key(f) !== "x/a" || t.pod !== undefined),
    outside: [web25],
  },
  {
    name: "policyTypes [Ingress] with egress rules: the egress rules are ignored",
    policies: [
      np("in-only", "x", {
        podSelector: sel({ pod: "a" }),
        policyTypes: ["Ingress"],
        ingress: [{ from: [{ podSelector: ALL }] }],
        egress: [{ to: [{ podSelector: sel({ pod: "b" }) }] }],
      }),
    ],
    expect: (f, t) => !isPod(t, "x/a") || ns(f) === "x",
    outside: [web25],
  },
  {
    name: "ingress needs the client's egress allowed too: x/a egress to y only, y/b ingress from x/b only",
    policies: [
      np("a-out", "x", {
        podSelector: sel({ pod: "a" }),
        policyTypes: ["Egress"],
        egress: [{ to: [{ namespaceSelector: sel({ ns: "y" }) }] }],
      }),
      np("b-in", "y", {
        podSelector: sel({ pod: "b" }),
        ingress: [{ from: [{ namespaceSelector: sel({ ns: "x" }), podSelector: sel({ pod: "b" }) }] }],
      }),
    ],
    expect: (f, t) => (key(f) !== "x/a" || inNs(t, "y")) && (!isPod(t, "y/b") || key(f) === "x/b"),
  },
  {
    name: "replies of allowed flows pass: x denies all egress and y all ingress, y → x still works",
    policies: [
      np("x-no-egress", "x", { podSelector: ALL, policyTypes: ["Egress"] }),
      np("y-no-ingress", "y", { podSelector: ALL, policyTypes: ["Ingress"] }),
    ],
    expect: (f, t) => ns(f) !== "x" && !inNs(t, "y"),
    ports: ["t7000", "u7001"],
  },
];

before(async () => {
  if (SKIP) return;
  await L.up("networkpolicy");
  for (const n of ["x", "y", "z"]) await L.namespace(n, { ns: n });
  const specs: PodSpec[] = [];
  const nodes = ["node1", "node2", "node3"];
  for (const [i, n] of ["x", "y", "z"].entries())
    for (const [j, p] of ["a", "b", "c"].entries())
      specs.push({ namespace: n, name: p, node: nodes[(i + j) % 3]!, labels: { pod: p } });

  // z's pods name a port "serve" differently (named ports resolve per pod).
  specs.find((s) => s.namespace === "z" && s.name === "a")!.ports = [
    { name: "serve", containerPort: 7000, protocol: "TCP" },
    { name: "echo-udp", containerPort: 7001, protocol: "UDP" },
  ];
  specs.find((s) => s.namespace === "z" && s.name === "b")!.ports = [
    { name: "echo-tcp", containerPort: 7000, protocol: "TCP" },
    { name: "serve", containerPort: 8080, protocol: "TCP" },
  ];
  specs.push({ namespace: "default", name: "d", node: "node2", labels: { pod: "d" }, ports: ECHO_PORTS });
  pods = await L.pods(specs);
  // The seed's allow-from-default-namespace (template and 004-network-policies.yaml) selects
  // namespaces labelled name=default; label `default` as the seed's documentation tells admins to.
  await (await L.api()).request(
    "PATCH",
    "/api/v1/namespaces/default",
    { metadata: { labels: { name: "default" } } },
    "application/merge-patch+json",
  );
  const hs = await (await L.api()).request<{ items: { host: string; subnet: string }[] }>(
    "GET",
    "/apis/network.openshift.io/v1/hostsubnets",
  );
  for (const h of hs.items) subnets.set(h.host, h.subnet);
  ipBlockCase = {
    name: "ingress ipBlock 10.128.0.0/14 except node2's pod subnet",
    policies: [
      np("ipblock", "x", {
        podSelector: sel({ pod: "a" }),
        ingress: [{ from: [{ ipBlock: { cidr: "10.128.0.0/14", except: [subnets.get("node2")!] } }] }],
      }),
    ],
    expect: (f, t) => !isPod(t, "x/a") || f.node !== "node2",
  };
});

after(() => {
  if (SKIP) return;
  L.down();
});

async function runCase(c: Case, first = false): Promise<void> {
  const applied = c.policies as { metadata: { name: string; namespace: string } }[];
  try {
    if (applied.length > 0) await L.apply(applied);
    await assertMatrix(L.probers, pods, targetsFor(c), c.expect, {
      what: c.name,
      deadlineMs: first ? 30_000 : 8_000,
      timeoutMs: 800,
    });
  } finally {
    for (const p of applied)
      await L.remove("networking.k8s.io/v1", "NetworkPolicy", p.metadata.namespace, p.metadata.name);
  }
}

describe("NetworkPolicy cases (real packets)", { skip: SKIP }, () => {
  CASES.forEach((c, i) => {
    test(c.name, { timeout: 60_000 }, () => runCase(c, i === 0));
  });
  test("ingress ipBlock 10.128.0.0/14 except node2's pod subnet", { timeout: 60_000 }, () =>
    runCase(ipBlockCase),
  );
  test("case count", () => assert.ok(CASES.length + 1 >= 30, `${CASES.length + 1} cases`));
});

test("a flow allowed before a deny-all ingress policy keeps running; new flows are refused", {
  skip: SKIP,
  timeout: 60_000,
}, async () => {
  const xa = pods.find((p) => key(p) === "x/a")!;
  const ya = pods.find((p) => key(p) === "y/a")!;
  // The lab echo server echoes every line until the client closes: a long-lived flow.
  await L.listen(xa, [9000]);
  const stream = new Probe(ya.netns, "stream", xa.ip, 9000, 100, 1000);
  try {
    await stream.ready(3);
    await L.apply([np("deny-in", "x", { podSelector: ALL, ingress: [] })]);
    await assertMatrix(L.probers, [ya], [podTarget(xa, 7000), podTarget(xa, 9000)], () => false, {
      what: "new flows after deny-all",
      timeoutMs: 800,
    });
    const before = stream.streams.filter((r) => r.kind === "echo").length;
    await new Promise((r) => setTimeout(r, 1500));
    const recs = stream.streams;
    assert.deepEqual(
      recs.filter((r) => r.kind === "closed" || r.kind === "late"),
      [],
      "the established flow was cut",
    );
    assert.ok(
      recs.filter((r) => r.kind === "echo").length >= before + 5,
      "the established flow stopped echoing",
    );
  } finally {
    await stream.stop();
    await L.remove("networking.k8s.io/v1", "NetworkPolicy", "x", "deny-in");
  }
});

test("project template: a new project gets allow-from-same-namespace and allow-from-default-namespace", {
  skip: SKIP,
  timeout: 60_000,
}, async () => {
  await L.namespace("tpl", { ns: "tpl" }, true);
  const tp = await L.pods([
    { namespace: "tpl", name: "a", node: "node1", labels: { pod: "a" } },
    { namespace: "tpl", name: "b", node: "node3", labels: { pod: "b" } },
  ]);
  const names = (
    await (
      await L.api()
    ).request<{ items: { metadata: { name: string } }[] }>(
      "GET",
      "/apis/networking.k8s.io/v1/namespaces/tpl/networkpolicies",
    )
  ).items
    .map((p) => p.metadata.name)
    .sort();
  assert.deepEqual(names, ["allow-from-default-namespace", "allow-from-same-namespace"]);
  await assertMatrix(
    L.probers,
    [...pods, ...tp],
    tp.flatMap((p) => [podTarget(p, 7000), podTarget(p, 7001, "UDP")]),
    (f) => ns(f) === "tpl" || ns(f) === "default",
    { what: "project template", deadlineMs: 10_000, timeoutMs: 800 },
  );
});

test("seed 004-network-policies.yaml applied unchanged in a project behaves as the seed describes", {
  skip: SKIP,
  timeout: 120_000,
}, async () => {
  // A project `s` with a frontend, a database and another pod, each serving 80, 443 and 5432 too.
  await L.namespace("s", { ns: "s" });
  const sp = await L.pods([
    { namespace: "s", name: "front", node: "node1", labels: { role: "frontend" } },
    { namespace: "s", name: "db", node: "node2", labels: { role: "database" } },
    { namespace: "s", name: "other", node: "node3", labels: { role: "other" } },
  ]);
  for (const p of sp) await L.listen(p, [80, 443, 5432]);
  const file = join(EXAMPLES, "004-network-policies.yaml");
  const manifests = parseManifests(readFileSync(file, "utf8"), file);
  const names = manifests.map((m) => m.metadata.name);
  await L.apply(manifests, "s");
  try {
    const targets = sp.flatMap((p) => [7000, 80, 443, 5432].map((port) => podTarget(p, port)));
    const sources = [...pods, ...sp];
    await assertMatrix(
      L.probers,
      sources,
      targets,
      (f, t) => {
        if (ns(f) === "s" || ns(f) === "default") return true; // allow-same-namespace, allow-from-default-namespace
        if (isPod(t, "s/front")) return tcp(t, 80) || tcp(t, 443); // allow-http-and-https
        if (isPod(t, "s/db")) return tcp(t, 5432); // allow-to-database-service
        return false; // deny-by-default
      },
      { what: "seed 004-network-policies.yaml", deadlineMs: 10_000, timeoutMs: 800 },
    );
  } finally {
    for (const n of names) await L.remove("networking.k8s.io/v1", "NetworkPolicy", "s", n);
  }
});

test("`egress apply` of the seed 004-network-policies.yaml stores the policies as written", {
  skip: SKIP,
  timeout: 30_000,
}, async () => {
  // Separate from the dataplane test above, which sends the seed's JSON itself: this one checks the
  // CLI path a user takes (it once lost ingress[].from in client-node's typed serializer).
  await L.namespace("sa", { ns: "sa" });
  const file = join(EXAMPLES, "004-network-policies.yaml");
  const r = await L.egress(["apply", "-f", file, "-n", "sa", "--kubeconfig", L.kubeconfig]);
  assert.equal(r.code, 0, r.stderr);
  const api = await L.api();
  for (const m of parseManifests(readFileSync(file, "utf8"), file)) {
    const got = await api.request<{ spec: { ingress?: unknown[] } }>(
      "GET",
      `/apis/networking.k8s.io/v1/namespaces/sa/networkpolicies/${m.metadata.name}`,
    );
    const want = (m as unknown as { spec: { ingress?: unknown[] } }).spec.ingress;
    assert.deepEqual(got.spec.ingress, want, `${m.metadata.name}: spec.ingress as stored`);
  }
});
