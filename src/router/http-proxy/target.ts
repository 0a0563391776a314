// Strict parsing of what an HTTP proxy client asks for: the absolute-form URL of a plain HTTP
// request, the authority of a CONNECT, and the Host header. Anything a resolver or another URL
// parser could read differently from us is refused (HTTP 400) instead of guessed at:
// userinfo ("http://allowed@denied/"), percent-encoding or backslashes in the host, IPv4 literals
// in any form but canonical dotted decimal (decimal "2130706433", octal "0177.0.0.1", hex
// "0x7f000001", short "127.1"), IPv6 zone ids. IPv4-mapped/compatible IPv6 literals are read as
// the IPv4 address they reach. Pure: no I/O.

import { formatIP, type IP, parseIPv6 } from "../../api/ip.js";
import { hostNameProblem, looksNumeric, normalizeHostName, parseAddress, unmapIPv4 } from "../config/host.js";

export class BadTargetError extends Error {
  constructor(
    readonly value: string,
    readonly detail: string,
  ) {
    super(`${detail}: ${JSON.stringify(value)}`);
    this.name = "BadTargetError";
  }
}

/** A destination host: an address literal, or a normalized host name (lower case, no trailing dot). */
export type Host = { kind: "ip"; ip: IP } | { kind: "name"; name: string };

export interface Authority {
  host: Host;
  port: number;
  /** Whether the text carried an explicit port. */
  explicitPort: boolean;
}

export interface HttpTarget {
  authority: Authority;
  /** The authority exactly as the URL wrote it (forwarded as the Host header). */
  authorityText: string;
  /** The origin-form request target to send upstream ("/path?query"). */
  path: string;
}

const HOST_CHARS = /^[A-Za-z0-9._-]+$/;

export function parseHost(text: string): Host {
  if (text.startsWith("[")) {
    if (!text.endsWith("]")) throw new BadTargetError(text, "unterminated IPv6 literal");
    const v = parseIPv6(text.slice(1, -1));
    if (v === undefined) throw new BadTargetError(text, "invalid IPv6 literal");
    return { kind: "ip", ip: unmapIPv4({ family: 6, value: v }) };
  }
  if (!HOST_CHARS.test(text)) throw new BadTargetError(text, "invalid characters in host");
  const name = normalizeHostName(text);
  if (looksNumeric(name)) {
    const ip = parseAddress(name);
    if (!ip) throw new BadTargetError(text, "IPv4 literal must be dotted decimal without leading zeros");
    return { kind: "ip", ip };
  }
  const problem = hostNameProblem(name);
  if (problem) throw new BadTargetError(text, problem);
  return { kind: "name", name };
}

// A proxy sees the same few authorities over and over (URL and Host header of every request);
// parsing is pure, so accepted results are memoized. Refusals are not cached (they throw).
// Cached values are frozen because callers share them. Bounded: cleared when full.
const AUTHORITY_CACHE_LIMIT = 1024;
const authorityCache = new Map<string, Authority>();

/** parseAuthority, memoized by (defaultPort, text). */
export function cachedAuthority(text: string, defaultPort: number | null): Authority {
  const key = `${defaultPort ?? "-"} ${text}`;
  let a = authorityCache.get(key);
  if (a === undefined) {
    a = parseAuthority(text, defaultPort);
    Object.freeze(a.host);
    Object.freeze(a);
    if (authorityCache.size >= AUTHORITY_CACHE_LIMIT) authorityCache.clear();
    authorityCache.set(key, a);
  }
  return a;
}

/** Parses "host[:port]" or "[v6][:port]". `defaultPort` null means the port is required. */
export function parseAuthority(text: string, defaultPort: number | null): Authority {
  if (text === "") throw new BadTargetError(text, "empty authority");
  if (text.includes("@")) throw new BadTargetError(text, "userinfo is not allowed");
  let hostText = text;
  let portText: string | undefined;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) throw new BadTargetError(text, "unterminated IPv6 literal");
    hostText = text.slice(0, close + 1);
    const rest = text.slice(close + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) throw new BadTargetError(text, "garbage after IPv6 literal");
      portText = rest.slice(1);
    }
  } else {
    const colon = text.lastIndexOf(":");
    if (colon >= 0) {
      hostText = text.slice(0, colon);
      portText = text.slice(colon + 1);
    }
  }
  let port: number;
  if (portText === undefined) {
    if (defaultPort === null) throw new BadTargetError(text, "port is required");
    port = defaultPort;
  } else {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw new BadTargetError(text, "port must be 1-65535");
    }
    port = Number(portText);
  }
  return { host: parseHost(hostText), port, explicitPort: portText !== undefined };
}

/** Parses an absolute-form request target; only the http scheme is proxied this way. */
export function parseAbsoluteHttpUrl(url: string): HttpTarget {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(url);
  if (!m) throw new BadTargetError(url, "the proxy needs an absolute http:// URL (or CONNECT)");
  if (m[1]!.toLowerCase() !== "http")
    throw new BadTargetError(url, "only http:// URLs are proxied (use CONNECT)");
  const rest = m[2]!;
  if (/[\\#\s]/.test(rest)) throw new BadTargetError(url, "backslash, fragment or white space in URL");
  const end = rest.search(/[/?]/);
  const authorityText = end < 0 ? rest : rest.slice(0, end);
  let path = end < 0 ? "/" : rest.slice(end);
  if (path.startsWith("?")) path = `/${path}`;
  return { authority: cachedAuthority(authorityText, 80), authorityText, path };
}

export function parseConnectTarget(target: string): Authority {
  return cachedAuthority(target, null);
}

export function sameHost(a: Host, b: Host): boolean {
  if (a.kind === "ip" && b.kind === "ip") return a.ip.family === b.ip.family && a.ip.value === b.ip.value;
  if (a.kind === "name" && b.kind === "name") return a.name === b.name;
  return false;
}

/** The Host header must name the same host as the request target (and the same port, when it
 *  gives one); otherwise the origin server could route on a name we never checked. */
export function hostHeaderAgrees(target: Authority, hostHeader: string): boolean {
  let h: Authority;
  try {
    h = cachedAuthority(hostHeader, target.port);
  } catch {
    return false;
  }
  return sameHost(h.host, target.host) && h.port === target.port;
}

/** Address text to connect to (never a name: the proxy connects to what it checked). */
export function formatHost(h: Host): string {
  return h.kind === "name" ? h.name : formatIP(h.ip);
}
