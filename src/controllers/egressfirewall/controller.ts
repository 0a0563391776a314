// Egress-firewall controller: for every EgressNetworkPolicy (network.openshift.io/v1 and its legacy
// v1 form — the same stored objects) and EgressFirewall (k8s.ovn.org/v1) it publishes the
// restriction verdict and the resolved addresses of its dnsNames as annotations, writes
// EgressFirewall status, and records Events when a verdict changes. DNS names are resolved here
// (one lookup per name, shared by all policies) on the schedule of dns-schedule.ts.
// Thin shell: decisions live in restrictions.ts, dns-schedule.ts and publish.ts; it must not
// program any dataplane.
import type { EgressFirewall, EgressNetworkPolicy, NetNamespace } from "../../api/kinds/index.js";
import { egressFirewallType, egressNetworkPolicyType, netNamespaceType } from "../../api/kinds/index.js";
import type { KubeObject } from "../../api/object.js";
import type { Logger } from "../../util/log.js";
import { isNotFound } from "../runtime/client.js";
import { refOf } from "../runtime/events.js";
import type { Controller, ControllerContext } from "../runtime/manager.js";
import { type ReconcileOutcome, WorkQueue } from "../runtime/workqueue.js";
import {
  applyLookup,
  type DnsNameState,
  type DnsScheduleOptions,
  defaultDnsScheduleOptions,
  dueNames,
  lookupName,
  publishedChanged,
} from "./dns-schedule.js";
import {
  annotationPatch,
  desiredAnnotations,
  dnsAnnotation,
  egressFirewallStatus,
  FIREWALL_EFFECT_ANNOTATION,
  FIREWALL_MESSAGE_ANNOTATION,
} from "./publish.js";
import { type DnsResolver, NodeDnsResolver } from "./resolver.js";
import {
  decideFirewallEffects,
  type FirewallKind,
  type FirewallPolicyRef,
  verdictEvent,
} from "./restrictions.js";

/** Options the control plane may pass (read with defaults until ControlPlaneOptions has them). */
interface FirewallOptions {
  /** "ip[:port]" DNS servers; default: the node's resolv.conf. */
  egressFirewallDNSServers?: string[];
  /** Minimum re-resolve interval per name (ms). */
  egressFirewallDNSMinIntervalMs?: number;
}

export interface EgressFirewallControllerOptions {
  resolver?: DnsResolver;
  schedule?: Partial<DnsScheduleOptions>;
  /** Parallel DNS lookups. */
  maxInFlight?: number;
}

const KEY = "egress-firewalls";

export class EgressFirewallController implements Controller {
  readonly name = "egress-firewall";
  private ctx!: ControllerContext;
  private log!: Logger;
  private queue!: WorkQueue;
  private resolver!: DnsResolver;
  private schedule!: DnsScheduleOptions;
  private readonly states = new Map<string, DnsNameState>();
  private readonly inFlight = new Set<string>();
  private wanted = new Set<string>();
  /** Annotation values written per policy uid and not yet seen in the cache. */
  private readonly written = new Map<string, Record<string, string | null>>();
  /** EgressFirewall status written per uid (JSON) and not yet seen in the cache. */
  private readonly writtenStatus = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** netid per namespace, kept from NetNamespace events: the verdicts read nothing else of them,
   *  so the other writes to NetNamespaces (state annotations, 10,000 creations on a new cluster)
   *  neither start a run nor make one list every NetNamespace. */
  private readonly netids = new Map<string, number>();

  constructor(private readonly opts: EgressFirewallControllerOptions = {}) {}

