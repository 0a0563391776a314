// The lab's macvlan equivalent and the router container's commands, as a thin adapter over `ip`,
// `nft` and `arping`. The kernel here has no macvlan, so the node's interface on the egress
// network becomes a bridge: the first router pod on a node renames the interface to `<if>-port`,
// creates a bridge with the interface's old name and MAC, moves the addresses and routes onto it
// and enslaves the port. Every router pod then gets a veth pair whose pod end (`macvlan0`, its own
// MAC) is a port of that bridge: EGRESS_SOURCE answers ARP on the physical segment from the pod,
// never from the node. Decisions live in router.ts; this file must not decide anything.
import { createHash } from "node:crypto";
import { run } from "../exec.js";
import {
  combineDad,
  DAD_ARGS,
  DAD_PROBES,
  DAD_STAGGER_MS,
  type DadResult,
  EGRESS_IFNAME,
  type NodeInterface,
  type PortView,
  parseDad,
  probePathProblem,
  type RouterSteps,
} from "./router.js";

interface IpLink {
  ifname: string;
  operstate?: string;
  flags?: string[];
  address?: string;
  mtu?: number;
  master?: string;
  linkinfo?: { info_kind?: string; info_slave_kind?: string; info_slave_data?: { state?: string } };
  addr_info?: { family: string; local: string; prefixlen: number; scope?: string; label?: string }[];
}

interface IpRoute {
  dst: string;
  gateway?: string;
  protocol?: string;
  scope?: string;
  metric?: number;
  table?: string;
  prefsrc?: string;
}

/** The node-side veth name of a pod's egress interface (stable per pod namespace). */
export function hostVethName(podNetns: string): string {
  return `mv${createHash("sha256").update(podNetns).digest("hex").slice(0, 10)}`;
}

/** The name the original interface gets once a bridge takes its place. */
export function underlayPortName(ifname: string): string {
  return `${ifname.slice(0, 10)}-port`;
}

/** IPv4 networks of the node's interfaces (bridge ports and our veths have none). */
export async function nodeInterfaces(skip: ReadonlySet<string>): Promise<NodeInterface[]> {
  const links = JSON.parse((await run("ip", ["-json", "addr", "show"])).stdout) as IpLink[];
  return links
    .filter((l) => l.ifname !== "lo" && !skip.has(l.ifname))
    .map((l) => ({
      ifname: l.ifname,
      cidrs: (l.addr_info ?? [])
        .filter((a) => a.family === "inet" && (a.scope ?? "global") === "global")
        .map((a) => `${a.local}/${a.prefixlen}`),
    }))
    .filter((i) => i.cidrs.length > 0);
}

/**
 * Makes `ifname` a bridge that keeps the interface's name, MAC, addresses (with their labels) and
 * routes; idempotent. One `ip -batch` so the node's address is gone for microseconds only.
 */
export async function ensureUnderlayBridge(ifname: string): Promise<void> {
  // The kubelet sets up several pods at once. Unserialized, two first router pods on a node both
  // saw a plain interface and both ran the takeover; the second failed ("File exists") and its
  // restore deleted the bridge the first pod's veth had just joined, leaving that pod on an
  // isolated interface whose duplicate-address probe heard no one (issue 5's known bug).
  const prev = takeovers.get(ifname) ?? Promise.resolve();
  const mine = prev.catch(() => {}).then(() => takeOver(ifname));
  takeovers.set(ifname, mine);
  try {
    await mine;
  } finally {
    if (takeovers.get(ifname) === mine) takeovers.delete(ifname);
  }
}

/** Takeovers in flight per interface (one agent process per node). */
const takeovers = new Map<string, Promise<void>>();

