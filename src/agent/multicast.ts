// Multicast per project on one node (MISSION §9): keeps the node's multicast plumbing equal to the
// PolicyView: multicast snooping off on the pod bridge (it floods, the `bridge egress-mcast` table
// filters), a VXLAN port on the bridge with head-end replication to every other node (all-zero FDB
// entries), the host-side veth of each local pod, and the compiled table (applied only when its
// script changed, as a new generation of its maps and chains: src/dataplane/nft/generations.ts). Owns exactly the VXLAN device, its FDB entries and that table; never touches
// other interfaces, tables or the bridge beyond its snooping flag. Design: docs/policy.md "Multicast".
import { compileMulticastProgram, MULTICAST_TABLE } from "../dataplane/compile/multicast.js";
import type { PolicyView } from "../dataplane/compile/policy/types.js";
import type { NftExecer } from "../dataplane/nft/execer.js";
import { GenerationalTable } from "../dataplane/nft/generations.js";
import { commandLine, run } from "../dataplane/run.js";
import type { Logger } from "../util/log.js";

export const MULTICAST_VXLAN = "egmc0";
/** VNI of the multicast overlay: one VNI for all projects, the table filters by netid. */
export const MULTICAST_VNI = 4242;
export const MULTICAST_PORT = 4789;
/** Pod-side MTU; the VXLAN port gets the same so full-size frames are not dropped at the bridge
 *  (the encapsulated packet is fragmented by the node's IP stack instead). */
export const MULTICAST_MTU = 1500;
const ZERO_MAC = "00:00:00:00:00:00";
/** A view with the same multicast inputs as the last one is synced again (drift check: devices,
 *  FDB, ports read back) only after this long; in between it costs no command. */
export const MULTICAST_RECHECK_MS = 30_000;

export class MulticastCommandError extends Error {
  override name = "MulticastCommandError";
  constructor(
    readonly command: string[],
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`${command.join(" ")} failed (exit ${code}): ${stderr.trim()}`);
  }
}

/** A local pod's bridge port. */
export interface PodPort {
  ip: string;
  ifname: string;
}

export interface MulticastSyncOptions {
  /** The node's pod bridge. */
  bridge: string;
  /** This node's underlay address: the VXLAN's local address; other nodes send to it. A function
   *  when it is learnt later (node registration); apply() fails (and is retried) while it is unknown. */
  nodeIP: string | (() => string | undefined);
  nft: NftExecer;
  log: Logger;
  /** Run `ip`/`bridge` in this named network namespace (tests); absent = the agent's own. */
  netns?: string;
  vxlan?: string;
  vni?: number;
  port?: number;
  /** Host-side veth names of local pods when the caller knows them (e.g. from the CNI result);
   *  absent = discovered from the bridge's ports (see discoverPodPorts). */
  localPorts?: () => PodPort[] | Promise<PodPort[]>;
}

interface IpLink {
  ifindex?: number;
  ifname?: string;
  link_index?: number;
  link_netnsid?: number;
  mtu?: number;
  master?: string;
  operstate?: string;
  flags?: string[];
  linkinfo?: {
    info_kind?: string;
    info_data?: Record<string, unknown>;
    info_slave_data?: Record<string, unknown>;
  };
  addr_info?: { family?: string; local?: string; scope?: string }[];
}

export class MulticastSync {
  private readonly vxlan: string;
  private readonly vni: number;
  private readonly port: number;
  private lastScript = "";
  private readonly table: GenerationalTable;
  private lastWarnings = "";
  /** Peer address per bridge port, keyed by "<ifindex>/<ifname>/<peer netns>/<peer ifindex>". */
  private readonly peerCache = new Map<string, string>();
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  private applied = 0;
  private checks = 0;
  /** inputKey() of the last full sync that found every local pod's port; "" = sync next time. */
  private lastKey = "";
  private lastCheckAt = 0;

  constructor(private readonly opts: MulticastSyncOptions) {
    this.vxlan = opts.vxlan ?? MULTICAST_VXLAN;
    this.vni = opts.vni ?? MULTICAST_VNI;
    this.port = opts.port ?? MULTICAST_PORT;
    this.table = new GenerationalTable(opts.nft, MULTICAST_TABLE.family, MULTICAST_TABLE.name);
  }

  /** Number of nft scripts applied (tests, logs). */
  get appliedCount(): number {
    return this.applied;
  }

  /** Number of full syncs (the node's devices, FDB and ports read back with `ip`/`bridge`). */
  get checkCount(): number {
    return this.checks;
  }

  /** Brings the node in line with `view`. Calls are serialised; a failure rejects this call only. */
  apply(view: PolicyView): Promise<void> {
    if (this.closed) return Promise.reject(new Error("MulticastSync is closed"));
    const next = this.chain.then(() => this.sync(view));
    this.chain = next.catch(() => {});
    return next;
  }

  /** Waits for a running apply and refuses new ones. Leaves the kernel state in place, so a
   *  restarting agent keeps multicast flowing (as it keeps its other tables); see remove(). */
  async close(): Promise<void> {
    this.closed = true;
    await this.chain;
  }

