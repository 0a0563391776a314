// Keeps this node's dataplane equal to what the API says: watches the objects the node program
// depends on, builds the NodeView, compiles it and applies the program (one nft transaction for the
// agent's table — a new generation of its sets, maps and chains, so no packet sees half of two
// programs: src/dataplane/nft/generations.ts — then the ip diff). Changes coalesce in a work queue (one key for the node
// program, one for the policy program, each with its own worker). A new egress
// address is only added once duplicate-address detection shows no other node still answers for it,
// so two nodes never answer for one IP while an EgressIP moves. The policy program (isolation,
// NetworkPolicy, egress firewalls: table `inet egress-policy`) is built from the same caches but
// synced and applied on its own, so neither a failure nor a slow step of one blocks the other.
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import {
  clusterNetworkType,
  egressFirewallType,
  egressIPType,
  egressNetworkPolicyType,
  endpointsType,
  hostSubnetType,
  namespaceType,
  netNamespaceType,
  networkPolicyType,
  nodeType,
  podType,
  serviceType,
} from "../api/kinds/index.js";
import type { KubeObject } from "../api/object.js";
import type { ResourceType } from "../api/resource.js";
import type { Client } from "../controllers/runtime/client.js";
import { InformerFactory } from "../controllers/runtime/manager.js";
import { WorkQueue } from "../controllers/runtime/workqueue.js";
import { type Compiled, compileNodeIncremental } from "../dataplane/compile/incremental.js";
import { TABLE_FAMILY, TABLE_NAME } from "../dataplane/compile/node-program.js";
import { adminTableScript, compilePolicyProgram } from "../dataplane/compile/policy/compile.js";
import { POLICY_TABLE, type PolicyView } from "../dataplane/compile/policy/types.js";
import type { NodeProgram, UnderlayInterface } from "../dataplane/compile/types.js";
import { diffIp } from "../dataplane/ip/diff.js";
import type { IpExecer } from "../dataplane/ip/execer.js";
import { applySysctls, splitIpActions } from "../dataplane/ip/reconciler.js";
import type { NftExecer } from "../dataplane/nft/execer.js";
import { GenerationalTable } from "../dataplane/nft/generations.js";
import { elementDelta } from "../dataplane/nft/incremental.js";
import type { Logger } from "../util/log.js";
import { run } from "./exec.js";
import { type ProbeSilence, probeSilence } from "./health.js";
import { readAddressesAndRoutes, underlayInterfaces } from "./interfaces.js";
import { buildPolicyView } from "./policy-view.js";
import { type ClusterSource, IncrementalNodeView, ViewError, type ViewKind } from "./view.js";

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
  /** The resolvers pods use (--cluster-dns, else the node's resolv.conf): DNS to them is never
   *  blocked by an egress firewall. */
  dnsServers: string[];
  /** Called after every successful policy step (program applied or unchanged) with the view it was
   *  compiled from (multicast). A failure is logged and retried like a failed apply. */
  onPolicyView?: (view: PolicyView) => Promise<void>;
  /** Where this node namespace's br_netfilter switch is read (tests point it elsewhere). */
  bridgeNfPath?: string;
  /** How long the controllers' prober has not reached this node, and when the node must fence
   *  (default: the health endpoint of this process, health.ts). */
  probeSilence?: () => ProbeSilence | undefined;
  /** Test seams (defaults: this namespace's interfaces, `arping -D`, `ip addr replace`). */
  readInterfaces?: () => Promise<UnderlayInterface[]>;
  duplicateAddress?: (dev: string, ip: string) => Promise<boolean>;
  renewLeases?: (
    leases: { dev: string; address: string; label: string }[],
    lifetimeS: number,
  ) => Promise<void>;
  /** The informer caches (default: list+watch through `client`); benchmarks pass in-memory ones. */
  informers?: InformerSource;
}

/** What the sync needs of the informers: per resource a cache with change handlers. */
export interface InformerSource {
  for(rt: ResourceType): {
    on(h: (type: "add" | "update" | "delete", obj: KubeObject) => void): void;
    list(): KubeObject[];
    get(name: string, namespace?: string): KubeObject | undefined;
  };
  startAll(): Promise<void>;
  restartAll(): Promise<void>;
  stopAll(): Promise<void>;
}

