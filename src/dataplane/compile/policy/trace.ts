// tracePolicy: pushes one virtual packet through a compiled policy program's IR (the same structure
// its nft script is rendered from) and says what the table does to it and which rule decided: the
// engine of `egress trace` and of the compiler's tests. Conntrack is not simulated: the caller says
// whether the packet belongs to a new or an established flow. Pure: no I/O.
import { parseV4 } from "../ipv4.js";
import {
  type IrAction,
  type IrChain,
  type IrElement,
  type IrKey,
  type IrMatch,
  type IrSet,
  type IrVerdict,
  isConcat,
  type L4,
  type PolicyIR,
  type PolicyOrigin,
} from "./ir.js";
import type { PolicyProgram, PolicyProtocol } from "./types.js";

export interface PolicyTracePacket {
  src: string;
  dst: string;
  protocol: PolicyProtocol | "ICMP";
  /** Destination port; required for TCP, UDP and SCTP. */
  dport?: number;
  /** "established" covers related packets too (ct state established,related). */
  state: "new" | "established";
}

export interface PolicyTraceResult {
  verdict: "accept" | "drop";
  /** The rule or map element whose verdict ended evaluation; when the packet fell through the base
   *  chain (policy accept), the last one that let it pass on (e.g. a NetworkPolicy rule), else
   *  `{kind: "default"}`. */
  decidedBy: PolicyOrigin;
  /** POD_OUTSIDE_MARK was set (a pod of this node → outside the cluster). The admin chain sees the
   *  packet only when it is also accepted. */
  marked: boolean;
  /** Every decision on the way, in order (multitenant allow, NetworkPolicy rules, the final one). */
  steps: PolicyOrigin[];
  /** Chains entered, in order. */
  chains: string[];
}

/** The packet or the program cannot be traced (bad address, missing port, unknown set/chain). */
export class PolicyTraceError extends Error {
  constructor(
    readonly field: string,
    readonly value: unknown,
    detail: string,
  ) {
    super(`trace ${field}: ${detail} (got ${JSON.stringify(value)})`);
    this.name = "PolicyTraceError";
  }
}

interface Pkt {
  saddr: number;
  daddr: number;
  l4?: L4;
  dport: number;
  established: boolean;
}

type Outcome = { kind: "accept" | "drop"; origin?: PolicyOrigin } | { kind: "continue" };

