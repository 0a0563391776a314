import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KubeObject } from "../api/object.js";
import { buildPolicyView, nodeDnsAddress, type PolicyState, resolvConfNameservers } from "./policy-view.js";
import { ViewError } from "./view.js";

const obj = (o: Partial<KubeObject> & { metadata: KubeObject["metadata"] } & Record<string, unknown>) =>
  ({ apiVersion: "v1", kind: "X", ...o }) as KubeObject;

const hostSubnet = (node: string, subnet: string) =>
  obj({ metadata: { name: node }, host: node, hostIP: "192.168.126.11", subnet });

const pod = (
  ns: string,
  name: string,
  ip: string | undefined,
  extra: { labels?: Record<string, string>; spec?: Record<string, unknown>; phase?: string } = {},
) =>
  obj({
    metadata: { namespace: ns, name, labels: extra.labels ?? {} },
    spec: { containers: [{ name: "c", image: "i" }], ...(extra.spec ?? {}) },
    status: { ...(ip ? { podIP: ip } : {}), phase: extra.phase ?? "Running" },
  });

function state(over: Partial<PolicyState> = {}): PolicyState {
  return {
    nodeName: "n1",
    hostSubnets: [hostSubnet("n1", "10.128.0.0/23"), hostSubnet("n2", "10.128.2.0/23")],
    nodes: [],
    clusterNetworks: [
      obj({
        metadata: { name: "default" },
        clusterNetworks: [{ CIDR: "10.128.0.0/14", hostSubnetLength: 9 }],
        serviceNetwork: "172.30.0.0/16",
        pluginName: "redhat/openshift-ovs-networkpolicy",
      }),
    ],
    pods: [],
    namespaces: [],
    netNamespaces: [],
    networkPolicies: [],
    egressFirewalls: [],
    egressNetworkPolicies: [],
    localPods: [],
    dnsServers: ["192.168.126.200"],
    ...over,
  };
}

const cn = (pluginName?: string) =>
  obj({
    metadata: { name: "default" },
    clusterNetworks: [{ CIDR: "10.128.0.0/14", hostSubnetLength: 9 }],
    serviceNetwork: "172.30.0.0/16",
    ...(pluginName ? { pluginName } : {}),
  });

describe("buildPolicyView: cluster-level fields", () => {
  const cases: { plugin?: string; mode: string; warn: boolean }[] = [
    { plugin: "redhat/openshift-ovs-multitenant", mode: "multitenant", warn: false },
    { plugin: "redhat/openshift-ovs-networkpolicy", mode: "networkpolicy", warn: false },
    { plugin: "redhat/openshift-ovs-subnet", mode: "subnet", warn: false },
    { mode: "multitenant", warn: false },
    { plugin: "cni/unknown", mode: "multitenant", warn: true },
  ];
  for (const c of cases) {
    it(`pluginName ${c.plugin ?? "(absent)"} → ${c.mode}`, () => {
      const r = buildPolicyView(state({ clusterNetworks: [cn(c.plugin)] }));
      assert.equal(r.view.mode, c.mode);
      assert.equal(r.warnings.length > 0, c.warn);
    });
  }

  it("takes node, pod subnet, CIDRs and DNS servers", () => {
    const { view } = buildPolicyView(state({ nodeName: "n2" }));
    assert.equal(view.node, "n2");
    assert.equal(view.podSubnet, "10.128.2.0/23");
    assert.deepEqual(view.clusterCIDRs, ["10.128.0.0/14"]);
    assert.equal(view.serviceCIDR, "172.30.0.0/16");
    // The node's cluster DNS (first address of its pod subnet) comes first, then the upstream ones.
    assert.deepEqual(view.dnsServers, ["10.128.2.1", "192.168.126.200"]);
  });

  it("nodeDnsAddress: the pod bridge's gateway", () => {
    const cases: [string, string | undefined][] = [
      ["10.128.0.0/23", "10.128.0.1"],
      ["10.130.4.0/23", "10.130.4.1"],
      ["10.128.0.7/23", "10.128.0.1"],
      ["10.0.0.0/31", undefined],
      ["fd00::/64", undefined],
      ["bogus", undefined],
    ];
    for (const [subnet, want] of cases) assert.equal(nodeDnsAddress(subnet), want, subnet);
  });

  it("the cluster DNS address is listed once even when it is also an upstream", () => {
    const { view } = buildPolicyView(state({ dnsServers: ["10.128.0.1", "192.168.126.200"] }));
    assert.deepEqual(view.dnsServers, ["10.128.0.1", "192.168.126.200"]);
  });

  it("without this node's HostSubnet: ViewError", () => {
    assert.throws(() => buildPolicyView(state({ nodeName: "n9" })), ViewError);
  });

  it("nodes: InternalIP first, then other addresses and host CIDRs, no hostnames, sorted", () => {
    const { view } = buildPolicyView(
      state({
        nodes: [
          obj({
            metadata: {
              name: "n2",
              labels: { zone: "b" },
              annotations: { "k8s.ovn.org/host-cidrs": '["192.168.126.12/18","192.168.200.12/24"]' },
            },
            status: {
              addresses: [
                { type: "Hostname", address: "n2" },
                { type: "ExternalIP", address: "203.0.113.2" },
                { type: "InternalIP", address: "192.168.126.12" },
              ],
            },
          }),
          obj({
            metadata: { name: "n1" },
            status: { addresses: [{ type: "InternalIP", address: "192.168.126.11" }] },
          }),
        ],
      }),
    );
    assert.deepEqual(view.nodes, [
      { name: "n1", ips: ["192.168.126.11"], labels: {} },
      { name: "n2", ips: ["192.168.126.12", "203.0.113.2", "192.168.200.12"], labels: { zone: "b" } },
    ]);
  });
});

