// Policy views for tests, the real-nft e2e test and the benchmark: a small hand-written cluster, a
// large generated egress firewall, many NetworkPolicies, and seeded random views (with random
// resolved NetworkPolicy allow lists) for the property test. Not used by production code. Pure.
import type { PolicyTracePacket } from "./trace.js";
import type {
  AllowEntry,
  EgressFirewallRuleView,
  LocalPodPolicy,
  NetworkPolicyView,
  PolicyPod,
  PolicyProtocol,
  PolicyView,
  V4Range,
} from "./types.js";

export const v4 = (n: number): string => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
export const num = (s: string): number => s.split(".").reduce((a, o) => a * 256 + Number(o), 0);

export function pod(
  namespace: string,
  name: string,
  ip: string,
  local = true,
  labels: Record<string, string> = {},
): PolicyPod {
  return { namespace, name, ip, labels, ports: [], local };
}

/** Node n1 (pod subnet 10.128.0.0/23, address 192.168.126.11) of a two-node cluster. */
export function baseView(over: Partial<PolicyView> = {}): PolicyView {
  return {
    mode: "multitenant",
    node: "n1",
    podSubnet: "10.128.0.0/23",
    clusterCIDRs: ["10.128.0.0/14"],
    serviceCIDR: "172.30.0.0/16",
    nodes: [
      { name: "n1", ips: ["192.168.126.11"], labels: { "node-role.kubernetes.io/worker": "", zone: "a" } },
      { name: "n2", ips: ["192.168.126.12"], labels: { "node-role.kubernetes.io/worker": "", zone: "b" } },
    ],
    dnsServers: ["192.168.126.1"],
    pods: [],
    namespaces: [],
    networkPolicies: [],
    egressFirewalls: [],
    ...over,
  };
}

/** Deterministic PRNG (mulberry32) so generated views are reproducible from a seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An EgressFirewall of `n` rules: CIDRs of various sizes, resolved DNS names, ports; ends in deny-all. */
export function firewallRules(n: number, seed = 1): EgressFirewallRuleView[] {
  const r = rng(seed);
  const rules: EgressFirewallRuleView[] = [];
  const protos: PolicyProtocol[] = ["TCP", "UDP", "SCTP"];
  for (let i = 0; i < n - 1; i++) {
    const type = r() < 0.5 ? "Allow" : "Deny";
    const base = (((11 + Math.floor(r() * 200)) << 24) | Math.floor(r() * 0xffffff)) >>> 0;
    const kind = i % 4;
    const ports =
      i % 3 === 0
        ? [
            {
              protocol: protos[i % 3 === 0 && r() < 0.8 ? 0 : Math.floor(r() * 3)]!,
              port: [80, 443, 8080, 5432][Math.floor(r() * 4)]!,
            },
          ]
        : undefined;
    if (kind === 3) {
      rules.push({
        type,
        dnsName: `host${i}.example.com`,
        dnsAddresses: [v4(base), v4((base + 7) >>> 0)],
        ...(ports ? { ports } : {}),
      });
    } else {
      const prefix = [32, 28, 24, 20, 16][Math.floor(r() * 5)]!;
      const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
      rules.push({ type, cidrSelector: `${v4((base & mask) >>> 0)}/${prefix}`, ...(ports ? { ports } : {}) });
    }
  }
  rules.push({ type: "Deny", cidrSelector: "0.0.0.0/0" });
  return rules;
}

/** Namespace `big` with one EgressFirewall of `rules` rules and two local pods. */
export function bigFirewallView(rules: number, seed = 1): PolicyView {
  return baseView({
    mode: "networkpolicy",
    pods: [pod("big", "a", "10.128.0.10"), pod("big", "b", "10.128.0.11"), pod("other", "c", "10.128.0.12")],
    namespaces: [
      { name: "big", labels: {}, multicast: false },
      { name: "other", labels: {}, multicast: false },
    ],
    egressFirewalls: [
      {
        namespace: "big",
        kind: "EgressFirewall",
        name: "default",
        effect: "Enforced",
        rules: firewallRules(rules, seed),
      },
    ],
  });
}

/** `policies` NetworkPolicies over `pods` pods in `namespaces` namespaces (all on this node): per
 *  namespace a default deny, allow-from-same-namespace, and policies selecting an app label with
 *  ports and ipBlocks. */
