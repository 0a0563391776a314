// Parsing of the proxy-mode variables: EGRESS_HTTP_PROXY_DESTINATION (the HTTP proxy's access
// rules) and EGRESS_DNS_PROXY_DESTINATION (the DNS proxy's port → target list). Pure: no I/O.

import { type CIDR, formatCIDR, parseCIDR } from "../../api/ip.js";
import { RouterConfigError } from "./errors.js";
import { hostNameProblem, looksNumeric, normalizeHostName, parseAddress, unmapIPv4 } from "./host.js";
import { contentLines, parsePort } from "./lines.js";
import { unicastIPv4Problem } from "./redirect.js";

export type ProxyAction = "allow" | "deny";

/** One EGRESS_HTTP_PROXY_DESTINATION line. `ip` and `cidr` carry the network they match;
 *  `host` matches one name exactly, `domain` the domain and all its subdomains; `all` is `*`. */
export type ProxyRule =
  | { action: ProxyAction; kind: "ip" | "cidr"; cidr: CIDR; value: string; line: number }
  | { action: ProxyAction; kind: "host" | "domain"; name: string; value: string; line: number }
  | { action: "allow"; kind: "all"; value: "*"; line: number };

export interface HttpProxyPolicy {
  rules: ProxyRule[];
}

export function parseHttpProxyDestination(value: string | undefined): HttpProxyPolicy {
  const name = "EGRESS_HTTP_PROXY_DESTINATION";
  if (value === undefined) throw new RouterConfigError(name, undefined, "", "must be set");
  const lines = contentLines(value);
  if (lines.length === 0)
    throw new RouterConfigError(name, undefined, value, "must contain at least one rule");
  const rules = lines.map((l, i): ProxyRule => {
    const err = (v: string, detail: string) => new RouterConfigError(name, l.line, v, detail, l.text);
    if (l.fields.length !== 1) throw err(l.text, "invalid line: one rule per line, no spaces");
    const text = l.text;
    if (text === "*") {
      if (i !== lines.length - 1) throw err(text, '"*" must be the last line');
      return { action: "allow", kind: "all", value: "*", line: l.line };
    }
    const action: ProxyAction = text.startsWith("!") ? "deny" : "allow";
    const body = action === "deny" ? text.slice(1) : text;
    if (body === "*") throw err(text, '"!*" is not a rule: leave out "*" to deny everything else');
    if (body === "") throw err(text, 'nothing after "!"');
    if (body.includes("/")) {
      const c = parseCIDR(body);
      if (!c) throw err(body, "invalid CIDR");
      return { action, kind: "cidr", cidr: c, value: formatCIDR(c), line: l.line };
    }
    const ip = parseAddress(body);
    if (ip) {
      const bits = ip.family === 4 ? 32 : 128;
      const c: CIDR = { family: ip.family, network: ip.value, prefix: bits, address: ip.value };
      return { action, kind: "ip", cidr: c, value: body, line: l.line };
    }
    if (body.startsWith("*.")) {
      const domain = normalizeHostName(body.slice(2));
      const problem = hostNameProblem(domain);
      if (problem) throw err(body, `invalid domain: ${problem}`);
      return { action, kind: "domain", name: domain, value: body, line: l.line };
    }
    if (body.includes("*")) throw err(body, 'a wildcard is only allowed as "*." at the start of a domain');
    const host = normalizeHostName(body);
    const problem = hostNameProblem(host);
    if (problem) {
      const why = looksNumeric(host) ? "not a valid IP address (dotted quad, no leading zeros)" : problem;
      throw err(body, why);
    }
    return { action, kind: "host", name: host, value: body, line: l.line };
  });
  // unmapIPv4 is applied to rule addresses too, so "::ffff:10.0.0.1" behaves as 10.0.0.1.
  for (const r of rules) {
    if ((r.kind === "ip" || r.kind === "cidr") && r.cidr.family === 6 && r.cidr.prefix >= 96) {
      const mapped = unmapIPv4({ family: 6, value: r.cidr.network });
      if (mapped.family === 4) {
        r.cidr = { family: 4, network: mapped.value, prefix: r.cidr.prefix - 96, address: mapped.value };
      }
    }
  }
  return { rules };
}

export interface DnsProxyTarget {
  /** Local port the proxy listens on. */
  port: number;
  /** IPv4 address or host name (lower-case, no trailing dot). */
  target: string;
  targetPort: number;
  /** True when `target` is a host name that must be resolved (and re-resolved per TTL). */
  isName: boolean;
  line: number;
}

export function parseDnsProxyDestination(value: string | undefined): DnsProxyTarget[] {
  const name = "EGRESS_DNS_PROXY_DESTINATION";
  if (value === undefined) throw new RouterConfigError(name, undefined, "", "must be set");
  const lines = contentLines(value);
  if (lines.length === 0)
    throw new RouterConfigError(name, undefined, value, "must contain at least one line");
  const used = new Map<number, number>();
  return lines.map((l) => {
    const err = (v: string, detail: string) => new RouterConfigError(name, l.line, v, detail, l.text);
    if (l.fields.length !== 2 && l.fields.length !== 3) {
      throw err(l.text, 'invalid line: expected "<port> <ip|domain> [<target_port>]"');
    }
    const [portText, targetText, targetPortText] = l.fields as [string, string, string | undefined];
    const port = parsePort(portText);
    if (port === undefined) throw err(portText, "port must be a decimal number 1-65535");
    const first = used.get(port);
    if (first !== undefined) throw err(portText, `duplicate local port (already used on line ${first})`);
    used.set(port, l.line);
    let targetPort = port;
    if (targetPortText !== undefined) {
      const p = parsePort(targetPortText);
      if (p === undefined) throw err(targetPortText, "target port must be a decimal number 1-65535");
      targetPort = p;
    }
    const normalized = normalizeHostName(targetText);
    if (looksNumeric(normalized)) {
      const problem = unicastIPv4Problem(targetText);
      if (problem) throw err(targetText, `target ${problem}`);
      return { port, target: targetText, targetPort, isName: false, line: l.line };
    }
    const problem = hostNameProblem(normalized);
    if (problem) throw err(targetText, `target: ${problem}`);
    return { port, target: normalized, targetPort, isName: true, line: l.line };
  });
}
