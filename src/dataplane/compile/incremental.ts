// Incremental node compiler: after a pod was added to (or removed from) an EgressIP or a project, the
// new program is derived from the previous model by recomputing only the pods whose lists changed,
// and the nft element delta comes out directly (no whole-table render, no script parsing). Anything
// else that changed (nodes, services, holders, a pod that needs a chain, SNAT map or address that does
// not exist yet, or that was the last user of one) compiles afresh with compileNodeProgram's rules.
// The result is always what compileNodeProgram would produce for the same view (property-tested).
// Pure: no I/O. Models are immutable: the changed maps are copied, so the previous program stays valid.
import { containsV4, formatV4, parseV4 } from "./ipv4.js";
import {
  buildNodeModel,
  type CompileOptions,
  type NodeModel,
  programOf,
  snatMapNames,
  TABLE_FAMILY,
  TABLE_NAME,
  viewShape,
} from "./node-program.js";
import type { NodeProgram, NodeView } from "./types.js";

export interface Compiled {
  program: NodeProgram;
  model: NodeModel;
  /**
   * nft element lines taking the table from the previous model to this one ("" = no change); only
   * set when the structure (chains, rules, sets and maps present) is unchanged. Undefined: apply the
   * whole table (or compute a delta from the two scripts).
   */
  delta?: string;
  /** "incremental" when derived from the previous model, "full" when compiled afresh. */
  mode: "incremental" | "full";
}

/** More changed pods than this compile afresh (the per-pod owner search is linear in the pods). */
const MAX_CHANGED_PODS = 64;

/** Compiles `view`; incrementally from `prev` when only pod lists changed and the change fits. */
export function compileNodeIncremental(view: NodeView, prev?: Compiled, opts: CompileOptions = {}): Compiled {
  if (prev && opts.counters === undefined) {
    const next = incremental(prev.model, view);
    if (next)
      return { program: programOf(next.model), model: next.model, delta: next.delta, mode: "incremental" };
  }
  const model = buildNodeModel(view, opts);
  return { program: programOf(model), model, mode: "full" };
}

interface PodState {
  chain?: string;
  snat?: { dev: string; eip: number; key: string };
  dropped?: boolean;
}