describe("buildPolicyView: pods", () => {
  it("keeps pods with an address, leaves out hostNetwork, address-less and finished pods", () => {
    const { view } = buildPolicyView(
      state({
        pods: [
          pod("a", "web", "10.128.0.5", { labels: { app: "web" }, spec: { nodeName: "n1" } }),
          pod("a", "host", "192.168.126.11", { spec: { hostNetwork: true, nodeName: "n1" } }),
          pod("a", "pending", undefined),
          pod("a", "done", "10.128.2.9", { phase: "Succeeded" }),
          pod("b", "remote", "10.128.2.7", { spec: { nodeName: "n2" } }),
        ],
      }),
    );
    assert.deepEqual(
      view.pods.map((p) => [`${p.namespace}/${p.name}`, p.ip, p.local]),
      [
        ["a/web", "10.128.0.5", true],
        ["b/remote", "10.128.2.7", false],
      ],
    );
    assert.deepEqual(view.pods[0]!.labels, { app: "web" });
  });

  it("the kubelet's address wins and makes the pod local; unknown kubelet pods are left out", () => {
    const { view } = buildPolicyView(
      state({
        pods: [pod("a", "new", undefined), pod("a", "moved", "10.128.2.3", { spec: { nodeName: "n2" } })],
        localPods: [
          { namespace: "a", name: "new", ip: "10.128.0.9" },
          { namespace: "a", name: "moved", ip: "10.128.0.10" },
          { namespace: "a", name: "deleted", ip: "10.128.0.11" },
        ],
      }),
    );
    assert.deepEqual(
      view.pods.map((p) => [p.name, p.ip, p.local]),
      [
        ["moved", "10.128.0.10", true],
        ["new", "10.128.0.9", true],
      ],
    );
  });

  it("named container ports, protocol defaulting to TCP; unnamed ports left out", () => {
    const { view } = buildPolicyView(
      state({
        pods: [
          pod("a", "p", "10.128.0.5", {
            spec: {
              containers: [
                {
                  name: "c1",
                  image: "i",
                  ports: [
                    { name: "http", containerPort: 8080 },
                    { containerPort: 9000 },
                    { name: "dns", containerPort: 53, protocol: "UDP" },
                  ],
                },
                { name: "c2", image: "i", ports: [{ name: "sctp", containerPort: 36412, protocol: "SCTP" }] },
              ],
            },
          }),
        ],
      }),
    );
    assert.deepEqual(view.pods[0]!.ports, [
      { name: "http", port: 8080, protocol: "TCP" },
      { name: "dns", port: 53, protocol: "UDP" },
      { name: "sctp", port: 36412, protocol: "SCTP" },
    ]);
  });
});

