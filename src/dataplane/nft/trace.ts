// A virtual packet through one base chain of a FakeNft table (kube-proxy's tracer idea), so unit tests
// can assert what a rendered program DOES to a packet, not only what it says. It knows only the match
// and action forms the node compiler emits in its filter-forward, mangle-prerouting (egress-mark,
// egress-nic) and nat-postrouting chains: IPv4 address/prefix/set matches, meta nfproto, oifname, ct
// direction, ct mark (masked, against a value or a set), ct status, ct state [!=] new, ct/meta mark
// set (a value, the other mark, `or`, a numgen map), snat via map, masquerade, drop, reject,
// counter, return, jump/goto, verdict maps keyed by single addresses, numgen vmaps. It throws
// TraceError on anything else, so a new rule form cannot pass a test unnoticed. No conntrack: the
// caller states the packet's ct mark, direction and whether it was DNATed; the marks a chain sets
// are reported with an accept.
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
  /** The packet travels in the reply direction (`ct direction original` does not match). */
  reply?: boolean;
  /** The branch `numgen random mod N` takes (default 0; taken modulo N). */
  numgen?: number;
}

export type TraceVerdict =
  // fell off the base chain or `return`ed from it (policy accept); `mark`/`ctMark` when a rule set them
  | { verdict: "accept"; mark?: number; ctMark?: number }
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
    // A map used as a set (`ip saddr @map`) matches on its keys.
    const els = (lookup(spec.slice(1)) ?? fail(`unknown set ${spec}`)).map((e) => e.split(" : ")[0]!);
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

/** How many chains deep a trace may go (nft's own limit is 16 jumps). */
const MAX_DEPTH = 16;

/** Runs `pkt` through the rules of base chain `chain` of `family table` in `nft`, following jumps,
 *  gotos and verdict maps into regular chains. */
