// Policy sets for the trace-vs-packets matrix (trace-matrix.test.ts), generated from a seed with a
// small deterministic PRNG, so that a failing run can be replayed exactly (the seed is printed).
// Each set is a few NetworkPolicies over the test's namespaces and pods (pod/namespace selectors
// with matchLabels and matchExpressions, both in one peer, ipBlock with except, numbered, named and
// ranged ports, TCP/UDP, policyTypes, ingress and egress) and sometimes one egress firewall
// (EgressFirewall with ports and dnsName, or EgressNetworkPolicy) in one namespace. Pure: no I/O;
// it does not decide what is allowed (the trace and the packets do, and the test compares them).

/** mulberry32: a tiny deterministic PRNG (32-bit state). */
export class Prng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    const x = xs[Math.floor(this.next() * xs.length)];
    if (x === undefined) throw new Error("pick from an empty list");
    return x;
  }
  /** `n` distinct elements (fewer if the list is shorter), in list order. */
  some<T>(xs: readonly T[], n: number): T[] {
    const idx = xs.map((_, i) => i);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [idx[i], idx[j]] = [idx[j]!, idx[i]!];
    }
    return idx
      .slice(0, n)
      .sort((a, b) => a - b)
      .map((i) => xs[i]!);
  }
}

/** What the generator may refer to. */
export interface GenWorld {
  /** Namespaces with their labels (`ns`, `team`, ...). */
  namespaces: { name: string; labels: Record<string, string> }[];
  /** Label values pods carry, per key (e.g. pod: [a, b, c], role: [web, db]). */
  podLabels: Record<string, string[]>;
  /** Pod subnets of the nodes (HostSubnet.subnet) and the cluster network. */
  podSubnets: string[];
  clusterNetwork: string;
  /** Outside CIDRs worth naming in ipBlock / cidrSelector rules. */
  outsideCidrs: string[];
  /** DNS names the lab DNS knows (for dnsName rules). */
  dnsNames: string[];
  /** Node label selectors (for EgressFirewall nodeSelector rules). */
  nodeSelectors: Selector[];
}

export interface KubeDoc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string };
  spec: Record<string, unknown>;
}

export interface PolicySet {
  round: number;
  docs: KubeDoc[];
}

export type Selector = Record<string, unknown>;

function podSelector(r: Prng, w: GenWorld, allowEmpty = true): Selector {
  const keys = Object.keys(w.podLabels);
  const key = r.pick(keys);
  const values = w.podLabels[key] ?? [];
  switch (r.int(allowEmpty ? 0 : 1, 4)) {
    case 0:
      return {};
    case 1:
    case 2:
      return { matchLabels: { [key]: r.pick(values) } };
    case 3:
      return {
        matchExpressions: [{ key, operator: r.pick(["In", "NotIn"]), values: r.some(values, r.int(1, 2)) }],
      };
    default:
      return { matchExpressions: [{ key, operator: r.pick(["Exists", "DoesNotExist"]) }] };
  }
}

function namespaceSelector(r: Prng, w: GenWorld): Selector {
  const ns = r.pick(w.namespaces);
  switch (r.int(0, 3)) {
    case 0:
      return {};
    case 1:
      return { matchLabels: { ns: ns.labels.ns ?? ns.name } };
    case 2: {
      const teams = [...new Set(w.namespaces.map((n) => n.labels.team).filter((t): t is string => !!t))];
      return { matchLabels: { team: r.pick(teams) } };
    }
    default:
      return {
        matchExpressions: [
          {
            key: "ns",
            operator: r.pick(["In", "NotIn"]),
            values: r.some(
              w.namespaces.map((n) => n.labels.ns ?? n.name),
              r.int(1, 2),
            ),
          },
        ],
      };
  }
}

function ipBlock(r: Prng, w: GenWorld, direction: "ingress" | "egress"): Record<string, unknown> {
  if (direction === "egress" && r.chance(0.6)) {
    // Outside: one CIDR, or everything but one or two outside CIDRs.
    if (r.chance(0.5)) return { cidr: r.pick(w.outsideCidrs) };
    return { cidr: "0.0.0.0/0", except: r.some(w.outsideCidrs, r.int(1, 2)) };
  }
  if (r.chance(0.5)) return { cidr: r.pick(w.podSubnets) };
  return { cidr: w.clusterNetwork, except: r.some(w.podSubnets, 1) };
}