describe("buildPolicyView: namespaces and NetworkPolicies", () => {
  it("labels (with the metadata.name label), netid and multicast from NetNamespace", () => {
    const { view } = buildPolicyView(
      state({
        namespaces: [
          obj({ metadata: { name: "b", labels: { team: "x", "kubernetes.io/metadata.name": "forged" } } }),
          obj({ metadata: { name: "a" } }),
        ],
        netNamespaces: [
          obj({
            metadata: {
              name: "a",
              annotations: { "netnamespace.network.openshift.io/multicast-enabled": "true" },
            },
            netName: "a",
            netid: 42,
          }),
          obj({
            metadata: {
              name: "b",
              annotations: { "netnamespace.network.openshift.io/multicast-enabled": "yes" },
            },
            netName: "b",
            netid: 0,
          }),
          obj({ metadata: { name: "c" }, netName: "c", netid: 7 }),
        ],
      }),
    );
    assert.deepEqual(view.namespaces, [
      { name: "a", labels: { "kubernetes.io/metadata.name": "a" }, multicast: true, netid: 42 },
      { name: "b", labels: { team: "x", "kubernetes.io/metadata.name": "b" }, multicast: false, netid: 0 },
      { name: "c", labels: { "kubernetes.io/metadata.name": "c" }, multicast: false, netid: 7 },
    ]);
  });

  it("a namespace without NetNamespace has no netid", () => {
    const { view } = buildPolicyView(state({ namespaces: [obj({ metadata: { name: "a" } })] }));
    assert.equal(view.namespaces[0]!.netid, undefined);
    assert.equal("netid" in view.namespaces[0]!, false);
  });

  it("NetworkPolicies carry their spec, sorted", () => {
    const spec = { podSelector: { matchLabels: { app: "db" } }, policyTypes: ["Ingress"], ingress: [{}] };
    const { view } = buildPolicyView(
      state({
        networkPolicies: [
          obj({ metadata: { namespace: "b", name: "x" }, spec: {} }),
          obj({ metadata: { namespace: "a", name: "db" }, spec }),
        ],
      }),
    );
    assert.deepEqual(view.networkPolicies, [
      { namespace: "a", name: "db", spec },
      { namespace: "b", name: "x", spec: {} },
    ]);
  });
});

