// NetworkPolicy case table: named scenarios (namespaces, pods, policies as written in YAML) with the
// expected cluster-wide verdict for a list of probes. Plain data, shared by the unit tests of the
// resolver and the reference evaluator and by the lab e2e tests, which replay the same probes with real
// packets. Pure data and small helpers; no I/O.
//
// Conventions:
// - Pod addresses in `ip` are the defaults for unit tests; in a lab the pods get other addresses, so
//   ipBlock strings may name a pod as `{ns/pod}` (materializeCase replaces it with the pod's address).
// - Outside addresses are the lab's web host (docs/lab.md): 203.0.113.25/.26/.27, 1.2.3.4,
//   198.51.100.10, serving TCP 7000, 443, 80, 8080 and UDP 7001. Pod probes name the port the
//   destination pod must listen on.
// - `expect` is the verdict of the whole cluster: the source pod's egress and the destination pod's
//   ingress must both allow (a new flow).
// - `apiRejects`: the API server refuses a policy of the case (it tests the compiler's fail-closed
//   handling of bad stored objects); a lab cannot create it through the API.
// - `lab: false` on a probe: the lab cannot send that packet (SCTP).
import type { PolicyNamespace, PolicyPod, PolicyProtocol, PolicyView } from "./types.js";

export interface NpCaseNamespace {
  name: string;
  labels: Record<string, string>;
}

export interface NpCasePod {
  namespace: string;
  name: string;
  ip: string;
  labels: Record<string, string>;
  ports: { name: string; port: number; protocol: PolicyProtocol }[];
}

export interface NpCasePolicy {
  namespace: string;
  name: string;
  /** NetworkPolicy spec as written (not defaulted; may be invalid in `apiRejects` cases). */
  spec: Record<string, unknown>;
}

export interface NpCaseProbe {
  /** "namespace/pod" */
  from: string;
  /** "namespace/pod" or an outside IPv4 address. */
  to: string;
  protocol: PolicyProtocol | "ICMP";
  /** Destination port; 0 for ICMP. */
  port: number;
  expect: "allow" | "deny";
  lab?: false;
}

export interface NpCase {
  name: string;
  summary: string;
  namespaces: NpCaseNamespace[];
  pods: NpCasePod[];
  policies: NpCasePolicy[];
  probes: NpCaseProbe[];
  apiRejects?: true;
  /** Substrings of the warning fields the resolver must report; absent = no warnings. */
  warns?: string[];
}

// ------------------------------------------------------------------------------------- the world

/** Label every namespace carries (set by the API server; the agent's PolicyView keeps it). */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

const NAMESPACES: NpCaseNamespace[] = (
  [
    { name: "default", labels: { name: "default" } },
    { name: "openshift-ingress", labels: { "network.openshift.io/policy-group": "ingress" } },
    { name: "ns1", labels: { team: "a" } },
    { name: "ns2", labels: { team: "b" } },
    { name: "ns3", labels: {} },
  ] as NpCaseNamespace[]
).map((n) => ({ ...n, labels: { ...n.labels, [NAMESPACE_NAME_LABEL]: n.name } }));

const POD_LIST: NpCasePod[] = [
  { namespace: "default", name: "router", ip: "10.128.0.10", labels: { app: "router" }, ports: [] },
  {
    namespace: "openshift-ingress",
    name: "router-default",
    ip: "10.128.0.11",
    labels: { ingresscontroller: "default" },
    ports: [],
  },
  {
    namespace: "ns1",
    name: "frontend",
    ip: "10.128.1.10",
    labels: { role: "frontend" },
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
  },
  {
    namespace: "ns1",
    name: "database",
    ip: "10.128.1.11",
    labels: { role: "database" },
    ports: [{ name: "db", port: 5432, protocol: "TCP" }],
  },
  { namespace: "ns1", name: "client", ip: "10.128.1.12", labels: { role: "client" }, ports: [] },
  {
    namespace: "ns1",
    name: "api",
    ip: "10.128.1.13",
    labels: { role: "api" },
    ports: [
      { name: "http", port: 9090, protocol: "TCP" },
      { name: "metrics", port: 9100, protocol: "TCP" },
    ],
  },
  {
    namespace: "ns2",
    name: "frontend",
    ip: "10.128.2.10",
    labels: { role: "frontend" },
    ports: [
      { name: "http", port: 9090, protocol: "TCP" },
      { name: "dns", port: 5353, protocol: "UDP" },
    ],
  },
  { namespace: "ns2", name: "client", ip: "10.128.2.12", labels: { role: "client" }, ports: [] },
  { namespace: "ns3", name: "other", ip: "10.128.3.10", labels: {}, ports: [] },
];

// ------------------------------------------------------------------------------------- builders

const np = (namespace: string, name: string, spec: Record<string, unknown>): NpCasePolicy => ({
  namespace,
  name,
  spec,
});