function peer(r: Prng, w: GenWorld, direction: "ingress" | "egress"): Record<string, unknown> {
  switch (r.int(0, 3)) {
    case 0:
      return { podSelector: podSelector(r, w) };
    case 1:
      return { namespaceSelector: namespaceSelector(r, w) };
    case 2:
      return { namespaceSelector: namespaceSelector(r, w), podSelector: podSelector(r, w) };
    default:
      return { ipBlock: ipBlock(r, w, direction) };
  }
}

/** Port entries: numbers the echo servers serve, named ports (pods only), a range, all of UDP. */
const PORTS: Record<string, unknown>[] = [
  { port: 7000 },
  { protocol: "TCP", port: 7000 },
  { protocol: "UDP", port: 7001 },
  { port: "echo-http" },
  { protocol: "UDP", port: "echo-udp" },
  { protocol: "TCP", port: 7000, endPort: 8080 },
  { protocol: "UDP" },
  { port: 80 },
  { port: 443 },
  { protocol: "UDP", port: 53 },
  { protocol: "TCP", port: 8000, endPort: 9000 },
  { protocol: "UDP", port: 7101 },
];

function rule(r: Prng, w: GenWorld, direction: "ingress" | "egress"): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const peers = r.int(0, 2);
  if (peers > 0)
    out[direction === "ingress" ? "from" : "to"] = Array.from({ length: peers }, () => peer(r, w, direction));
  if (r.chance(0.6)) out.ports = r.some(PORTS, r.int(1, 2));
  return out;
}

function networkPolicy(r: Prng, w: GenWorld, name: string, namespace: string): KubeDoc {
  const types = [["Ingress"], ["Egress"], ["Ingress", "Egress"], undefined][r.int(0, 3)];
  // Mostly some rules: an empty list (deny all in that direction) is one case among others.
  const rules = () => (r.chance(0.2) ? 0 : r.int(1, 2));
  const spec: Record<string, unknown> = { podSelector: podSelector(r, w) };
  const ingress = !types || types.includes("Ingress");
  const egress = types?.includes("Egress") ?? r.chance(0.4);
  if (ingress) spec.ingress = Array.from({ length: rules() }, () => rule(r, w, "ingress"));
  if (egress) spec.egress = Array.from({ length: rules() }, () => rule(r, w, "egress"));
  if (types) spec.policyTypes = [...types];
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name, namespace },
    spec,
  };
}

function firewall(r: Prng, w: GenWorld, namespace: string): KubeDoc {
  const ovn = r.chance(0.7);
  const dest = (): Record<string, unknown> => {
    const x = r.next();
    if (x < 0.2) return { dnsName: r.pick(w.dnsNames) };
    // nodeSelector is EgressFirewall only.
    if (ovn && x < 0.35) return { nodeSelector: r.pick(w.nodeSelectors) };
    return { cidrSelector: r.pick(w.outsideCidrs) };
  };
  const rules: Record<string, unknown>[] = Array.from({ length: r.int(1, 3) }, () => ({
    type: r.pick(["Allow", "Deny"]),
    to: dest(),
    ...(ovn && r.chance(0.4)
      ? {
          ports: r.some(
            [
              { protocol: "TCP", port: 7000 },
              { protocol: "UDP", port: 7001 },
              { protocol: "TCP", port: 80 },
              { protocol: "TCP", port: 8080 },
              { protocol: "TCP", port: 7100 },
            ],
            r.int(1, 2),
          ),
        }
      : {}),
  }));
  if (r.chance(0.6)) rules.push({ type: r.pick(["Allow", "Deny"]), to: { cidrSelector: "0.0.0.0/0" } });
  return ovn
    ? {
        apiVersion: "k8s.ovn.org/v1",
        kind: "EgressFirewall",
        metadata: { name: "default", namespace },
        spec: { egress: rules },
      }
    : {
        apiVersion: "network.openshift.io/v1",
        kind: "EgressNetworkPolicy",
        metadata: { name: "default", namespace },
        spec: { egress: rules },
      };
}

/** Round `round`'s set (1-based), from the seed alone: the same seed always gives the same sets. */
export function generateSet(seed: number, round: number, w: GenWorld): PolicySet {
  const r = new Prng((seed ^ Math.imul(round, 0x9e3779b1)) >>> 0);
  const docs: KubeDoc[] = [];
  const count = r.int(2, 4);
  for (let i = 0; i < count; i++)
    docs.push(networkPolicy(r, w, `gen-${round}-${i}`, r.pick(w.namespaces).name));
  if (r.chance(0.7)) docs.push(firewall(r, w, r.pick(w.namespaces).name));
  return { round, docs };
}
