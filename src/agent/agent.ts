// `egress agent`: the node agent. Registers and heartbeats its Node, serves the health endpoint the
// controllers probe, runs the lab kubelet for pods bound to the node, and keeps the node's dataplane
// programmed from what the API says.
import { mkdir, readFile } from "node:fs/promises";
import { Client } from "../controllers/runtime/client.js";
import type { PolicyView } from "../dataplane/compile/policy/types.js";
import { RealIp } from "../dataplane/ip/execer.js";
import { PersistentNft } from "../dataplane/nft/persistent.js";
import { type Logger, logger } from "../util/log.js";
import { DataplaneSync } from "./dataplane-sync.js";
import { startDeathFence } from "./death-fence.js";
import { NodeDns } from "./dns/node-dns.js";
import { startHealthServer } from "./health.js";
import { DEFAULT_CNI_BIN_DIR } from "./kubelet/cni.js";
import { PodManager } from "./kubelet/pods.js";
import { ROUTER_FENCE_AFTER_MS, RouterFence } from "./kubelet/router-fence.js";
import { MulticastSync } from "./multicast.js";
import { NodeRegistration } from "./node.js";
import { resolvConfNameservers } from "./policy-view.js";

export interface AgentOptions {
  node: string;
  kubeconfig: string;
  labels: Record<string, string>;
  primaryInterface: string;
  healthListen: string;
  stateDir: string;
  netnsPrefix: string;
  cniBinDirs: string[];
  heartbeatMs: number;
  /** Upstream resolvers of the node's cluster DNS (and pods' resolvers for dnsPolicy Default);
   *  default: EGRESS_AGENT_CLUSTER_DNS, else the node's own resolv.conf. */
  clusterDNS?: string[];
  /** Run the node's cluster DNS on the pod bridge's gateway (default true; EGRESS_AGENT_NODE_DNS=off
   *  turns it off: pods then get the upstream resolvers directly). */
  nodeDns?: boolean;
  /** Start the death fence (death-fence.ts: egress addresses removed when this process dies
   *  without stopping). Default true. */
  deathFence?: boolean;
  /** Called with each policy view after the policy program was synced (multicast). */
  onPolicyView?: (view: PolicyView) => Promise<void>;
  log?: Logger;
}

export interface RunningAgent {
  healthPort: number;
  stop(): Promise<void>;
}

export const POD_BRIDGE = "cbr0";
/** A heartbeat older than this means the API is out of reach (egress address leases lapse). */
const HEARTBEAT_FRESH_MS = 2500;

/** The resolvers pods use, as the kubelet chooses them: --cluster-dns, else EGRESS_AGENT_CLUSTER_DNS,
 *  else the node's own resolv.conf (pods then inherit it). Egress firewalls never block DNS to them. */
