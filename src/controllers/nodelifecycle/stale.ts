// Which nodes stopped posting status: a Ready condition whose lastHeartbeatTime is older than the
// grace period becomes Unknown, as Kubernetes' node lifecycle controller does. Pure.

export interface HeartbeatNode {
  name: string;
  ready: "True" | "False" | "Unknown" | undefined;
  lastHeartbeat: number | undefined;
}

export function staleNodes(nodes: HeartbeatNode[], now: number, graceMs: number): string[] {
  return nodes
    .filter(
      (n) =>
        n.ready !== "Unknown" &&
        n.ready !== undefined &&
        n.lastHeartbeat !== undefined &&
        now - n.lastHeartbeat > graceMs,
    )
    .map((n) => n.name)
    .sort();
}