export function traceChain(
  nft: FakeNft,
  family: string,
  table: string,
  chain: string,
  pkt: TracePacket,
): TraceVerdict {
  const lookup: Lookup = (name) => nft.elements(family, table, name);
  const saddr = parseV4(pkt.saddr);
  const daddr = parseV4(pkt.daddr);
  if (saddr === undefined || daddr === undefined)
    throw new TraceError(chain, "", "packet addresses must be IPv4");
  let ctMark = pkt.ctMark ?? 0;
  let mark: number | undefined;
  let ctMarkSet = false;

  /** A verdict, or "return" when the chain ran out or returned (the caller goes on). */
  const run = (name: string, depth: number): TraceVerdict | "return" => {
    const rules = nft.rules(family, table, name);
    if (!rules) throw new TraceError(name, "", "no such chain");
    if (depth > MAX_DEPTH) throw new TraceError(name, "", "too many nested jumps");
    for (const rule of rules) {
      const fail = (d: string): never => {
        throw new TraceError(name, rule, d);
      };
      /** Runs the chain a jump/goto/vmap names; "goto" ends this chain with the callee's result. */
      const call = (verb: string, target: string): TraceVerdict | "return" | "next" => {
        const r = run(target, depth + 1);
        if (r !== "return") return r;
        return verb === "goto" ? "return" : "next";
      };
      const verdictOf = (v: string): TraceVerdict | "return" | "next" => {
        const [verb, target] = v.trim().split(/\s+/);
        if (verb === "jump" || verb === "goto") return call(verb, target ?? fail("missing chain"));
        if (verb === "drop" || verb === "reject") return { verdict: verb, counters };
        if (verb === "accept") return { verdict: "accept" };
        if (verb === "return") return "return";
        return fail(`unknown verdict "${v}"`);
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
        if (t === "ip" && (w[i] === "saddr" || w[i] === "daddr") && w[i + 1] === "vmap") {
          const key = w[i] === "saddr" ? saddr : daddr;
          const m = w[i + 2] ?? fail("missing map");
          i += 3;
          const entries = (lookup(m.slice(1)) ?? fail(`unknown map ${m}`)).map((e) => e.split(" : "));
          if (entries.some(([k]) => parseV4(k ?? "") === undefined))
            fail(`${m}: only verdict maps keyed by single IPv4 addresses are traced`);
          const hit = entries.find(([k]) => parseV4(k!) === key);
          // A miss goes on with the next rule (nft: NFT_BREAK).
          if (!hit) matched = false;
          else {
            const r = verdictOf(hit[1] ?? fail(`bad element in ${m}`));
            if (r !== "next") result = r;
          }
        } else if (t === "ip" && (w[i] === "saddr" || w[i] === "daddr")) {
          const field = w[i++] === "saddr" ? saddr : daddr;
          const not = neg();
          const spec = w[i++] ?? fail("missing address");
          matched = addrMatcher(spec, lookup, fail)(field) !== not;
        } else if (t === "oifname") {
          const not = neg();
          const ifname = JSON.parse(w[i++] ?? fail("missing name")) as string;
          matched = (pkt.oifname === ifname) !== not;
        } else if (t === "meta" && w[i] === "nfproto") {
          // Traced packets are IPv4; a set/map operand matches on its keys.
          i++;
          const not = neg();
          const spec = w[i++] ?? fail("missing nfproto");
          const keys = spec.startsWith("@")
            ? (lookup(spec.slice(1)) ?? fail(`unknown set ${spec}`)).map((e) => e.split(" : ")[0])
            : [spec];
          matched = keys.includes("ipv4") !== not;
        } else if ((t === "meta" || t === "ct") && w[i] === "mark" && w[i + 1] === "set") {
          // `… mark set ct mark`, `… mark set <meta|ct> mark or V`, `… mark set V`,
          // `… mark set numgen random mod N map { k : V, … }`
          i += 2;
          let v: number;
          if (w[i] === "numgen") {
            const body = /map \{ (.*) \}$/.exec(rule)?.[1] ?? fail("missing numgen map");
            const values = new Map(
              body.split(", ").map((e) => e.split(" : ").map(Number) as [number, number]),
            );
            v = values.get((pkt.numgen ?? 0) % Number(w[i + 3])) ?? fail("numgen branch missing");
            i = w.length;
          } else if ((w[i] === "ct" || w[i] === "meta") && w[i + 1] === "mark") {
            v = w[i] === "ct" ? ctMark : (mark ?? 0);
            i += 2;
            if (w[i] === "or") {
              v = (v | Number(w[i + 1])) >>> 0;
              i += 2;
            }
          } else v = Number(w[i++]);
          if (!Number.isInteger(v)) fail("bad mark value");
          if (t === "ct") {
            ctMark = v;
            ctMarkSet = true;
          } else mark = v;
        } else if (t === "ct" && w[i] === "direction" && w[i + 1] === "original") {
          i += 2;
          matched = pkt.reply !== true;
        } else if (t === "ct" && w[i] === "state") {
          i++;
          const not = neg();
          if (w[i++] !== "new") fail("unknown ct state");
          matched = (pkt.established !== true) !== not;
        } else if (t === "ct" && w[i] === "status" && w[i + 1] === "dnat") {
          i += 2;
          matched = pkt.dnat === true;
        } else if (t === "ct" && w[i] === "mark" && w[i + 1] === "and") {
          const mask = Number(w[i + 2]);
          const masked = (ctMark & mask) >>> 0;
          if (
            (w[i + 3] === "!=" || w[i + 3] === "==") &&
            w[i + 4] !== undefined &&
            !w[i + 4]!.startsWith("@")
          ) {
            matched = (masked === Number(w[i + 4])) === (w[i + 3] === "==");
            i += 5;
          } else if (w[i + 3]?.startsWith("@")) {
            const set = w[i + 3]!;
            i += 4;
            const els = lookup(set.slice(1)) ?? fail(`unknown set ${set}`);
            matched = els.some((e) => Number(e) === masked);
          } else fail("unknown ct mark match");
        } else if (t === "numgen" && w[i] === "random" && w[i + 1] === "mod" && w[i + 3] === "vmap") {
          const mod = Number(w[i + 2]);
          const body = /vmap \{ (.*) \}$/.exec(rule)?.[1] ?? fail("missing vmap");
          const branches = new Map(
            body.split(", ").map((e) => {
              const [k, v] = e.split(" : ");
              return [Number(k), v ?? fail(`bad vmap element ${e}`)] as const;
            }),
          );
          const v = branches.get((pkt.numgen ?? 0) % mod) ?? fail("numgen branch missing");
          const r = verdictOf(v);
          i = w.length;
          if (r !== "next") result = r;
        } else if (t === "jump" || t === "goto") {
          const r = call(t, w[i++] ?? fail("missing chain"));
          if (r !== "next") result = r;
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
      if (result) return result;
    }
    return "return";
  };

  const r = run(chain, 0);
  if (r !== "return" && r.verdict !== "accept") return r;
  return {
    verdict: "accept",
    ...(mark !== undefined ? { mark } : {}),
    ...(ctMarkSet ? { ctMark } : {}),
  };
}