export async function podDnsServers(clusterDNS: string[] | undefined, log: Logger): Promise<string[]> {
  if (clusterDNS && clusterDNS.length > 0) return clusterDNS;
  const env = (process.env.EGRESS_AGENT_CLUSTER_DNS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (env.length > 0) return env;
  try {
    return resolvConfNameservers(await readFile("/etc/resolv.conf", "utf8"));
  } catch (e) {
    log.warn({ err: e }, "cannot read /etc/resolv.conf: no DNS server is exempt from egress firewalls");
    return [];
  }
}

export async function runAgent(opts: AgentOptions): Promise<RunningAgent> {
  const log = opts.log ?? logger("agent").child({ node: opts.node });
  const client = Client.fromFile(opts.kubeconfig);
  // Before any egress address can be added: a SIGKILLed agent's node lets go of them at once
  // instead of answering for them until their lease runs out (docs/egressip.md, "Node side").
  const deathFence = opts.deathFence === false ? undefined : startDeathFence(log);
  await mkdir(opts.stateDir, { recursive: true });
  const [host, portText] = [opts.healthListen.replace(/:\d+$/, ""), opts.healthListen.replace(/^.*:/, "")];
  const healthPort = Number(portText);
  // The health endpoint answers only once this agent's heartbeat reached the API (register()
  // below): while it restarts, the node lifecycle controller's connect to it is refused, which
  // holds eviction ("agent down, host up", docs/workloads.md). Answering earlier, a slowly starting
  // agent looked alive but silent, and its node's pods were evicted. An ephemeral port (tests) has
  // to be bound first to be published.
  let health = healthPort === 0 ? await startHealthServer(host || "0.0.0.0", 0) : undefined;
  const owned = new Set<string>();
  // Heartbeats use a short timeout: a node cut off from the API must notice within seconds.
  const registration = new NodeRegistration(
    Client.fromFile(opts.kubeconfig, { timeoutMs: 1500 }),
    {
      name: opts.node,
      labels: opts.labels,
      primaryInterface: opts.primaryInterface,
      healthPort: health?.port ?? healthPort,
      heartbeatMs: opts.heartbeatMs,
      owned: () => owned,
      skipInterfaces: new Set([POD_BRIDGE]),
    },
    log,
  );
  await registration.register();
  health ??= await startHealthServer(host || "0.0.0.0", healthPort);
  registration.start();
  // Cluster DNS for pods (docs/dataplane.md "Cluster DNS"): serves `cluster.local` from the Service
  // caches on each pod gateway address and forwards other names to the node's resolvers.
  const upstreamDns = await podDnsServers(opts.clusterDNS, log);
  const nodeDnsOn = opts.nodeDns ?? process.env.EGRESS_AGENT_NODE_DNS !== "off";
  const nodeDns = nodeDnsOn
    ? new NodeDns(client, { upstreams: upstreamDns }, log.child({ component: "dns" }))
    : undefined;
  await nodeDns?.start();
  const pods = new PodManager(
    client,
    {
      node: opts.node,
      netnsPrefix: opts.netnsPrefix,
      stateDir: opts.stateDir,
      cniBinDirs: opts.cniBinDirs.length > 0 ? opts.cniBinDirs : [DEFAULT_CNI_BIN_DIR],
      bridge: POD_BRIDGE,
      hostIP: () => registration.addressing?.internalIP,
      onChange: () => dataplane.trigger(),
      ...(opts.clusterDNS ? { dnsServers: opts.clusterDNS } : {}),
      ...(nodeDns ? { clusterDns: nodeDns } : {}),
    },
    log,
  );
  // nftables changes go through a long-lived libnftables helper (docs/dataplane.md "Applying
  // nftables changes"), falling back to one `nft` process per change when it cannot run. Multicast
  // has its own, so its applies never queue in front of a failover's.
  const nftFallback = (reason: string) =>
    log.warn({ reason }, "nft-helper unavailable; spawning nft per change");
  const dataplaneNft = new PersistentNft({ onFallback: nftFallback });
  const multicastNft = new PersistentNft({ onFallback: nftFallback });
  // Multicast per project (docs/policy.md "Multicast"): a VXLAN port on the pod bridge and a bridge
  // table, kept in step with each policy view.
  const multicast = new MulticastSync({
    bridge: POD_BRIDGE,
    nodeIP: () => registration.addressing?.internalIP,
    nft: multicastNft,
    log: log.child({ component: "multicast" }),
  });
  const dataplane = new DataplaneSync(
    client,
    {
      node: opts.node,
      bridge: POD_BRIDGE,
      nft: dataplaneNft,
      ip: new RealIp({}),
      localPods: () => pods.states().map((p) => ({ namespace: p.namespace, name: p.name, ip: p.ip })),
      owned,
      apiReachable: () => registration.apiReachable(HEARTBEAT_FRESH_MS),
      // The policy view adds this node's pod gateway (the cluster DNS address) itself.
      dnsServers: upstreamDns,
      onPolicyView: async (view) => {
        await multicast.apply(view);
        await opts.onPolicyView?.(view);
      },
    },
    log,
  );
  // Router pods stop answering for EGRESS_SOURCE while the API is out of reach (the control plane
  // may evict them and start a replacement elsewhere): docs/workloads.md "Node lifecycle".
  const routerFence = new RouterFence(
    { apiReachable: () => registration.apiReachable(ROUTER_FENCE_AFTER_MS), pods: () => pods.states() },
    log.child({ component: "router-fence" }),
  );
  await pods.start();
  routerFence.start();
  await dataplane.start();
  log.info({ healthPort: health.port }, "agent running");
  return {
    healthPort: health.port,
    async stop() {
      // A graceful stop keeps the node's egress addresses (a restarted agent adopts them).
      await deathFence?.disarm();
      registration.stop();
      routerFence.stop();
      await dataplane.stop();
      await multicast.close();
      await dataplaneNft.close();
      await multicastNft.close();
      await pods.stop();
      await nodeDns?.stop();
      await health.close();
    },
  };
}
