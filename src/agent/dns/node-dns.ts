// The node agent's cluster DNS (like node-local DNS): watches Services and Endpoints, keeps the
// cluster zone built from them, and serves it on the addresses the kubelet hands to pods (the pod
// bridge's gateway), forwarding other names to the node's upstream resolvers. It does not decide
// what pods' resolv.conf says (kubelet/pods.ts does) and does not touch the dataplane.
import { endpointsType, serviceType } from "../../api/kinds/index.js";
import type { Client } from "../../controllers/runtime/client.js";
import { SharedInformer } from "../../controllers/runtime/manager.js";
import type { Logger } from "../../util/log.js";
import { ClusterDnsServer, parseUpstream } from "./server.js";
import {
  answerQuery,
  buildClusterZone,
  type ClusterZone,
  DEFAULT_CLUSTER_DOMAIN,
  DEFAULT_TTL_S,
} from "./zone.js";

export interface NodeDnsOptions {
  /** "ip[:port]" resolvers for names outside the cluster zone. */
  upstreams: string[];
  clusterDomain?: string;
  ttlSeconds?: number;
  /** Port to listen on (53; tests use 0). */
  port?: number;
}

export class NodeDns {
  private readonly services: SharedInformer;
  private readonly endpoints: SharedInformer;
  private readonly server: ClusterDnsServer;
  private zone: ClusterZone | undefined;
  private readonly pending = new Map<string, Promise<boolean>>();
  readonly clusterDomain: string;

  constructor(
    client: Client,
    private readonly opts: NodeDnsOptions,
    private readonly log: Logger,
  ) {
    this.clusterDomain = opts.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN;
    this.services = new SharedInformer(client, serviceType, log);
    this.endpoints = new SharedInformer(client, endpointsType, log);
    // Rebuilt lazily on the next query after any change: events are frequent, queries rare.
    const dirty = () => {
      this.zone = undefined;
    };
    this.services.on(dirty);
    this.endpoints.on(dirty);
    const upstreams = opts.upstreams.flatMap((u) => {
      try {
        return [parseUpstream(u)];
      } catch (err) {
        log.warn({ err }, "upstream DNS server skipped");
        return [];
      }
    });
    const ttl = opts.ttlSeconds ?? DEFAULT_TTL_S;
    this.server = new ClusterDnsServer({
      upstreams,
      decide: (q) => answerQuery(q, this.currentZone(), { ttl }),
      log,
    });
  }

  private currentZone(): ClusterZone {
    this.zone ??= buildClusterZone(this.services.list(), this.endpoints.list(), this.clusterDomain);
    return this.zone;
  }

  async start(): Promise<void> {
    await Promise.all([this.services.start(), this.endpoints.start()]);
  }

  /**
   * Serves `address` (UDP and TCP) from now on; true when it does. The address must already be on
   * one of the node's interfaces (the pod bridge gets its gateway address with the first pod). A
   * failure is logged and retried by the next call.
   */
  ensureListening(address: string): Promise<boolean> {
    if (this.server.port(address) !== undefined) return Promise.resolve(true);
    let p = this.pending.get(address);
    if (!p) {
      p = this.server
        .listen(address, this.opts.port ?? 53)
        .then(() => true)
        .catch((err: unknown) => {
          this.log.warn({ err, address }, "cluster DNS cannot listen; pods get the upstream resolvers");
          return false;
        })
        .finally(() => this.pending.delete(address));
      this.pending.set(address, p);
    }
    return p;
  }

  /** The port served on `address` (tests). */
  port(address: string): number | undefined {
    return this.server.port(address);
  }

  async stop(): Promise<void> {
    await this.server.close();
    await Promise.all([this.services.stop(), this.endpoints.stop()]);
  }
}