/** The resource each kind of the node view is read from. */
export const VIEW_KINDS: [ViewKind, ResourceType][] = [
  ["hostSubnets", hostSubnetType],
  ["nodes", nodeType],
  ["clusterNetworks", clusterNetworkType],
  ["namespaces", namespaceType],
  ["egressIPs", egressIPType],
  ["services", serviceType],
  ["endpoints", endpointsType],
  ["netNamespaces", netNamespaceType],
];

export const BRIDGE_NF_PATH = "/proc/sys/net/bridge/bridge-nf-call-iptables";

export type BridgeNfState = "on" | "enabled" | "missing";

/**
 * Pod → pod traffic on one node is bridged; the forward hook (and so the policy table) sees it only
 * while `net.bridge.bridge-nf-call-iptables` is 1 in this network namespace. Sets it when it is 0;
 * "missing" when br_netfilter is not available here (same-node policy cannot be enforced).
 */
export async function ensureBridgeNetfilter(path = BRIDGE_NF_PATH): Promise<BridgeNfState> {
  let value: string;
  try {
    value = (await readFile(path, "utf8")).trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return "missing";
    throw e;
  }
  if (value === "1") return "on";
  await writeFile(path, "1\n");
  return "enabled";
}

/** What of another node's object the programs read: labels, addresses, published host CIDRs. */
function nodeFingerprint(n: KubeObject): string {
  return JSON.stringify([
    n.metadata.labels ?? {},
    (n.status as { addresses?: unknown } | undefined)?.addresses ?? [],
    n.metadata.annotations?.["k8s.ovn.org/host-cidrs"] ?? "",
  ]);
}

/**
 * Egress addresses are leases: added with a short lifetime and renewed every second while the agent
 * runs and reaches the API. An agent that dies or is cut off stops renewing, the kernel drops the
 * addresses, and the node stops answering for IPs that have moved elsewhere.
 */
export const EGRESS_ADDRESS_LIFETIME_S = 3;
const LEASE_RENEW_MS = 1000;
/** How often the probe silence is checked (the fence must act within ~FENCE_MARGIN_MS). */
const FENCE_CHECK_MS = 25;
/** Probe silence after which a node that still reaches the API stops fencing (not probed any more). */
const SILENCE_FORGET_MS = 10_000;

const RETRY_DAD_MS = 150;
/** Bound on arping's start-up (spawn → probe sent) in duplicate-address detection. */
const DAD_WAIT_MS = 500;
/** How long DAD listens for an answer after its probe left (a holder's kernel answers ARP within a
 *  millisecond or two on a LAN, whatever its user-space load). */
const DAD_REPLY_WAIT_MS = 40;
/** Whole-run bound of arping when stdbuf is missing (spawn + probe + answer). */
const DAD_FALLBACK_MS = 120;
const POLICY_RETRY_BASE_MS = 200;
const NODE_KEY = "node";
/** Longest time between two reads of the node's `ip` state (routes, rules, addresses). */
const IP_RESYNC_MS = 10_000;
const POLICY_KEY = "policy";
/** Longest time a policy step waits for a node sync under way (DAD may make one last ~0.5 s). */
const NODE_FIRST_MAX_MS = 250;
const POLICY_RETRY_MAX_MS = 10_000;

/** Wall-clock milliseconds per phase of one sync, for the "dataplane updated" log line. */
class PhaseTimer {
  private last = performance.now();
  private readonly out: Record<string, number> = {};
  constructor(triggeredAt: number | undefined) {
    if (triggeredAt !== undefined) this.out.queued = Math.round((this.last - triggeredAt) * 10) / 10;
  }
  mark(phase: string): void {
    const t = performance.now();
    this.out[phase] = Math.round((t - this.last) * 10) / 10;
    this.last = t;
  }
  phases(): Record<string, number> {
    return this.out;
  }
}

