// KubeIPAMClient over @kubernetes/client-node: IPPool and OverlappingRangeIPReservation custom objects
// (whereabouts.cni.cncf.io/v1alpha1) in one namespace, upstream's object shapes. Imported lazily by the
// plugin only when `"datastore": "kubernetes"`, so other calls never load the client library.
import { CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import type { KubeIPAMClient } from "./kube-store.js";
import type { IPAllocation, IPPool, OverlappingRangeIPReservation } from "./model.js";
import { StoreConflictError, StoreCorruptError } from "./store.js";

const group = "whereabouts.cni.cncf.io";
const version = "v1alpha1";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const codeOf = (e: unknown): number | undefined =>
  typeof e === "object" && e !== null && typeof (e as { code?: unknown }).code === "number"
    ? (e as { code: number }).code
    : undefined;

function conflictOr(e: unknown, object: string, expected: string): never {
  if (codeOf(e) === 409) throw new StoreConflictError(object, expected, "changed or exists");
  throw e;
}

export function poolFromObject(o: unknown): IPPool {
  if (!isObj(o) || !isObj(o.metadata) || !isObj(o.spec))
    throw new StoreCorruptError("IPPool", "not an IPPool object");
  const name = String(o.metadata.name ?? "");
  const allocations: Record<string, IPAllocation> = {};
  const raw = o.spec.allocations;
  if (isObj(raw)) {
    for (const [k, a] of Object.entries(raw)) {
      if (!isObj(a)) throw new StoreCorruptError(`IPPool ${name}`, `allocation ${k} is not an object`);
      allocations[k] = {
        id: String(a.id ?? ""),
        podref: String(a.podref ?? ""),
        ifname: String(a.ifname ?? ""),
      };
    }
  }
  return {
    name,
    range: String(o.spec.range ?? ""),
    allocations,
    resourceVersion: String(o.metadata.resourceVersion ?? ""),
  };
}

export function poolToObject(p: IPPool, namespace: string): Obj {
  const metadata: Obj = { name: p.name, namespace };
  if (p.resourceVersion !== "") metadata.resourceVersion = p.resourceVersion;
  return {
    apiVersion: `${group}/${version}`,
    kind: "IPPool",
    metadata,
    spec: { range: p.range, allocations: p.allocations },
  };
}

export function reservationFromObject(o: unknown): OverlappingRangeIPReservation {
  if (!isObj(o) || !isObj(o.metadata) || !isObj(o.spec)) {
    throw new StoreCorruptError(
      "OverlappingRangeIPReservation",
      "not an OverlappingRangeIPReservation object",
    );
  }
  return {
    name: String(o.metadata.name ?? ""),
    ip: "",
    containerid: String(o.spec.containerid ?? ""),
    podref: String(o.spec.podref ?? ""),
    ifname: String(o.spec.ifname ?? ""),
  };
}

export class CustomObjectsIPAMClient implements KubeIPAMClient {
  constructor(
    private readonly api: CustomObjectsApi,
    private readonly namespace: string,
  ) {}

  /** From a kubeconfig file (upstream `ipam.kubernetes.kubeconfig`), or the in-cluster config. */
  static fromKubeconfig(path: string | undefined, namespace: string): CustomObjectsIPAMClient {
    const kc = new KubeConfig();
    if (path) kc.loadFromFile(path);
    else kc.loadFromDefault();
    return new CustomObjectsIPAMClient(kc.makeApiClient(CustomObjectsApi), namespace);
  }

  private base(plural: string) {
    return { group, version, namespace: this.namespace, plural };
  }

  async getPool(name: string): Promise<IPPool | undefined> {
    try {
      return poolFromObject(await this.api.getNamespacedCustomObject({ ...this.base("ippools"), name }));
    } catch (e) {
      if (codeOf(e) === 404) return undefined;
      throw e;
    }
  }

  async createPool(pool: IPPool): Promise<void> {
    await this.api
      .createNamespacedCustomObject({ ...this.base("ippools"), body: poolToObject(pool, this.namespace) })
      .catch((e: unknown) => conflictOr(e, `IPPool ${pool.name}`, ""));
  }

  async replacePool(pool: IPPool): Promise<void> {
    await this.api
      .replaceNamespacedCustomObject({
        ...this.base("ippools"),
        name: pool.name,
        body: poolToObject(pool, this.namespace),
      })
      .catch((e: unknown) => conflictOr(e, `IPPool ${pool.name}`, pool.resourceVersion));
  }

  async listReservations(): Promise<OverlappingRangeIPReservation[]> {
    const list: unknown = await this.api.listNamespacedCustomObject(
      this.base("overlappingrangeipreservations"),
    );
    const items = isObj(list) && Array.isArray(list.items) ? list.items : [];
    return items.map(reservationFromObject);
  }

  async createReservation(r: OverlappingRangeIPReservation): Promise<void> {
    const body = {
      apiVersion: `${group}/${version}`,
      kind: "OverlappingRangeIPReservation",
      metadata: { name: r.name, namespace: this.namespace },
      spec: { containerid: r.containerid, podref: r.podref, ifname: r.ifname },
    };
    await this.api
      .createNamespacedCustomObject({ ...this.base("overlappingrangeipreservations"), body })
      .catch((e: unknown) => conflictOr(e, `OverlappingRangeIPReservation ${r.name}`, ""));
  }

  async deleteReservation(name: string): Promise<void> {
    try {
      await this.api.deleteNamespacedCustomObject({ ...this.base("overlappingrangeipreservations"), name });
    } catch (e) {
      if (codeOf(e) !== 404) throw e;
    }
  }
}
