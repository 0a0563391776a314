// The policy program's structured form (IR): the sets, verdict maps, chains and rules of table
// `inet egress-policy`, each rule and map element carrying the origin (which multitenant check,
// NetworkPolicy rule or egress firewall rule) it was compiled from. The nft script is rendered from
// this IR by renderPolicyIR, and tracePolicy (trace.ts) evaluates the same IR, so what `egress trace`
// says is what the kernel does. Only the handful of match/action forms the compiler needs exist here.
// Pure: no I/O.
import { formatV4, maskV4 } from "../ipv4.js";
import type { PolicyProtocol, V4Range } from "./types.js";

/** Why a rule or map element exists: reported by tracePolicy as `decidedBy`. */
export type PolicyOrigin =
  /** Nothing in the policy table decided: the base chain's policy accept. */
  | { kind: "default" }
  /** Packet of an established/related flow (checked after multitenant isolation). */
  | { kind: "conntrack" }
  /** Multitenant isolation. `netid` is the source pod's netid where the rule knows it. */
  | {
      kind: "multitenant";
      verdict: "allow" | "drop";
      reason: "global" | "same-netid" | "other-netid" | "no-netid" | "unknown-pod";
      netid?: number;
    }
  /** A NetworkPolicy rule allowed the flow (spec.ingress[rule] / spec.egress[rule] of policy). */
  | { kind: "networkpolicy"; policy: string; direction: "ingress" | "egress"; rule: number }
  /** The pod is isolated for this direction and no policy rule allowed the flow. */
  | { kind: "networkpolicy-isolation"; direction: "ingress" | "egress" }
  /** IPv4 multicast (224.0.0.0/4): decided by the multicast table (bridge egress-mcast), not here. */
  | { kind: "multicast" }
  /** DNS (UDP/TCP 53) to one of the pods' resolvers: never blocked by an egress firewall. */
  | { kind: "dns" }
  /** spec.egress[rule] of an egress firewall matched (Allow → accept, Deny → drop). */
  | {
      kind: "egressfirewall";
      namespace: string;
      firewallKind: "EgressFirewall" | "EgressNetworkPolicy";
      name: string;
      rule: number;
      type: "Allow" | "Deny";
    }
  /** An enforced egress firewall had no matching rule: accepted. */
  | {
      kind: "egressfirewall-nomatch";
      namespace: string;
      firewallKind: "EgressFirewall" | "EgressNetworkPolicy";
      name: string;
    }
  /** All outside traffic of the namespace is dropped (firewall effect DropAll). */
  | { kind: "egressfirewall-dropall"; namespace: string; firewalls: string[] };

export type L4 = "tcp" | "udp" | "sctp";
export const L4_ORDER: readonly L4[] = ["tcp", "udp", "sctp"];
export const l4Of = (p: PolicyProtocol): L4 => p.toLowerCase() as L4;

export type IrVerdict =
  | { kind: "accept" }
  | { kind: "drop" }
  | { kind: "return" }
  | { kind: "jump"; chain: string }
  | { kind: "goto"; chain: string };

/** Lookup keys: one address, the concatenation address . l4 protocol . destination port,
 *  l4 protocol . destination port alone (a NetworkPolicy rule's port list, shared between rules), or
 *  the packet's network protocol (`meta nfproto`: only the fail-closed map `live`, see LIVE_SET). */
export type IrKey = "saddr" | "daddr" | "daddr.l4.dport" | "saddr.l4.dport" | "l4.dport" | "nfproto";
export type NfProto = "ipv4" | "ipv6";
export const isConcat = (k: IrKey): boolean => k === "daddr.l4.dport" || k === "saddr.l4.dport";

export interface IrElement {
  /** Address (range; start == end for one address). Keys "l4.dport" and "nfproto" have none:
   *  0.0.0.0/0, unused. */
  addr: V4Range;
  /** Key "nfproto" only. */
  nfproto?: NfProto;
  /** Only for the concatenated keys. */
  l4?: L4;
  ports?: [number, number];
  /** Verdict-map elements only. */
  verdict?: IrVerdict;
  /** Mark-map elements only. */
  mark?: number;
  origin?: PolicyOrigin;
  /** When adjacent elements with the same verdict were merged into this one (the kernel holds one
   *  element), the origin of each sub-range, sorted; `origin` is then unset. */
  parts?: { addr: V4Range; origin: PolicyOrigin }[];
}