export class DataplaneSync {
  private readonly informers: InformerSource;
  /** The node view, updated from the informers' events (a pod event re-selects that pod only). */
  private readonly nodeView = new IncrementalNodeView();
  private lastPhases: Record<string, number> = {};
  /** The node sync under way (settled, never rejects), for the policy step to wait for. */
  private nodeInFlight: Promise<void> | undefined;
  private readonly queue: WorkQueue;
  /** The node program last applied (the incremental compiler's base). */
  private lastCompiled: Compiled | undefined;
  private applied = 0;
  private leased: { dev: string; address: string; label: string }[] = [];
  private leaseTimer: NodeJS.Timeout | undefined;
  private fenceTimer: NodeJS.Timeout | undefined;
  /** Cut off from the controllers' prober long enough that an egress IP may be moving away. */
  private probeFenced = false;
  private stale = false;
  private refreshing = false;
  private lastPolicyScript = "";
  /** The node and policy tables, updated generation by generation (generations.ts). */
  private readonly nodeTable: GenerationalTable;
  private readonly policyTable: GenerationalTable;
  /** Sysctls written (key → value); a key of a missing interface is tried again next sync. */
  private readonly sysctlsWritten = new Map<string, string>();
  private interfaces: UnderlayInterface[] | undefined;
  private lastIpKey = "";
  private lastIpAt = 0;
  private ipLock: Promise<void> = Promise.resolve();
  /** When the first trigger since the last sync came (the queue wait is logged). */
  private triggeredAt: number | undefined;
  private lastPolicyWarnings = "";
  private policyApplied = 0;
  private policyFailures = 0;
  private adminDone = false;
  private readonly nodeFingerprints = new Map<string, string>();
  private bridgeNfChecked = false;
  /** Every informer has its initial list: the policy program is built from complete caches only. */
  private synced = false;