function probe(expect: "allow" | "deny") {
  return (
    from: string,
    to: string,
    port: number,
    protocol: PolicyProtocol | "ICMP" = "TCP",
  ): NpCaseProbe => ({
    from,
    to,
    protocol,
    port,
    expect,
    ...(protocol === "SCTP" ? { lab: false as const } : {}),
  });
}
const allow = probe("allow");
const deny = probe("deny");

function kase(
  name: string,
  summary: string,
  policies: NpCasePolicy[],
  probes: NpCaseProbe[],
  extra: { apiRejects?: true; warns?: string[] } = {},
): NpCase {
  return {
    name,
    summary,
    namespaces: structuredClone(NAMESPACES),
    pods: structuredClone(POD_LIST),
    policies,
    probes,
    ...extra,
  };
}

// Seed 004 §6.8 policies, as written there.
const denyByDefault = (ns: string) => np(ns, "deny-by-default", { podSelector: null, ingress: [] });
const allowSameNamespace = (ns: string, name = "allow-same-namespace") =>
  np(ns, name, { podSelector: null, ingress: [{ from: [{ podSelector: {} }] }] });
const allowHttpAndHttps = (ns: string) =>
  np(ns, "allow-http-and-https", {
    podSelector: { matchLabels: { role: "frontend" } },
    ingress: [
      {
        ports: [
          { protocol: "TCP", port: 80 },
          { protocol: "TCP", port: 443 },
        ],
      },
    ],
  });
const allowToDatabase = (ns: string) =>
  np(ns, "allow-to-database-service", {
    podSelector: { matchLabels: { role: "database" } },
    ingress: [{ ports: [{ protocol: "TCP", port: 5432 }] }],
  });
const allowFromDefault = (ns: string) =>
  np(ns, "allow-from-default-namespace", {
    podSelector: null,
    ingress: [{ from: [{ namespaceSelector: { matchLabels: { name: "default" } } }] }],
  });
const ingressFrontend = (ns: string, name: string, rules: unknown[]) =>
  np(ns, name, { podSelector: { matchLabels: { role: "frontend" } }, ingress: rules });
const egressClient = (name: string, rules: unknown[] | undefined, extra: Record<string, unknown> = {}) =>
  np("ns1", name, {
    podSelector: { matchLabels: { role: "client" } },
    policyTypes: ["Egress"],
    ...(rules === undefined ? {} : { egress: rules }),
    ...extra,
  });

// ------------------------------------------------------------------------------------- the cases

