// Flags shared by `egress server` (controllers in-process) and `egress controllers` (standalone).
import { type Command, Option } from "commander";
import type { ControlPlaneOptions } from "../controllers/runtime/manager.js";

export function addControlPlaneFlags(cmd: Command): Command {
  return cmd
    .addOption(
      new Option("--platform <name>", "cloud platform for EgressIP capacity rules")
        .choices(["baremetal", "aws", "gcp", "azure", "openstack"])
        .default("baremetal"),
    )
    .addOption(
      new Option("--network-mode <mode>", "cluster network mode")
        .choices(["multitenant", "networkpolicy", "subnet"])
        .default("multitenant"),
    )
    .option("--global-namespaces <ns...>", "namespaces whose NetNamespace gets netid 0 besides default", [])
    .option(
      "--egressip-reachability-timeout <ms>",
      "node reachability probe timeout in ms; 0 turns probing off",
      "500",
    )
    .option("--egressip-reachability-interval <ms>", "interval between probes of one node in ms", "200")
    .option("--egressip-reachability-failures <n>", "failed probes before a node counts as unreachable", "2")
    .option(
      "--simulate-cloud",
      "confirm CloudPrivateIPConfig objects with the simulated cloud provider",
      false,
    )
    .option("--simulated-cloud-capacity <n>", "addresses per node in the simulated cloud", "14")
    .option("--cluster-network <cidr>", "pod network for the ClusterNetwork object", "10.128.0.0/14")
    .option("--host-subnet-length <bits>", "host bits of each node's subnet (9 → /23 in a /14)", "9")
    .option(
      "--dns-server <ip...>",
      "resolvers for egress-firewall dnsName rules (default: /etc/resolv.conf)",
    );
}

export interface ControlPlaneFlagValues {
  platform: string;
  networkMode: string;
  globalNamespaces: string[];
  egressipReachabilityTimeout: string;
  egressipReachabilityInterval: string;
  egressipReachabilityFailures: string;
  simulateCloud: boolean;
  simulatedCloudCapacity: string;
  clusterNetwork: string;
  hostSubnetLength: string;
  dnsServer?: string[];
  serviceCidr?: string;
}

const PLATFORMS: Record<string, ControlPlaneOptions["platform"]> = {
  baremetal: "BareMetal",
  aws: "AWS",
  gcp: "GCP",
  azure: "Azure",
  openstack: "OpenStack",
};

function positive(flag: string, s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`${flag}: expected a positive integer, got ${JSON.stringify(s)}`);
  return n;
}

function hostBits(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 2 || n > 30)
    throw new Error(`--host-subnet-length: expected 2..30 host bits, got ${JSON.stringify(s)}`);
  return n;
}

export function controlPlaneOptions(v: ControlPlaneFlagValues): ControlPlaneOptions {
  const timeout = Number(v.egressipReachabilityTimeout);
  if (!Number.isInteger(timeout) || timeout < 0) {
    throw new Error(
      `--egressip-reachability-timeout: expected milliseconds ≥ 0, got ${JSON.stringify(v.egressipReachabilityTimeout)}`,
    );
  }
  const capacity = Number(v.simulatedCloudCapacity);
  if (!Number.isInteger(capacity) || capacity < 0) {
    throw new Error(
      `--simulated-cloud-capacity: expected a non-negative integer, got ${JSON.stringify(v.simulatedCloudCapacity)}`,
    );
  }
  return {
    platform: PLATFORMS[v.platform] ?? "BareMetal",
    networkMode: v.networkMode as ControlPlaneOptions["networkMode"],
    globalNamespaces: v.globalNamespaces,
    egressIPReachabilityTimeoutMs: timeout,
    egressIPReachabilityIntervalMs: positive(
      "--egressip-reachability-interval",
      v.egressipReachabilityInterval,
    ),
    egressIPReachabilityFailures: positive(
      "--egressip-reachability-failures",
      v.egressipReachabilityFailures,
    ),
    simulateCloud: v.simulateCloud,
    simulatedCloudCapacity: capacity,
    clusterNetworks: [{ cidr: v.clusterNetwork, hostSubnetLength: hostBits(v.hostSubnetLength) }],
    ...(v.serviceCidr ? { serviceNetwork: v.serviceCidr } : {}),
    ...(v.dnsServer ? { egressFirewallDNSServers: v.dnsServer } : {}),
  };
}
