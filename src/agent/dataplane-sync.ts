// Keeps this node's dataplane equal to what the API says: watches the objects the node program
// depends on, builds the NodeView, compiles it and applies the program (one atomic nft transaction
// for the agent's table, then the ip diff). Changes coalesce in a one-key work queue. A new egress
// address is only added once duplicate-address detection shows no other node still answers for it,
// so two nodes never answer for one IP while an EgressIP moves. The policy program (isolation,
// NetworkPolicy, egress firewalls: table `inet egress-policy`) is built from the same caches in the
// same sync but applied as its own transaction, so a failure of one never blocks the other.
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
import type { Client } from "../controllers/runtime/client.js";
import { InformerFactory } from "../controllers/runtime/manager.js";
import { WorkQueue } from "../controllers/runtime/workqueue.js";
import { compileNodeProgram } from "../dataplane/compile/node-program.js";
import { adminTableScript, compilePolicyProgram } from "../dataplane/compile/policy/compile.js";
import type { PolicyView } from "../dataplane/compile/policy/types.js";
import type { NodeProgram } from "../dataplane/compile/types.js";
import type { IpExecer } from "../dataplane/ip/execer.js";
import { applySysctls, reconcileIp } from "../dataplane/ip/reconciler.js";
import { readCounters } from "../dataplane/nft/counters.js";
import type { NftExecer } from "../dataplane/nft/execer.js";
import { elementDelta } from "../dataplane/nft/incremental.js";
import type { Logger } from "../util/log.js";
import { run } from "./exec.js";
import { readAddresses } from "./interfaces.js";
import { buildPolicyView } from "./policy-view.js";
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
  /** The resolvers pods use (--cluster-dns, else the node's resolv.conf): DNS to them is never
   *  blocked by an egress firewall. */
  dnsServers: string[];
  /** Called after every successful policy step (program applied or unchanged) with the view it was
   *  compiled from (multicast). A failure is logged and retried like a failed apply. */
  onPolicyView?: (view: PolicyView) => Promise<void>;
  /** Where this node namespace's br_netfilter switch is read (tests point it elsewhere). */
  bridgeNfPath?: string;
}

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

const RETRY_DAD_MS = 150;
const DAD_WAIT_MS = 120;
const POLICY_RETRY_BASE_MS = 200;
const POLICY_RETRY_MAX_MS = 10_000;

export class DataplaneSync {
  private readonly informers: InformerFactory;
  private readonly queue: WorkQueue;
  private lastScript = "";
  private applied = 0;
  private leased: { dev: string; address: string; label: string }[] = [];
  private leaseTimer: NodeJS.Timeout | undefined;
  private stale = false;
  private refreshing = false;
  private lastPolicyScript = "";
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
      networkPolicyType,
      egressFirewallType,
      egressNetworkPolicyType,
    ]) {
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
        this.trigger();
      });
    }
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
    this.queue.add("sync");
  }

  async start(): Promise<void> {
    await this.informers.startAll();
    this.synced = true;
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
        // The caches are fresh again: recompute (holding what the API says this node holds).
        // Not awaited: renewLeases also runs at the end of a sync, inside the queue's only worker,
        // so waiting for the queue here would wait for itself (the dataplane froze for good). The
        // triggered sync recomputes and renews the leases at its end.
        this.stale = false;
        this.trigger();
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
    // Policy first and on its own: a node-table failure (which throws, as before) must not leave
    // policy changes unapplied, and a policy failure must not hold back EgressIP/service changes.
    let policyRetryMs: number | undefined;
    try {
      await this.syncPolicy();
      this.policyFailures = 0;
    } catch (e) {
      this.policyFailures++;
      if (e instanceof ViewError) this.log.info({ reason: e.message }, "policy waiting");
      else this.log.warn({ err: e, attempt: this.policyFailures }, "policy sync failed");
      policyRetryMs = Math.min(
        POLICY_RETRY_MAX_MS,
        POLICY_RETRY_BASE_MS * 2 ** Math.min(this.policyFailures - 1, 10),
      );
    }
    const out = await this.syncNode();
    if (policyRetryMs === undefined) return out;
    return { requeueAfterMs: Math.min(policyRetryMs, out?.requeueAfterMs ?? policyRetryMs) };
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
   * whole-table rewrite), else the whole script. A refused delta (the table was changed behind the
   * agent's back) falls back to the whole script, which is always right.
   */
  private async applyScript(previous: string, next: string): Promise<void> {
    const delta = previous === "" ? undefined : elementDelta(previous, next);
    if (delta === "") return;
    if (delta !== undefined) {
      try {
        await this.opts.nft.apply(delta);
        return;
      } catch (err) {
        this.log.warn({ err }, "element delta refused; applying the whole table");
      }
    }
    await this.opts.nft.apply(next);
  }

  private async syncNode(): Promise<{ requeueAfterMs?: number } | undefined> {
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
          // A project whose egress IP this node cannot take yet is dropped, never masqueraded
          // (MISSION §8: its traffic leaves with the egress IP or not at all); TCP retries once
          // the address is taken.
          projectEgress: view.projectEgress.map((p) =>
            p.state.kind === "normal" && p.state.node === self && deferred.has(p.state.egressIP)
              ? { ...p, state: { kind: "dropped" as const } }
              : p,
          ),
        },
        counters ? { counters } : {},
      );
    }
    const safe = program;
    await applySysctls(this.opts.ip, safe.sysctls);
    if (safe.nft !== this.lastScript) {
      this.log.debug({ nft: safe.nft }, "applying node program");
      await this.applyScript(this.lastScript, safe.nft);
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