export const NP_CASES: NpCase[] = [
  kase(
    "no-policies",
    "A pod selected by no policy is open in both directions",
    [],
    [
      allow("ns2/client", "ns1/frontend", 8080),
      allow("ns1/client", "203.0.113.25", 7000),
      allow("ns3/other", "ns1/database", 5432, "UDP"),
      allow("ns3/other", "ns1/database", 0, "ICMP"),
    ],
  ),
  kase(
    "seed-deny-by-default",
    "Seed: podSelector null + ingress [] isolates every pod of the namespace for ingress only",
    [denyByDefault("ns1")],
    [
      deny("ns1/client", "ns1/frontend", 8080),
      deny("ns2/client", "ns1/database", 5432),
      deny("ns2/client", "ns1/database", 0, "ICMP"),
      allow("ns1/client", "ns2/frontend", 9090),
      allow("ns1/client", "203.0.113.25", 7000),
      allow("ns2/client", "ns2/frontend", 9090),
    ],
  ),
  kase(
    "seed-allow-same-namespace",
    "Seed: from podSelector {} = every pod of the policy's namespace, nothing else",
    [allowSameNamespace("ns1")],
    [
      allow("ns1/client", "ns1/frontend", 8080),
      allow("ns1/client", "ns1/database", 5432),
      allow("ns1/client", "ns1/database", 0, "ICMP"),
      deny("ns2/client", "ns1/frontend", 8080),
      deny("default/router", "ns1/database", 5432),
      allow("ns2/client", "ns2/frontend", 9090),
    ],
  ),
  kase(
    "seed-allow-http-and-https",
    "Seed: ports without from = any source on TCP 80/443 to role=frontend; other pods stay open",
    [allowHttpAndHttps("ns1")],
    [
      allow("ns2/client", "ns1/frontend", 80),
      allow("ns2/client", "ns1/frontend", 443),
      deny("ns2/client", "ns1/frontend", 8080),
      deny("ns2/client", "ns1/frontend", 80, "UDP"),
      deny("ns2/client", "ns1/frontend", 0, "ICMP"),
      allow("ns2/client", "ns1/database", 5432),
    ],
  ),
  kase(
    "seed-additive",
    "Seed: deny-by-default + allow-same-namespace + allow-http-and-https are additive",
    [denyByDefault("ns1"), allowSameNamespace("ns1"), allowHttpAndHttps("ns1")],
    [
      allow("ns1/client", "ns1/frontend", 8080),
      allow("ns2/client", "ns1/frontend", 80),
      allow("ns3/other", "ns1/frontend", 443),
      deny("ns2/client", "ns1/frontend", 8080),
      deny("ns2/client", "ns1/database", 5432),
      allow("ns1/client", "ns1/database", 5432),
    ],
  ),
  kase(
    "seed-allow-to-database-service",
    "Seed 6.8.1: TCP 5432 to role=database from anywhere, with deny-by-default",
    [denyByDefault("ns1"), allowToDatabase("ns1")],
    [
      allow("ns2/client", "ns1/database", 5432),
      allow("default/router", "ns1/database", 5432),
      deny("ns2/client", "ns1/database", 5433),
      deny("ns2/client", "ns1/frontend", 8080),
    ],
  ),
  kase(
    "seed-allow-from-default-namespace",
    "Seed 6.8.1: namespaceSelector name=default, with deny-by-default (same namespace is not allowed)",
    [denyByDefault("ns1"), allowFromDefault("ns1")],
    [
      allow("default/router", "ns1/frontend", 8080),
      allow("default/router", "ns1/database", 5432),
      deny("ns2/client", "ns1/frontend", 8080),
      deny("openshift-ingress/router-default", "ns1/frontend", 8080),
      deny("ns1/client", "ns1/frontend", 8080),
    ],
  ),
  kase(
    "seed-project-template-defaults",
    "Seed 6.8.2: allow-from-same-namespace + allow-from-default-namespace",
    [allowSameNamespace("ns1", "allow-from-same-namespace"), allowFromDefault("ns1")],
    [
      allow("ns1/client", "ns1/frontend", 8080),
      allow("default/router", "ns1/frontend", 8080),
      deny("ns2/client", "ns1/frontend", 8080),
      deny("openshift-ingress/router-default", "ns1/database", 5432),
    ],
  ),
  kase(
    "allow-from-openshift-ingress",
    "namespaceSelector network.openshift.io/policy-group=ingress (the router namespace)",
    [
      np("ns1", "allow-from-openshift-ingress", {
        podSelector: {},
        ingress: [
          {
            from: [
              { namespaceSelector: { matchLabels: { "network.openshift.io/policy-group": "ingress" } } },
            ],
          },
        ],
        policyTypes: ["Ingress"],
      }),
    ],
    [
      allow("openshift-ingress/router-default", "ns1/frontend", 8080),
      deny("default/router", "ns1/frontend", 8080),
      deny("ns1/client", "ns1/frontend", 8080),
    ],
  ),
  kase(
    "peer-podSelector-only",
    "A podSelector peer alone selects pods of the policy's own namespace",
    [
      np("ns1", "db-from-clients", {
        podSelector: { matchLabels: { role: "database" } },
        ingress: [{ from: [{ podSelector: { matchLabels: { role: "client" } } }] }],
      }),
    ],
    [
      allow("ns1/client", "ns1/database", 5432),
      deny("ns2/client", "ns1/database", 5432),
      deny("ns1/frontend", "ns1/database", 5432),
      allow("ns2/client", "ns1/frontend", 8080),
    ],
  ),
  kase(
    "peer-namespaceSelector-only",
    "A namespaceSelector peer alone selects every pod of the matching namespaces",
    [
      np("ns1", "from-team-b", {
        podSelector: {},
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: "b" } } }] }],
      }),
    ],
    [
      allow("ns2/client", "ns1/frontend", 8080),
      allow("ns2/frontend", "ns1/database", 5432),
      deny("ns3/other", "ns1/frontend", 8080),
      deny("ns1/client", "ns1/frontend", 8080),
    ],
  ),
  kase(
    "allow-pod-and-namespace-both",
    "One peer with namespaceSelector and podSelector: pods matching both (AND)",
    [
      np("ns1", "allow-pod-and-namespace-both", {
        podSelector: {},
        ingress: [
          {
            from: [
              {
                namespaceSelector: { matchLabels: { team: "b" } },
                podSelector: { matchLabels: { role: "client" } },
              },
            ],
          },
        ],
      }),
    ],
    [
      allow("ns2/client", "ns1/frontend", 8080),
      deny("ns2/frontend", "ns1/frontend", 8080),
      deny("ns1/client", "ns1/frontend", 8080),
    ],
  ),
  kase(
    "peer-pod-or-namespace",
    "Two peers (namespaceSelector, podSelector) in one from list: either (OR)",
    [
      np("ns1", "pod-or-namespace", {
        podSelector: {},
        ingress: [
          {
            from: [
              { namespaceSelector: { matchLabels: { team: "b" } } },
              { podSelector: { matchLabels: { role: "client" } } },
            ],
          },
        ],
      }),
    ],
    [
      allow("ns2/frontend", "ns1/frontend", 8080),
      allow("ns1/client", "ns1/frontend", 8080),
      deny("ns1/database", "ns1/frontend", 8080),
      deny("ns3/other", "ns1/frontend", 8080),
    ],
  ),
  kase(
    "peer-namespaceSelector-empty",
    "namespaceSelector {} = every pod of every namespace",
    [ingressFrontend("ns1", "from-all-pods", [{ from: [{ namespaceSelector: {} }] }])],
    [
      allow("ns3/other", "ns1/frontend", 8080),
      allow("ns1/client", "ns1/frontend", 8080),
      allow("default/router", "ns1/frontend", 8080),
    ],
  ),
  kase(
    "egress-to-all-pods-only",
    "Egress to namespaceSelector {}: every pod, but no outside address",
    [egressClient("to-pods", [{ to: [{ namespaceSelector: {} }] }])],
    [
      allow("ns1/client", "ns2/frontend", 9090),
      allow("ns1/client", "ns1/database", 5432),
      deny("ns1/client", "203.0.113.25", 7000),
      allow("ns1/frontend", "203.0.113.25", 7000),
    ],
  ),
  kase(
    "peer-podSelector-empty",
    "podSelector {} as a peer = every pod of the policy's namespace",
    [ingressFrontend("ns1", "from-own-namespace", [{ from: [{ podSelector: {} }] }])],
    [allow("ns1/database", "ns1/frontend", 8080), deny("ns2/frontend", "ns1/frontend", 8080)],
  ),
  kase(
    "selector-In-NotIn",
    "matchExpressions In (policy podSelector) and NotIn (namespaceSelector; a missing label matches NotIn)",
    [
      np("ns1", "in-notin", {
        podSelector: {
          matchExpressions: [{ key: "role", operator: "In", values: ["frontend", "database"] }],
        },
        ingress: [
          {
            from: [
              {
                namespaceSelector: { matchExpressions: [{ key: "team", operator: "NotIn", values: ["a"] }] },
              },
            ],
          },
        ],
      }),
    ],
    [
      allow("ns2/client", "ns1/frontend", 8080),
      allow("ns3/other", "ns1/database", 5432),
      deny("ns1/client", "ns1/frontend", 8080),
      deny("ns1/client", "ns1/database", 5432),
      allow("ns1/frontend", "ns1/client", 80),
    ],
  ),
  kase(
    "selector-Exists-DoesNotExist",
    "matchExpressions Exists (policy podSelector) and DoesNotExist (namespaceSelector)",
    [
      np("ns1", "exists", {
        podSelector: { matchExpressions: [{ key: "role", operator: "Exists" }] },
        ingress: [
          {
            from: [{ namespaceSelector: { matchExpressions: [{ key: "team", operator: "DoesNotExist" }] } }],
          },
        ],
      }),
    ],
    [
      allow("ns3/other", "ns1/frontend", 8080),
      allow("default/router", "ns1/frontend", 8080),
      deny("ns2/client", "ns1/frontend", 8080),
      deny("ns1/client", "ns1/api", 9090),
    ],
  ),
  kase(
    "unselected-pods-stay-open",
    "Isolation only for selected pods: role=database isolated, the rest of the namespace open",
    [np("ns1", "isolate-db", { podSelector: { matchLabels: { role: "database" } }, ingress: [] })],
    [
      deny("ns2/client", "ns1/database", 5432),
      allow("ns2/client", "ns1/frontend", 8080),
      allow("ns2/client", "ns1/client", 80),
    ],
  ),
  kase(
    "policyTypes-egress-deny-all",
    "policyTypes [Egress] without egress rules: no egress at all; ingress stays open",
    [np("ns1", "deny-egress", { podSelector: {}, policyTypes: ["Egress"] })],
    [
      deny("ns1/client", "ns2/frontend", 9090),
      deny("ns1/client", "203.0.113.25", 7000),
      deny("ns1/client", "ns1/frontend", 8080),
      allow("ns2/client", "ns1/frontend", 8080),
    ],
  ),
  kase(
    "policyTypes-default-with-egress",
    "No policyTypes but egress rules: Ingress and Egress both apply (ingress then allows nothing)",
    [
      np("ns1", "egress-only-meant", {
        podSelector: { matchLabels: { role: "client" } },
        egress: [{ to: [{ ipBlock: { cidr: "203.0.113.0/24" } }] }],
      }),
    ],
    [
      allow("ns1/client", "203.0.113.25", 7000),
      deny("ns1/client", "1.2.3.4", 7000),
      deny("ns1/frontend", "ns1/client", 80),
      deny("ns1/client", "ns1/frontend", 8080),
    ],
  ),
  kase(
    "policyTypes-default-empty-egress",
    "No policyTypes and egress: [] : only Ingress applies (Kubernetes adds Egress only for len(egress) > 0)",
    [np("ns1", "empty-egress", { podSelector: {}, egress: [] })],
    [allow("ns1/client", "203.0.113.25", 7000), deny("ns2/client", "ns1/frontend", 8080)],
  ),
  kase(
    "policyTypes-both",
    "policyTypes [Ingress, Egress] with ingress [{}] (all) and egress [] (none)",
    [np("ns1", "both", { podSelector: {}, policyTypes: ["Ingress", "Egress"], ingress: [{}], egress: [] })],
    [
      allow("ns2/client", "ns1/frontend", 8080),
      deny("ns1/client", "ns2/frontend", 9090),
      deny("ns1/client", "ns1/frontend", 8080),
    ],
  ),
  kase(
    "egress-ipBlock",
    "Egress to an ipBlock only",
    [egressClient("to-web", [{ to: [{ ipBlock: { cidr: "203.0.113.0/24" } }] }])],
    [
      allow("ns1/client", "203.0.113.25", 7000),
      allow("ns1/client", "203.0.113.26", 443),
      allow("ns1/client", "203.0.113.26", 7001, "UDP"),
      deny("ns1/client", "1.2.3.4", 7000),
      deny("ns1/client", "ns1/frontend", 8080),
    ],
  ),
  kase(
    "egress-ipBlock-except",
    "ipBlock with except: the excepted address is not allowed, its neighbours are",
    [
      egressClient("to-web-but-26", [
        { to: [{ ipBlock: { cidr: "203.0.113.0/24", except: ["203.0.113.26/32"] } }] },
      ]),
    ],
    [
      allow("ns1/client", "203.0.113.25", 7000),
      deny("ns1/client", "203.0.113.26", 7000),
      allow("ns1/client", "203.0.113.27", 7000),
    ],
  ),
  kase(
    "egress-ports-and-ipBlock",
    "Two egress rules: UDP 7001 anywhere, TCP 443 to 198.51.100.0/24",
    [
      egressClient("udp-and-https", [
        { ports: [{ protocol: "UDP", port: 7001 }] },
        { to: [{ ipBlock: { cidr: "198.51.100.0/24" } }], ports: [{ port: 443 }] },
      ]),
    ],
    [
      allow("ns1/client", "1.2.3.4", 7001, "UDP"),
      deny("ns1/client", "1.2.3.4", 7000),
      allow("ns1/client", "198.51.100.10", 443),
      deny("ns1/client", "198.51.100.10", 80),
    ],
  ),
  kase(
    "ingress-ipBlock-pod-address",
    "An ipBlock matches pod addresses too (this implementation applies ipBlocks to every address)",
    [ingressFrontend("ns1", "from-one-address", [{ from: [{ ipBlock: { cidr: "{ns2/client}/32" } }] }])],
    [allow("ns2/client", "ns1/frontend", 8080), deny("ns2/frontend", "ns1/frontend", 8080)],
  ),
  kase(
    "ingress-ipBlock-except-pod",
    "0.0.0.0/0 except one pod's address",
    [
      ingressFrontend("ns1", "all-but-one", [
        { from: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["{ns2/client}/32"] } }] },
      ]),
    ],
    [
      deny("ns2/client", "ns1/frontend", 8080),
      allow("ns2/frontend", "ns1/frontend", 8080),
      allow("ns3/other", "ns1/frontend", 8080),
    ],
  ),
  kase(
    "port-protocol-default-tcp",
    "A port without protocol is TCP",
    [ingressFrontend("ns1", "tcp-8080", [{ ports: [{ port: 8080 }] }])],
    [
      allow("ns2/client", "ns1/frontend", 8080),
      deny("ns2/client", "ns1/frontend", 8080, "UDP"),
      deny("ns2/client", "ns1/frontend", 8081),
    ],
  ),
  kase(
    "port-udp",
    "UDP port",
    [ingressFrontend("ns2", "udp-5353", [{ ports: [{ protocol: "UDP", port: 5353 }] }])],
    [
      allow("ns1/client", "ns2/frontend", 5353, "UDP"),
      deny("ns1/client", "ns2/frontend", 5353),
      deny("ns1/client", "ns2/frontend", 5354, "UDP"),
    ],
  ),
  kase(
    "port-protocol-only",
    "A port entry with only a protocol allows every port of that protocol",
    [ingressFrontend("ns1", "all-udp", [{ ports: [{ protocol: "UDP" }] }])],
    [
      allow("ns2/client", "ns1/frontend", 8080, "UDP"),
      allow("ns2/client", "ns1/frontend", 9999, "UDP"),
      deny("ns2/client", "ns1/frontend", 8080),
    ],
  ),
  kase(
    "port-endPort-range",
    "port..endPort is an inclusive range",
    [ingressFrontend("ns1", "range", [{ ports: [{ protocol: "TCP", port: 8000, endPort: 8100 }] }])],
    [
      allow("ns2/client", "ns1/frontend", 8000),
      allow("ns2/client", "ns1/frontend", 8080),
      allow("ns2/client", "ns1/frontend", 8100),
      deny("ns2/client", "ns1/frontend", 7999),
      deny("ns2/client", "ns1/frontend", 8101),
      deny("ns2/client", "ns1/frontend", 8080, "UDP"),
    ],
  ),
  kase(
    "port-sctp",
    "SCTP port",
    [ingressFrontend("ns1", "sctp", [{ ports: [{ protocol: "SCTP", port: 9000 }] }])],
    [allow("ns2/client", "ns1/frontend", 9000, "SCTP"), deny("ns2/client", "ns1/frontend", 9000)],
  ),
  kase(
    "named-port-ingress",
    "An ingress named port resolves per selected pod (frontend http=8080, api http=9090)",
    [np("ns1", "http-only", { podSelector: {}, ingress: [{ ports: [{ port: "http" }] }] })],
    [
      allow("ns2/client", "ns1/frontend", 8080),
      deny("ns2/client", "ns1/frontend", 9090),
      allow("ns2/client", "ns1/api", 9090),
      deny("ns2/client", "ns1/api", 8080),
      deny("ns2/client", "ns1/database", 5432),
    ],
  ),
  kase(
    "named-port-protocol-mismatch",
    "A named port must match the container port's protocol too (dns is UDP, the entry TCP)",
    [ingressFrontend("ns2", "dns-tcp", [{ ports: [{ port: "dns" }] }])],
    [deny("ns1/client", "ns2/frontend", 5353, "UDP"), deny("ns1/client", "ns2/frontend", 5353)],
  ),
  kase(
    "named-port-udp",
    "A UDP named port",
    [ingressFrontend("ns2", "dns-udp", [{ ports: [{ protocol: "UDP", port: "dns" }] }])],
    [allow("ns1/client", "ns2/frontend", 5353, "UDP"), deny("ns1/client", "ns2/frontend", 5353)],
  ),
  kase(
    "named-port-missing",
    "A named port the selected pod does not have allows nothing",
    [
      np("ns1", "metrics", {
        podSelector: { matchLabels: { role: "database" } },
        ingress: [{ ports: [{ port: "metrics" }] }],
      }),
    ],
    [deny("ns1/client", "ns1/database", 5432), deny("ns1/client", "ns1/database", 9100)],
  ),
  kase(
    "named-port-egress",
    "An egress named port resolves against each destination pod",
    [egressClient("to-http", [{ to: [{ namespaceSelector: {} }], ports: [{ port: "http" }] }])],
    [
      allow("ns1/client", "ns1/frontend", 8080),
      deny("ns1/client", "ns1/frontend", 9090),
      allow("ns1/client", "ns2/frontend", 9090),
      deny("ns1/client", "ns2/frontend", 8080),
      allow("ns1/client", "ns1/api", 9090),
      deny("ns1/client", "203.0.113.25", 8080),
    ],
  ),
  kase(
    "named-port-egress-any-peer",
    "An egress named port without to: any pod having that port name, no outside address",
    [egressClient("http-anywhere", [{ ports: [{ port: "http" }] }])],
    [
      allow("ns1/client", "ns2/frontend", 9090),
      allow("ns1/client", "ns1/frontend", 8080),
      deny("ns1/client", "203.0.113.25", 80),
      deny("ns1/client", "203.0.113.25", 8080),
      deny("ns1/client", "ns1/database", 5432),
    ],
  ),
  kase(
    "named-port-egress-ipBlock",
    "An egress named port with an ipBlock peer matches nothing (addresses carry no port names)",
    [
      egressClient("http-to-block", [
        { to: [{ ipBlock: { cidr: "0.0.0.0/0" } }], ports: [{ port: "http" }] },
      ]),
    ],
    [deny("ns1/client", "ns1/frontend", 8080), deny("ns1/client", "203.0.113.25", 8080)],
  ),
  kase(
    "rules-are-not-cross-product",
    "Peers and ports of different rules do not combine",
    [
      ingressFrontend("ns1", "two-rules", [
        { from: [{ podSelector: { matchLabels: { role: "client" } } }], ports: [{ port: 8080 }] },
        { from: [{ namespaceSelector: { matchLabels: { team: "b" } } }], ports: [{ port: 9000 }] },
      ]),
    ],
    [
      allow("ns1/client", "ns1/frontend", 8080),
      deny("ns1/client", "ns1/frontend", 9000),
      allow("ns2/client", "ns1/frontend", 9000),
      deny("ns2/client", "ns1/frontend", 8080),
    ],
  ),
  kase(
    "rule-peers-times-ports",
    "Within one rule every peer gets every port",
    [
      ingressFrontend("ns1", "one-rule", [
        {
          from: [
            { podSelector: { matchLabels: { role: "client" } } },
            { namespaceSelector: { matchLabels: { team: "b" } } },
          ],
          ports: [{ port: 8080 }, { port: 9000 }],
        },
      ]),
    ],
    [
      allow("ns1/client", "ns1/frontend", 9000),
      allow("ns2/client", "ns1/frontend", 8080),
      deny("ns3/other", "ns1/frontend", 8080),
    ],
  ),
  kase(
    "ingress-allow-all-rule",
    "ingress: [{}] allows everything, even next to deny-by-default",
    [denyByDefault("ns1"), np("ns1", "allow-all", { podSelector: {}, ingress: [{}] })],
    [allow("ns3/other", "ns1/frontend", 8080), allow("ns3/other", "ns1/frontend", 0, "ICMP")],
  ),
  kase(
    "egress-allow-all-rule",
    "egress: [{}] allows everything, even next to an egress deny-all",
    [egressClient("deny-egress", undefined), egressClient("allow-egress", [{}])],
    [allow("ns1/client", "1.2.3.4", 7000), allow("ns1/client", "ns3/other", 80)],
  ),
  kase(
    "both-ends-must-allow",
    "The source's egress and the destination's ingress must both allow",
    [
      egressClient("to-team-b", [{ to: [{ namespaceSelector: { matchLabels: { team: "b" } } }] }]),
      denyByDefault("ns2"),
      np("ns2", "frontend-from-ns1", {
        podSelector: { matchLabels: { role: "frontend" } },
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: "a" } } }], ports: [{ port: 9090 }] }],
      }),
    ],
    [
      allow("ns1/client", "ns2/frontend", 9090),
      deny("ns1/client", "ns2/frontend", 8080),
      deny("ns1/client", "ns2/client", 80),
      deny("ns1/client", "ns3/other", 80),
      allow("ns1/frontend", "ns2/frontend", 9090),
    ],
  ),
  kase(
    "policy-namespace-scope",
    "A policy selects pods of its own namespace only, whatever their labels",
    [np("ns2", "isolate-frontends", { podSelector: { matchLabels: { role: "frontend" } }, ingress: [] })],
    [allow("ns3/other", "ns1/frontend", 8080), deny("ns3/other", "ns2/frontend", 9090)],
  ),
  kase(
    "namespace-by-metadata-name",
    "namespaceSelector on kubernetes.io/metadata.name",
    [
      ingressFrontend("ns1", "from-ns3", [
        { from: [{ namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: "ns3" } } }] },
      ]),
    ],
    [allow("ns3/other", "ns1/frontend", 8080), deny("ns2/client", "ns1/frontend", 8080)],
  ),
  kase(
    "icmp-needs-portless-rule",
    "ICMP is allowed only by a rule without ports",
    [allowHttpAndHttps("ns1"), allowSameNamespace("ns1")],
    [deny("ns2/client", "ns1/frontend", 0, "ICMP"), allow("ns1/client", "ns1/frontend", 0, "ICMP")],
  ),
  kase(
    "ipv6-ipBlock-skipped",
    "An IPv6 ipBlock is skipped with a warning; the rule then allows nothing (fail closed)",
    [ingressFrontend("ns1", "v6-only", [{ from: [{ ipBlock: { cidr: "fd00::/8" } }] }])],
    [deny("ns1/client", "ns1/frontend", 8080), deny("ns2/client", "ns1/frontend", 8080)],
    { warns: ["networkpolicies/ns1/v6-only: spec.ingress[0].from[0].ipBlock.cidr"] },
  ),
  kase(
    "bad-cidr-fail-closed",
    "A bad ipBlock CIDR skips that peer only; the other peer still allows",
    [
      ingressFrontend("ns1", "bad-cidr", [
        {
          from: [{ ipBlock: { cidr: "10.0.0.0/33" } }, { podSelector: { matchLabels: { role: "client" } } }],
        },
      ]),
    ],
    [allow("ns1/client", "ns1/frontend", 8080), deny("ns2/client", "ns1/frontend", 8080)],
    { apiRejects: true, warns: ["networkpolicies/ns1/bad-cidr: spec.ingress[0].from[0].ipBlock.cidr"] },
  ),
  kase(
    "bad-except-fail-closed",
    "A bad except skips the whole ipBlock peer (allowing the CIDR without it would allow too much)",
    [
      ingressFrontend("ns1", "bad-except", [
        { from: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["nonsense"] } }] },
      ]),
    ],
    [deny("ns2/client", "ns1/frontend", 8080)],
    {
      apiRejects: true,
      warns: ["networkpolicies/ns1/bad-except: spec.ingress[0].from[0].ipBlock.except[0]"],
    },
  ),
  kase(
    "bad-selector-operator",
    "A peer selector with an unknown operator is skipped; the pod stays isolated",
    [
      ingressFrontend("ns1", "bad-op", [
        {
          from: [
            { podSelector: { matchExpressions: [{ key: "role", operator: "Matches", values: ["client"] }] } },
          ],
        },
      ]),
    ],
    [deny("ns1/client", "ns1/frontend", 8080)],
    {
      apiRejects: true,
      warns: ["networkpolicies/ns1/bad-op: spec.ingress[0].from[0].podSelector.matchExpressions[0].operator"],
    },
  ),
  kase(
    "bad-policy-podSelector",
    "A policy whose own podSelector is invalid is ignored (it selects no pod)",
    [
      np("ns1", "bad-target", {
        podSelector: { matchExpressions: [{ key: "role", operator: "In" }] },
        ingress: [],
      }),
    ],
    [allow("ns2/client", "ns1/frontend", 8080)],
    {
      apiRejects: true,
      warns: ["networkpolicies/ns1/bad-target: spec.podSelector.matchExpressions[0].values"],
    },
  ),
  kase(
    "endPort-with-named-port",
    "endPort with a named port is invalid: that port entry allows nothing",
    [ingressFrontend("ns1", "named-range", [{ ports: [{ port: "http", endPort: 9000 }] }])],
    [deny("ns2/client", "ns1/frontend", 8080)],
    { apiRejects: true, warns: ["networkpolicies/ns1/named-range: spec.ingress[0].ports[0].endPort"] },
  ),
  kase(
    "bad-port-entry-keeps-others",
    "A bad port entry is skipped; the rule's other port entries still allow",
    [ingressFrontend("ns1", "bad-proto", [{ ports: [{ protocol: "ICMP", port: 1 }, { port: 8080 }] }])],
    [allow("ns2/client", "ns1/frontend", 8080), deny("ns2/client", "ns1/frontend", 1)],
    { apiRejects: true, warns: ["networkpolicies/ns1/bad-proto: spec.ingress[0].ports[0].protocol"] },
  ),
];

