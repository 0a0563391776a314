// Pure part of the `ip` adapter: the current state as read back from `ip -json` (parsers), what the node
// program owns in it, and the ordered list of actions that turns it into the desired IpProgram.
// Ownership (never touch anything else): routes and rules with protocol ROUTE_PROTO, IPv4 addresses
// whose label ends in ADDRESS_LABEL_SUFFIX. Ordering: every delete before any add, and egress addresses
// first of all (the node losing an egress IP drops it before anyone adds anything); routes before the
// rules that point at their tables; announcements (gratuitous ARP) last. No I/O here.
import { ADDRESS_LABEL_SUFFIX, ROUTE_PROTO } from "../compile/node-program.js";
import type { AddressSpec, IpProgram, RouteSpec, RuleSpec } from "../compile/types.js";

export interface IpState {
  addresses: { dev: string; address: string; label?: string }[];
  routes: (RouteSpec & { protocol?: string })[];
  rules: (RuleSpec & { protocol?: string })[];
}

export type IpAction =
  | { op: "del-address"; dev: string; address: string }
  | { op: "del-rule"; rule: RuleSpec }
  | { op: "del-route"; route: RouteSpec }
  | { op: "replace-route"; route: RouteSpec }
  | { op: "add-rule"; rule: RuleSpec }
  | { op: "add-address"; address: AddressSpec }
  /** Gratuitous ARP for a newly added egress IP: `arping -U -c 1 -I <dev> <ip>` (iputils-arping). */
  | { op: "announce"; dev: string; ip: string };