  setup(ctx: ControllerContext): void {
    this.ctx = ctx;
    this.log = ctx.log.child({ controller: this.name });
    const o = ctx.options as Partial<FirewallOptions>;
    this.resolver =
      this.opts.resolver ??
      new NodeDnsResolver(o.egressFirewallDNSServers ? { servers: o.egressFirewallDNSServers } : {});
    this.schedule = {
      ...defaultDnsScheduleOptions,
      ...(o.egressFirewallDNSMinIntervalMs !== undefined
        ? { minIntervalMs: o.egressFirewallDNSMinIntervalMs }
        : {}),
      ...this.opts.schedule,
    };
    this.queue = new WorkQueue(
      () => this.reconcile(),
      (key, err, attempt) => this.log.warn({ key, err, attempt }, "egress firewall sync failed; retrying"),
    );
    const enqueue = () => this.queue.add(KEY);
    this.netids.clear();
    for (const rt of [egressNetworkPolicyType, egressFirewallType]) ctx.informers.for(rt).on(enqueue);
    ctx.informers.for(netNamespaceType).on((type, obj) => {
      const name = obj.metadata.name ?? "";
      const id = (obj as unknown as NetNamespace).netid;
      const next = type === "delete" || typeof id !== "number" ? undefined : id;
      if (this.netids.get(name) === next) return;
      if (next === undefined) this.netids.delete(name);
      else this.netids.set(name, next);
      // A netid matters only to policies (joined/global projects); without any there is no work.
      if (this.policyCount() > 0) enqueue();
    });
  }

  private policyCount(): number {
    return (
      this.ctx.informers.for(egressNetworkPolicyType).list().length +
      this.ctx.informers.for(egressFirewallType).list().length
    );
  }

  start(): void {
    this.stopped = false;
    this.queue.add(KEY);
  }