async function takeOver(ifname: string): Promise<void> {
  const [link] = JSON.parse(
    (await run("ip", ["-json", "-details", "addr", "show", "dev", ifname])).stdout,
  ) as IpLink[];
  if (!link) throw new Error(`interface ${ifname} not found`);
  const port = underlayPortName(ifname);
  if (link.linkinfo?.info_kind === "bridge") {
    // Made earlier (or by a pod set up just before this one): its port may still be coming up.
    await waitForForwarding(port);
    return;
  }
  const routes = JSON.parse(
    (await run("ip", ["-json", "route", "show", "table", "all", "dev", ifname])).stdout,
  ) as IpRoute[];
  const addrs = (link.addr_info ?? []).filter((a) => (a.scope ?? "global") === "global");
  const lines = [
    `link set dev ${ifname} down`,
    `link set dev ${ifname} name ${port}`,
    `link add name ${ifname} address ${link.address} mtu ${link.mtu ?? 1500} type bridge forward_delay 0 stp_state 0`,
    `address flush dev ${port}`,
    `link set dev ${port} master ${ifname}`,
    `link set dev ${port} up`,
    ...addrs.map(
      (a) =>
        `address add ${a.local}/${a.prefixlen} dev ${ifname}${a.label && a.label !== ifname ? ` label ${a.label}` : ""}`,
    ),
    `link set dev ${ifname} up`,
    // Connected routes come back with the addresses; everything else (default, static, the
    // dataplane's protocol-201 routes) is re-added on the bridge.
    ...routes
      .filter((r) => r.protocol !== "kernel" && r.table !== "local" && !r.dst.startsWith("fe80"))
      .map((r) =>
        [
          "route replace",
          r.dst,
          r.gateway ? `via ${r.gateway}` : "",
          `dev ${ifname}`,
          r.table && r.table !== "main" ? `table ${r.table}` : "",
          r.protocol ? `proto ${r.protocol}` : "",
          r.metric !== undefined ? `metric ${r.metric}` : "",
          r.scope && r.scope !== "global" && r.scope !== "universe" ? `scope ${r.scope}` : "",
          r.prefsrc ? `src ${r.prefsrc}` : "",
        ]
          .filter(Boolean)
          .join(" "),
      ),
  ];
  const r = await run("ip", ["-batch", "-"], { input: `${lines.join("\n")}\n`, allowFailure: true });
  if (r.code !== 0) {
    await restoreUnderlay(ifname, port, link, routes);
    throw new Error(`taking over ${ifname} for router pods failed: ${r.stderr.trim()}`);
  }
  // The renamed port was set down and up: until linkwatch has its carrier back and the bridge has
  // made it a forwarding port, nothing crosses the new bridge (a probe sent now would hear no one).
  await waitForForwarding(port);
}

/** Reads an interface's bridge-port view (undefined when it does not exist). */
async function portView(netns: string | undefined, ifname: string): Promise<PortView | undefined> {
  const where = netns === undefined ? [] : ["-n", netns];
  const r = await run("ip", [...where, "-json", "-details", "link", "show", "dev", ifname], {
    allowFailure: true,
  });
  if (r.code !== 0) return undefined;
  const [l] = JSON.parse(r.stdout) as IpLink[];
  if (!l) return undefined;
  return {
    ...(l.master !== undefined ? { master: l.master } : {}),
    ...(l.linkinfo?.info_slave_kind === "bridge" && l.linkinfo.info_slave_data?.state !== undefined
      ? { state: l.linkinfo.info_slave_data.state }
      : {}),
    ...(l.operstate !== undefined ? { operstate: l.operstate } : {}),
  };
}