// ------------------------------------------------------------------------------------- helpers

/** Replaces `{ns/pod}` in every string of `value` with `ipOf("ns/pod")`. */
function substitute(value: unknown, ipOf: (ref: string) => string): unknown {
  if (typeof value === "string")
    return value.replace(/\{([^{}/]+\/[^{}]+)\}/g, (_, ref: string) => ipOf(ref));
  if (Array.isArray(value)) return value.map((v) => substitute(v, ipOf));
  if (typeof value === "object" && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, ipOf)]));
  return value;
}

/** The case's policies with `{ns/pod}` replaced; by default with the pods' `ip` from the table. */
export function materializePolicies(c: NpCase, ipOf?: (ref: string) => string): NpCasePolicy[] {
  const lookup =
    ipOf ??
    ((ref: string) => {
      const p = c.pods.find((x) => `${x.namespace}/${x.name}` === ref);
      if (!p) throw new Error(`np case ${c.name}: unknown pod ${ref}`);
      return p.ip;
    });
  return c.policies.map((p) => ({ ...p, spec: substitute(p.spec, lookup) as Record<string, unknown> }));
}

/** The address a probe endpoint stands for (a pod's table address or the literal address). */
export function probeAddress(c: NpCase, endpoint: string): string {
  if (!endpoint.includes("/")) return endpoint;
  const p = c.pods.find((x) => `${x.namespace}/${x.name}` === endpoint);
  if (!p) throw new Error(`np case ${c.name}: unknown pod ${endpoint}`);
  return p.ip;
}

/** A PolicyView (mode networkpolicy) of the case; `local` picks this node's pods (default: all). */
export function caseView(c: NpCase, local: (pod: NpCasePod) => boolean = () => true): PolicyView {
  const pods: PolicyPod[] = c.pods.map((p) => ({
    namespace: p.namespace,
    name: p.name,
    ip: p.ip,
    labels: { ...p.labels },
    ports: p.ports.map((x) => ({ ...x })),
    local: local(p),
  }));
  const namespaces: PolicyNamespace[] = c.namespaces.map((n) => ({
    name: n.name,
    labels: { ...n.labels },
    multicast: false,
  }));
  return {
    mode: "networkpolicy",
    node: "node-a",
    podSubnet: "10.128.0.0/14",
    clusterCIDRs: ["10.128.0.0/14", "172.30.0.0/16"],
    serviceCIDR: "172.30.0.0/16",
    nodes: [],
    dnsServers: [],
    pods,
    namespaces,
    networkPolicies: materializePolicies(c).map((p) => ({
      namespace: p.namespace,
      name: p.name,
      spec: p.spec as PolicyView["networkPolicies"][number]["spec"],
    })),
    egressFirewalls: [],
  };
}
