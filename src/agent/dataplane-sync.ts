// Keeps this node's dataplane equal to what the API says: watches the objects the node program
// depends on, builds the NodeView, compiles it and applies the program (one atomic nft transaction
// for the agent's table, then the ip diff). Changes coalesce in a one-key work queue. A new egress
// address is only added once duplicate-address detection shows no other node still answers for it,
// so two nodes never answer for one IP while an EgressIP moves.
import {
  clusterNetworkType,
  egressIPType,
  endpointsType,
  hostSubnetType,
  namespaceType,
  netNamespaceType,
  nodeType,
  podType,
  serviceType,
} from "../api/kinds/index.js";
import type { Client } from "../controllers/runtime/client.js";
import { InformerFactory } from "../controllers/runtime/manager.js";
import { WorkQueue } from "../controllers/runtime/workqueue.js";
import { compileNodeProgram } from "../dataplane/compile/node-program.js";
import type { NodeProgram } from "../dataplane/compile/types.js";
import type { IpExecer } from "../dataplane/ip/execer.js";
import { applySysctls, reconcileIp } from "../dataplane/ip/reconciler.js";
import { readCounters } from "../dataplane/nft/counters.js";
import type { NftExecer } from "../dataplane/nft/execer.js";
import type { Logger } from "../util/log.js";
import { run } from "./exec.js";
import { readAddresses } from "./interfaces.js";
import { buildNodeView, ViewError } from "./view.js";

export interface DataplaneSyncOptions {
  node: string;
  bridge: string;
  nft: NftExecer;
  ip: IpExecer;
  localPods: () => { namespace: string; name: string; ip: string }[];
  /** Addresses the program owns (egress IPs); published so node registration leaves them out. */
  owned: Set<string>;
  /** True while the API server answers this node's heartbeats (egress address leases are renewed
   *  only then). */
  apiReachable: () => boolean;
}

/**
 * Egress addresses are leases: added with a short lifetime and renewed every second while the agent
 * runs and reaches the API. An agent that dies or is cut off stops renewing, the kernel drops the
 * addresses, and the node stops answering for IPs that have moved elsewhere.
 */
export const EGRESS_ADDRESS_LIFETIME_S = 3;
const LEASE_RENEW_MS = 1000;

const RETRY_DAD_MS = 150;
const DAD_WAIT_MS = 120;

export class DataplaneSync {
  private readonly informers: InformerFactory;
  private readonly queue: WorkQueue;
  private lastScript = "";
  private applied = 0;
  private leased: { dev: string; address: string; label: string }[] = [];
  private leaseTimer: NodeJS.Timeout | undefined;
  private stale = false;
  private refreshing = false;

  constructor(
    client: Client,
    private readonly opts: DataplaneSyncOptions,
    private readonly log: Logger,
  ) {
    this.informers = new InformerFactory(client, log);
    this.queue = new WorkQueue(
      () => this.sync(),
      (_k, err, attempt) => {
        if (err instanceof ViewError) this.log.info({ reason: err.message }, "dataplane waiting");
        else this.log.warn({ err, attempt }, "dataplane sync failed");
      },
      { baseDelayMs: 100, maxDelayMs: 5_000 },
    );
    for (const rt of [
      podType,
      namespaceType,
      egressIPType,
      serviceType,
      endpointsType,
      hostSubnetType,
      netNamespaceType,
      nodeType,
      clusterNetworkType,
    ]) {
      this.informers.for(rt).on((_t, obj) => {
        // Heartbeats change nothing the program depends on but node addresses; skip their noise.
        if (rt === nodeType && _t === "update" && obj.metadata.name !== this.opts.node) return;
        this.trigger();
      });
    }
  }

  /** Number of programs applied so far (tests, metrics). */
  get appliedCount(): number {
    return this.applied;
  }

  trigger(): void {
    this.queue.add("sync");
  }

  async start(): Promise<void> {
    await this.informers.startAll();
    this.trigger();
    this.leaseTimer = setInterval(() => void this.renewLeases(), LEASE_RENEW_MS);
    this.leaseTimer.unref();
  }

  /**
   * Renews the lifetime of every egress address this node holds — only while the API answers, and
   * after an outage only once the watches were restarted and the program recomputed: a node that
   * was cut off may have lost its egress IPs meanwhile and must not renew them from stale data.
   */
  private async renewLeases(): Promise<void> {
    if (!this.opts.apiReachable()) {
      this.stale = true;
      return;
    }
    if (this.stale) {
      if (this.refreshing) return;
      this.refreshing = true;
      this.log.info("API reachable again: restarting watches before renewing egress addresses");
      try {
        await this.informers.restartAll();
        // The caches are fresh again: recompute (holding what the API says this node holds).
        this.stale = false;
        this.trigger();
        await this.queue.idle();
      } catch (e) {
        this.log.warn({ err: e }, "could not restart watches");
      } finally {
        this.refreshing = false;
      }
      return;
    }
    for (const a of this.leased) {
      const lft = String(EGRESS_ADDRESS_LIFETIME_S);
      await run(
        "ip",
        [
          "addr",
          "replace",
          a.address,
          "dev",
          a.dev,
          "label",
          a.label,
          "valid_lft",
          lft,
          "preferred_lft",
          lft,
        ],
        {
          allowFailure: true,
        },
      );
    }
  }

