// The lab's macvlan equivalent and the router container's commands, as a thin adapter over `ip`,
// `nft` and `arping`. The kernel here has no macvlan, so the node's interface on the egress
// network becomes a bridge: the first router pod on a node renames the interface to `<if>-port`,
// creates a bridge with the interface's old name and MAC, moves the addresses and routes onto it
// and enslaves the port. Every router pod then gets a veth pair whose pod end (`macvlan0`, its own
// MAC) is a port of that bridge: EGRESS_SOURCE answers ARP on the physical segment from the pod,
// never from the node. Decisions live in router.ts; this file must not decide anything.
import { createHash } from "node:crypto";
import { run } from "../exec.js";
import { EGRESS_IFNAME, type NodeInterface, type RouterSteps } from "./router.js";

interface IpLink {
  ifname: string;
  operstate?: string;
  flags?: string[];
  address?: string;
  mtu?: number;
  master?: string;
  linkinfo?: { info_kind?: string };
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
  const [link] = JSON.parse(
    (await run("ip", ["-json", "-details", "addr", "show", "dev", ifname])).stdout,
  ) as IpLink[];
  if (!link) throw new Error(`interface ${ifname} not found`);
  if (link.linkinfo?.info_kind === "bridge") return;
  const port = underlayPortName(ifname);
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
  // The renamed port was set down and up: until its carrier is back, nothing crosses the new bridge
  // (a duplicate-address probe sent now would hear no one).
  await waitForCarrier(undefined, port);
}

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
 * Duplicate address detection from the pod's egress interface (RFC 5227 probes, `arping -D`):
 * returns the MAC of whoever answers for `address`, or undefined when nobody does within ~1 s.
 */
export async function probeAddress(podNetns: string, address: string): Promise<string | undefined> {
  await run("ip", ["-n", podNetns, "link", "set", "dev", EGRESS_IFNAME, "up"]);
  await waitForCarrier(podNetns, EGRESS_IFNAME);
  const r = await run(
    "ip",
    ["netns", "exec", podNetns, "arping", "-D", "-c", "2", "-w", "1", "-I", EGRESS_IFNAME, address],
    { allowFailure: true },
  );
  if (r.code === 0) return undefined;
  const mac = /reply from \S+ \[([0-9A-Fa-f:]{17})\]/.exec(r.stdout)?.[1];
  if (mac) return mac.toLowerCase();
  throw new Error(`arping -D ${address} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
}

/**
 * Waits (up to 2 s) until `ifname` (in `netns`, else the agent's own) has its carrier (LOWER_UP). The kernel turns a link's
 * carrier on through linkwatch, which may run up to a second after `ip link set up`; until then
 * the device drops what it sends, so duplicate-address probes sent at once would go nowhere, nobody
 * would answer, and the address would look free while another router holds it.
 */
async function waitForCarrier(netns: string | undefined, ifname: string): Promise<void> {
  const where = netns === undefined ? [] : ["-n", netns];
  for (const end = Date.now() + 2000; Date.now() < end; ) {
    const r = await run("ip", [...where, "-json", "link", "show", "dev", ifname], { allowFailure: true });
    const link = r.code === 0 ? (JSON.parse(r.stdout) as IpLink[])[0] : undefined;
    if (link?.flags?.includes("LOWER_UP") && link.operstate !== "DOWN") return;
    await new Promise((res) => setTimeout(res, 20));
  }
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
 * within ~1 s.
 */
export async function probeFromBridge(hostVeth: string, address: string): Promise<string | undefined> {
  const [link] = JSON.parse((await run("ip", ["-json", "link", "show", "dev", hostVeth])).stdout) as IpLink[];
  if (!link?.master) throw new Error(`${hostVeth} is not a bridge port`);
  const r = await run("arping", ["-D", "-c", "2", "-w", "1", "-I", link.master, address], {
    allowFailure: true,
  });
  if (r.code === 0) return undefined;
  const mac = /reply from \S+ \[([0-9A-Fa-f:]{17})\]/.exec(r.stdout)?.[1];
  if (mac) return mac.toLowerCase();
  throw new Error(
    `arping -D ${address} on ${link.master} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`,
  );
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
