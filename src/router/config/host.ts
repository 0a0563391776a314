// Host-name rules shared by the router's configuration and the HTTP proxy's request parsing.
// A host name is LDH labels (underscore tolerated, as in real DNS data), compared lower-case
// without one trailing dot. A name whose last label is numeric ("1.2.3", "0x7f000001", "127.1")
// is NOT a host name: resolvers (inet_aton) would read it as an IPv4 address, so callers must
// treat it as an address literal or refuse it. Pure: no I/O.

import { type IP, parseIP } from "../../api/ip.js";

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const NUMERIC_LABEL = /^(?:0x[0-9a-f]*|\d+)$/i;

/** Lower-cases and drops one trailing dot. Does not validate. */
export function normalizeHostName(s: string): string {
  const lower = s.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

/** True when a resolver would treat the (normalized) text as an IPv4 literal in some form:
 *  its last label is decimal, octal or hex digits (the WHATWG "ends in a number" test). */
export function looksNumeric(normalized: string): boolean {
  const labels = normalized.split(".");
  return NUMERIC_LABEL.test(labels[labels.length - 1] ?? "");
}

/** Validates a normalized host name; returns a reason when it is not one. */
export function hostNameProblem(normalized: string): string | undefined {
  if (normalized === "") return "empty host name";
  if (normalized.length > 253) return "host name longer than 253 characters";
  if (looksNumeric(normalized)) return "not a dotted-quad IPv4 address nor a host name";
  for (const label of normalized.split(".")) {
    if (!LABEL.test(label)) return "not a valid host name";
  }
  return undefined;
}

/** IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) IPv6 addresses reach the IPv4
 *  address on a dual-stack host, so rules must see them as that IPv4 address. */
export function unmapIPv4(ip: IP): IP {
  if (ip.family !== 6) return ip;
  const high = ip.value >> 32n;
  const low = ip.value & 0xffffffffn;
  if (high === 0xffffn) return { family: 4, value: low };
  if (high === 0n && low > 1n) return { family: 4, value: low };
  return ip;
}

/** Parses a plain IP address literal (strict forms only) and unmaps IPv4-in-IPv6. */
export function parseAddress(s: string): IP | undefined {
  const ip = parseIP(s);
  return ip ? unmapIPv4(ip) : undefined;
}
