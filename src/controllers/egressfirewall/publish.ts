// What the egress-firewall controller publishes on each policy object for the node agents and for
// users: the annotations (effect, its message, resolved DNS addresses) and, for EgressFirewall, the
// status. Pure: no I/O; builds values, the controller compares them with what is stored.
import { addressesOf, type DnsNameState, lookupName } from "./dns-schedule.js";
import type { FirewallVerdict } from "./restrictions.js";

/** JSON object: dnsName (as written in the rule) → {addresses, error?}. Names not looked up yet are
 *  absent; agents treat a rule whose name has no entry as matching no address. */
export const DNS_ADDRESSES_ANNOTATION = "egress.openshift.io/dns-addresses";
/** "Enforced" | "Ignored" | "DropAll" — what agents do with the policy (see restrictions.ts). */
export const FIREWALL_EFFECT_ANNOTATION = "egress.openshift.io/firewall-effect";
/** Human-readable reason for the effect. */
export const FIREWALL_MESSAGE_ANNOTATION = "egress.openshift.io/firewall-message";

export const EF_APPLIED = "EgressFirewall Rules applied";

export interface PublishedDnsEntry {
  addresses: string[];
  error?: string;
}

/** The dns-addresses annotation value for a policy's dnsNames, or undefined when it has none. */
export function dnsAnnotation(
  dnsNames: readonly string[],
  states: ReadonlyMap<string, DnsNameState>,
): string | undefined {
  if (dnsNames.length === 0) return undefined;
  const out: Record<string, PublishedDnsEntry> = {};
  for (const name of [...new Set(dnsNames)].sort()) {
    const key = lookupName(name);
    if (key === undefined) {
      out[name] = { addresses: [], error: "wildcard names are not resolved by the control plane" };
      continue;
    }
    const s = states.get(key);
    if (!s) continue;
    out[name] = {
      addresses: addressesOf(s),
      ...(s.error !== undefined ? { error: `lookup failing (${s.error}); previous addresses kept` } : {}),
    };
  }
  return JSON.stringify(out);
}

export interface EgressFirewallStatus {
  status: string;
  messages?: string[];
}

/** EgressFirewall status: "EgressFirewall Rules applied" when enforced, else the reason; DNS
 *  problems listed in messages. */
export function egressFirewallStatus(v: FirewallVerdict, dnsValue: string | undefined): EgressFirewallStatus {
  const messages: string[] = [];
  if (dnsValue !== undefined) {
    const parsed = JSON.parse(dnsValue) as Record<string, PublishedDnsEntry>;
    for (const [name, e] of Object.entries(parsed))
      if (e.error !== undefined) messages.push(`dnsName ${name}: ${e.error}`);
  }
  const status =
    v.effect === "Enforced"
      ? EF_APPLIED
      : v.effect === "Ignored"
        ? `EgressFirewall Rules ignored: ${v.message}`
        : `EgressFirewall Rules not applied: ${v.message}`;
  return messages.length > 0 ? { status, messages } : { status };
}

/** The annotations the controller owns on a policy, desired values (undefined = remove). */
export function desiredAnnotations(
  v: FirewallVerdict,
  dnsValue: string | undefined,
): Record<string, string | undefined> {
  return {
    [FIREWALL_EFFECT_ANNOTATION]: v.effect,
    [FIREWALL_MESSAGE_ANNOTATION]: v.message,
    [DNS_ADDRESSES_ANNOTATION]: dnsValue,
  };
}

/** A merge patch for metadata.annotations bringing `current` to `desired`, or undefined if equal. */
export function annotationPatch(
  current: Readonly<Record<string, string>> | undefined,
  desired: Record<string, string | undefined>,
): Record<string, string | null> | undefined {
  const patch: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(desired)) {
    const cur = current?.[k];
    if (v === undefined) {
      if (cur !== undefined) patch[k] = null;
    } else if (cur !== v) patch[k] = v;
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}
