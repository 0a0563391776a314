// Node health as Kubernetes' node lifecycle controller tracks it: a node is alive while its agent
// keeps changing the Ready condition's lastHeartbeatTime, measured on the controller's own clock
// (the "probe timestamp": when the controller saw the last change), so a skewed or second-rounded
// node clock cannot shorten or stretch the grace period. Also the disruption state of a zone, which
// stops evictions when a whole zone (usually: the control plane's own view) goes dark. Pure.

export type ReadyStatus = "True" | "False" | "Unknown" | undefined;

export interface NodeHealth {
  /** lastHeartbeatTime of the Ready condition as last seen. */
  heartbeat: string | undefined;
  ready: ReadyStatus;
  /** Controller clock (ms) of the last observed change of heartbeat or Ready status. */
  probeTime: number;
}

/** The record after seeing the node's current Ready condition at `now`. */
export function observe(
  prev: NodeHealth | undefined,
  ready: ReadyStatus,
  heartbeat: string | undefined,
  now: number,
): NodeHealth {
  if (prev && prev.heartbeat === heartbeat && prev.ready === ready) return prev;
  return { heartbeat, ready, probeTime: now };
}

export interface HealthView {
  name: string;
  health: NodeHealth;
}

/**
 * Nodes to mark Ready=Unknown: Ready True or False with a lastHeartbeatTime (an agent posts it) and
 * no change seen for longer than the grace period. Nodes whose Ready condition carries no heartbeat
 * (written by hand or by a simulation, no agent behind it) and nodes already Unknown are left.
 */
export function staleNodes(nodes: readonly HealthView[], now: number, graceMs: number): string[] {
  return nodes
    .filter(
      (n) =>
        (n.health.ready === "True" || n.health.ready === "False") &&
        n.health.heartbeat !== undefined &&
        now - n.health.probeTime > graceMs,
    )
    .map((n) => n.name)
    .sort();
}

export type ZoneState = "Normal" | "PartialDisruption" | "FullDisruption";

/** Kubernetes' unhealthyZoneThreshold and largeClusterThreshold. */
const UNHEALTHY_ZONE_THRESHOLD = 0.55;
const LARGE_CLUSTER_THRESHOLD = 50;

/**
 * Kubernetes' ComputeZoneState: no Ready node at all → FullDisruption; more than two not Ready and at
 * least 55 % → PartialDisruption; else Normal. A node without a Ready condition counts as not Ready.
 */
export function zoneState(readies: readonly ReadyStatus[]): ZoneState {
  return zoneStateOfCounts(readies.filter((r) => r === "True").length, readies.length);
}

/** zoneState from the number of Ready nodes and of all nodes in the zone (no array per tick). */
export function zoneStateOfCounts(ready: number, total: number): ZoneState {
  const notReady = total - ready;
  if (ready === 0 && notReady > 0) return "FullDisruption";
  if (notReady > 2 && notReady / total >= UNHEALTHY_ZONE_THRESHOLD) return "PartialDisruption";
  return "Normal";
}

/**
 * Whether evictions go on in a zone. Kubernetes stops them in a fully disrupted zone and, in zones of
 * at most 50 nodes, also in a partially disrupted one (its secondary eviction rate is 0 there).
 */
export function evictionsAllowed(state: ZoneState, zoneSize: number): boolean {
  if (state === "FullDisruption") return false;
  if (state === "PartialDisruption") return zoneSize > LARGE_CLUSTER_THRESHOLD;
  return true;
}

/** The zone key of a node: region and zone labels, as Kubernetes' GetZoneKey. */
export function zoneKey(labels: Readonly<Record<string, string>> | undefined): string {
  const region =
    labels?.["topology.kubernetes.io/region"] ?? labels?.["failure-domain.beta.kubernetes.io/region"];
  const zone = labels?.["topology.kubernetes.io/zone"] ?? labels?.["failure-domain.beta.kubernetes.io/zone"];
  return `${region ?? ""}:\x00:${zone ?? ""}`;
}

/** What a silent node's host said when asked (probe.ts). */
export type AgentProbe = "connected" | "refused" | "unreachable";

export interface ProbeRecord {
  result: AgentProbe;
  /** Controller clock of the first probe with this result in a row. */
  since: number;
}

/**
 * Whether a node gone Unknown only lost its agent: its host refuses the agent's port (so it is up,
 * and its pods with it). Such a node is not tainted NoExecute for `holdMs` — the agent is usually
 * being restarted, and evicting pods that keep running helps nobody (an evicted egress router would
 * even keep answering for its source, so its replacement could not take it). While the first
 * probe of a node that can be probed is still out, the node is held too (at most one probe
 * timeout: probing starts before the grace ends). Nodes that cannot be probed are not held.
 */
export function agentOnlyDown(
  probe: ProbeRecord | undefined,
  probeable: boolean,
  now: number,
  holdMs: number,
): boolean {
  if (!probeable) return false;
  if (probe === undefined) return true;
  return probe.result === "refused" && now - probe.since < holdMs;
}
