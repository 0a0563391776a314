// A virtual packet through one base chain of a FakeNft table (kube-proxy's tracer idea), so unit tests
// can assert what a rendered program DOES to a packet, not only what it says. It knows only the match
// and action forms the node compiler emits in its filter-forward and nat-postrouting chains (IPv4
// address/prefix/set matches, meta nfproto, oifname, ct mark/status/state new, snat via map,
// masquerade, drop, reject, counter, return) and throws TraceError on anything else, so a new rule
// form cannot pass a test unnoticed.
// No jumps, no conntrack: the caller states the packet's ct mark and whether it was DNATed.
import { containsV4, parseV4, parseV4CIDR, type V4CIDR } from "../compile/ipv4.js";
import type { FakeNft } from "./fake.js";

export interface TracePacket {
  saddr: string;
  daddr: string;
  oifname: string;
  /** Conntrack mark of the packet's flow (default 0). */
  ctMark?: number;
  /** The flow was DNATed earlier (ct status dnat). */
  dnat?: boolean;
  /** The packet belongs to an established flow (`ct state new` does not match); default: the first
   *  packet of a new flow. */
  established?: boolean;
}

export type TraceVerdict =
  | { verdict: "accept" } // fell off the chain or `return`ed (base-chain policy accept)
  | { verdict: "drop"; counters: string[] }
  | { verdict: "reject"; counters: string[] }
  | { verdict: "masquerade"; counters: string[] }
  | { verdict: "snat"; to: string; counters: string[] };

export class TraceError extends Error {
  constructor(
    readonly chain: string,
    readonly rule: string,
    detail: string,
  ) {
    super(`trace ${chain}: ${detail} in rule "${rule}"`);
    this.name = "TraceError";
  }
}

type Lookup = (name: string) => string[] | undefined;

function addrMatcher(spec: string, lookup: Lookup, fail: (d: string) => never): (ip: number) => boolean {
  if (spec.startsWith("@")) {
    const els = lookup(spec.slice(1)) ?? fail(`unknown set ${spec}`);
    const cidrs: V4CIDR[] = els.map((e) => {
      const c = e.includes("/")
        ? parseV4CIDR(e)
        : (() => {
            const ip = parseV4(e);
            return ip === undefined ? undefined : { net: ip, prefix: 32 };
          })();
      return c ?? fail(`bad element ${e} in ${spec}`);
    });
    return (ip) => cidrs.some((c) => containsV4(c, ip));
  }
  const c = spec.includes("/") ? parseV4CIDR(spec) : undefined;
  const one = c ? undefined : parseV4(spec);
  if (!c && one === undefined) fail(`bad address ${spec}`);
  return (ip) => (c ? containsV4(c, ip) : ip === one);
}

/** Runs `pkt` through the rules of base chain `chain` of `family table` in `nft`. */
export function traceChain(
  nft: FakeNft,
  family: string,
  table: string,
  chain: string,
  pkt: TracePacket,
): TraceVerdict {
  const rules = nft.rules(family, table, chain);
  if (!rules) throw new TraceError(chain, "", "no such chain");
  const lookup: Lookup = (name) => nft.elements(family, table, name);
  const saddr = parseV4(pkt.saddr);
  const daddr = parseV4(pkt.daddr);
  if (saddr === undefined || daddr === undefined)
    throw new TraceError(chain, "", "packet addresses must be IPv4");
  for (const rule of rules) {
    const fail = (d: string): never => {
      throw new TraceError(chain, rule, d);
    };
    const w = rule.split(" ");
    const counters: string[] = [];
    let i = 0;
    let matched = true;
    let result: TraceVerdict | "return" | undefined;
    const neg = (): boolean => {
      if (w[i] !== "!=") return false;
      i++;
      return true;
    };
    while (i < w.length && matched && result === undefined) {
      const t = w[i++]!;
      if (t === "ip" && (w[i] === "saddr" || w[i] === "daddr")) {
        const field = w[i++] === "saddr" ? saddr : daddr;
        const not = neg();
        const spec = w[i++] ?? fail("missing address");
        matched = addrMatcher(spec, lookup, fail)(field) !== not;
      } else if (t === "oifname") {
        const not = neg();
        const name = JSON.parse(w[i++] ?? fail("missing name")) as string;
        matched = (pkt.oifname === name) !== not;
      } else if (t === "meta" && w[i] === "nfproto") {
        // Traced packets are IPv4; a set/map operand matches on its keys.
        i++;
        const not = neg();
        const spec = w[i++] ?? fail("missing nfproto");
        const keys = spec.startsWith("@")
          ? (lookup(spec.slice(1)) ?? fail(`unknown set ${spec}`)).map((e) => e.split(" : ")[0])
          : [spec];
        matched = keys.includes("ipv4") !== not;
      } else if (t === "ct" && w[i] === "state" && w[i + 1] === "new") {
        i += 2;
        matched = pkt.established !== true;
      } else if (t === "ct" && w[i] === "status" && w[i + 1] === "dnat") {
        i += 2;
        matched = pkt.dnat === true;
      } else if (
        t === "ct" &&
        w[i] === "mark" &&
        w[i + 1] === "and" &&
        w[i + 3] === "!=" &&
        w[i + 4] === "0"
      ) {
        const mask = Number(w[i + 2]);
        i += 5;
        matched = ((pkt.ctMark ?? 0) & mask) !== 0;
      } else if (t === "counter" && w[i] === "name") {
        counters.push(JSON.parse(w[i + 1] ?? fail("missing counter")) as string);
        i += 2;
      } else if (t === "snat" && w.slice(i, i + 4).join(" ") === "ip to ip saddr" && w[i + 4] === "map") {
        const m = w[i + 5] ?? fail("missing map");
        i += 6;
        const entries = lookup(m.slice(1)) ?? fail(`unknown map ${m}`);
        const hit = entries.map((e) => e.split(" : ")).find(([k]) => parseV4(k ?? "") === saddr);
        // A map miss ends the rule without a verdict (nft: NFT_BREAK), evaluation goes on.
        if (hit) result = { verdict: "snat", to: hit[1]!, counters };
        else matched = false;
      } else if (t === "masquerade" || t === "drop" || t === "reject") {
        result = { verdict: t, counters };
      } else if (t === "return") {
        result = "return";
      } else fail(`unknown token "${t}"`);
    }
    if (!matched) continue;
    if (result === "return") return { verdict: "accept" };
    if (result) return result;
  }
  return { verdict: "accept" };
}