/** Waits (up to 3 s) until the node's `port` is a forwarding bridge port; throws otherwise. */
async function waitForForwarding(port: string): Promise<void> {
  let v: PortView | undefined;
  for (const end = Date.now() + 3000; Date.now() < end; await sleep(20)) {
    v = await portView(undefined, port);
    if (v?.state === "forwarding" && v.operstate === "UP") return;
  }
  throw new Error(
    `underlay port ${port} is not forwarding (${v?.state ?? "no port"}, ${v?.operstate ?? "?"})`,
  );
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

/** Best-effort undo of a half-done takeover: the node must keep its address whatever happened. */
async function restoreUnderlay(ifname: string, port: string, link: IpLink, routes: IpRoute[]): Promise<void> {
  const ok = async (args: string[]) => run("ip", args, { allowFailure: true });
  const portExists = (await ok(["link", "show", "dev", port])).code === 0;
  if (!portExists) return;
  const br = await ok(["-json", "-details", "link", "show", "dev", ifname]);
  if (br.code === 0 && (JSON.parse(br.stdout) as IpLink[])[0]?.linkinfo?.info_kind === "bridge")
    await ok(["link", "del", "dev", ifname]);
  await ok(["link", "set", "dev", port, "down"]);
  await ok(["link", "set", "dev", port, "name", ifname]);
  await ok(["link", "set", "dev", ifname, "up"]);
  for (const a of link.addr_info ?? [])
    if ((a.scope ?? "global") === "global")
      await ok(["address", "replace", `${a.local}/${a.prefixlen}`, "dev", ifname]);
  for (const r of routes)
    if (r.protocol !== "kernel" && r.table !== "local")
      await ok(["route", "replace", r.dst, ...(r.gateway ? ["via", r.gateway] : []), "dev", ifname]);
}

/** Plugs the pod in: a veth pair, `macvlan0` inside the pod, the node end a port of `bridge`. */
export async function attachEgress(podNetns: string, bridge: string): Promise<string> {
  const host = hostVethName(podNetns);
  const inPod = await run("ip", ["-n", podNetns, "link", "show", "dev", EGRESS_IFNAME], {
    allowFailure: true,
  });
  if (inPod.code !== 0) {
    await run("ip", ["link", "del", "dev", host], { allowFailure: true });
    await run("ip", ["link", "add", host, "type", "veth", "peer", "name", EGRESS_IFNAME, "netns", podNetns]);
  }
  await run("ip", ["link", "set", "dev", host, "master", bridge, "up"]);
  return host;
}

/** Unplugs the pod synchronously (a namespace's devices are destroyed asynchronously, and the old
 *  router must stop answering ARP before anyone else may take the address). */
export async function detachEgress(hostVeth: string): Promise<void> {
  await run("ip", ["link", "del", "dev", hostVeth], { allowFailure: true });
}

/** Does the pod already hold `address` on its egress interface (an adopted, configured pod)? */
export async function holdsAddress(podNetns: string, address: string): Promise<boolean> {
  const r = await run("ip", ["-n", podNetns, "-json", "addr", "show", "dev", EGRESS_IFNAME], {
    allowFailure: true,
  });
  if (r.code !== 0) return false;
  const links = JSON.parse(r.stdout) as IpLink[];
  return links.some((l) => (l.addr_info ?? []).some((a) => a.local === address));
}

/**
 * Duplicate address detection from the pod's egress interface: returns the MAC of whoever answers
 * for `address` (or announces it), or undefined when nobody does within ~1.7 s. "Nobody" is only
 * believed when the path was complete before and after the probes: the pod's veth a forwarding
 * port of the underlay bridge, whose own port forwards too. Otherwise this throws and the kubelet
 * tries again, because a probe that cannot reach the segment hears no one even when the address is
 * taken.
 */
export async function probeAddress(podNetns: string, address: string): Promise<string | undefined> {
  await run("ip", ["-n", podNetns, "link", "set", "dev", EGRESS_IFNAME, "up"]);
  const host = hostVethName(podNetns);
  await waitForPath(podNetns, host);
  const verdict = await staggeredDad(["ip", "netns", "exec", podNetns, "arping"], EGRESS_IFNAME, address);
  if (verdict.kind === "held") return verdict.mac;
  if (verdict.kind === "error") throw new Error(`arping -D ${address} failed (${verdict.message})`);
  const problem = await pathProblem(podNetns, host);
  if (problem !== undefined)
    throw new Error(`duplicate-address probe for ${address} not trusted: ${problem} after probing`);
  return undefined;
}

/** DAD_PROBES `arping -D` runs, DAD_STAGGER_MS apart, combined. */
async function staggeredDad(argv0: readonly string[], ifname: string, address: string): Promise<DadResult> {
  const runs: Promise<DadResult>[] = [];
  let heard = false;
  for (let i = 0; i < DAD_PROBES && !heard; i++) {
    if (i > 0) await sleep(DAD_STAGGER_MS);
    if (heard) break; // a holder answered: no need for more probes
    const [cmd, ...rest] = argv0;
    runs.push(
      run(cmd!, [...rest, ...DAD_ARGS, "-I", ifname, address], { allowFailure: true }).then((r) => {
        const d = parseDad(r.code, r.stdout, r.stderr);
        if (d.kind === "held") heard = true;
        return d;
      }),
    );
  }
  return combineDad(await Promise.all(runs));
}

async function pathProblem(podNetns: string, host: string): Promise<string | undefined> {
  const podEnd = await portView(podNetns, EGRESS_IFNAME);
  const hostEnd = await portView(undefined, host);
  const underlay = hostEnd?.master ? await portView(undefined, underlayPortName(hostEnd.master)) : undefined;
  return probePathProblem(podEnd, hostEnd, underlay);
}

/**
 * Waits (up to 3 s) until a probe from the pod can reach the segment. The kernel turns a veth's
 * carrier on through linkwatch, which may run well after `ip link set up` on a busy machine, and
 * the bridge enables a port only then, one end after the other: the pod end may look up while the
 * node end still drops what it forwards.
 */
async function waitForPath(podNetns: string, host: string): Promise<void> {
  let problem: string | undefined;
  for (const end = Date.now() + 3000; Date.now() < end; await sleep(20)) {
    problem = await pathProblem(podNetns, host);
    if (problem === undefined) return;
  }
  throw new Error(`egress interface not ready for the duplicate-address probe: ${problem}`);
}

/** Runs the router container's steps in the pod namespace (after the duplicate probe). */
export async function applyRouterSteps(podNetns: string, steps: RouterSteps): Promise<void> {
  for (const [k, v] of Object.entries(steps.sysctls))
    await run("ip", ["netns", "exec", podNetns, "sysctl", "-q", "-w", `${k}=${v}`]);
  if (steps.ip.length > 0)
    await run("ip", ["-n", podNetns, "-batch", "-"], {
      input: `${steps.ip.map((a) => a.join(" ")).join("\n")}\n`,
    });
  if (steps.nft !== null)
    await run("ip", ["netns", "exec", podNetns, "nft", "-f", "-"], { input: steps.nft });
  if (steps.announce !== null) {
    // Repeated (1 s apart) so a neighbour that missed one still moves to the new MAC after a
    // failover; not awaited, the first announcement goes out at once.
    const argv = steps.announce.map((a, i, all) => (all[i - 1] === "-c" ? "3" : a));
    void run("ip", ["netns", "exec", podNetns, ...argv], { allowFailure: true }).catch(() => {});
  }
}

/** Whether each of the node's interfaces is administratively up (the fence reads its veths). */
export async function linksUp(): Promise<Map<string, boolean>> {
  const links = JSON.parse((await run("ip", ["-json", "link", "show"])).stdout) as (IpLink & {
    flags?: string[];
  })[];
  return new Map(links.map((l) => [l.ifname, (l.flags ?? []).includes("UP")]));
}

/** Fences a router pod: its egress veth goes down, so the pod's `macvlan0` loses carrier and stops
 *  answering ARP at once; addresses, routes and rules stay for a later unfence. */
export async function fenceEgress(hostVeth: string): Promise<void> {
  await run("ip", ["link", "set", "dev", hostVeth, "down"], { allowFailure: true });
}

/** The IPv4 addresses on a pod's egress interface (its EGRESS_SOURCE once set up). Throws when
 *  they cannot be read (the pod being torn down, a failing `ip`): "none" must mean none. */
export async function egressAddresses(podNetns: string): Promise<string[]> {
  const r = await run("ip", ["-n", podNetns, "-json", "addr", "show", "dev", EGRESS_IFNAME]);
  return (JSON.parse(r.stdout) as IpLink[]).flatMap((l) =>
    (l.addr_info ?? []).filter((a) => a.family === "inet").map((a) => a.local),
  );
}

/**
 * Duplicate address detection on the bridge a fenced pod's veth belongs to (the pod itself has no
 * carrier while fenced): the MAC of whoever answers for `address`, or undefined when nobody does
 * within ~1.7 s. Trusted only while the bridge's underlay port forwards.
 */
export async function probeFromBridge(hostVeth: string, address: string): Promise<string | undefined> {
  const [link] = JSON.parse((await run("ip", ["-json", "link", "show", "dev", hostVeth])).stdout) as IpLink[];
  if (!link?.master) throw new Error(`${hostVeth} is not a bridge port`);
  await waitForForwarding(underlayPortName(link.master));
  const verdict = await staggeredDad(["arping"], link.master, address);
  if (verdict.kind === "held") return verdict.mac;
  if (verdict.kind === "error")
    throw new Error(`arping -D ${address} on ${link.master} failed (${verdict.message})`);
  await waitForForwarding(underlayPortName(link.master));
  return undefined;
}

/** Unfences: the veth comes up and the pod announces its addresses (gratuitous ARP, 3 × 1 s apart,
 *  not awaited) so neighbours that learnt another MAC meanwhile move back. */
export async function unfenceEgress(
  podNetns: string,
  hostVeth: string,
  addresses: readonly string[],
): Promise<void> {
  await run("ip", ["link", "set", "dev", hostVeth, "up"]);
  for (const a of addresses)
    void run("ip", ["netns", "exec", podNetns, "arping", "-q", "-A", "-c", "3", "-I", EGRESS_IFNAME, a], {
      allowFailure: true,
    }).catch(() => {});
}
