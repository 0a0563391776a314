// IPv4 addresses as unsigned 32-bit numbers for the compiler's hot loops (10,000s of pods): bigint
// arithmetic from src/api/ip.ts allocates per operation and dominated compile time. Same strict
// syntax as src/api/ip.ts (dotted quad, decimal, no leading zeros). Pure: no I/O.

export interface V4CIDR {
  /** Network address (host bits cleared), unsigned. */
  net: number;
  prefix: number;
}

export function parseV4(s: string): number | undefined {
  let v = 0;
  let parts = 0;
  let start = 0;
  for (let i = 0; i <= s.length; i++) {
    if (i < s.length && s.charCodeAt(i) !== 46) continue;
    const len = i - start;
    if (len < 1 || len > 3) return undefined;
    let o = 0;
    for (let j = start; j < i; j++) {
      const c = s.charCodeAt(j) - 48;
      if (c < 0 || c > 9) return undefined;
      o = o * 10 + c;
    }
    if (o > 255 || (len > 1 && s.charCodeAt(start) === 48)) return undefined;
    v = v * 256 + o;
    parts++;
    start = i + 1;
  }
  return parts === 4 ? v : undefined;
}

export const maskV4 = (prefix: number): number => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

export function parseV4CIDR(s: string): V4CIDR | undefined {
  const slash = s.indexOf("/");
  if (slash < 0) return undefined;
  const ip = parseV4(s.slice(0, slash));
  const p = s.slice(slash + 1);
  if (ip === undefined || !/^\d{1,2}$/.test(p) || Number(p) > 32) return undefined;
  const prefix = Number(p);
  return { net: (ip & maskV4(prefix)) >>> 0, prefix };
}

export const containsV4 = (c: V4CIDR, ip: number): boolean => (ip & maskV4(c.prefix)) >>> 0 === c.net;

export const formatV4 = (v: number): string =>
  `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;

export const formatV4CIDR = (c: V4CIDR): string => `${formatV4(c.net)}/${c.prefix}`;
