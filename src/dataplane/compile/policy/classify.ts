// First-match classification of an ordered rule list into disjoint lookup keys, so that a list of
// thousands of rules costs two lookups per packet instead of a walk over the list:
//  - `ports`: boxes (address range . protocol . port range) → the first rule with ports that matches
//    there AND comes before every protocol-less rule covering that address;
//  - `addr`: address ranges → the first protocol-less rule covering them.
// A packet is classified by `ports` first (TCP/UDP/SCTP only) and, on a miss, by `addr`; a miss in both
// means no rule matches. Used for egress firewalls (rules → accept/drop) and NetworkPolicy allow lists.
// Every output list is sorted and its keys are disjoint (nft interval sets refuse overlaps). Pure.
import { type L4, L4_ORDER } from "./ir.js";
import type { V4Range } from "./types.js";

export const V4_MAX = 0xffffffff;

export interface ClassRule {
  /** Addresses the rule matches (any order, may overlap); empty = the rule matches nothing. */
  ranges: V4Range[];
  /** Undefined = every protocol and port (including non-port protocols such as ICMP). */
  l4?: { l4: L4; ports: [number, number] }[];
}

export interface Classified {
  addr: { addr: V4Range; rule: number }[];
  ports: { addr: V4Range; l4: L4; ports: [number, number]; rule: number }[];
}

/** Sorted union of ranges, overlapping and adjacent ones merged. */
export function unionRanges(ranges: V4Range[]): V4Range[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start || a.end - b.end);
  const out: V4Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end + 1) {
      if (r.end > last.end) last.end = r.end;
    } else out.push({ start: r.start, end: r.end });
  }
  return out;
}

/** Min-heap of rule indices (lazy deletion is done by the caller). */
class MinHeap {
  private readonly a: number[] = [];
  push(v: number): void {
    const a = this.a;
    a.push(v);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= v) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = v;
  }
  peek(): number | undefined {
    return this.a[0];
  }
  pop(): void {
    const a = this.a;
    const last = a.pop();
    if (last === undefined || a.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= a.length) break;
      const r = l + 1;
      const c = r < a.length && a[r]! < a[l]! ? r : l;
      if (a[c]! >= last) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = last;
  }
}

interface Box {
  l4: L4;
  ports: [number, number];
  rule: number;
}

/** First-match painting of the port dimension of the given rules (in order) for one address segment. */
function paintPorts(rules: number[], all: ClassRule[]): Box[] {
  const out: Box[] = [];
  for (const l4 of L4_ORDER) {
    const items: { lo: number; hi: number; rule: number }[] = [];
    for (const i of rules)
      for (const p of all[i]!.l4 ?? [])
        if (p.l4 === l4) items.push({ lo: p.ports[0], hi: p.ports[1], rule: i });
    if (items.length === 0) continue;
    const cuts = [...new Set(items.flatMap((it) => [it.lo, it.hi + 1]))].sort((a, b) => a - b);
    for (let k = 0; k + 1 < cuts.length; k++) {
      const lo = cuts[k]!;
      const hi = cuts[k + 1]! - 1;
      const win = items.find((it) => it.lo <= lo && hi <= it.hi);
      if (!win) continue;
      const last = out[out.length - 1];
      if (last && last.l4 === l4 && last.rule === win.rule && last.ports[1] + 1 === lo) last.ports[1] = hi;
      else out.push({ l4, ports: [lo, hi], rule: win.rule });
    }
  }
  return out;
}

export function classify(rules: ClassRule[]): Classified {
  const events: { pos: number; rule: number; delta: number }[] = [];
  rules.forEach((r, i) => {
    for (const g of unionRanges(r.ranges)) {
      events.push({ pos: g.start, rule: i, delta: 1 });
      events.push({ pos: g.end + 1, rule: i, delta: -1 });
    }
  });
  events.sort((a, b) => a.pos - b.pos);
  const active = new Int32Array(rules.length);
  const anyHeap = new MinHeap(); // active protocol-less rules
  const portRules = new Set<number>(); // active rules with ports
  const out: Classified = { addr: [], ports: [] };
  let open: Box[] = []; // the previous segment's port boxes (extended while the profile is unchanged)
  let openKey = "";
  let openEnd = -2;
  let openStart = 0;
  const flush = () => {
    for (const b of open)
      out.ports.push({ addr: { start: openStart, end: openEnd }, l4: b.l4, ports: b.ports, rule: b.rule });
    open = [];
    openKey = "";
  };
  let e = 0;
  while (e < events.length) {
    const pos = events[e]!.pos;
    for (; e < events.length && events[e]!.pos === pos; e++) {
      const ev = events[e]!;
      const before = active[ev.rule]!;
      active[ev.rule] = before + ev.delta;
      if (rules[ev.rule]!.l4 === undefined) {
        if (before === 0) anyHeap.push(ev.rule);
      } else if (before === 0) portRules.add(ev.rule);
      else if (before + ev.delta === 0) portRules.delete(ev.rule);
    }
    if (pos > V4_MAX || e >= events.length) break;
    const end = events[e]!.pos - 1;
    // First active protocol-less rule (drop the ones that ended).
    let first = anyHeap.peek();
    while (first !== undefined && active[first] === 0) {
      anyHeap.pop();
      first = anyHeap.peek();
    }
    if (first !== undefined) {
      const last = out.addr[out.addr.length - 1];
      if (last && last.rule === first && last.addr.end + 1 === pos) last.addr.end = end;
      else out.addr.push({ addr: { start: pos, end }, rule: first });
    }
    const limit = first ?? rules.length;
    let boxes: Box[] = [];
    let key = "";
    if (portRules.size > 0) {
      const before: number[] = [];
      for (const i of portRules) if (i < limit) before.push(i);
      if (before.length > 0) {
        boxes = paintPorts(
          before.sort((a, b) => a - b),
          rules,
        );
        key = boxes.map((b) => `${b.l4}:${b.ports[0]}-${b.ports[1]}:${b.rule}`).join(",");
      }
    }
    if (open.length > 0 && key === openKey && openEnd + 1 === pos) {
      openEnd = end;
    } else {
      flush();
      open = boxes;
      openKey = key;
      openStart = pos;
      openEnd = end;
    }
  }
  flush();
  // Ports boxes come out ordered by address then protocol then port already.
  return out;
}
