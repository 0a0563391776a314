// KubeIPAMClient over @kubernetes/client-node: IPPool and OverlappingRangeIPReservation custom objects
// (whereabouts.cni.cncf.io/v1alpha1) in one namespace, upstream's object shapes. Imported lazily by the
// plugin only when `"datastore": "kubernetes"`, so other calls never load the client library.
import { CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import {
  codeOf,
  conflictOr,
  group,
  isObj,
  poolFromObject,
  poolToObject,
  reservationFromObject,
  version,
} from "./kube-objects.js";
import type { KubeIPAMClient } from "./kube-store.js";
import type { IPPool, OverlappingRangeIPReservation } from "./model.js";

export { poolFromObject, poolToObject, reservationFromObject };

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
