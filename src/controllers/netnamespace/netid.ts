// NetNamespace (VNID) management for ovs-multitenant (MISSION §5): one NetNamespace per
// Namespace; `default` and the configured global namespaces get netid 0, others a free netid in
// 10..16777215; the change-network annotation (global | join:<ns> | isolate) is applied and removed;
// a netid is free again only when no NetNamespace uses it. Upstream picks free ids at random; we
// probe from a start derived from the namespace name (FNV-1a), so the result is deterministic and
// a just-released id is not handed straight to the next new project. Pure: no I/O.
import { compareStrings, type DecisionEvent } from "../common/decision.js";

export const GLOBAL_VNID = 0;
export const MIN_VNID = 10;
export const MAX_VNID = 16777215;
export const CHANGE_NETWORK_ANNOTATION = "pod.network.openshift.io/multitenant.change-network";

export type ChangeNetworkAction =
  | { action: "global" }
  | { action: "join"; namespace: string }
  | { action: "isolate" };

export class ChangeNetworkError extends Error {
  constructor(
    readonly netns: string,
    readonly value: string,
    readonly detail: string,
  ) {
    super(
      `NetNamespace ${netns}: annotation ${CHANGE_NETWORK_ANNOTATION}=${JSON.stringify(value)}: ${detail}`,
    );
    this.name = "ChangeNetworkError";
  }
}

/** Parses the annotation value: "global", "isolate" or "join:<namespace>". */
export function parseChangeNetwork(netns: string, value: string): ChangeNetworkAction {
  if (value === "global") return { action: "global" };
  if (value === "isolate") return { action: "isolate" };
  if (value.startsWith("join:")) {
    const ns = value.slice(5);
    if (ns === "")
      throw new ChangeNetworkError(netns, value, "join needs a namespace name: join:<namespace>");
    return { action: "join", namespace: ns };
  }
  throw new ChangeNetworkError(
    netns,
    value,
    'invalid action; expected "global", "isolate" or "join:<namespace>"',
  );
}

export const formatChangeNetwork = (a: ChangeNetworkAction): string =>
  a.action === "join" ? `join:${a.namespace}` : a.action;

export interface NetNamespaceState {
  name: string;
  netid: number;
  /** Value of the change-network annotation, when present. */
  changeNetwork?: string;
}

export interface NetIDInput {
  /** Names of existing Namespaces. */
  namespaces: string[];
  netNamespaces: NetNamespaceState[];
  /** --global-namespaces; `default` is always global. */
  globalNamespaces?: string[];
}

export interface NetIDResult {
  /** NetNamespaces to create (new Namespaces). */
  create: { name: string; netid: number }[];
  /** netid changes and/or annotation removal on existing NetNamespaces. */
  update: { name: string; netid: number; removeAnnotation: boolean }[];
  /** NetNamespaces whose Namespace is gone. */
  delete: string[];
  /** Final netid of every NetNamespace that remains. */
  netids: Map<string, number>;
  events: DecisionEvent[];
}

export class NetIDExhaustedError extends Error {
  constructor(readonly namespace: string) {
    super(`no free netid in ${MIN_VNID}..${MAX_VNID} for namespace ${namespace}`);
    this.name = "NetIDExhaustedError";
  }
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Reference-counted netid usage. */
export class NetIDPool {
  private readonly count = new Map<number, number>();
  use(id: number): void {
    this.count.set(id, (this.count.get(id) ?? 0) + 1);
  }
  release(id: number): void {
    const c = (this.count.get(id) ?? 0) - 1;
    if (c <= 0) this.count.delete(id);
    else this.count.set(id, c);
  }
  users(id: number): number {
    return this.count.get(id) ?? 0;
  }
  /** A free id for `name`: start at 10 + FNV-1a(name) mod range, probe upward, wrapping. */
  allocate(name: string): number {
    const span = MAX_VNID - MIN_VNID + 1;
    const start = fnv1a(name) % span;
    for (let i = 0; i < span; i++) {
      const id = MIN_VNID + ((start + i) % span);
      if (!this.count.has(id)) return id;
    }
    throw new NetIDExhaustedError(name);
  }
}

/** One reconcile of all NetNamespaces. Annotated NetNamespaces are processed in name order, each
 *  seeing the netids left by the previous ones. A failing annotation leaves the netid unchanged,
 *  is removed anyway (so `adm pod-network` stops waiting) and yields a Warning event. */
export function reconcileNetNamespaces(input: NetIDInput): NetIDResult {
  const global = new Set(["default", ...(input.globalNamespaces ?? [])]);
  const nsSet = new Set(input.namespaces);
  const pool = new NetIDPool();
  const netids = new Map<string, number>();
  const del: string[] = [];
  const events: DecisionEvent[] = [];
  const existing = [...input.netNamespaces].sort((a, b) => compareStrings(a.name, b.name));
  for (const n of existing) {
    if (!nsSet.has(n.name)) {
      del.push(n.name);
      continue;
    }
    netids.set(n.name, n.netid);
    if (n.netid !== GLOBAL_VNID) pool.use(n.netid);
  }
  const create: NetIDResult["create"] = [];
  for (const ns of [...nsSet].sort(compareStrings)) {
    if (netids.has(ns)) continue;
    const id = global.has(ns) ? GLOBAL_VNID : pool.allocate(ns);
    if (id !== GLOBAL_VNID) pool.use(id);
    netids.set(ns, id);
    create.push({ name: ns, netid: id });
  }
  const update: NetIDResult["update"] = [];
  for (const n of existing) {
    if (n.changeNetwork === undefined || !nsSet.has(n.name)) continue;
    const old = netids.get(n.name)!;
    let next = old;
    try {
      const a = parseChangeNetwork(n.name, n.changeNetwork);
      if (a.action === "global") next = GLOBAL_VNID;
      else if (a.action === "join") {
        const target = netids.get(a.namespace);
        if (target === undefined)
          throw new ChangeNetworkError(
            n.name,
            n.changeNetwork,
            `netid not found for namespace "${a.namespace}"`,
          );
        next = target;
      } else {
        if (n.name === "default")
          throw new ChangeNetworkError(
            n.name,
            n.changeNetwork,
            `network isolation for namespace "default" is not allowed`,
          );
        // Already alone on a non-global id: nothing to do (upstream keeps the id).
        if (!(old !== GLOBAL_VNID && pool.users(old) === 1)) next = pool.allocate(n.name);
      }
    } catch (err) {
      events.push({
        type: "Warning",
        reason: "ChangeNetworkFailed",
        message: (err as Error).message,
        object: { kind: "NetNamespace", name: n.name },
      });
    }
    if (next !== old) {
      if (old !== GLOBAL_VNID) pool.release(old);
      if (next !== GLOBAL_VNID) pool.use(next);
      netids.set(n.name, next);
    }
    update.push({ name: n.name, netid: next, removeAnnotation: true });
  }
  return { create, update, delete: del, netids, events };
}