  /** Deletes the table and the VXLAN device (node decommissioning, tests). */
  async remove(): Promise<void> {
    await this.close();
    await this.table.remove();
    await this.cmd("ip", ["link", "del", this.vxlan], true);
    this.lastScript = "";
  }

  private async cmd(tool: string, args: string[], allowFailure = false): Promise<string> {
    const r = await run(this.opts.netns, tool, args);
    if (r.code !== 0 && !allowFailure)
      throw new MulticastCommandError(commandLine(this.opts.netns, tool, args), r.code, r.stderr);
    return r.stdout;
  }

  private async links(args: string[]): Promise<IpLink[]> {
    const out = await this.cmd("ip", ["-j", "-d", "link", "show", ...args]);
    return out.trim() ? (JSON.parse(out) as IpLink[]) : [];
  }

  private nodeIP(): string {
    const ip = typeof this.opts.nodeIP === "function" ? this.opts.nodeIP() : this.opts.nodeIP;
    if (!ip) throw new MulticastCommandError(["multicast"], null, "this node's IP is not known yet");
    return ip;
  }

  /**
   * What the multicast plumbing depends on in a view: this node's address, the projects' netids and
   * flags, the pods (address, namespace, local or not) and the other nodes. Policy syncs for
   * NetworkPolicy or EgressFirewall changes leave it equal, so they cost no command here.
   */
  private inputKey(view: PolicyView, nodeIP: string): string {
    const parts: string[] = [nodeIP, view.node];
    for (const n of view.namespaces) parts.push(`${n.name}/${n.netid ?? ""}/${n.multicast ? 1 : 0}`);
    for (const p of view.pods) parts.push(`${p.namespace}/${p.ip}/${p.local ? 1 : 0}`);
    for (const n of view.nodes) parts.push(`${n.name}=${n.ips.join(",")}`);
    return parts.join(" ");
  }

  private async sync(view: PolicyView): Promise<void> {
    const nodeIP = this.nodeIP();
    const key = this.inputKey(view, nodeIP);
    if (key === this.lastKey && Date.now() - this.lastCheckAt < MULTICAST_RECHECK_MS) return;
    this.lastKey = "";
    this.checks++;
    // The CNI bridge plugin creates the bridge with the node's first pod: until then no pod can send
    // or receive, and the next pod change brings a new view.
    if (!(await this.ensureBridge())) return;
    await this.ensureVxlan(nodeIP);
    await this.ensureFdb(this.peers(view, nodeIP));
    const ports = this.opts.localPorts ? await this.opts.localPorts() : await this.discoverPodPorts();
    const program = compileMulticastProgram(view, { bridge: this.opts.bridge, vxlan: this.vxlan, ports });
    const w = JSON.stringify(program.warnings);
    if (w !== this.lastWarnings) {
      for (const x of program.warnings) this.opts.log.warn(x, "multicast: item skipped");
      this.lastWarnings = w;
    }
    if (program.nft !== this.lastScript) {
      this.opts.log.debug({ nft: program.nft }, "applying multicast program");
      await this.table.replace(program.nft);
      this.lastScript = program.nft;
      this.applied++;
      this.opts.log.info(
        {
          netids: program.plan.receivers.length,
          localPods: program.plan.localSenders.length,
          remotePods: program.plan.remoteSenders.length,
        },
        "multicast program applied",
      );
    }
    // A local pod whose port or address was not found yet (CNI still configuring it) is looked for
    // again on the next view, even an equal one.
    if (ports.length >= view.pods.filter((p) => p.local).length) {
      this.lastKey = key;
      this.lastCheckAt = Date.now();
    }
  }

  /** Snooping off: with it on, the bridge would forward a group only to ports that sent an IGMP
   *  report, and the VXLAN port never does; flooding lets the table alone decide. */
  private async ensureBridge(): Promise<boolean> {
    const shown = await run(this.opts.netns, "ip", ["-j", "-d", "link", "show", "dev", this.opts.bridge]);
    const [br] = shown.code === 0 && shown.stdout.trim() ? (JSON.parse(shown.stdout) as IpLink[]) : [];
    if (!br) {
      this.opts.log.debug({ bridge: this.opts.bridge }, "multicast: no pod bridge yet");
      return false;
    }
    if (br.linkinfo?.info_data?.mcast_snooping !== 0)
      await this.cmd("ip", ["link", "set", "dev", this.opts.bridge, "type", "bridge", "mcast_snooping", "0"]);
    return true;
  }