  async stop(): Promise<void> {
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    this.queue.stop();
    await this.informers.stopAll();
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  private async sync(): Promise<{ requeueAfterMs?: number } | undefined> {
    const i = (rt: Parameters<InformerFactory["for"]>[0]) => this.informers.for(rt).list();
    const addrs = await readAddresses();
    const interfaces = addrs
      .filter((a) => a.family === 4 && a.ifname !== this.opts.bridge && !this.opts.owned.has(a.address))
      .map((a) => ({ name: a.ifname, address: `${a.address}/${a.prefixLength}` }));
    const view = buildNodeView({
      nodeName: this.opts.node,
      bridge: this.opts.bridge,
      interfaces,
      hostSubnets: i(hostSubnetType),
      nodes: i(nodeType),
      clusterNetworks: i(clusterNetworkType),
      pods: i(podType),
      namespaces: i(namespaceType),
      egressIPs: i(egressIPType),
      services: i(serviceType),
      endpoints: i(endpointsType),
      netNamespaces: i(netNamespaceType),
      localPods: this.opts.localPods(),
    });
    // Named counters survive a whole-table replacement only if their values are carried over.
    const read = await readCounters(this.opts.nft, "inet", "egress-node").catch(() => undefined);
    const counters = read ? Object.fromEntries(read) : undefined;
    let program = compileNodeProgram(view, counters ? { counters } : {});
    for (const w of program.warnings) this.log.warn(w, "dataplane: item skipped");
    // Cut off from the API, this node may already have lost its egress IPs to another node: it
    // holds none until the watches were restarted (fencing), so a sync triggered meanwhile (a local
    // pod change, a retry) cannot re-add an address from stale data.
    const fenced = this.stale || !this.opts.apiReachable();
    if (fenced) this.stale = true;
    const deferred = fenced
      ? new Set(program.ip.addresses.map((a) => a.address.split("/")[0]!))
      : await this.addressesStillHeldElsewhere(program);
    if (deferred.size > 0) {
      // Take neither the address nor its SNAT entries yet: remote pods' flows are dropped (and
      // retried by TCP) rather than leaving with an address this node cannot receive replies for.
      const self = this.opts.node;
      program = compileNodeProgram(
        {
          ...view,
          egressIPs: view.egressIPs.map((e) => ({
            ...e,
            ips: e.ips.filter((h) => !(h.node === self && deferred.has(h.ip))),
          })),
          projectEgress: view.projectEgress.filter(
            (p) => !(p.state.kind === "normal" && p.state.node === self && deferred.has(p.state.egressIP)),
          ),
        },
        counters ? { counters } : {},
      );
    }
    const safe = program;
    await applySysctls(this.opts.ip, safe.sysctls);
    if (safe.nft !== this.lastScript) {
      this.log.debug({ nft: safe.nft }, "applying node program");
      await this.opts.nft.apply(safe.nft);
    }
    const res = await reconcileIp(this.opts.ip, safe.ip, { announce: true });
    this.lastScript = safe.nft;
    this.opts.owned.clear();
    for (const a of safe.ip.addresses) this.opts.owned.add(a.address.split("/")[0]!);
    this.leased = safe.ip.addresses.map((a) => ({ dev: a.dev, address: a.address, label: a.label }));
    await this.renewLeases();
    this.applied++;
    if (res.actions.length > 0) this.log.info({ actions: res.actions.length }, "dataplane updated");
    return deferred.size > 0 && !fenced ? { requeueAfterMs: RETRY_DAD_MS } : undefined;
  }

  /**
   * Egress addresses not yet on this node are probed with duplicate-address detection first; those
   * another node still answers for are returned (and retried shortly).
   */
  private async addressesStillHeldElsewhere(program: NodeProgram): Promise<Set<string>> {
    const deferred = new Set<string>();
    for (const a of program.ip.addresses) {
      const ip = a.address.split("/")[0]!;
      if (this.opts.owned.has(ip)) continue;
      // arping waits whole seconds; a node that still holds the address answers within
      // milliseconds, so a probe cut off after DAD_WAIT_MS without a reply means the address is free.
      const r = await run("arping", ["-D", "-c", "1", "-w", "1", "-I", a.dev, ip], {
        allowFailure: true,
        timeoutMs: DAD_WAIT_MS,
      });
      if (r.code === 1) {
        deferred.add(ip);
        this.log.info(
          { ip, dev: a.dev },
          "egress IP still answered by another node; waiting before taking it",
        );
      }
    }
    return deferred;
  }
}
