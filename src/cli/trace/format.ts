// `egress trace` output: what decided, the source address out, as text or JSON. Pure: no I/O.
import type { OutputFormat } from "./args.js";
import type { DecidedBy, SourceOut, TraceReport } from "./flow.js";

// ------------------------------------------------------------------------------------------ output

/** One line for what decided: the policy name, rule index and kind. */
export function describeDecidedBy(d: DecidedBy): string {
  switch (d.kind) {
    case "default":
      return "no policy applies (default accept)";
    case "conntrack":
      return "established flow";
    case "multitenant":
      return `multitenant isolation: ${d.verdict} (${d.reason}${d.netid !== undefined ? `, netid ${d.netid}` : ""})`;
    case "networkpolicy":
      return `NetworkPolicy ${d.policy} spec.${d.direction}[${d.rule}]`;
    case "networkpolicy-isolation":
      return `NetworkPolicy ${d.direction} isolation: no rule allows it`;
    case "dns":
      return "DNS to a cluster resolver (never blocked by egress firewalls)";
    case "multicast":
      return "multicast: delivered per project by the multicast table (not filtered here)";
    case "egressfirewall":
      return `${d.firewallKind} ${d.namespace}/${d.name} spec.egress[${d.rule}] (${d.type})`;
    case "egressfirewall-nomatch":
      return `${d.firewallKind} ${d.namespace}/${d.name}: no rule matches (allowed)`;
    case "egressfirewall-dropall":
      return `egress firewall of ${d.namespace} drops all outside traffic (${d.firewalls.join(", ")})`;
    case "egress-path":
      return `egress path on ${d.node}: ${d.detail}`;
    case "node-local":
      return `to its own node ${d.node} (input hook: not filtered)`;
  }
}

function describeSource(s: SourceOut): string {
  switch (s.kind) {
    case "pod":
      return `${s.address} (pod address, no NAT)`;
    case "egressIP":
      return `${s.address} (EgressIP${s.owner ? ` ${s.owner}` : ""}, leaves ${s.node})`;
    case "projectEgressIP":
      return `${s.address} (egress IP of project ${s.owner}, leaves ${s.node})`;
    case "node":
      return `${s.address ?? "?"} (masquerade to node ${s.node})`;
    case "dropped":
      return `none (dropped on ${s.node})`;
  }
}

/** The `-o json` object. `source` is the one source address (null when the flow does not leave);
 *  `sources` lists every possibility when an EgressIP has several holders (one is chosen per flow). */
export function reportJson(r: TraceReport): Record<string, unknown> {
  return {
    verdict: r.verdict,
    decidedBy: r.decidedBy,
    source: r.source[0] ?? null,
    sources: r.source,
    hops: r.hops,
    from: r.from,
    to: r.to,
    warnings: r.warnings,
  };
}

export function formatReport(r: TraceReport, format: OutputFormat): string {
  if (format === "json") return `${JSON.stringify(reportJson(r), null, 2)}\n`;
  const lines = [
    `from:       ${r.from.namespace}/${r.from.name} ${r.from.ip} on ${r.from.node}`,
    `to:         ${r.to.pod ? `${r.to.pod} ` : ""}${r.to.ip}:${r.to.port}/${r.to.protocol.toLowerCase()}${r.to.node ? ` on ${r.to.node}` : r.to.outside ? " (outside the cluster)" : " (in the cluster)"}`,
    `verdict:    ${r.verdict}`,
    `decided by: ${describeDecidedBy(r.decidedBy)}`,
    `source out: ${r.source.length === 0 ? "-" : r.source.map(describeSource).join("; or ")}`,
    "hops:",
    ...r.hops.map(
      (h) =>
        `  ${h.node} ${h.stage}: ${h.verdict}${h.decidedBy ? ` by ${describeDecidedBy(h.decidedBy)}` : ""}${h.detail ? ` — ${h.detail}` : ""}`,
    ),
    ...r.warnings.map((w) => `warning: ${w}`),
  ];
  return `${lines.join("\n")}\n`;
}