  private async ensureVxlan(nodeIP: string): Promise<void> {
    const shown = await run(this.opts.netns, "ip", ["-j", "-d", "link", "show", "dev", this.vxlan]);
    const [cur] = shown.code === 0 && shown.stdout.trim() ? (JSON.parse(shown.stdout) as IpLink[]) : [];
    const d = cur?.linkinfo?.info_data;
    const matches =
      cur?.linkinfo?.info_kind === "vxlan" &&
      d?.id === this.vni &&
      d?.port === this.port &&
      d?.local === nodeIP &&
      d?.learning === false;
    if (cur && !matches) {
      this.opts.log.info({ dev: this.vxlan }, "multicast: recreating VXLAN device with new parameters");
      await this.cmd("ip", ["link", "del", "dev", this.vxlan]);
    }
    if (!cur || !matches) {
      // No `dev`: the underlay route decides the egress interface, and the MTU may exceed the
      // underlay's (the outer packet is fragmented rather than full-size inner frames dropped).
      await this.cmd("ip", [
        "link",
        "add",
        this.vxlan,
        "type",
        "vxlan",
        "id",
        String(this.vni),
        "dstport",
        String(this.port),
        "local",
        nodeIP,
        "nolearning",
      ]);
    }
    const [now] = await this.links(["dev", this.vxlan]);
    if (now?.mtu !== MULTICAST_MTU)
      await this.cmd("ip", ["link", "set", "dev", this.vxlan, "mtu", String(MULTICAST_MTU)]);
    if (now?.master !== this.opts.bridge)
      await this.cmd("ip", ["link", "set", "dev", this.vxlan, "master", this.opts.bridge]);
    // The bridge must not learn remote pods' MACs on the overlay port: nothing but multicast goes there.
    if (now?.linkinfo?.info_slave_data?.learning !== false || now?.master !== this.opts.bridge)
      await this.cmd("ip", ["link", "set", "dev", this.vxlan, "type", "bridge_slave", "learning", "off"]);
    if (!now?.flags?.includes("UP")) await this.cmd("ip", ["link", "set", "dev", this.vxlan, "up"]);
  }

  /** Every other node's first IPv4 address (InternalIP first in PolicyNode.ips). */
  private peers(view: PolicyView, nodeIP: string): string[] {
    const out = new Set<string>();
    for (const n of view.nodes) {
      if (n.name === view.node) continue;
      const ip = n.ips.find((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a));
      if (ip && ip !== nodeIP) out.add(ip);
    }
    return [...out].sort();
  }

  private async ensureFdb(want: string[]): Promise<void> {
    const out = await this.cmd("bridge", ["-j", "fdb", "show", "dev", this.vxlan]);
    const entries = out.trim() ? (JSON.parse(out) as { mac?: string; dst?: string }[]) : [];
    const have = new Set(entries.filter((e) => e.mac === ZERO_MAC && e.dst).map((e) => e.dst!));
    for (const ip of want)
      if (!have.has(ip)) await this.cmd("bridge", ["fdb", "append", ZERO_MAC, "dev", this.vxlan, "dst", ip]);
    const wanted = new Set(want);
    for (const ip of have)
      if (!wanted.has(ip)) await this.cmd("bridge", ["fdb", "del", ZERO_MAC, "dev", this.vxlan, "dst", ip]);
  }

  /**
   * The host-side veth of each local pod, found from the bridge's ports: a veth port names its
   * peer's namespace (`link_netnsid`, resolved to a name by `ip netns list-id`, so the pod's
   * namespace must be a named one under /run/netns, as the kubelet makes them) and the peer's
   * ifindex (`link_index`); the pod's address is read from that interface inside the pod's
   * namespace. Results are cached per (port, peer), so a resync only asks about new ports.
   */
  async discoverPodPorts(): Promise<PodPort[]> {
    const ports = (await this.links(["master", this.opts.bridge])).filter(
      (l) => l.ifname !== this.vxlan && l.link_netnsid !== undefined && l.link_index !== undefined,
    );
    const ids = await this.cmd("ip", ["-j", "netns", "list-id"], true);
    const nsName = new Map<number, string>();
    if (ids.trim())
      for (const e of JSON.parse(ids) as { nsid?: number; name?: string }[])
        if (e.nsid !== undefined && e.name) nsName.set(e.nsid, e.name);
    const result: PodPort[] = [];
    const live = new Set<string>();
    for (const p of ports) {
      const peerNs = nsName.get(p.link_netnsid!);
      if (!peerNs || !p.ifname) continue;
      const key = `${p.ifindex}/${p.ifname}/${peerNs}/${p.link_index}`;
      live.add(key);
      // An address not there yet (CNI is still configuring the pod) is asked again next time.
      const ip = this.peerCache.get(key) ?? (await this.peerAddress(peerNs, p.link_index!));
      if (ip) this.peerCache.set(key, ip);
      if (ip) result.push({ ip, ifname: p.ifname });
    }
    for (const k of this.peerCache.keys()) if (!live.has(k)) this.peerCache.delete(k);
    return result;
  }

  private async peerAddress(netns: string, ifindex: number): Promise<string | undefined> {
    const r = await run(this.opts.netns, "ip", ["-n", netns, "-j", "-4", "addr", "show"]);
    if (r.code !== 0 || !r.stdout.trim()) return undefined;
    const link = (JSON.parse(r.stdout) as IpLink[]).find((l) => l.ifindex === ifindex);
    return link?.addr_info?.find((a) => a.family === "inet" && a.scope === "global")?.local;
  }
}
