// Loads the simulated cluster of cluster-objects.ts through a Writer: over HTTPS from the bench
// (every object a request, as a client would), or inside the API server process through its
// storage layer (same validation, admission and store writes, no TLS/HTTP), which is how the full
// 150,000 pods fit in the run time on a loaded 2-core machine. Timing and uids come back to the
// caller; this module decides nothing about the cluster's shape (cluster-objects.ts does).
import {
  addressPool,
  type ClusterSize,
  egressIP,
  egressIPs,
  egressService,
  endpoints,
  namespace,
  node,
  pod,
  podStatus,
  service,
  servicePods,
} from "./cluster-objects.js";

export type Kind =
  | "namespaces"
  | "nodes"
  | "pods"
  | "egressips"
  | "services"
  | "endpoints"
  | "egressservices"
  | "ipaddresspools";

type Obj = Record<string, unknown> & { metadata: { name: string; namespace?: string } };

export interface Writer {
  /** Creates the object; resolves with its uid. */
  create(kind: Kind, obj: Obj): Promise<string>;
  /** Merge-patches the Pod's status subresource. */
  podStatus(namespace: string, name: string, patch: Record<string, unknown>): Promise<void>;
}

/** Runs fn(0..total-1) with `concurrency` callers in flight. */
export async function concurrently(
  concurrency: number,
  total: number,
  fn: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < total; i = next++) await fn(i);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
}

export interface StepTime {
  what: string;
  count: number;
  seconds: number;
}

async function step(
  times: StepTime[],
  what: string,
  count: number,
  concurrency: number,
  fn: (i: number) => Promise<void>,
): Promise<void> {
  const t = performance.now();
  await concurrently(concurrency, count, fn);
  times.push({ what, count, seconds: (performance.now() - t) / 1000 });
}

/** Pods whose uid the Endpoints need (the pods the services select). */
export function podsNeedingUid(size: ClusterSize): Set<number> {
  const need = new Set<number>();
  for (let s = 0; s < size.egressServices; s++) for (const j of servicePods(s, size)) need.add(j);
  return need;
}

/** The address pool, namespaces and nodes. */
export async function loadBase(w: Writer, size: ClusterSize, concurrency: number): Promise<StepTime[]> {
  const times: StepTime[] = [];
  await w.create("ipaddresspools", addressPool());
  await step(times, "namespaces", size.namespaces, concurrency, async (i) => {
    await w.create("namespaces", namespace(i, size));
  });
  await step(times, "nodes (with status)", size.nodes, concurrency, async (i) => {
    await w.create("nodes", node(i));
  });
  return times;
}

/** Pods [from, to): create (which drops status), then the status write. Collects needed uids. */
export async function loadPods(
  w: Writer,
  size: ClusterSize,
  from: number,
  to: number,
  concurrency: number,
  uids: Map<number, string>,
): Promise<StepTime[]> {
  const need = podsNeedingUid(size);
  const times: StepTime[] = [];
  await step(times, "pods (create + status)", Math.max(0, to - from), concurrency, async (i) => {
    const j = from + i;
    const p = pod(j, size);
    const uid = await w.create("pods", p);
    if (need.has(j)) uids.set(j, uid);
    await w.podStatus(p.metadata.namespace ?? "", p.metadata.name, podStatus(j));
  });
  return times;
}

/** EgressIPs, LoadBalancer Services, their Endpoints and EgressServices. */
export async function loadEgress(
  w: Writer,
  size: ClusterSize,
  concurrency: number,
  uids: Map<number, string>,
): Promise<StepTime[]> {
  const times: StepTime[] = [];
  const eips = egressIPs(size);
  await step(times, "egressips", eips.length, concurrency, async (e) => {
    await w.create("egressips", egressIP(eips[e]!.name, eips[e]!.ips));
  });
  await step(times, "services (LoadBalancer)", size.egressServices, concurrency, async (s) => {
    await w.create("services", service(s, size));
  });
  await step(times, "endpoints", size.egressServices, concurrency, async (s) => {
    await w.create(
      "endpoints",
      endpoints(s, size, (j) => uids.get(j)),
    );
  });
  await step(times, "egressservices", size.egressServices, concurrency, async (s) => {
    await w.create("egressservices", egressService(s, size));
  });
  return times;
}