export function tracePolicy(program: PolicyProgram | PolicyIR, packet: PolicyTracePacket): PolicyTraceResult {
  const ir = "ir" in program ? program.ir : program;
  const saddr = parseV4(packet.src);
  const daddr = parseV4(packet.dst);
  if (saddr === undefined) throw new PolicyTraceError("src", packet.src, "not an IPv4 address");
  if (daddr === undefined) throw new PolicyTraceError("dst", packet.dst, "not an IPv4 address");
  let l4: L4 | undefined;
  if (packet.protocol === "TCP" || packet.protocol === "UDP" || packet.protocol === "SCTP") {
    l4 = packet.protocol.toLowerCase() as L4;
    const p = packet.dport;
    if (p === undefined || !Number.isInteger(p) || p < 0 || p > 65535)
      throw new PolicyTraceError("dport", p, `${packet.protocol} needs a destination port 0-65535`);
  } else if (packet.protocol !== "ICMP")
    throw new PolicyTraceError("protocol", packet.protocol, "TCP, UDP, SCTP or ICMP");
  const pkt: Pkt = {
    saddr,
    daddr,
    ...(l4 ? { l4 } : {}),
    dport: packet.dport ?? 0,
    established: packet.state === "established",
  };

  const sets = new Map<string, IrSet>(ir.sets.map((s) => [s.name, s]));
  const chains = new Map<string, IrChain>(ir.chains.map((c) => [c.name, c]));
  const base = ir.chains.find((c) => c.base);
  if (!base) throw new PolicyTraceError("program", ir.table, "has no base chain");
  const steps: PolicyOrigin[] = [];
  const entered: string[] = [];
  let marked = false;

  const setOf = (name: string): IrSet => sets.get(name) ?? fail("set", name, "no such set or map");
  const lookup = (key: IrKey, name: string): IrElement | undefined => {
    const s = setOf(name);
    // A traced packet is IPv4: it finds the `live` map's ipv4 element (never dropped by the guard
    // while the program is whole).
    if (key === "nfproto") return s.elements.find((e) => e.nfproto === "ipv4");
    const addr = key.startsWith("saddr") ? pkt.saddr : pkt.daddr;
    if (key === "l4.dport") {
      if (pkt.l4 === undefined) return undefined;
      return s.elements.find(
        (e) =>
          e.l4 === pkt.l4 &&
          (e.ports ?? [0, 65535])[0] <= pkt.dport &&
          pkt.dport <= (e.ports ?? [0, 65535])[1],
      );
    }
    if (isConcat(key)) {
      if (pkt.l4 === undefined) return undefined;
      return s.elements.find(
        (e) =>
          e.addr.start <= addr &&
          addr <= e.addr.end &&
          e.l4 === pkt.l4 &&
          (e.ports ?? [0, 65535])[0] <= pkt.dport &&
          pkt.dport <= (e.ports ?? [0, 65535])[1],
      );
    }
    return s.elements.find((e) => e.addr.start <= addr && addr <= e.addr.end);
  };
  const matches = (m: IrMatch, hit: { element?: IrElement }): boolean => {
    switch (m.kind) {
      case "lookup": {
        const e = lookup(m.key, m.set);
        if (e && !m.neg) hit.element = e;
        return (e !== undefined) !== (m.neg === true);
      }
      case "prefix": {
        const a = m.field === "saddr" ? pkt.saddr : pkt.daddr;
        const mask = m.prefix === 0 ? 0 : (0xffffffff << (32 - m.prefix)) >>> 0;
        return ((a & mask) >>> 0 === m.net) !== (m.neg === true);
      }
      case "ctstate":
        return pkt.established;
      case "l4proto":
        return pkt.l4 !== undefined && m.protos.includes(pkt.l4);
      case "dport":
        return pkt.l4 !== undefined && m.ports[0] <= pkt.dport && pkt.dport <= m.ports[1];
    }
  };

  const runChain = (chain: IrChain, depth: number): Outcome => {
    if (depth > 16) fail("chain", chain.name, "jumps nested too deeply");
    entered.push(chain.name);
    for (const rule of chain.rules) {
      const hit: { element?: IrElement } = {};
      if (!rule.match.every((m) => matches(m, hit))) continue;
      const act: IrAction = rule.action;
      let v: IrVerdict;
      let origin = rule.origin ?? hit.element?.origin;
      if (act.kind === "markOr") {
        marked = true;
        continue;
      }
      if (act.kind === "vmap") {
        const e = lookup(act.key, act.map);
        if (!e?.verdict) continue; // a miss ends the rule without a verdict
        v = e.verdict;
        const addr = act.key.startsWith("saddr") ? pkt.saddr : pkt.daddr;
        const part = e.parts?.find((x) => x.addr.start <= addr && addr <= x.addr.end);
        origin = part?.origin ?? e.origin ?? rule.origin;
      } else v = act.verdict;
      // Attribution of segments left out of the chain's maps (same verdict as this rule's).
      const box =
        pkt.l4 === undefined
          ? undefined
          : rule.omittedPorts?.find(
              (b) =>
                b.l4 === pkt.l4 &&
                b.addr.start <= pkt.daddr &&
                pkt.daddr <= b.addr.end &&
                b.ports[0] <= pkt.dport &&
                pkt.dport <= b.ports[1],
            );
      const part = box ?? (rule.omitted && findSegment(rule.omitted, pkt.daddr));
      if (part) origin = part.origin;
      if (origin) steps.push(origin);
      switch (v.kind) {
        case "accept":
        case "drop":
          return { kind: v.kind, ...(origin ? { origin } : {}) };
        case "return":
          return { kind: "continue" };
        case "jump":
        case "goto": {
          const next = chains.get(v.chain) ?? fail("chain", v.chain, "no such chain");
          const r = runChain(next, depth + 1);
          if (r.kind !== "continue" || v.kind === "goto") return r;
        }
      }
    }
    return { kind: "continue" };
  };

  const r = runChain(base, 0);
  const last = steps[steps.length - 1];
  const decidedBy: PolicyOrigin =
    r.kind === "continue" ? (last ?? { kind: "default" }) : (r.origin ?? { kind: "default" });
  return { verdict: r.kind === "drop" ? "drop" : "accept", decidedBy, marked, steps, chains: entered };
}

/** The segment holding `addr` in a sorted, disjoint list (binary search: the list may be long). */
function findSegment<T extends { addr: { start: number; end: number } }>(
  list: T[],
  addr: number,
): T | undefined {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const x = list[mid]!;
    if (addr < x.addr.start) hi = mid - 1;
    else if (addr > x.addr.end) lo = mid + 1;
    else return x;
  }
  return undefined;
}

function fail(field: string, value: unknown, detail: string): never {
  throw new PolicyTraceError(field, value, detail);
}