describe("buildPolicyView: egress firewalls", () => {
  const ef = (annotations: Record<string, string>, egress: unknown[]) =>
    obj({ metadata: { namespace: "a", name: "default", annotations }, spec: { egress } });

  it("effect from the annotation, Enforced when absent, unknown values warned", () => {
    const cases: [Record<string, string>, string, boolean][] = [
      [{}, "Enforced", false],
      [{ "egress.openshift.io/firewall-effect": "Enforced" }, "Enforced", false],
      [{ "egress.openshift.io/firewall-effect": "Ignored" }, "Ignored", false],
      [{ "egress.openshift.io/firewall-effect": "DropAll" }, "DropAll", false],
      [{ "egress.openshift.io/firewall-effect": "Sometimes" }, "Enforced", true],
    ];
    for (const [ann, effect, warn] of cases) {
      const r = buildPolicyView(state({ egressFirewalls: [ef(ann, [])] }));
      assert.equal(r.view.egressFirewalls[0]!.effect, effect, JSON.stringify(ann));
      assert.equal(r.warnings.length > 0, warn, JSON.stringify(ann));
    }
  });

  it("EgressFirewall rules: cidr, dnsName with published addresses, nodeSelector, ports, order kept", () => {
    const dns = JSON.stringify({
      "www.example.com": { addresses: ["93.184.216.34", "2606:2800::1"] },
      "fail.example.com": { addresses: [], error: "lookup failing" },
    });
    const { view, warnings } = buildPolicyView(
      state({
        egressFirewalls: [
          ef({ "egress.openshift.io/dns-addresses": dns }, [
            { type: "Allow", to: { dnsName: "www.example.com" }, ports: [{ protocol: "TCP", port: 443 }] },
            { type: "Allow", to: { dnsName: "fail.example.com" } },
            { type: "Allow", to: { dnsName: "new.example.com" } },
            { type: "Allow", to: { nodeSelector: { matchLabels: { role: "infra" } } } },
            { type: "Deny", to: { cidrSelector: "0.0.0.0/0" } },
          ]),
        ],
      }),
    );
    assert.deepEqual(warnings, []);
    assert.deepEqual(view.egressFirewalls, [
      {
        namespace: "a",
        kind: "EgressFirewall",
        name: "default",
        effect: "Enforced",
        rules: [
          {
            type: "Allow",
            dnsName: "www.example.com",
            dnsAddresses: ["93.184.216.34", "2606:2800::1"],
            ports: [{ protocol: "TCP", port: 443 }],
          },
          { type: "Allow", dnsName: "fail.example.com", dnsAddresses: [] },
          { type: "Allow", dnsName: "new.example.com" },
          { type: "Allow", nodeSelector: { matchLabels: { role: "infra" } } },
          { type: "Deny", cidrSelector: "0.0.0.0/0" },
        ],
      },
    ]);
  });

  it("bad dns-addresses JSON: no addresses for any name and a warning", () => {
    const { view, warnings } = buildPolicyView(
      state({
        egressFirewalls: [
          ef({ "egress.openshift.io/dns-addresses": "{not json" }, [
            { type: "Allow", to: { dnsName: "www.example.com" } },
          ]),
        ],
      }),
    );
    assert.deepEqual(view.egressFirewalls[0]!.rules, [{ type: "Allow", dnsName: "www.example.com" }]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!.field, /EgressFirewall\/a\/default.*dns-addresses/);
  });

  it("EgressNetworkPolicy: cidr and dnsName rules, sorted after an EgressFirewall of its namespace", () => {
    const enp = obj({
      metadata: {
        namespace: "a",
        name: "default",
        annotations: {
          "egress.openshift.io/firewall-effect": "DropAll",
          "egress.openshift.io/dns-addresses": '{"db.example.com":{"addresses":["198.51.100.7"]}}',
        },
      },
      spec: {
        egress: [
          { type: "Allow", to: { dnsName: "db.example.com" } },
          { type: "Deny", to: { cidrSelector: "0.0.0.0/0" } },
        ],
      },
    });
    const { view } = buildPolicyView(state({ egressNetworkPolicies: [enp], egressFirewalls: [ef({}, [])] }));
    assert.deepEqual(
      view.egressFirewalls.map((f) => f.kind),
      ["EgressFirewall", "EgressNetworkPolicy"],
    );
    assert.deepEqual(view.egressFirewalls[1], {
      namespace: "a",
      kind: "EgressNetworkPolicy",
      name: "default",
      effect: "DropAll",
      rules: [
        { type: "Allow", dnsName: "db.example.com", dnsAddresses: ["198.51.100.7"] },
        { type: "Deny", cidrSelector: "0.0.0.0/0" },
      ],
    });
  });

  it("a rule whose only ports are unusable is left out rather than widened to all ports", () => {
    const { view, warnings } = buildPolicyView(
      state({
        egressFirewalls: [
          ef({}, [
            { type: "Allow", to: { cidrSelector: "10.0.0.0/8" }, ports: [{ protocol: "ICMP", port: 1 }] },
            { type: "Deny", to: { cidrSelector: "0.0.0.0/0" } },
          ]),
        ],
      }),
    );
    assert.deepEqual(view.egressFirewalls[0]!.rules, [{ type: "Deny", cidrSelector: "0.0.0.0/0" }]);
    assert.equal(warnings.length, 2);
  });
});

describe("resolvConfNameservers", () => {
  it("reads nameserver lines in order, skips comments, junk and duplicates", () => {
    const text = [
      "# generated",
      "search example.com",
      "nameserver 192.168.126.200",
      "  nameserver 10.0.0.53 # second",
      ";nameserver 1.1.1.1",
      "nameserver not-an-ip",
      "nameserver 192.168.126.200",
      "nameserver 2001:db8::53",
    ].join("\n");
    assert.deepEqual(resolvConfNameservers(text), ["192.168.126.200", "10.0.0.53", "2001:db8::53"]);
  });
});