function incremental(prev: NodeModel, view: NodeView): { model: NodeModel; delta: string } | undefined {
  const lists = [...view.egressIPs.map((e) => e.podIPs), ...view.projectEgress.map((p) => p.podIPs)];
  if (lists.length !== prev.podLists.length) return undefined;
  // Which pods changed: compare list by list (unchanged lists cost one pass of string compares).
  const touched = new Set<string>();
  for (let i = 0; i < lists.length; i++) {
    const a = prev.podLists[i]!;
    const b = lists[i]!;
    if (a === b || (a.length === b.length && a.every((x, k) => x === b[k]))) continue;
    const before = new Set(a);
    const after = new Set(b);
    for (const x of a) if (!after.has(x)) touched.add(x);
    for (const x of b) if (!before.has(x)) touched.add(x);
    if (touched.size > MAX_CHANGED_PODS) return undefined;
  }
  if (viewShape(view) !== prev.shape) return undefined;
  if (touched.size === 0) return { model: { ...prev, podLists: lists }, delta: "" };

  const local = (pod: number) => containsV4(prev.podSubnet, pod);
  const stateFor = (pod: number, owner: number): PodState | undefined => {
    if (owner < 0) return {};
    const e = prev.entries[owner]!;
    if (e.kind === "unplanned") return undefined;
    if (e.kind === "drop") return local(pod) ? { dropped: true } : {};
    if (e.kind !== "serve") return {};
    const p = e.plan;
    return {
      ...(p.paths && local(pod) ? { chain: p.chain } : {}),
      ...(p.local ? { snat: { dev: p.local.dev, eip: p.local.eip, key: p.local.key } } : {}),
    };
  };
  const current = (pod: number): PodState => {
    const chain = prev.egressPods.get(pod);
    let snat: PodState["snat"];
    for (const [dev, m] of prev.snat) {
      const eip = m.get(pod);
      if (eip !== undefined) snat = { dev, eip, key: `${dev}/${formatV4(eip)}/32` };
    }
    return {
      ...(chain ? { chain } : {}),
      ...(snat ? { snat } : {}),
      ...(prev.dropped.has(pod) ? { dropped: true } : {}),
    };
  };

  let egressPods: Map<number, string> | undefined;
  let dropped: Set<number> | undefined;
  const snat = new Map<string, Map<number, number>>();
  const chainRefs = new Map(prev.chainRefs);
  const addrRefs = new Map(prev.addrRefs);
  const bump = (m: Map<string, number>, k: string, d: number) => m.set(k, (m.get(k) ?? 0) + d);
  const snatOf = (dev: string): Map<number, number> | undefined => {
    let m = snat.get(dev);
    if (!m) {
      const old = prev.snat.get(dev);
      if (!old) return undefined;
      m = new Map(old);
      snat.set(dev, m);
    }
    return m;
  };
  for (const s of touched) {
    const pod = parseV4(s);
    if (pod === undefined) return undefined; // warnings change: compile afresh
    // The owner is the first entry listing the pod (a skipped project claims nothing).
    let owner = -1;
    for (let i = 0; i < lists.length && owner < 0; i++)
      if (prev.entries[i]!.kind !== "skip" && lists[i]!.includes(s)) owner = i;
    const want = stateFor(pod, owner);
    if (!want) return undefined;
    const have = current(pod);
    if (have.chain !== want.chain) {
      egressPods ??= new Map(prev.egressPods);
      if (have.chain) {
        egressPods.delete(pod);
        bump(chainRefs, have.chain, -1);
      }
      if (want.chain) {
        egressPods.set(pod, want.chain);
        bump(chainRefs, want.chain, 1);
      }
    }
    if (have.snat?.key !== want.snat?.key || have.snat?.dev !== want.snat?.dev) {
      if (have.snat) {
        snatOf(have.snat.dev)!.delete(pod);
        bump(addrRefs, have.snat.key, -1);
      }
      if (want.snat) {
        const m = snatOf(want.snat.dev);
        if (!m) return undefined; // a new SNAT map: structure changes
        m.set(pod, want.snat.eip);
        bump(addrRefs, want.snat.key, 1);
      }
    }
    if (!!have.dropped !== !!want.dropped) {
      dropped ??= new Set(prev.dropped);
      if (want.dropped) dropped.add(pod);
      else dropped.delete(pod);
    }
  }
  // A chain, address or SNAT map appearing or disappearing changes the structure, the ip program or
  // the rules: compile afresh.
  for (const [k, n] of chainRefs) if (n > 0 !== (prev.chainRefs.get(k) ?? 0) > 0) return undefined;
  for (const [k, n] of addrRefs) if (n > 0 !== (prev.addrRefs.get(k) ?? 0) > 0) return undefined;
  for (const m of snat.values()) if (m.size === 0) return undefined;

  const mergedSnat = new Map(prev.snat);
  for (const [dev, m] of snat) mergedSnat.set(dev, m);
  const model: NodeModel = {
    ...prev,
    egressPods: egressPods ?? prev.egressPods,
    dropped: dropped ?? prev.dropped,
    snat: mergedSnat,
    chainRefs,
    addrRefs,
    podLists: lists,
  };
  return { model, delta: elementDelta(prev, model) };
}

/** add/delete element lines between two models of the same structure (deletes first). */
function elementDelta(a: NodeModel, b: NodeModel): string {
  const T = `${TABLE_FAMILY} ${TABLE_NAME}`;
  const dels: string[] = [];
  const adds: string[] = [];
  const mapDiff = <V>(
    name: string,
    x: ReadonlyMap<number, V>,
    y: ReadonlyMap<number, V>,
    value: (v: V) => string,
  ) => {
    if (x === y) return;
    const gone: number[] = [];
    const added: [number, V][] = [];
    for (const [k, v] of x) if (y.get(k) !== v) gone.push(k);
    for (const [k, v] of y) if (x.get(k) !== v) added.push([k, v]);
    gone.sort((p, q) => p - q);
    added.sort((p, q) => p[0] - q[0]);
    if (gone.length > 0) dels.push(`delete element ${T} ${name} { ${gone.map(formatV4).join(", ")} }`);
    if (added.length > 0)
      adds.push(
        `add element ${T} ${name} { ${added.map(([k, v]) => `${formatV4(k)} : ${value(v)}`).join(", ")} }`,
      );
  };
  if (a.dropped !== b.dropped) {
    const gone = [...a.dropped].filter((p) => !b.dropped.has(p)).sort((p, q) => p - q);
    const added = [...b.dropped].filter((p) => !a.dropped.has(p)).sort((p, q) => p - q);
    if (gone.length > 0) dels.push(`delete element ${T} dropped_pods { ${gone.map(formatV4).join(", ")} }`);
    if (added.length > 0) adds.push(`add element ${T} dropped_pods { ${added.map(formatV4).join(", ")} }`);
  }
  mapDiff("egress_pods", a.egressPods, b.egressPods, (c) => `goto ${c}`);
  // Map names come from the (unchanged) set of interfaces, as the renderer names them.
  for (const { dev, name } of snatMapNames([...b.snat.keys()])) {
    const x = a.snat.get(dev);
    const y = b.snat.get(dev);
    if (x && y) mapDiff(name, x, y, formatV4);
  }
  const out = [...dels, ...adds];
  return out.length === 0 ? "" : `${out.join("\n")}\n`;
}
