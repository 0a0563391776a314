// Flags shared by `egress server` (controllers in-process) and `egress controllers` (standalone).
import { type Command, Option } from "commander";
import type { NodeLifecycleOptions } from "../controllers/nodelifecycle/controller.js";
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
      "250",
    )
    .option("--egressip-reachability-interval <ms>", "interval between probes of one node in ms", "100")
    .option("--egressip-reachability-failures <n>", "failed probes before a node counts as unreachable", "2")
    .option(
      "--simulate-cloud",
      "confirm CloudPrivateIPConfig objects with the simulated cloud provider",
      false,
    )
    .option("--simulated-cloud-capacity <n>", "addresses per node in the simulated cloud", "14")
    .option("--cluster-network <cidr>", "pod network for the ClusterNetwork object", "10.128.0.0/14")
    .option("--host-subnet-length <bits>", "host bits of each node's subnet (9 → /23 in a /14)", "9")
    .option("--dns-server <ip...>", "resolvers for egress-firewall dnsName rules (default: /etc/resolv.conf)")
    .option(
      "--node-monitor-grace-period <ms>",
      "silence after which a node's Ready becomes Unknown (agents beat every 1 s; Kubernetes: 40 s); at least 3500",
      "4000",
    )
    .option("--node-monitor-period <ms>", "how often node health is checked", "500")
    .option(
      "--default-not-ready-toleration-seconds <s>",
      "tolerationSeconds for pods without their own not-ready toleration (Kubernetes: 300)",
      "0",
    )
    .option(
      "--default-unreachable-toleration-seconds <s>",
      "tolerationSeconds for pods without their own unreachable toleration (Kubernetes: 300)",
      "0",
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
  nodeMonitorGracePeriod?: string;
  nodeMonitorPeriod?: string;
  defaultNotReadyTolerationSeconds?: string;
  defaultUnreachableTolerationSeconds?: string;
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

function atLeast(flag: string, s: string, min: number): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`${flag}: expected an integer ≥ ${min}, got ${JSON.stringify(s)}`);
  return n;
}

/** Node lifecycle timings. The grace must leave the agents time to fence their egress router
 *  addresses (3.5 s without API contact) before a replacement may take them. */
function nodeLifecycleOptions(v: ControlPlaneFlagValues): Required<NodeLifecycleOptions> {
  return {
    nodeMonitorGracePeriodMs: atLeast(
      "--node-monitor-grace-period",
      v.nodeMonitorGracePeriod ?? "4000",
      3500,
    ),
    nodeMonitorPeriodMs: atLeast("--node-monitor-period", v.nodeMonitorPeriod ?? "500", 50),
    defaultNotReadyTolerationSeconds: atLeast(
      "--default-not-ready-toleration-seconds",
      v.defaultNotReadyTolerationSeconds ?? "0",
      0,
    ),
    defaultUnreachableTolerationSeconds: atLeast(
      "--default-unreachable-toleration-seconds",
      v.defaultUnreachableTolerationSeconds ?? "0",
      0,
    ),
  };
}

export function controlPlaneOptions(v: ControlPlaneFlagValues): ControlPlaneOptions & NodeLifecycleOptions {
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
    ...nodeLifecycleOptions(v),
  };
}