/** Malformed `ip -json` output (a bug or an unexpected iproute2 version). */
export class IpParseError extends Error {
  constructor(
    readonly what: string,
    readonly value: unknown,
  ) {
    super(`cannot read ${what} from ip -json output: ${JSON.stringify(value)?.slice(0, 200)}`);
    this.name = "IpParseError";
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

function arrayOf(what: string, json: unknown): Record<string, unknown>[] {
  if (!Array.isArray(json)) throw new IpParseError(what, json);
  return json.filter(isObj);
}

/** `ip -json addr show` → IPv4 addresses (all of them; ownership is decided by the diff). */
export function parseAddresses(json: unknown): IpState["addresses"] {
  const out: IpState["addresses"] = [];
  for (const link of arrayOf("addresses", json)) {
    const dev = str(link.ifname);
    if (!dev || !Array.isArray(link.addr_info)) continue;
    for (const a of link.addr_info.filter(isObj)) {
      if (a.family !== "inet" || typeof a.local !== "string" || typeof a.prefixlen !== "number") continue;
      const label = str(a.label);
      out.push({ dev, address: `${a.local}/${a.prefixlen}`, ...(label ? { label } : {}) });
    }
  }
  return out;
}

/** `ip -json route show table all` → IPv4 unicast and unreachable routes of numeric tables and main. */
export function parseRoutes(json: unknown): IpState["routes"] {
  const out: IpState["routes"] = [];
  for (const r of arrayOf("routes", json)) {
    const dst = str(r.dst);
    const dev = str(r.dev);
    const unreachable = r.type === "unreachable";
    if (!dst || (!dev && !unreachable) || dst.includes(":")) continue;
    if (r.type !== undefined && r.type !== "unicast" && !unreachable) continue;
    const t = str(r.table) ?? "main";
    const table = t === "main" ? "main" : /^\d+$/.test(t) ? Number(t) : undefined;
    if (table === undefined) continue; // local, default: never ours
    const via = str(r.gateway);
    const protocol = r.protocol === undefined ? undefined : String(r.protocol);
    out.push({
      table,
      dst: dst === "default" || dst.includes("/") ? dst : `${dst}/32`,
      ...(dev && !unreachable ? { dev } : {}),
      ...(unreachable ? { type: "unreachable" as const } : {}),
      ...(via ? { via } : {}),
      ...(protocol ? { protocol } : {}),
    });
  }
  return out;
}

/** `ip -json rule show` → fwmark rules (the only kind the program writes; others are kept as read). */
export function parseRules(json: unknown): IpState["rules"] {
  const out: IpState["rules"] = [];
  for (const r of arrayOf("rules", json)) {
    if (typeof r.priority !== "number") continue;
    const t = str(r.table);
    const fwmark = str(r.fwmark);
    if (!t || !/^\d+$/.test(t) || !fwmark) continue;
    const protocol = r.protocol === undefined ? undefined : String(r.protocol);
    out.push({
      priority: r.priority,
      fwmark: Number(fwmark),
      fwmask: Number(str(r.fwmask) ?? "0xffffffff"),
      table: Number(t),
      ...(protocol ? { protocol } : {}),
    });
  }
  return out;
}

const PROTO = String(ROUTE_PROTO);
const routeKey = (r: RouteSpec) => `${r.table}|${r.dst}`;
const sameRoute = (a: RouteSpec, b: RouteSpec) =>
  (a.type ?? "") === (b.type ?? "") && (a.dev ?? "") === (b.dev ?? "") && (a.via ?? "") === (b.via ?? "");
const ruleKey = (r: RuleSpec) => `${r.priority}|${r.fwmark}|${r.fwmask}|${r.table}`;
const addrKey = (a: { dev: string; address: string }) => `${a.dev}|${a.address}`;

export const ownsAddress = (a: { label?: string }): boolean =>
  a.label?.endsWith(ADDRESS_LABEL_SUFFIX) ?? false;

/** Actions that make the owned part of `current` equal to `desired`, deletes first. Pure. */
export function diffIp(desired: IpProgram, current: IpState): IpAction[] {
  const delAddr: IpAction[] = [];
  const addAddr: IpAction[] = [];
  const announce: IpAction[] = [];
  const wantAddr = new Map(desired.addresses.map((a) => [addrKey(a), a]));
  const haveAddr = new Set<string>();
  for (const a of current.addresses) {
    const k = addrKey(a);
    haveAddr.add(k);
    if (ownsAddress(a) && !wantAddr.has(k))
      delAddr.push({ op: "del-address", dev: a.dev, address: a.address });
  }
  for (const [k, a] of wantAddr) {
    if (haveAddr.has(k)) continue;
    addAddr.push({ op: "add-address", address: a });
    announce.push({ op: "announce", dev: a.dev, ip: a.address.split("/")[0]! });
  }

  const delRoute: IpAction[] = [];
  const setRoute: IpAction[] = [];
  const wantRoute = new Map(desired.routes.map((r) => [routeKey(r), r]));
  const haveRoute = new Map<string, RouteSpec>();
  for (const r of current.routes) {
    if (r.protocol !== PROTO) continue;
    const { protocol: _p, ...route } = r;
    haveRoute.set(routeKey(route), route);
    if (!wantRoute.has(routeKey(route))) delRoute.push({ op: "del-route", route });
  }
  for (const [k, r] of wantRoute) {
    const have = haveRoute.get(k);
    if (!have || !sameRoute(have, r)) setRoute.push({ op: "replace-route", route: r });
  }

  const delRule: IpAction[] = [];
  const addRule: IpAction[] = [];
  const wantRule = new Map(desired.rules.map((r) => [ruleKey(r), r]));
  const haveRule = new Set<string>();
  for (const r of current.rules) {
    if (r.protocol !== PROTO) continue;
    const { protocol: _p, ...rule } = r;
    haveRule.add(ruleKey(rule));
    if (!wantRule.has(ruleKey(rule))) delRule.push({ op: "del-rule", rule });
  }
  for (const [k, r] of wantRule) if (!haveRule.has(k)) addRule.push({ op: "add-rule", rule: r });

  return [...delAddr, ...delRule, ...delRoute, ...setRoute, ...addRule, ...addAddr, ...announce];
}

const tableArg = (t: RouteSpec["table"]) => String(t);

/** The `ip` command line (without the leading "ip") of an action; undefined for "announce". */
export function ipArgs(a: IpAction): string[] | undefined {
  switch (a.op) {
    case "del-address":
      return ["addr", "del", a.address, "dev", a.dev];
    case "add-address":
      return [
        "addr",
        "add",
        a.address.address,
        "dev",
        a.address.dev,
        "label",
        a.address.label,
        ...(a.address.lifetimeS !== undefined
          ? ["valid_lft", String(a.address.lifetimeS), "preferred_lft", String(a.address.lifetimeS)]
          : []),
      ];
    case "del-route":
    case "replace-route": {
      const r = a.route;
      return [
        "route",
        a.op === "del-route" ? "del" : "replace",
        ...(r.type ? [r.type] : []),
        r.dst,
        ...(r.via ? ["via", r.via] : []),
        ...(r.dev ? ["dev", r.dev] : []),
        "table",
        tableArg(r.table),
        "proto",
        PROTO,
      ];
    }
    case "del-rule":
    case "add-rule": {
      const r = a.rule;
      return [
        "rule",
        a.op === "del-rule" ? "del" : "add",
        "fwmark",
        `0x${r.fwmark.toString(16)}/0x${r.fwmask.toString(16)}`,
        "lookup",
        String(r.table),
        "priority",
        String(r.priority),
        "protocol",
        PROTO,
      ];
    }
    case "announce":
      return undefined;
  }
}

/** `arping` arguments of an announce action (iputils-arping: unsolicited ARP, one packet). */
export function arpingArgs(a: { dev: string; ip: string }): string[] {
  return ["-U", "-c", "1", "-I", a.dev, a.ip];
}
