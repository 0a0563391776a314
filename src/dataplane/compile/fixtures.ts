// Small fixed views for tests of what the compilers render (unit tests and the kernel tests under
// test/e2e/dataplane/ share them). No I/O.
import type { EgressIPView, NodeView } from "./types.js";

/** Node n1 of a two-node cluster: the given local pod addresses, EgressIPs and one service with two
 *  endpoints; with `nic`, a secondary interface eth1 on 192.168.12.0/24. */
export function smallNodeView(egressIPs: EgressIPView[], pods: string[], nic: boolean): NodeView {
  return {
    node: {
      name: "n1",
      nodeIP: "192.168.126.11",
      podSubnet: "10.128.0.0/23",
      bridge: "egbr0",
      interfaces: [
        { name: "eth0", address: "192.168.126.11/18" },
        ...(nic ? [{ name: "eth1", address: "192.168.12.11/24" }] : []),
      ],
    },
    nodes: [
      { name: "n1", nodeIP: "192.168.126.11", podSubnet: "10.128.0.0/23" },
      { name: "n2", nodeIP: "192.168.126.12", podSubnet: "10.128.2.0/23" },
    ],
    clusterCIDRs: ["10.128.0.0/14"],
    serviceCIDR: "172.30.0.0/16",
    localPods: pods.map((ip, i) => ({ namespace: "a", name: `p${i}`, ip })),
    services: [
      {
        namespace: "a",
        name: "s",
        clusterIP: "172.30.0.10",
        ports: [{ port: 80, protocol: "TCP", targetPort: 8080 }],
        endpoints: [{ ip: "10.128.0.5" }, { ip: "10.128.2.7" }],
      },
    ],
    egressIPs,
    projectEgress: [],
  };
}

const here = (ip: string, iface?: string) => ({
  ip,
  node: "n1",
  nodeIP: "192.168.126.11",
  ...(iface ? { interface: iface } : {}),
});
const there = (ip: string) => ({ ip, node: "n2", nodeIP: "192.168.126.12" });

/** A sequence of n1's views as an EgressIP comes, grows, moves to n2, lands on eth1 and goes:
 *  successive programs differ in elements only, in structure, or both. */
export function egressNodeViews(): NodeView[] {
  return [
    smallNodeView([], ["10.128.0.5"], false),
    smallNodeView(
      [{ name: "e", ips: [here("192.168.126.102")], podIPs: ["10.128.0.5", "10.128.2.9"] }],
      ["10.128.0.5"],
      false,
    ),
    smallNodeView(
      [{ name: "e", ips: [here("192.168.126.102")], podIPs: ["10.128.0.5", "10.128.2.9", "10.128.0.6"] }],
      ["10.128.0.5", "10.128.0.6"],
      false,
    ),
    smallNodeView(
      [{ name: "e", ips: [there("192.168.126.102")], podIPs: ["10.128.0.5"] }],
      ["10.128.0.5"],
      false,
    ),
    smallNodeView(
      [{ name: "e", ips: [here("192.168.12.50", "eth1")], podIPs: ["10.128.0.5", "10.128.2.9"] }],
      ["10.128.0.5"],
      true,
    ),
    smallNodeView([], [], false),
  ];
}