/** Merges address-adjacent elements of a (non-concatenated) verdict map that have the same verdict,
 *  keeping each sub-range's origin in `parts`. Input sorted and disjoint. */
export function mergeAdjacent(elements: IrElement[]): IrElement[] {
  const out: IrElement[] = [];
  const sameVerdict = (a?: IrVerdict, b?: IrVerdict) =>
    a !== undefined && b !== undefined && verdictText(a) === verdictText(b);
  for (const e of elements) {
    const last = out[out.length - 1];
    if (last && last.addr.end + 1 === e.addr.start && sameVerdict(last.verdict, e.verdict)) {
      if (!last.parts) {
        last.parts = last.origin ? [{ addr: { ...last.addr }, origin: last.origin }] : [];
        delete last.origin;
      }
      if (e.origin) last.parts.push({ addr: e.addr, origin: e.origin });
      last.addr = { start: last.addr.start, end: e.addr.end };
    } else out.push({ ...e, addr: { ...e.addr } });
  }
  return out;
}

export interface IrSet {
  name: string;
  key: IrKey;
  /** Elements are ranges (`flags interval`); otherwise single addresses (hash set). */
  interval: boolean;
  /** A set (false) or a map: a verdict map (every element has a verdict; used by `vmap`), or a mark
   *  map (every element has a mark; used only in plain lookups `@name`, never for its data: a map
   *  because a deleted map's elements are deactivated and a deleted set's are not, see LIVE_SET). */
  map: false | "verdict" | "mark";
  /** Sorted by address (then protocol, port), non-overlapping. */
  elements: IrElement[];
}

export type IrMatch =
  | { kind: "lookup"; key: IrKey; set: string; neg?: boolean }
  | { kind: "prefix"; field: "saddr" | "daddr"; net: number; prefix: number; neg?: boolean }
  | { kind: "ctstate"; states: ("established" | "related")[] }
  | { kind: "l4proto"; protos: L4[] }
  /** Inclusive destination port range (`th dport 80` or `th dport 80-90`). */
  | { kind: "dport"; ports: [number, number] };

export type IrAction =
  | { kind: "verdict"; verdict: IrVerdict }
  /** Verdict map lookup; a miss ends the rule without a verdict and evaluation goes on. */
  | { kind: "vmap"; key: IrKey; map: string }
  /** `meta mark set meta mark | bits`, then the next rule. */
  | { kind: "markOr"; bits: number };

export interface IrRule {
  match: IrMatch[];
  action: IrAction;
  /** For verdicts (and set lookups ending in one) whose reason is the rule itself; map elements and
   *  set elements carry their own. */
  origin?: PolicyOrigin;
  /** Attribution only, never rendered: destination-address segments whose deciding rule is not this
   *  rule itself but which end here because they were left out of a verdict map (their verdict
   *  equals this rule's; see the egress firewall's majority verdict). Sorted, disjoint. The tracer
   *  evaluates the rule as nft does and takes the origin from the segment holding the packet's
   *  destination, else `origin`. */
  omitted?: { addr: V4Range; origin: PolicyOrigin }[];
  /** Attribution only, never rendered: boxes (address range . protocol . port range) left out of a
   *  port verdict map earlier in the chain because this rule gives a packet in them the same verdict.
   *  Checked before `omitted` (port rules come first in the first-match order they stand for). */
  omittedPorts?: { addr: V4Range; l4: L4; ports: [number, number]; origin: PolicyOrigin }[];
}

export interface IrChain {
  name: string;
  /** Base chain: filter hook forward priority filter, policy accept. */
  base?: boolean;
  rules: IrRule[];
}

export interface PolicyIR {
  family: "inet";
  table: string;
  /** Sorted by name. */
  sets: IrSet[];
  /** The base chain first, then sorted by name. */
  chains: IrChain[];
}

// ------------------------------------------------------------------------------------ rendering

/** An address range as nft writes it: one address, a prefix when aligned, else `a-b`. */
export function rangeText(r: V4Range): string {
  if (r.start === r.end) return formatV4(r.start);
  const size = r.end - r.start + 1;
  if (Number.isInteger(Math.log2(size))) {
    const prefix = 32 - Math.log2(size);
    if ((r.start & maskV4(prefix)) >>> 0 === r.start) return `${formatV4(r.start)}/${prefix}`;
  }
  return `${formatV4(r.start)}-${formatV4(r.end)}`;
}

