// Watches EgressIPs and EgressServices from the bench process (client-node informers through the
// project's Client) and answers the bench's questions: are all EgressIPs fully assigned and all
// EgressServices hosted, where is each IP and host now, and when does a condition become true
// (resolved from the watch event that made it true). Reads only; never writes.
import { egressIPType, egressServiceType } from "../../../src/api/kinds/index.js";
import type { KubeObject } from "../../../src/api/object.js";
import type { Client } from "../../../src/controllers/runtime/client.js";

interface Waiter {
  check: () => boolean;
  resolve: (at: number) => void;
}

const now = () => performance.timeOrigin + performance.now();

export class ClusterTracker {
  /** EgressIP name → spec IPs. */
  readonly specIPs = new Map<string, string[]>();
  /** EgressIP name → (IP → node) from status.items. */
  readonly placed = new Map<string, Map<string, string>>();
  /** "ns/name" → status.host ("" when none). */
  readonly hosts = new Map<string, string>();
  /** Time of the last EgressIP or EgressService event seen. */
  lastEventAt = now();
  private waiters: Waiter[] = [];
  private readonly informers;

  constructor(client: Client) {
    const eip = client.informer<KubeObject>(egressIPType);
    const es = client.informer<KubeObject>(egressServiceType);
    const onEIP = (o: KubeObject, gone = false) => {
      const name = o.metadata.name ?? "";
      if (gone) {
        this.specIPs.delete(name);
        this.placed.delete(name);
      } else {
        const spec = (o.spec ?? {}) as { egressIPs?: string[] };
        this.specIPs.set(name, spec.egressIPs ?? []);
        const items = ((o.status ?? {}) as { items?: { node: string; egressIP: string }[] }).items ?? [];
        this.placed.set(name, new Map(items.map((i) => [i.egressIP, i.node])));
      }
      this.changed();
    };
    const onES = (o: KubeObject, gone = false) => {
      const key = `${o.metadata.namespace}/${o.metadata.name}`;
      if (gone) this.hosts.delete(key);
      else this.hosts.set(key, ((o.status ?? {}) as { host?: string }).host ?? "");
      this.changed();
    };
    eip.on("add", (o) => onEIP(o));
    eip.on("update", (o) => onEIP(o));
    eip.on("delete", (o) => onEIP(o, true));
    es.on("add", (o) => onES(o));
    es.on("update", (o) => onES(o));
    es.on("delete", (o) => onES(o, true));
    this.informers = [eip, es];
  }

  async start(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  private changed(): void {
    const at = now();
    this.lastEventAt = at;
    if (this.waiters.length === 0) return;
    const keep: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.check()) w.resolve(at);
      else keep.push(w);
    }
    this.waiters = keep;
  }

  /** Resolves with the wall time of the event that made `check` true (now, if it already is). */
  when(check: () => boolean, timeoutMs: number, what: string): Promise<number> {
    if (check()) return Promise.resolve(now());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const waiter: Waiter = {
        check,
        resolve: (at) => {
          clearTimeout(timer);
          resolve(at);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Every EgressIP has a status item for each spec IP. */
  eipsComplete(): { done: number; total: number } {
    let done = 0;
    for (const [name, ips] of this.specIPs) {
      const p = this.placed.get(name);
      if (p && ips.every((ip) => p.has(ip))) done++;
    }
    return { done, total: this.specIPs.size };
  }

  hostsComplete(): { done: number; total: number } {
    let done = 0;
    for (const h of this.hosts.values()) if (h !== "") done++;
    return { done, total: this.hosts.size };
  }

  /** All EgressIPs complete and (unless `withHosts` is false) all EgressServices hosted. */
  converged(withHosts = true): boolean {
    const e = this.eipsComplete();
    const h = this.hostsComplete();
    return e.done === e.total && (!withHosts || h.done === h.total);
  }

  /** IP → { egressIP, node } over all EgressIPs. */
  ipPlacements(): Map<string, { egressIP: string; node: string }> {
    const out = new Map<string, { egressIP: string; node: string }>();
    for (const [name, p] of this.placed) for (const [ip, node] of p) out.set(ip, { egressIP: name, node });
    return out;
  }

  /** The IPs currently on any of `nodes`, with their EgressIP. */
  ipsOn(nodes: Set<string>): { ip: string; egressIP: string }[] {
    const out: { ip: string; egressIP: string }[] = [];
    for (const [ip, v] of this.ipPlacements()) if (nodes.has(v.node)) out.push({ ip, egressIP: v.egressIP });
    return out;
  }

  /** Each listed IP is placed, on a node not in `avoid`. */
  movedOff(ips: { ip: string; egressIP: string }[], avoid: Set<string>): boolean {
    return ips.every(({ ip, egressIP }) => {
      const n = this.placed.get(egressIP)?.get(ip);
      return n !== undefined && !avoid.has(n);
    });
  }

  servicesOn(nodes: Set<string>): string[] {
    return [...this.hosts].filter(([, h]) => nodes.has(h)).map(([k]) => k);
  }

  hostsMovedOff(keys: string[], avoid: Set<string>): boolean {
    return keys.every((k) => {
      const h = this.hosts.get(k) ?? "";
      return h !== "" && !avoid.has(h);
    });
  }
}