  constructor(
    client: Client,
    private readonly opts: DataplaneSyncOptions,
    private readonly log: Logger,
  ) {
    this.informers = opts.informers ?? new InformerFactory(client, log);
    this.nodeTable = new GenerationalTable(opts.nft, TABLE_FAMILY, TABLE_NAME);
    this.policyTable = new GenerationalTable(opts.nft, POLICY_TABLE.family, POLICY_TABLE.name);
    // Two keys, two workers: the node program (EgressIP moves, services) and the policy program
    // (with multicast, whose sync spawns several commands) run side by side, so a failover never
    // waits behind a policy sync that an unrelated pod or endpoints change started.
    this.queue = new WorkQueue(
      (key) => (key === NODE_KEY ? this.syncNodeKey() : this.syncPolicyKey()),
      (_k, err, attempt) => {
        if (err instanceof ViewError) this.log.info({ reason: err.message }, "dataplane waiting");
        else this.log.warn({ err, attempt }, "dataplane sync failed");
      },
      { baseDelayMs: 100, maxDelayMs: 5_000, workers: 2 },
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
      networkPolicyType,
      egressFirewallType,
      egressNetworkPolicyType,
    ]) {
      const kind = VIEW_KINDS.find(([, r]) => r === rt)?.[0];
      this.informers.for(rt).on((_t, obj) => {
        // Heartbeats of other nodes change nothing the programs depend on but node addresses and
        // labels (EgressFirewall nodeSelector rules); skip their noise.
        if (rt === nodeType && obj.metadata.name !== this.opts.node) {
          const name = obj.metadata.name ?? "";
          const fp = _t === "delete" ? undefined : nodeFingerprint(obj);
          const old = this.nodeFingerprints.get(name);
          if (fp === undefined) this.nodeFingerprints.delete(name);
          else this.nodeFingerprints.set(name, fp);
          if (_t === "update" && fp === old) return;
        }
        if (rt === podType) this.nodeView.podChanged(obj.metadata.namespace ?? "", obj.metadata.name ?? "");
        else if (kind) this.nodeView.changed(kind);
        this.trigger();
      });
    }
  }

  /** Wall-clock milliseconds per phase of the last node sync (benchmarks). */
  get lastNodeSyncPhases(): Record<string, number> {
    return this.lastPhases;
  }

  /** Number of programs applied so far (tests, metrics). */
  get appliedCount(): number {
    return this.applied;
  }

  /** Number of policy programs written to the kernel so far (unchanged ones are not re-applied). */
  get policyAppliedCount(): number {
    return this.policyApplied;
  }

  trigger(): void {
    this.triggeredAt ??= performance.now();
    this.queue.add(NODE_KEY);
    this.queue.add(POLICY_KEY);
  }

  async start(): Promise<void> {
    await this.informers.startAll();
    this.synced = true;
    this.trigger();
    this.leaseTimer = setInterval(() => void this.renewLeases(), LEASE_RENEW_MS);
    this.leaseTimer.unref();
    this.fenceTimer = setInterval(() => void this.checkProbeSilence(), FENCE_CHECK_MS);
    this.fenceTimer.unref();
  }

  /**
   * True while this node is not probed often enough to be sure it still holds its egress IPs. A
   * silence longer than SILENCE_FORGET_MS while the API answers means the controllers stopped
   * probing this node on purpose (label removed, probing turned off) or are down (then nothing moves
   * either): the fence lifts and the API watch decides alone, as for a node never probed. A node
   * cut off for real has lost the API by then too and stays fenced through `apiReachable`.
   */
  private silent(): boolean {
    const s = (this.opts.probeSilence ?? probeSilence)();
    if (s === undefined || s.silentMs < s.fenceAfterMs) return false;
    return s.silentMs < s.fenceAfterMs + SILENCE_FORGET_MS || !this.opts.apiReachable();
  }

  /**
   * Self-fence: the prober has not reached this node for nearly as long as it needs to declare it
   * unreachable, so the controller may be giving its egress IPs to another node right now and this
   * node cannot hear about it (its link is down, or the controller cannot reach it). Drop the egress
   * addresses at once (outside the work queue, which may be busy), then resync fenced; they come back
   * only after probes resume and the watches were restarted. Without this the node would keep
   * answering ARP until the API heartbeat goes stale (seconds), so a link that returns in between
   * would find two nodes answering for one IP.
   */
  private async checkProbeSilence(): Promise<void> {
    const silent = this.silent();
    if (silent === this.probeFenced) return;
    this.probeFenced = silent;
    if (!silent) {
      this.log.info("probes reach this node again");
      void this.renewLeases(); // restarts the watches now rather than at the next lease tick
      return;
    }
    this.stale = true;
    const held = this.leased;
    this.log.warn(
      { addresses: held.map((a) => a.address), silence: (this.opts.probeSilence ?? probeSilence)() },
      "not probed by the controllers: dropping egress addresses (self-fence)",
    );
    await this.withIpLock(async () => {
      const leased = this.leased;
      this.leased = [];
      this.lastIpKey = ""; // the next sync reads the state again
      // One removal per address (a batch stops at its first failure, e.g. an address already gone).
      await Promise.all(
        leased.map((a) =>
          this.opts.ip.exec([{ op: "del-address", dev: a.dev, address: a.address }]).catch((err: unknown) => {
            this.log.warn({ err, address: a.address }, "self-fence: removing an address failed");
          }),
        ),
      );
    });
    this.trigger();
  }

  /**
   * Renews the lifetime of every egress address this node holds — only while the API answers, and
   * after an outage only once the watches were restarted and the program recomputed: a node that
   * was cut off may have lost its egress IPs meanwhile and must not renew them from stale data.
   */
  private async renewLeases(): Promise<void> {
    if (!this.opts.apiReachable() || this.silent()) {
      // Cut off: resync at once, fenced (the program then holds no egress address and no SNAT entry
      // for one), instead of keeping the address until its lease runs out — a link that returns
      // within the lease would otherwise find this node still answering for an IP that has moved.
      if (!this.stale) {
        this.stale = true;
        this.trigger();
      }
      return;
    }
    if (this.stale) {
      if (this.refreshing) return;
      this.refreshing = true;
      this.log.info("API reachable again: restarting watches before renewing egress addresses");
      try {
        await this.informers.restartAll();
        this.nodeView.reset(); // the re-list may have replaced anything
        // The caches are fresh again: recompute (holding what the API says this node holds).
        // Not awaited: waiting for the queue from here could wait for a sync that waits for the
        // ip lock this path may take. The triggered sync recomputes (adding addresses as leases).
        this.stale = false;
        this.trigger();
      } catch (e) {
        this.log.warn({ err: e }, "could not restart watches");
      } finally {
        this.refreshing = false;
      }
      return;
    }
    void this.refreshInterfaces();
    await this.withIpLock(async () => {
      if (this.leased.length === 0) return;
      await (this.opts.renewLeases ?? renewAddressLeases)(this.leased, EGRESS_ADDRESS_LIFETIME_S).catch(
        (err: unknown) => this.log.warn({ err }, "renewing egress address leases failed"),
      );
    });
  }

  async stop(): Promise<void> {
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    if (this.fenceTimer) clearInterval(this.fenceTimer);
    this.queue.stop();
    await this.informers.stopAll();
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  private syncNodeKey(): Promise<{ requeueAfterMs?: number } | undefined> {
    const p = this.syncNode();
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    this.nodeInFlight = settled;
    void settled.then(() => {
      if (this.nodeInFlight === settled) this.nodeInFlight = undefined;
    });
    return p;
  }

  /**
   * The policy step lets a node sync that is under way finish first (at most NODE_FIRST_MAX_MS):
   * both run on this one thread, and the policy view and compile of a large cluster (tens of ms of
   * CPU) would otherwise run between the node sync's steps and hold back the node table's change
   * (a pod's EgressIP path, a failover) by as much. The policy step never throws: its failures are
   * retried on their own backoff.
   */
  private async syncPolicyKey(): Promise<{ requeueAfterMs?: number } | undefined> {
    const node = this.nodeInFlight;
    if (node) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([node, new Promise<void>((r) => (timer = setTimeout(r, NODE_FIRST_MAX_MS)))]);
      clearTimeout(timer);
    }
    try {
      await this.syncPolicy();
      this.policyFailures = 0;
      return undefined;
    } catch (e) {
      this.policyFailures++;
      if (e instanceof ViewError) this.log.info({ reason: e.message }, "policy waiting");
      else this.log.warn({ err: e, attempt: this.policyFailures }, "policy sync failed");
      return {
        requeueAfterMs: Math.min(
          POLICY_RETRY_MAX_MS,
          POLICY_RETRY_BASE_MS * 2 ** Math.min(this.policyFailures - 1, 10),
        ),
      };
    }
  }

  /** Builds, compiles and (when it changed) applies the policy program; the admin table once. */
  private async syncPolicy(): Promise<void> {
    // Informer "add" events trigger syncs while other caches are still listing. A program built then
    // could lack NetworkPolicies (briefly allowing what they deny) or the ClusterNetwork (isolating
    // projects in the wrong mode), so the policy waits for every initial list.
    if (!this.synced) return;
    const i = (rt: Parameters<InformerFactory["for"]>[0]) => this.informers.for(rt).list();
    // The admin table is created if absent, never flushed: the admins' rules in admin-output survive
    // agent restarts. Its failure must not hold back the policy table; it is retried afterwards.
    let adminError: unknown;
    if (!this.adminDone) {
      try {
        await this.opts.nft.apply(adminTableScript());
        this.adminDone = true;
      } catch (e) {
        adminError = e;
      }
    }
    if (!this.bridgeNfChecked) {
      const st = await ensureBridgeNetfilter(this.opts.bridgeNfPath);
      if (st === "missing")
        this.log.error(
          { path: this.opts.bridgeNfPath ?? BRIDGE_NF_PATH },
          "br_netfilter is not available in this node's namespace: policy between pods of this node cannot be enforced",
        );
      else if (st === "enabled")
        this.log.info("enabled net.bridge.bridge-nf-call-iptables for same-node policy");
      this.bridgeNfChecked = true;
    }
    const { view, warnings } = buildPolicyView({
      nodeName: this.opts.node,
      hostSubnets: i(hostSubnetType),
      nodes: i(nodeType),
      clusterNetworks: i(clusterNetworkType),
      pods: i(podType),
      namespaces: i(namespaceType),
      netNamespaces: i(netNamespaceType),
      networkPolicies: i(networkPolicyType),
      egressFirewalls: i(egressFirewallType),
      egressNetworkPolicies: i(egressNetworkPolicyType),
      localPods: this.opts.localPods(),
      dnsServers: this.opts.dnsServers,
    });
    const program = compilePolicyProgram(view);
    // Warnings are logged when they change, not on every sync (heartbeats trigger syncs).
    const all = [...warnings, ...program.warnings];
    const key = JSON.stringify(all);
    if (key !== this.lastPolicyWarnings) {
      for (const w of all) this.log.warn(w, "policy: item skipped");
      this.lastPolicyWarnings = key;
    }
    if (program.nft !== this.lastPolicyScript) {
      this.log.debug({ nft: program.nft }, "applying policy program");
      await this.applyScript(this.lastPolicyScript, program.nft);
      this.lastPolicyScript = program.nft;
      this.policyApplied++;
      this.log.info({ stats: program.stats }, "policy updated");
    }
    if (this.opts.onPolicyView) await this.opts.onPolicyView(view);
    if (adminError !== undefined) throw adminError;
  }

  /**
   * Applies `next` over the state `previous` left: only the changed set/map elements when nothing
   * else differs (a pod joining an EgressIP or a policy's peer set costs what it changes, not a
   * whole-table rewrite), else the whole script as a new generation (generations.ts). A refused delta
   * (the table was changed behind the agent's back) falls back to the whole script, which is always
   * right.
   */
  private async applyScript(previous: string, next: string): Promise<void> {
    const delta = previous === "" ? undefined : elementDelta(previous, next);
    if (delta === "") return;
    if (delta !== undefined) {
      try {
        if (await this.policyTable.applyDelta(delta)) return;
      } catch (err) {
        this.log.warn({ err }, "element delta refused; applying the whole table");
      }
    }
    await this.policyTable.replace(next);
  }

  private async syncNode(): Promise<{ requeueAfterMs?: number } | undefined> {
    const t = new PhaseTimer(this.triggeredAt);
    this.triggeredAt = undefined;
    // The underlay interfaces change rarely: read once, then refreshed by the lease timer (which
    // triggers a sync when they change), so a failover does not wait for an `ip` spawn here.
    const interfaces = this.interfaces ?? (await this.currentInterfaces());
    this.interfaces = interfaces;
    t.mark("read");
    // Updated from the events since the last sync (docs/dataplane.md, "Incremental view").
    const pods = this.informers.for(podType);
    const source: ClusterSource = {
      nodeName: this.opts.node,
      bridge: this.opts.bridge,
      interfaces,
      list: (kind) =>
        this.informers.for(kind === "pods" ? podType : VIEW_KINDS.find(([k]) => k === kind)![1]).list(),
      pod: (namespace, name) => pods.get(name, namespace),
      localPods: this.opts.localPods(),
    };
    const view = this.nodeView.view(source);
    t.mark("view");
    // Incremental from the program last applied: a pod joining or leaving an EgressIP recomputes only
    // that pod and yields its element delta directly (docs/dataplane.md, "Incremental compile").
    let compiled = compileNodeIncremental(view, this.lastCompiled);
    let program = compiled.program;
    t.mark("compile");
    for (const w of program.warnings) this.log.warn(w, "dataplane: item skipped");
    // Cut off from the API, this node may already have lost its egress IPs to another node: it
    // holds none until the watches were restarted (fencing), so a sync triggered meanwhile (a local
    // pod change, a retry) cannot re-add an address from stale data.
    let fenced = this.stale || !this.opts.apiReachable() || this.silent();
    if (fenced) this.stale = true;
    // From here to the `ip` batch the lease renewal waits (it must not re-add an address this sync
    // removes). The `ip` state is read while duplicate-address detection listens: both are waits.
    return this.withIpLock(async () => {
      // The `ip` state is read when the desired state changed, and at least every IP_RESYNC_MS (so
      // a route or rule removed behind the agent's back comes back), not on every sync: a sync that
      // an unrelated change started then spawns no process at all.
      const ipKey = JSON.stringify(program.ip);
      const readIp = fenced || ipKey !== this.lastIpKey || Date.now() - this.lastIpAt > IP_RESYNC_MS;
      const [deferred, current] = await Promise.all([
        fenced
          ? Promise.resolve(new Set(program.ip.addresses.map((a) => a.address.split("/")[0]!)))
          : this.addressesStillHeldElsewhere(program),
        readIp ? this.opts.ip.read() : Promise.resolve(undefined),
      ]);
      t.mark("dad+ipread");
      // The self-fence may have struck while DAD listened: take nothing then.
      if (this.stale && !fenced) {
        fenced = true;
        for (const a of program.ip.addresses) deferred.add(a.address.split("/")[0]!);
      }
      if (deferred.size > 0) {
        // Take neither the address nor its SNAT entries yet: remote pods' flows are dropped (and
        // retried by TCP) rather than leaving with an address this node cannot receive replies for.
        const self = this.opts.node;
        compiled = compileNodeIncremental(
          {
            ...view,
            egressIPs: view.egressIPs.map((e) => ({
              ...e,
              ips: e.ips.filter((h) => !(h.node === self && deferred.has(h.ip))),
            })),
            // A project whose egress IP this node cannot take yet is dropped, never masqueraded
            // (MISSION §8: its traffic leaves with the egress IP or not at all); TCP retries once
            // the address is taken.
            projectEgress: view.projectEgress.map((p) =>
              p.state.kind === "normal" && p.state.node === self && deferred.has(p.state.egressIP)
                ? { ...p, state: { kind: "dropped" as const } }
                : p,
            ),
          },
          this.lastCompiled,
        );
        program = compiled.program;
        t.mark("recompile");
      }
      const safe = program;
      // Each sysctl is written once (each is a process spawn), not on every sync. One of an interface
      // that does not exist yet (the pod bridge before the node's first pod) is retried by later
      // syncs and does not hold up the program: a node without pods may still hold egress IPs.
      if (safe.sysctls.some((x) => this.sysctlsWritten.get(x.key) !== x.value)) {
        const missing = await applySysctls(this.opts.ip, safe.sysctls, this.sysctlsWritten);
        if (missing.length > 0) this.log.debug({ missing }, "sysctls of absent interfaces deferred");
        t.mark("sysctl");
      }
      // New egress addresses are added as leases right away (no separate renewal spawn).
      const ip = {
        ...safe.ip,
        addresses: safe.ip.addresses.map((a) => ({ ...a, lifetimeS: EGRESS_ADDRESS_LIFETIME_S })),
      };
      const { beforeNft, afterNft, announce } = splitIpActions(
        current && (readIp || deferred.size > 0) ? diffIp(ip, current) : [],
      );
      // Published as owned before they are added: the node heartbeat must never report an egress IP
      // as a node address (the controller would see an EgressIPConflict).
      for (const a of safe.ip.addresses) this.opts.owned.add(a.address.split("/")[0]!);
      // Addresses, routes and rules first: a new holder takes its address and announces it without
      // waiting for the table (a remote pod's flow arriving before its SNAT entry is dropped and
      // retried, never masqueraded), and a flow the new table marks finds its holder's table.
      await this.opts.ip.exec(beforeNft);
      t.mark("ip");
      // Announcements (arping -U waits a whole second for replies nobody sends) run detached: the
      // gratuitous ARP leaves at once, in parallel with the table, and the next change is not held
      // back by the wait.
      for (const a of announce)
        this.opts.ip.announce(a.dev, a.ip).catch((err: unknown) => {
          this.log.warn({ err, ip: a.ip, dev: a.dev }, "gratuitous ARP failed");
        });
      if (await this.applyNodeProgram(compiled)) t.mark(`nft-${compiled.mode}`);
      this.lastCompiled = compiled;
      // Rules and routes nobody is marked for any more go last.
      await this.opts.ip.exec(afterNft);
      if (afterNft.length > 0) t.mark("ip-after");
      if (current) {
        this.lastIpKey = JSON.stringify(safe.ip);
        this.lastIpAt = Date.now();
      }
      const res = { actions: [...beforeNft, ...afterNft], pendingAnnouncements: announce };
      this.opts.owned.clear();
      for (const a of safe.ip.addresses) this.opts.owned.add(a.address.split("/")[0]!);
      this.leased = safe.ip.addresses.map((a) => ({ dev: a.dev, address: a.address, label: a.label }));
      this.applied++;
      this.lastPhases = t.phases();
      const actions = res.actions.length + res.pendingAnnouncements.length;
      if (actions > 0) this.log.info({ actions, ms: t.phases() }, "dataplane updated");
      return deferred.size > 0 && !fenced ? { requeueAfterMs: RETRY_DAD_MS } : undefined;
    });
  }

  /**
   * The node table, from the program last applied: the incremental compiler's element delta when it
   * has one, else a delta computed from the two scripts when only elements differ, else the whole
   * table as a new generation (generations.ts; named counters keep their values, the table is never
   * deleted). A refused delta (the table was changed behind the agent's back) falls back to the whole
   * table. Returns whether anything was applied.
   */
  private async applyNodeProgram(next: Compiled): Promise<boolean> {
    const prev = this.lastCompiled;
    let delta = next.delta;
    if (delta === undefined && prev) {
      // Scripts are rendered here only (the incremental path never renders them).
      if (prev.program.nft === next.program.nft) return false;
      delta = elementDelta(prev.program.nft, next.program.nft);
    }
    if (delta === "") return false;
    if (delta !== undefined) {
      this.log.debug({ delta }, "applying node program delta");
      try {
        if (await this.nodeTable.applyDelta(delta)) return true;
      } catch (err) {
        this.log.warn({ err }, "element delta refused; applying the whole table");
      }
    }
    const script = next.program.nft;
    this.log.debug({ nft: script }, "applying node program");
    await this.nodeTable.replace(script);
    return true;
  }

  /** This node's underlay interfaces (IPv4, not the pod bridge, not the egress addresses it holds),
   *  with each one's gateway and next-hop routes from the main table (a secondary NIC holding egress
   *  IPs gets a routing table built from them). One `ip` process. */
  private async currentInterfaces(): Promise<UnderlayInterface[]> {
    if (this.opts.readInterfaces) return this.opts.readInterfaces();
    const { addresses, routes } = await readAddressesAndRoutes();
    return underlayInterfaces(addresses, routes, { bridge: this.opts.bridge, owned: this.opts.owned });
  }

  /** Re-reads the interfaces (lease timer); a change triggers a sync. */
  private async refreshInterfaces(): Promise<void> {
    const now = await this.currentInterfaces().catch(() => undefined);
    if (!now || this.interfaces === undefined) return;
    if (JSON.stringify(now) === JSON.stringify(this.interfaces)) return;
    this.interfaces = now;
    this.trigger();
  }

  /** Runs `fn` when no other holder of the lock runs (sync's ip phase, lease renewal). */
  private withIpLock<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.ipLock.then(fn, fn);
    this.ipLock = r.then(
      () => undefined,
      () => undefined,
    );
    return r;
  }

  /**
   * Egress addresses not yet on this node are probed with duplicate-address detection first (all in
   * parallel); those another node still answers for are returned (and retried shortly).
   */
  private async addressesStillHeldElsewhere(program: NodeProgram): Promise<Set<string>> {
    const fresh = program.ip.addresses.filter((a) => !this.opts.owned.has(a.address.split("/")[0]!));
    const dad = this.opts.duplicateAddress ?? duplicateAddress;
    const answered = await Promise.all(fresh.map((a) => dad(a.dev, a.address.split("/")[0]!)));
    const deferred = new Set<string>();
    fresh.forEach((a, n) => {
      if (!answered[n]) return;
      const ip = a.address.split("/")[0]!;
      deferred.add(ip);
      this.log.info({ ip, dev: a.dev }, "egress IP still answered by another node; waiting before taking it");
    });
    return deferred;
  }
}

