// The API server process of cluster.bench.ts: `egress server --no-controllers` with a choice of
// store (in memory, or the durable on-disk store as shipped), in its own process so the
// controllers' process can be measured alone. Prints "listening on URL" once it serves; exits on
// SIGTERM. Over the IPC channel it can load the base of the simulated cluster (pool, namespaces,
// nodes, pods) through its own storage layer — the same validation, admission and store writes as
// a request, without TLS and HTTP — and reply with the timings and the pod uids the Endpoints need.
// Run by the bench, not by hand: node apiserver-child.js DATA_DIR memory|disk
import {
  egressIPType,
  egressServiceType,
  endpointsType,
  ipAddressPoolType,
  namespaceType,
  nodeType,
  podType,
  serviceType,
} from "../../../src/api/kinds/index.js";
import type { KubeObject } from "../../../src/api/object.js";
import type { ResourceType } from "../../../src/api/resource.js";
import { startApiServer } from "../../../src/apiserver/server.js";
import { MemoryStore } from "../../../src/store/index.js";
import type { ClusterSize } from "./cluster-objects.js";
import { type Kind, loadBase, loadPods, type Writer } from "./load.js";

const [dataDir, storeKind = "memory"] = process.argv.slice(2);
if (!dataDir) {
  process.stderr.write("usage: apiserver-child.js DATA_DIR memory|disk\n");
  process.exit(2);
}
const srv = await startApiServer({
  dataDir,
  listen: "127.0.0.1:0",
  ...(storeKind === "memory" ? { store: new MemoryStore() } : {}),
});

const TYPES: Record<Kind, ResourceType> = {
  namespaces: namespaceType,
  nodes: nodeType,
  pods: podType,
  egressips: egressIPType,
  services: serviceType,
  endpoints: endpointsType,
  egressservices: egressServiceType,
  ipaddresspools: ipAddressPoolType,
};
const opts = { dryRun: false, fieldValidation: "Warn" as const };
const direct: Writer = {
  async create(kind, obj) {
    const rt = TYPES[kind];
    const r = await srv.storage.create(rt, obj.metadata.namespace ?? "", obj as unknown as KubeObject, opts);
    return r.object.metadata.uid ?? "";
  },
  async podStatus(namespace, name, patch) {
    await srv.storage.patch(podType, namespace, name, "status", "merge", patch, opts);
  },
};

interface LoadCommand {
  cmd: "load";
  id: number;
  size: ClusterSize;
  podsTo: number;
  concurrency: number;
}

process.on("message", (m: LoadCommand) => {
  if (m.cmd !== "load") return;
  void (async () => {
    try {
      const uids = new Map<number, string>();
      const times = [
        ...(await loadBase(direct, m.size, m.concurrency)),
        ...(await loadPods(direct, m.size, 0, m.podsTo, m.concurrency, uids)),
      ];
      process.send?.({ type: "loaded", id: m.id, times, uids: [...uids] });
    } catch (e) {
      process.send?.({ type: "loaded", id: m.id, error: String((e as Error).stack ?? e) });
    }
  })();
});

process.stdout.write(`listening on ${srv.url}\n`);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  srv.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.on("disconnect", stop);
