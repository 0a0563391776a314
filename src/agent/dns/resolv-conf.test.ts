import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type NodeDnsSettings, type PodDnsSpec, podResolvConf, renderResolvConf } from "./resolv-conf.js";

const node: NodeDnsSettings = {
  clusterNameservers: ["10.128.0.1"],
  nodeNameservers: ["192.168.126.200"],
  clusterDomain: "cluster.local",
};
const CLUSTER_SEARCH = ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local"];

describe("podResolvConf (kubelet's dnsPolicy rules)", () => {
  const cases: { name: string; pod: PodDnsSpec; node?: Partial<NodeDnsSettings>; want: string }[] = [
    {
      name: "default policy (ClusterFirst): the cluster DNS, the search path, ndots:5",
      pod: { namespace: "shop" },
      want: "nameserver 10.128.0.1\nsearch shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n",
    },
    {
      name: "ClusterFirst on the host network behaves as Default",
      pod: { namespace: "shop", dnsPolicy: "ClusterFirst", hostNetwork: true },
      want: "nameserver 192.168.126.200\n",
    },
    {
      name: "ClusterFirstWithHostNet keeps the cluster DNS",
      pod: { namespace: "shop", dnsPolicy: "ClusterFirstWithHostNet", hostNetwork: true },
      want: `nameserver 10.128.0.1\nsearch ${CLUSTER_SEARCH.join(" ")}\noptions ndots:5\n`,
    },
    {
      name: "ClusterFirst without a cluster DNS falls back to the node's resolvers",
      pod: { namespace: "shop" },
      node: { clusterNameservers: [] },
      want: "nameserver 192.168.126.200\n",
    },
    {
      name: "Default: the node's resolvers",
      pod: { namespace: "shop", dnsPolicy: "Default" },
      want: "nameserver 192.168.126.200\n",
    },
    {
      name: "None: only dnsConfig",
      pod: {
        namespace: "shop",
        dnsPolicy: "None",
        dnsConfig: { nameservers: ["1.1.1.1"], searches: ["corp"], options: [{ name: "edns0" }] },
      },
      want: "nameserver 1.1.1.1\nsearch corp\noptions edns0\n",
    },
    {
      name: "dnsConfig merges: nameservers and searches appended, an option overridden by name",
      pod: {
        namespace: "shop",
        dnsConfig: {
          nameservers: ["10.128.0.1", "1.1.1.1"],
          searches: ["corp", "svc.cluster.local"],
          options: [{ name: "ndots", value: "2" }, { name: "edns0" }, {}],
        },
      },
      want: `nameserver 10.128.0.1\nnameserver 1.1.1.1\nsearch ${[...CLUSTER_SEARCH, "corp"].join(" ")}\noptions ndots:2 edns0\n`,
    },
    {
      name: "at most three nameservers",
      pod: { namespace: "shop", dnsConfig: { nameservers: ["1.1.1.1", "2.2.2.2", "3.3.3.3"] } },
      want: `nameserver 10.128.0.1\nnameserver 1.1.1.1\nnameserver 2.2.2.2\nsearch ${CLUSTER_SEARCH.join(" ")}\noptions ndots:5\n`,
    },
    {
      name: "another cluster domain",
      pod: { namespace: "a" },
      node: { clusterDomain: "corp.example" },
      want: "nameserver 10.128.0.1\nsearch a.svc.corp.example svc.corp.example corp.example\noptions ndots:5\n",
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      assert.equal(renderResolvConf(podResolvConf(c.pod, { ...node, ...c.node })), c.want);
    });

  it("search domains stop at 32", () => {
    const searches = Array.from({ length: 40 }, (_, i) => `d${i}.example`);
    const r = podResolvConf({ namespace: "shop", dnsPolicy: "None", dnsConfig: { searches } }, node);
    assert.deepEqual(r.searches, searches.slice(0, 32));
  });
});
