// Restriction checks for egress firewall policies (EgressNetworkPolicy and EgressFirewall): which
// policy is enforced, which is ignored and which makes its project drop all external traffic.
// Mirrors openshift-sdn's order of checks: global project → ignored; joined project → drop;
// more than one policy in the project → drop. Pure: no I/O, no clock.
import { compareStrings, type DecisionEvent } from "../common/decision.js";

export type FirewallKind = "EgressNetworkPolicy" | "EgressFirewall";

export interface FirewallPolicyRef {
  kind: FirewallKind;
  namespace: string;
  name: string;
}

/** What the agents must do with a policy (published in the `egress.openshift.io/firewall-effect`
 *  annotation): apply its rules, ignore it (the project's traffic is not filtered), or drop all
 *  external traffic of the policy's project. */
export type FirewallEffect = "Enforced" | "Ignored" | "DropAll";

export type FirewallReason = "Applied" | "GlobalProject" | "JoinedProjects" | "MultiplePolicies";

export interface FirewallVerdict {
  policy: FirewallPolicyRef;
  effect: FirewallEffect;
  reason: FirewallReason;
  message: string;
}

export interface RestrictionInput {
  policies: FirewallPolicyRef[];
  /** netid per namespace from the NetNamespaces (absent: no NetNamespace, e.g. OVN clusters). */
  netids: ReadonlyMap<string, number>;
  /** Namespaces treated as global even without a NetNamespace (`default` always is). */
  globalNamespaces?: readonly string[];
}

const refText = (p: FirewallPolicyRef) => `${p.kind} ${p.name}`;

export function decideFirewallEffects(input: RestrictionInput): FirewallVerdict[] {
  const byNamespace = new Map<string, FirewallPolicyRef[]>();
  for (const p of input.policies) {
    const l = byNamespace.get(p.namespace) ?? [];
    l.push(p);
    byNamespace.set(p.namespace, l);
  }
  // Partners are looked up only for the netids of namespaces with policies (one pass over the
  // netids, not a grouping of every namespace).
  const wanted = new Set<number>();
  for (const ns of byNamespace.keys()) {
    const id = input.netids.get(ns);
    if (id !== undefined && id !== 0) wanted.add(id);
  }
  const byNetid = new Map<number, string[]>();
  for (const [ns, id] of wanted.size === 0 ? [] : input.netids) {
    if (!wanted.has(id)) continue;
    const l = byNetid.get(id) ?? [];
    l.push(ns);
    byNetid.set(id, l);
  }
  const global = new Set(["default", ...(input.globalNamespaces ?? [])]);
  const out: FirewallVerdict[] = [];
  const namespaces = [...byNamespace.keys()].sort(compareStrings);
  for (const ns of namespaces) {
    const policies = [...(byNamespace.get(ns) ?? [])].sort(
      (a, b) => compareStrings(a.kind, b.kind) || compareStrings(a.name, b.name),
    );
    const netid = input.netids.get(ns);
    const partners =
      netid === undefined || netid === 0
        ? []
        : (byNetid.get(netid) ?? []).filter((o) => o !== ns).sort(compareStrings);
    let effect: FirewallEffect;
    let reason: FirewallReason;
    let why: string;
    // `default` is always global; other namespaces by their NetNamespace, or by the option when
    // they have none.
    if (ns === "default" || netid === 0 || (netid === undefined && global.has(ns))) {
      effect = "Ignored";
      reason = "GlobalProject";
      why =
        ns === "default"
          ? `egress firewalls are not allowed in the default project; the policy is ignored and traffic of project ${ns} is not filtered`
          : `egress firewalls are not allowed in global projects (netid 0); the policy is ignored and traffic of project ${ns} is not filtered`;
    } else if (partners.length > 0) {
      effect = "DropAll";
      reason = "JoinedProjects";
      why = `egress firewalls are not allowed in joined projects: project ${ns} shares netid ${netid} with ${partners.join(", ")}; all external traffic of project ${ns} is dropped`;
    } else if (policies.length > 1) {
      effect = "DropAll";
      reason = "MultiplePolicies";
      why = `project ${ns} has ${policies.length} egress firewall policies (${policies.map(refText).join(", ")}) but at most one is allowed; all external traffic of project ${ns} is dropped`;
    } else {
      effect = "Enforced";
      reason = "Applied";
      why = "rules applied";
    }
    for (const policy of policies) out.push({ policy, effect, reason, message: why });
  }
  return out;
}

/** The Event a verdict asks for when it is newly written: Warnings for violations, a Normal event
 *  when a policy becomes enforced again after a violation. */
export function verdictEvent(
  v: FirewallVerdict,
  previousEffect: string | undefined,
): DecisionEvent | undefined {
  const object = { kind: v.policy.kind, namespace: v.policy.namespace, name: v.policy.name };
  if (v.effect === "Enforced") {
    if (previousEffect === undefined || previousEffect === "Enforced") return undefined;
    return { type: "Normal", reason: "EgressFirewallApplied", message: "rules applied", object };
  }
  return { type: "Warning", reason: v.reason, message: v.message, object };
}
