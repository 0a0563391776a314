// IP address and CIDR arithmetic on bigint, for IPv4 and IPv6 alike (128-bit safe).
// Strict parsing: IPv4 only in dotted-quad decimal with no leading zeros (so "010.0.0.1" and
// "0x7f.1" are not addresses), IPv6 per RFC 4291 text forms including embedded IPv4.
// Pure: no I/O.

export type Family = 4 | 6;

export interface IP {
  family: Family;
  /** The address as an unsigned integer (32 or 128 bits). */
  value: bigint;
}

export interface CIDR {
  family: Family;
  /** Network address (host bits cleared). */
  network: bigint;
  prefix: number;
  /** The address exactly as written before masking (e.g. 192.168.1.7 in 192.168.1.7/24). */
  address: bigint;
}

export const bitsOf = (f: Family): number => (f === 4 ? 32 : 128);

const V4_OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function parseIPv4(s: string): bigint | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!V4_OCTET.test(p)) return undefined;
    v = (v << 8n) | BigInt(Number(p));
  }
  return v;
}

export function parseIPv6(s: string): bigint | undefined {
  if (s.length === 0 || s.length > 45 || s.includes("%")) return undefined;
  let head = s;
  let tailV4: bigint | undefined;
  const lastColon = s.lastIndexOf(":");
  if (lastColon >= 0 && s.slice(lastColon + 1).includes(".")) {
    tailV4 = parseIPv4(s.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const dbl = head.indexOf("::");
  if (dbl !== head.lastIndexOf("::")) return undefined;
  const groupOk = (g: string) => /^[0-9a-fA-F]{1,4}$/.test(g);
  let groups: string[];
  if (dbl >= 0) {
    const left = head.slice(0, dbl) === "" ? [] : head.slice(0, dbl).split(":");
    const right = head.slice(dbl + 2) === "" ? [] : head.slice(dbl + 2).split(":");
    if (left.length + right.length > 7) return undefined;
    groups = [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  } else {
    groups = head.split(":");
    if (groups.length !== 8) return undefined;
  }
  let v = 0n;
  for (const g of groups) {
    if (!groupOk(g)) return undefined;
    v = (v << 16n) | BigInt(Number.parseInt(g, 16));
  }
  if (tailV4 !== undefined) v = (v & ~0xffffffffn) | tailV4;
  return v;
}

/** Parses a plain IPv4 or IPv6 address (no prefix length). */
export function parseIP(s: string): IP | undefined {
  if (s.includes(":")) {
    const v = parseIPv6(s);
    return v === undefined ? undefined : { family: 6, value: v };
  }
  const v = parseIPv4(s);
  return v === undefined ? undefined : { family: 4, value: v };
}

export function isIP(s: string): boolean {
  return parseIP(s) !== undefined;
}

export function maskOf(family: Family, prefix: number): bigint {
  const bits = BigInt(bitsOf(family));
  const p = BigInt(prefix);
  return ((1n << bits) - 1n) ^ ((1n << (bits - p)) - 1n);
}

/** Parses "addr/len". Host bits are allowed (as Go's net.ParseCIDR) and cleared in `network`. */
export function parseCIDR(s: string): CIDR | undefined {
  const slash = s.indexOf("/");
  if (slash < 0) return undefined;
  const ip = parseIP(s.slice(0, slash));
  const lenText = s.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(lenText)) return undefined;
  const prefix = Number(lenText);
  if (prefix > bitsOf(ip.family)) return undefined;
  return { family: ip.family, network: ip.value & maskOf(ip.family, prefix), prefix, address: ip.value };
}

export function cidrContains(c: CIDR, ip: IP): boolean {
  return c.family === ip.family && (ip.value & maskOf(c.family, c.prefix)) === c.network;
}

/** Number of the last address in the CIDR (the all-ones/broadcast address for IPv4). */
export function cidrLast(c: CIDR): bigint {
  return c.network | ((1n << BigInt(bitsOf(c.family) - c.prefix)) - 1n);
}

export function cidrsOverlap(a: CIDR, b: CIDR): boolean {
  if (a.family !== b.family) return false;
  return a.network <= cidrLast(b) && b.network <= cidrLast(a);
}

export function formatIPv4(v: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => ((v >> s) & 0xffn).toString()).join(".");
}

/** RFC 5952 canonical text: lower case, longest run of ≥2 zero groups compressed. */
export function formatIPv6(v: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  const left = hex.slice(0, bestStart).join(":");
  const right = hex.slice(bestStart + bestLen).join(":");
  return `${left}::${right}`;
}

export function formatIP(ip: IP): string {
  return ip.family === 4 ? formatIPv4(ip.value) : formatIPv6(ip.value);
}

export function formatCIDR(c: CIDR): string {
  return `${formatIP({ family: c.family, value: c.network })}/${c.prefix}`;
}

/** Canonical form of an address string, or undefined when it is not one ("::FFFF:1.2.3.4" → "::ffff:102:304"). */
export function canonicalIP(s: string): string | undefined {
  const ip = parseIP(s);
  return ip ? formatIP(ip) : undefined;
}
