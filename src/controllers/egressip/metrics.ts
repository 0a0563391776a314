// EgressIP metrics with the upstream (OVN-Kubernetes cluster manager) names, registered on the
// control plane's registry. Registration is idempotent because a replica that loses and regains
// leadership sets its controllers up again on the same registry. No decisions here.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export interface EgressIPMetrics {
  /** Egress IP addresses currently assigned (status items over all EgressIPs). */
  numEgressIPs: Gauge;
  /** Assigned IPs that had to leave their node (moved elsewhere or left unassigned). */
  rebalanceTotal: Counter;
  /** Reachable → unreachable transitions seen by the prober. */
  nodeUnreachableTotal: Counter;
  /** From the first node/EgressIP/CloudPrivateIPConfig event of a batch to its last status write. */
  assignLatency: Histogram;
}

function getOrCreate<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function egressIPMetrics(registry: Registry): EgressIPMetrics {
  const registers = [registry];
  return {
    numEgressIPs: getOrCreate(
      registry,
      "num_egress_ips",
      () =>
        new Gauge({ name: "num_egress_ips", help: "The number of assigned egress IP addresses", registers }),
    ),
    rebalanceTotal: getOrCreate(
      registry,
      "egress_ips_rebalance_total",
      () =>
        new Counter({
          name: "egress_ips_rebalance_total",
          help: "The total number of times assigned egress IP(s) needed to be moved to a different node",
          registers,
        }),
    ),
    nodeUnreachableTotal: getOrCreate(
      registry,
      "egress_ips_node_unreachable_total",
      () =>
        new Counter({
          name: "egress_ips_node_unreachable_total",
          help: "The total number of times assigned egress IP(s) were unreachable",
          registers,
        }),
    ),
    assignLatency: getOrCreate(
      registry,
      "egress_ips_assign_latency_seconds",
      () =>
        new Histogram({
          name: "egress_ips_assign_latency_seconds",
          help: "The latency of egress IP assignment to ovn nb database",
          // Upstream: prometheus.ExponentialBuckets(.001, 2, 15).
          buckets: Array.from({ length: 15 }, (_, i) => 0.001 * 2 ** i),
          registers,
        }),
    ),
  };
}