export function manyPoliciesView(policies: number, pods: number, namespaces: number, tweak = 0): PolicyView {
  const podList: PolicyPod[] = [];
  const base = num("10.128.0.0");
  for (let i = 0; i < pods; i++)
    podList.push(
      pod(`ns${i % namespaces}`, `p${i}`, v4(base + 2 + i), true, {
        app: `app${Math.floor(i / namespaces) % 10}`,
      }),
    );
  const nps: NetworkPolicyView[] = [];
  for (let i = 0; i < policies; i++) {
    const ns = `ns${i % namespaces}`;
    const k = Math.floor(i / namespaces);
    let spec: NetworkPolicyView["spec"];
    if (k === 0) spec = { podSelector: {}, policyTypes: ["Ingress", "Egress"] };
    else if (k === 1)
      spec = {
        podSelector: {},
        ingress: [{ from: [{ podSelector: {} }] }],
        egress: [{ to: [{ podSelector: {} }] }],
      };
    else
      spec = {
        podSelector: { matchLabels: { app: `app${k % 10}` } },
        ingress: [
          {
            from: [
              {
                namespaceSelector: {
                  matchLabels: { "kubernetes.io/metadata.name": `ns${(i + 1) % namespaces}` },
                },
              },
              { ipBlock: { cidr: `192.168.${k % 256}.0/24`, except: [`192.168.${k % 256}.128/25`] } },
            ],
            ports: [
              { protocol: "TCP", port: 8000 + k + (i === 2 * namespaces ? tweak : 0) },
              { protocol: "UDP", port: 53 },
            ],
          },
        ],
        egress: [
          {
            to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8"] } }],
            ports: [{ protocol: "TCP", port: 443, endPort: 450 }],
          },
        ],
      };
    nps.push({ namespace: ns, name: `np${i}`, spec });
  }
  return baseView({
    mode: "networkpolicy",
    podSubnet: "10.128.0.0/18",
    pods: podList,
    namespaces: Array.from({ length: namespaces }, (_, i) => ({
      name: `ns${i}`,
      labels: { "kubernetes.io/metadata.name": `ns${i}` },
      multicast: false,
    })),
    networkPolicies: nps,
  });
}

// ------------------------------------------------------------------------------ random views

const OUTSIDE = [
  "1.2.3.4",
  "1.2.3.200",
  "1.2.200.1",
  "8.8.8.8",
  "9.9.9.9",
  "192.168.126.1",
  "192.168.126.50",
];
const CIDRS = [
  "1.2.3.0/24",
  "1.2.0.0/16",
  "0.0.0.0/0",
  "1.2.3.4/32",
  "8.0.0.0/7",
  "1.2.3.128/25",
  "192.168.126.0/24",
];
const PORTS = [53, 80, 443, 8080];

export interface RandomCase {
  view: PolicyView;
  /** Resolved NetworkPolicy allow lists (random, not derived from view.networkPolicies). */
  np: LocalPodPolicy[];
  packets: PolicyTracePacket[];
}