/** Renews the lifetime of egress addresses: one `ip -batch` (one process however many there are). */
export async function renewAddressLeases(
  leases: { dev: string; address: string; label: string }[],
  lifetimeS: number,
): Promise<void> {
  const lft = String(lifetimeS);
  const lines = leases.map(
    (a) => `addr replace ${a.address} dev ${a.dev} label ${a.label} valid_lft ${lft} preferred_lft ${lft}`,
  );
  const r = await run("ip", ["-batch", "-"], { input: `${lines.join("\n")}\n`, allowFailure: true });
  if (r.code !== 0) throw new Error(`ip addr replace (lease renewal) failed: ${r.stderr.trim()}`);
}

/**
 * Duplicate-address detection for one IPv4 address: true when another host answered ARP for it.
 * `arping -D` counts in whole seconds, but a host that holds the address answers from its kernel
 * within a millisecond or two. arping prints its "ARPING …" line right before it sends the probe
 * (line-buffered through `stdbuf -oL`), so the wait is measured from the send, not from the spawn:
 * a loaded machine that is slow to start arping does not shorten the listening window. Without
 * the line (no stdbuf) the run is bounded as a whole (DAD_FALLBACK_MS).
 */
export function duplicateAddress(dev: string, ip: string): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    let out = "";
    let timer: NodeJS.Timeout | undefined;
    const child = spawn("stdbuf", ["-oL", "arping", "-D", "-c", "1", "-w", "1", "-I", dev, ip], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    const finish = (dup: boolean) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      child.kill("SIGKILL");
      resolve(dup);
    };
    const arm = (ms: number) => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => finish(/reply from/i.test(out)), ms);
    };
    arm(DAD_WAIT_MS + DAD_REPLY_WAIT_MS);
    child.stdout.on("data", (d: Buffer) => {
      const first = !out.includes("ARPING");
      out += d.toString();
      if (/reply from/i.test(out)) finish(true);
      else if (first && out.includes("ARPING")) arm(DAD_REPLY_WAIT_MS);
    });
    // Exit 1 = a reply came (arping -D); anything else (or a spawn error) = nobody answered.
    child.on("close", (code) => finish(code === 1 || /reply from/i.test(out)));
    child.on("error", () => {
      // No stdbuf: plain arping, bounded as a whole.
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      run("arping", ["-D", "-c", "1", "-w", "1", "-I", dev, ip], {
        allowFailure: true,
        timeoutMs: DAD_FALLBACK_MS,
      }).then(
        (r) => resolve(r.code === 1),
        () => resolve(false),
      );
    });
  });
}
