// Fast address handling for the hot paths of the allocators (thousands of nodes and IPs per run).
// IPv4 stays on plain numbers (no bigint allocation); IPv6 falls back to ../../api/ip.ts. Parsing
// is exactly as strict as api/ip.ts (tested against it). Pure: no I/O.
import { type Family, maskOf, parseIPv6 } from "../../api/ip.js";

export type Addr = { family: 4; v4: number } | { family: 6; v6: bigint };

/** Strict dotted-quad: four decimal octets 0–255, no leading zeros, nothing else. */
export function parseIPv4Number(s: string): number | undefined {
  const len = s.length;
  if (len < 7 || len > 15) return undefined;
  let value = 0;
  let octet = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= len; i++) {
    const c = i === len ? 46 : s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || parts === 4) return undefined;
      value = value * 256 + octet;
      parts++;
      octet = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return undefined; // leading zero
      octet = octet * 10 + (c - 48);
      digits++;
      if (octet > 255) return undefined;
    } else return undefined;
  }
  return parts === 4 ? value : undefined;
}

export function parseAddr(s: string): Addr | undefined {
  if (s.includes(":")) {
    const v6 = parseIPv6(s);
    return v6 === undefined ? undefined : { family: 6, v6 };
  }
  const v4 = parseIPv4Number(s);
  return v4 === undefined ? undefined : { family: 4, v4 };
}

/** A key unique across families, usable in Map/Set. */
export const addrKey = (a: Addr): number | string => (a.family === 4 ? a.v4 : `6:${a.v6.toString(16)}`);

const v4Mask = (prefix: number): number => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

/** The network containing `a` at `prefix`, as a key comparable with netKeyOf. */
export function maskedKey(a: Addr, prefix: number): number | bigint {
  return a.family === 4 ? (a.v4 & v4Mask(prefix)) >>> 0 : a.v6 & maskOf(6, prefix);
}

export interface Net {
  family: Family;
  prefix: number;
  /** Network address key (see maskedKey). */
  network: number | bigint;
  /** The address as written before the '/', as an Addr. */
  address: Addr;
}

/** "addr/len" (host bits allowed, as Go's ParseCIDR). */
export function parseNet(s: string): Net | undefined {
  const slash = s.indexOf("/");
  if (slash < 0) return undefined;
  const a = parseAddr(s.slice(0, slash));
  const lt = s.slice(slash + 1);
  if (!a || !/^\d{1,3}$/.test(lt)) return undefined;
  const prefix = Number(lt);
  if (prefix > (a.family === 4 ? 32 : 128)) return undefined;
  return { family: a.family, prefix, network: maskedKey(a, prefix), address: a };
}

export const netContains = (n: Net, a: Addr): boolean =>
  n.family === a.family && maskedKey(a, n.prefix) === n.network;
