// Parsing of the redirect-mode variables: EGRESS_SOURCE, EGRESS_GATEWAY, EGRESS_DESTINATION.
// Strict: every line is checked and the first problem is reported with its line number and
// value. Pure: no I/O.

import { cidrContains, formatIPv4, parseCIDR, parseIPv4 } from "../../api/ip.js";
import { RouterConfigError } from "./errors.js";
import { contentLines, parsePort } from "./lines.js";

export type Protocol = "tcp" | "udp";

export interface EgressSource {
  /** Dotted-quad IPv4 address. */
  address: string;
  /** The optional `/len`: with it the local subnet is routed directly; null = only the gateway. */
  prefixLength: number | null;
}

export interface RedirectRule {
  /** Local port on the router pod. Unique across protocols. */
  port: number;
  protocol: Protocol;
  destination: string;
  /** Port on the destination; equals `port` when the line has none. */
  remotePort: number;
  /** Line in EGRESS_DESTINATION it came from. */
  line: number;
}

export interface EgressDestination {
  rules: RedirectRule[];
  /** Destination for every other port, or null: other ports are refused. */
  fallback: string | null;
}

// Addresses that can never be a router's source, gateway or destination: "this network",
// loopback, multicast and reserved/broadcast. Refusing them early beats a DNAT that silently
// goes nowhere.
const UNUSABLE = ["0.0.0.0/8", "127.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4"].map((c) => parseCIDR(c)!);

/** Returns the reason an IPv4 text is not a usable unicast address, or undefined. */
export function unicastIPv4Problem(s: string): string | undefined {
  const v = parseIPv4(s);
  if (v === undefined) return "must be an IPv4 address in dotted-quad form (octets 0-255, no leading zeros)";
  const bad = UNUSABLE.find((c) => cidrContains(c, { family: 4, value: v }));
  if (bad) return `must be a unicast address (not in ${formatIPv4(bad.network)}/${bad.prefix})`;
  return undefined;
}

export function parseEgressSource(value: string | undefined): EgressSource {
  const name = "EGRESS_SOURCE";
  if (value === undefined || value.trim() === "") {
    throw new RouterConfigError(name, undefined, value ?? "", "must be set to an IPv4 address");
  }
  const v = value.trim();
  const slash = v.indexOf("/");
  const addr = slash < 0 ? v : v.slice(0, slash);
  const problem = unicastIPv4Problem(addr);
  if (problem) throw new RouterConfigError(name, undefined, v, problem);
  if (slash < 0) return { address: addr, prefixLength: null };
  const lenText = v.slice(slash + 1);
  if (!/^[1-9]\d?$/.test(lenText) || Number(lenText) > 32) {
    throw new RouterConfigError(name, undefined, v, "prefix length must be 1-32");
  }
  return { address: addr, prefixLength: Number(lenText) };
}

export function parseEgressGateway(value: string | undefined, source?: EgressSource): string {
  const name = "EGRESS_GATEWAY";
  if (value === undefined || value.trim() === "") {
    throw new RouterConfigError(name, undefined, value ?? "", "must be set to an IPv4 address");
  }
  const v = value.trim();
  const problem = unicastIPv4Problem(v);
  if (problem) throw new RouterConfigError(name, undefined, v, problem);
  if (source && source.address === v) {
    throw new RouterConfigError(name, undefined, v, "must differ from EGRESS_SOURCE");
  }
  return v;
}

export function parseEgressDestination(value: string | undefined): EgressDestination {
  const name = "EGRESS_DESTINATION";
  if (value === undefined) throw new RouterConfigError(name, undefined, "", "must be set");
  const lines = contentLines(value);
  if (lines.length === 0) {
    throw new RouterConfigError(
      name,
      undefined,
      value,
      "must contain at least one rule or a fallback address",
    );
  }
  const rules: RedirectRule[] = [];
  let fallback: string | null = null;
  const used = new Map<number, number>();
  lines.forEach((l, i) => {
    const err = (v: string, detail: string) => new RouterConfigError(name, l.line, v, detail, l.text);
    const isLast = i === lines.length - 1;
    if (l.fields.length === 1) {
      const ip = l.fields[0]!;
      const problem = unicastIPv4Problem(ip);
      if (problem) {
        throw err(
          ip,
          `invalid line: expected "<port> <tcp|udp> <ip> [<remote_port>]" or a fallback IP (${problem})`,
        );
      }
      if (!isLast) throw err(ip, "fallback IP must be the last line");
      fallback = ip;
      return;
    }
    if (l.fields.length !== 3 && l.fields.length !== 4) {
      throw err(l.text, 'invalid line: expected "<port> <tcp|udp> <ip> [<remote_port>]" or a fallback IP');
    }
    const [portText, proto, dest, remoteText] = l.fields as [string, string, string, string | undefined];
    const port = parsePort(portText);
    if (port === undefined) throw err(portText, "port must be a decimal number 1-65535");
    if (proto !== "tcp" && proto !== "udp") throw err(proto, 'protocol must be "tcp" or "udp"');
    const problem = unicastIPv4Problem(dest);
    if (problem) throw err(dest, `destination ${problem}`);
    let remotePort = port;
    if (remoteText !== undefined) {
      const r = parsePort(remoteText);
      if (r === undefined) throw err(remoteText, "remote port must be a decimal number 1-65535");
      remotePort = r;
    }
    const first = used.get(port);
    if (first !== undefined) {
      throw err(
        portText,
        `duplicate local port (already used on line ${first}; ports are unique across protocols)`,
      );
    }
    used.set(port, l.line);
    rules.push({ port, protocol: proto, destination: dest, remotePort, line: l.line });
  });
  return { rules, fallback };
}