const portText = (p: [number, number]): string => (p[0] === p[1] ? `${p[0]}` : `${p[0]}-${p[1]}`);

function verdictText(v: IrVerdict): string {
  return v.kind === "jump" || v.kind === "goto" ? `${v.kind} ${v.chain}` : v.kind;
}

const keyExpr: Record<IrKey, string> = {
  saddr: "ip saddr",
  daddr: "ip daddr",
  "daddr.l4.dport": "ip daddr . meta l4proto . th dport",
  "saddr.l4.dport": "ip saddr . meta l4proto . th dport",
  "l4.dport": "meta l4proto . th dport",
  nfproto: "meta nfproto",
};
const keyType: Record<IrKey, string> = {
  saddr: "ipv4_addr",
  daddr: "ipv4_addr",
  "daddr.l4.dport": "ipv4_addr . inet_proto . inet_service",
  "saddr.l4.dport": "ipv4_addr . inet_proto . inet_service",
  "l4.dport": "inet_proto . inet_service",
  nfproto: "nf_proto",
};
const dataType = { verdict: " : verdict", mark: " : mark" } as const;
const markText = (m: number): string => `0x${m.toString(16).padStart(8, "0")}`;

function elementText(s: IrSet, e: IrElement): string {
  let k: string;
  if (s.key === "l4.dport") k = `${e.l4} . ${portText(e.ports ?? [0, 65535])}`;
  else if (s.key === "nfproto") k = e.nfproto ?? "ipv4";
  else {
    k = rangeText(e.addr);
    if (isConcat(s.key)) k += ` . ${e.l4} . ${portText(e.ports ?? [0, 65535])}`;
  }
  if (s.map === "verdict" && e.verdict) return `${k} : ${verdictText(e.verdict)}`;
  if (s.map === "mark" && e.mark !== undefined) return `${k} : ${markText(e.mark)}`;
  return k;
}

function matchText(m: IrMatch): string {
  switch (m.kind) {
    case "lookup":
      return `${keyExpr[m.key]}${m.neg ? " !=" : ""} @${m.set}`;
    case "prefix": {
      const addr = m.prefix === 32 ? formatV4(m.net) : `${formatV4(m.net)}/${m.prefix}`;
      return `ip ${m.field}${m.neg ? " !=" : ""} ${addr}`;
    }
    case "ctstate":
      return `ct state ${m.states.join(",")}`;
    case "l4proto":
      return m.protos.length === 1
        ? `meta l4proto ${m.protos[0]}`
        : `meta l4proto { ${m.protos.join(", ")} }`;
    case "dport":
      return `th dport ${portText(m.ports)}`;
  }
}

function actionText(a: IrAction): string {
  switch (a.kind) {
    case "verdict":
      return verdictText(a.verdict);
    case "vmap":
      return `${keyExpr[a.key]} vmap @${a.map}`;
    case "markOr":
      return `meta mark set meta mark | ${markText(a.bits)}`;
  }
}

export function ruleText(r: IrRule): string {
  return [...r.match.map(matchText), actionText(r.action)].join(" ");
}

/** The whole-table script: create-if-absent, delete, full definition (one `nft -f` transaction). */
export function renderPolicyIR(ir: PolicyIR): string {
  const T = `${ir.family} ${ir.table}`;
  const out: string[] = [`table ${T} {}`, `delete table ${T}`, `table ${T} {`];
  for (const s of ir.sets) {
    out.push(`\t${s.map ? "map" : "set"} ${s.name} {`);
    out.push(`\t\ttype ${keyType[s.key]}${s.map ? dataType[s.map] : ""}`);
    if (s.interval) out.push("\t\tflags interval");
    if (s.elements.length > 0) {
      out.push("\t\telements = {");
      const n = s.elements.length;
      s.elements.forEach((e, i) => {
        out.push(`\t\t\t${elementText(s, e)}${i < n - 1 ? "," : ""}`);
      });
      out.push("\t\t}");
    }
    out.push("\t}");
  }
  for (const c of ir.chains) {
    out.push(`\tchain ${c.name} {`);
    if (c.base) out.push("\t\ttype filter hook forward priority filter; policy accept;");
    for (const r of c.rules) out.push(`\t\t${ruleText(r)}`);
    out.push("\t}");
  }
  out.push("}");
  return `${out.join("\n")}\n`;
}
