// Evaluates EGRESS_HTTP_PROXY_DESTINATION for a destination. First match wins; no match = deny.
// Name rules (`host`, `*.domain`) match the requested name; IP/CIDR rules match an address
// literal and also every address a name resolves to, so a permitted-looking name cannot lead into
// a denied network. A name is allowed only when EVERY address it resolved to is allowed, and the
// proxy then connects to one of exactly those addresses. Pure: resolution is done by the caller.

import { cidrContains, type IP } from "../../api/ip.js";
import { unmapIPv4 } from "../config/host.js";
import type { HttpProxyPolicy, ProxyRule } from "../config/proxy.js";
import type { Host } from "./target.js";

export interface Verdict {
  allow: boolean;
  /** The deciding rule, or null for the implicit "deny everything else". */
  rule: ProxyRule | null;
  /** The address the verdict was about (for name targets). */
  address?: IP;
}

function nameMatches(rule: ProxyRule, name: string): boolean {
  if (rule.kind === "host") return rule.name === name;
  if (rule.kind === "domain") return name === rule.name || name.endsWith(`.${rule.name}`);
  return false;
}

/** Verdict for one (optional) name and one address. */
function decide(policy: HttpProxyPolicy, name: string | null, ip: IP | null): Verdict {
  for (const rule of policy.rules) {
    if (rule.kind === "all") return { allow: true, rule };
    if (rule.kind === "ip" || rule.kind === "cidr") {
      if (ip && cidrContains(rule.cidr, ip)) return { allow: rule.action === "allow", rule };
    } else if (name !== null && nameMatches(rule, name)) {
      return { allow: rule.action === "allow", rule };
    }
  }
  return { allow: false, rule: null };
}

export function decideAddress(policy: HttpProxyPolicy, ip: IP): Verdict {
  return decide(policy, null, unmapIPv4(ip));
}

/** Whether the verdict for this name can depend on its addresses: true when an IP/CIDR rule
 *  whose action differs from the name's own verdict comes before the rule that decides the name
 *  (a later name match, `*`, or the final deny). When false the name alone decides. */
export function needsAddresses(policy: HttpProxyPolicy, name: string): boolean {
  const ipActions = new Set<string>();
  for (const rule of policy.rules) {
    if (rule.kind === "ip" || rule.kind === "cidr") ipActions.add(rule.action);
    else if (rule.kind === "all" || nameMatches(rule, name)) {
      return [...ipActions].some((a) => a !== rule.action);
    }
  }
  return ipActions.has("allow");
}

/** Verdict for a name that resolved to `addresses`: deny unless every address is allowed. */
export function decideName(policy: HttpProxyPolicy, name: string, addresses: readonly IP[]): Verdict {
  if (!needsAddresses(policy, name)) return decide(policy, name, null);
  if (addresses.length === 0) return { allow: false, rule: null };
  let last: Verdict = { allow: false, rule: null };
  for (const a of addresses) {
    const ip = unmapIPv4(a);
    last = { ...decide(policy, name, ip), address: ip };
    if (!last.allow) return last;
  }
  return last;
}

export function decideHost(policy: HttpProxyPolicy, host: Host, addresses: readonly IP[]): Verdict {
  return host.kind === "ip" ? decideAddress(policy, host.ip) : decideName(policy, host.name, addresses);
}

/** The rule as the user wrote it (with "!" for deny), for messages. */
export function ruleText(rule: ProxyRule): string {
  return `${rule.action === "deny" ? "!" : ""}${rule.value}`;
}

export function verdictReason(v: Verdict): string {
  return v.rule
    ? `${v.allow ? "allowed" : "denied"} by line ${v.rule.line} ${JSON.stringify(ruleText(v.rule))}`
    : "not allowed by any rule";
}
