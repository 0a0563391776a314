// The nodes an EgressService may be hosted on, per nodeSelector, kept up to date incrementally:
// each distinct selector is compiled once and its set of eligible nodes (Ready, reachable, labels
// matching) is computed once over all nodes when first asked for; after that a node change
// re-evaluates only that node against each distinct selector. Host election (elect.ts) reads
// candidates from here instead of matching every selector against every node on every run (2.5 M
// selector matches per node event at 5,000 nodes × 1,000 services, most of a failover's time).
// Pure data structure: no I/O, no clock; the controller feeds it node changes.
import {
  type LabelSelector,
  labelSelectorAsSelector,
  type Selector,
  selectorMatches,
} from "../../api/selector.js";

export interface ESNode {
  name: string;
  labels: Record<string, string>;
  ready: boolean;
  reachable: boolean;
}

interface SelectorEntry {
  sel: Selector;
  /** Eligible nodes matching `sel`. */
  nodes: Set<string>;
  /** Generation of the last lookup (entries nobody asked for in a while are dropped). */
  used: number;
}

/** A selector that does not compile is remembered with its error, so it is not parsed again. */
interface InvalidEntry {
  error: Error;
  used: number;
}

const eligible = (n: ESNode): boolean => n.ready && n.reachable;

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k] || !Object.hasOwn(b, k)) return false;
  return true;
}

export class NodeSelectorIndex {
  private readonly nodes = new Map<string, ESNode>();
  private readonly selectors = new Map<string, SelectorEntry | InvalidEntry>();
  private generation = 0;

  /** Builds an index over `nodes` (for one-off elections and tests). */
  static of(nodes: readonly ESNode[]): NodeSelectorIndex {
    const ix = new NodeSelectorIndex();
    for (const n of nodes) ix.setNode(n);
    return ix;
  }

  /** Adds or replaces a node; returns false when nothing election reads of it changed. */
  setNode(n: ESNode): boolean {
    const old = this.nodes.get(n.name);
    if (old && old.ready === n.ready && old.reachable === n.reachable && sameLabels(old.labels, n.labels))
      return false;
    const node: ESNode = { name: n.name, labels: { ...n.labels }, ready: n.ready, reachable: n.reachable };
    this.nodes.set(n.name, node);
    const ok = eligible(node);
    for (const e of this.selectors.values()) {
      if (!("sel" in e)) continue;
      if (ok && selectorMatches(e.sel, node.labels)) e.nodes.add(node.name);
      else e.nodes.delete(node.name);
    }
    return true;
  }

  /** Removes a node; returns false when it was not known. */
  deleteNode(name: string): boolean {
    if (!this.nodes.delete(name)) return false;
    for (const e of this.selectors.values()) if ("sel" in e) e.nodes.delete(name);
    return true;
  }

  /** Updates only the reachability of a known node. */
  setReachable(name: string, reachable: boolean): boolean {
    const n = this.nodes.get(name);
    return n ? this.setNode({ ...n, reachable }) : false;
  }

  hasNode(name: string): boolean {
    return this.nodes.has(name);
  }

  get size(): number {
    return this.nodes.size;
  }

  /** Names of the Ready, reachable nodes matching `selector` (absent = every node). Throws the
   *  LabelSelectorError of an invalid selector. The set is live: do not keep it across changes. */
  matching(selector: LabelSelector | undefined): ReadonlySet<string> {
    const key = JSON.stringify(selector ?? {});
    let e = this.selectors.get(key);
    if (!e) {
      try {
        const sel = labelSelectorAsSelector(selector ?? {}, "spec.nodeSelector");
        const nodes = new Set<string>();
        for (const n of this.nodes.values())
          if (eligible(n) && selectorMatches(sel, n.labels)) nodes.add(n.name);
        e = { sel, nodes, used: this.generation };
      } catch (err) {
        e = { error: err as Error, used: this.generation };
      }
      this.selectors.set(key, e);
    }
    e.used = this.generation;
    if ("error" in e) throw e.error;
    return e.nodes;
  }

  /** Ends a round of lookups: selectors not asked for in this round and the one before are
   *  forgotten (deleted EgressServices, changed selectors). */
  endRound(): void {
    for (const [k, e] of this.selectors) if (e.used < this.generation - 1) this.selectors.delete(k);
    this.generation++;
  }

  /** Number of distinct selectors tracked (tests). */
  get selectorCount(): number {
    return this.selectors.size;
  }
}