/** A small random cluster (any mode), random firewalls and allow lists, and packets to probe it. */
export function randomCase(seed: number, packets = 40): RandomCase {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const mode = pick(["multitenant", "networkpolicy", "subnet"] as const);
  const nsNames = ["default", "a", "b", "c", "d"];
  const namespaces = nsNames.map((name) => {
    const netid = name === "default" ? 0 : pick([0, 10, 11, 12, undefined]);
    return { name, labels: {}, multicast: false, ...(netid === undefined ? {} : { netid }) };
  });
  const pods: PolicyPod[] = [];
  const n = 2 + Math.floor(r() * 6);
  for (let i = 0; i < n; i++) {
    const local = r() < 0.6;
    const ip = local ? `10.128.0.${2 + Math.floor(r() * 6)}` : `10.128.2.${2 + Math.floor(r() * 4)}`;
    pods.push(pod(pick(nsNames), `p${i}`, ip, local));
  }
  const rule = (): EgressFirewallRuleView => {
    const type = pick(["Allow", "Deny"] as const);
    const ports =
      r() < 0.4
        ? Array.from({ length: 1 + Math.floor(r() * 2) }, () => ({
            protocol: pick(["TCP", "UDP", "SCTP"] as const),
            port: pick(PORTS),
          }))
        : undefined;
    const k = r();
    const to: Partial<EgressFirewallRuleView> =
      k < 0.6
        ? { cidrSelector: pick(CIDRS) }
        : k < 0.85
          ? { dnsName: "x.example", dnsAddresses: OUTSIDE.filter(() => r() < 0.3) }
          : { nodeSelector: { matchLabels: { zone: pick(["a", "b", "c"]) } } };
    return { type, ...to, ...(ports ? { ports } : {}) };
  };
  const egressFirewalls = nsNames
    .filter(() => r() < 0.6)
    .flatMap((ns) =>
      Array.from({ length: r() < 0.15 ? 2 : 1 }, (_, j) => ({
        namespace: ns,
        kind: j === 0 ? ("EgressFirewall" as const) : ("EgressNetworkPolicy" as const),
        name: j === 0 ? "default" : "enp",
        effect: pick(["Enforced", "Enforced", "Enforced", "Ignored", "DropAll"] as const),
        rules: Array.from({ length: Math.floor(r() * 6) }, rule),
      })),
    );
  const peers = (): AllowEntry["peers"] => {
    if (r() < 0.25) return "any";
    const xs = [
      ...new Set(
        Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick([...pods.map((p) => p.ip), ...OUTSIDE])),
      ),
    ]
      .map(num)
      .sort((a, b) => a - b);
    return xs
      .map((x) => ({ start: x, end: r() < 0.2 ? x + 3 : x }))
      .filter((x, i, a) => i === 0 || x.start > a[i - 1]!.end);
  };
  const entries = (direction: "ingress" | "egress"): AllowEntry[] =>
    Array.from({ length: Math.floor(r() * 4) }, (_, i) => {
      const protocol = r() < 0.6 ? pick(["TCP", "UDP", "SCTP"] as const) : undefined;
      const lo = pick(PORTS);
      const ports: [number, number] | undefined =
        protocol && r() < 0.7 ? [lo, r() < 0.3 ? lo + 400 : lo] : undefined;
      return {
        peers: peers(),
        ...(protocol ? { protocol } : {}),
        ...(ports ? { ports } : {}),
        origin: { policy: `${pick(nsNames)}/np${i % 2}`, direction, rule: i },
      };
    });
  const np: LocalPodPolicy[] = pods
    .filter((p) => p.local)
    .map((p) => ({
      namespace: p.namespace,
      name: p.name,
      ip: num(p.ip),
      ingressIsolated: r() < 0.5,
      egressIsolated: r() < 0.5,
      ingress: entries("ingress"),
      egress: entries("egress"),
    }));
  // Half the entries list their peers as components (overlapping parts whose union is the peers),
  // as the resolver does for several peers, and some get a sibling right after them with the same
  // origin and peers but other ports (a rule with several ports); drawn from a second generator so
  // the cases above stay.
  const rc = rng(seed ^ 0x9e3779b9);
  for (const p of np)
    for (const list of [p.ingress, p.egress])
      for (let i = list.length - 1; i >= 0; i--) {
        const e = list[i]!;
        if (e.peers !== "any" && rc() < 0.5) {
          const parts: V4Range[][] = [[], [], []];
          for (const x of e.peers) {
            const k = Math.floor(rc() * 4);
            if (k < 3) parts[k]!.push(x);
            else {
              parts[0]!.push(x);
              parts[1]!.push(x);
            }
          }
          e.components = parts.filter((c) => c.length > 0);
        }
        if (e.protocol && rc() < 0.4) {
          const { ports: _, ...rest } = e;
          const protocol = (["TCP", "UDP", "SCTP"] as const)[Math.floor(rc() * 3)]!;
          const lo = PORTS[Math.floor(rc() * PORTS.length)]!;
          const k = rc();
          const ports: [number, number] | undefined = k < 0.4 ? [lo, lo] : k < 0.8 ? [lo, lo + 1] : undefined;
          list.splice(i + 1, 0, { ...rest, protocol, ...(ports ? { ports } : {}) });
        }
      }
  const view = baseView({
    mode,
    nodes: [
      { name: "n1", ips: ["192.168.126.11"], labels: { zone: "a" } },
      { name: "n2", ips: ["192.168.126.12", "192.168.126.50"], labels: { zone: "b" } },
    ],
    dnsServers: r() < 0.8 ? ["192.168.126.1"] : [],
    pods,
    namespaces,
    egressFirewalls,
  });
  const addrs = [
    ...pods.map((p) => p.ip),
    "10.128.0.99",
    "10.128.2.99",
    "172.30.0.10",
    "192.168.126.11",
    ...OUTSIDE,
  ];
  const pkts: PolicyTracePacket[] = Array.from({ length: packets }, () => {
    const protocol = pick(["TCP", "UDP", "SCTP", "ICMP"] as const);
    return {
      src: pick(addrs),
      dst: pick(addrs),
      protocol,
      ...(protocol === "ICMP" ? {} : { dport: pick(PORTS) }),
      state: r() < 0.2 ? "established" : "new",
    };
  });
  return { view, np, packets: pkts };
}