  stop(): void {
    this.stopped = true;
    this.queue?.stop();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** For tests and benchmarks: the current DNS state of a lookup name. */
  dnsState(name: string): DnsNameState | undefined {
    return this.states.get(name);
  }

  private policies(): { ref: FirewallPolicyRef; obj: KubeObject; dnsNames: string[] }[] {
    const out: { ref: FirewallPolicyRef; obj: KubeObject; dnsNames: string[] }[] = [];
    const add = (kind: FirewallKind, objs: KubeObject[]) => {
      for (const obj of objs) {
        if (obj.metadata.deletionTimestamp) continue;
        const rules = (obj as unknown as EgressNetworkPolicy | EgressFirewall).spec?.egress ?? [];
        const dnsNames = rules.map((r) => r.to?.dnsName).filter((d): d is string => !!d);
        out.push({
          ref: { kind, namespace: obj.metadata.namespace ?? "", name: obj.metadata.name ?? "" },
          obj,
          dnsNames,
        });
      }
    };
    add("EgressNetworkPolicy", this.ctx.informers.for(egressNetworkPolicyType).list());
    add("EgressFirewall", this.ctx.informers.for(egressFirewallType).list());
    return out;
  }

  private async reconcile(): Promise<ReconcileOutcome> {
    const policies = this.policies();
    this.trackNames(policies.flatMap((p) => p.dnsNames));
    const verdicts = decideFirewallEffects({
      policies: policies.map((p) => p.ref),
      netids: this.netids,
      globalNamespaces: this.ctx.options.globalNamespaces,
    });
    const byRef = new Map(policies.map((p) => [`${p.ref.kind}/${p.ref.namespace}/${p.ref.name}`, p]));
    const uids = new Set(policies.map((p) => p.obj.metadata.uid ?? ""));
    for (const m of [this.written, this.writtenStatus])
      for (const u of [...m.keys()]) if (!uids.has(u)) m.delete(u);
    let failed: unknown;
    for (const v of verdicts) {
      const p = byRef.get(`${v.policy.kind}/${v.policy.namespace}/${v.policy.name}`);
      if (!p) continue;
      try {
        await this.publish(p.obj, v, dnsAnnotation(p.dnsNames, this.states));
      } catch (e) {
        if (!isNotFound(e)) failed = e;
      }
    }
    if (failed) throw failed;
    return undefined;
  }

  private async publish(
    obj: KubeObject,
    v: ReturnType<typeof decideFirewallEffects>[number],
    dnsValue: string | undefined,
  ): Promise<void> {
    const rt = v.policy.kind === "EgressFirewall" ? egressFirewallType : egressNetworkPolicyType;
    const ns = v.policy.namespace;
    // The cache may not show our last write yet: overlay it until it does, so a quick second run
    // neither writes again nor repeats the Event.
    const uid = obj.metadata.uid ?? "";
    const cached = obj.metadata.annotations ?? {};
    const pending = this.written.get(uid);
    if (pending && Object.entries(pending).every(([k, x]) => (cached[k] ?? null) === x))
      this.written.delete(uid);
    const current: Record<string, string> = { ...cached };
    for (const [k, x] of Object.entries(this.written.get(uid) ?? {})) {
      if (x === null) delete current[k];
      else current[k] = x;
    }
    const patch = annotationPatch(current, desiredAnnotations(v, dnsValue));
    if (patch) {
      await this.ctx.client.patch(rt, ns, v.policy.name, { metadata: { annotations: patch } }, "merge");
      this.written.set(uid, { ...(this.written.get(uid) ?? {}), ...patch });
      this.log.info(
        { kind: v.policy.kind, namespace: ns, name: v.policy.name, effect: v.effect },
        "published",
      );
      const prevEffect = current?.[FIREWALL_EFFECT_ANNOTATION];
      const prevMessage = current?.[FIREWALL_MESSAGE_ANNOTATION];
      if (prevEffect !== v.effect || prevMessage !== v.message) {
        const ev = verdictEvent(v, prevEffect);
        if (ev) void this.ctx.recorder.record(refOf(obj), ev.type, ev.reason, ev.message);
      }
    }
    if (v.policy.kind === "EgressFirewall") {
      const want = egressFirewallStatus(v, dnsValue);
      const cachedStatus = JSON.stringify((obj as unknown as EgressFirewall).status ?? {});
      if (this.writtenStatus.get(uid) === cachedStatus) this.writtenStatus.delete(uid);
      const have = this.writtenStatus.get(uid) ?? cachedStatus;
      if (have !== JSON.stringify(want)) {
        await this.ctx.client.patch(
          egressFirewallType,
          ns,
          v.policy.name,
          { status: { status: want.status, messages: want.messages ?? null } },
          "merge",
          "status",
        );
        this.writtenStatus.set(uid, JSON.stringify(want));
      }
    }
  }

  // ---- DNS ----------------------------------------------------------------------------------

  /** Keeps exactly the names some policy uses; new names are looked up at once. */
  private trackNames(dnsNames: string[]): void {
    const wanted = new Set<string>();
    for (const d of dnsNames) {
      const n = lookupName(d);
      if (n !== undefined) wanted.add(n);
    }
    this.wanted = wanted;
    for (const n of [...this.states.keys()]) if (!wanted.has(n)) this.states.delete(n);
    this.pump();
  }

  /** Starts the lookups that are due (new names, expired TTLs) and arms the timer for the next. */
  private pump(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const now = Date.now();
    const max = this.opts.maxInFlight ?? 16;
    const fresh = [...this.wanted].filter((n) => !this.states.has(n) && !this.inFlight.has(n)).sort();
    const tracked = new Map([...this.states].filter(([n]) => !this.inFlight.has(n)));
    const { due, nextAt } = dueNames(tracked, now);
    for (const n of [...fresh, ...due]) {
      if (this.inFlight.size >= max) break;
      void this.resolve(n);
    }
    if (nextAt !== undefined) {
      this.timer = setTimeout(() => this.pump(), Math.max(0, nextAt - now));
      this.timer.unref();
    }
  }

  private async resolve(name: string): Promise<void> {
    this.inFlight.add(name);
    try {
      const [v4, v6] = await Promise.all([this.resolver.lookup(name, 4), this.resolver.lookup(name, 6)]);
      if (this.stopped || !this.wanted.has(name)) return;
      const prev = this.states.get(name);
      const next = applyLookup(prev, v4, v6, Date.now(), this.schedule);
      this.states.set(name, next);
      if (next.error)
        this.log.warn({ dnsName: name, error: next.error }, "DNS lookup failed; keeping addresses");
      if (publishedChanged(prev, next)) {
        this.log.info({ dnsName: name, ipv4: next.ipv4, ipv6: next.ipv6 }, "DNS addresses changed");
        this.queue.add(KEY);
      }
    } catch (e) {
      // A resolver that throws counts as a failed lookup (old addresses kept, retried with backoff).
      this.log.error({ err: e, dnsName: name }, "DNS resolver failed");
      const failure = { ok: false, negative: false, code: "EEXCEPTION" } as const;
      if (!this.stopped && this.wanted.has(name))
        this.states.set(
          name,
          applyLookup(this.states.get(name), failure, failure, Date.now(), this.schedule),
        );
    } finally {
      this.inFlight.delete(name);
      this.pump();
    }
  }
}
