// `egress lab status`: what the lab is made of and where to reach it — nodes, pods (from the API),
// external hosts with their echo ports, the DNS server, the secondary networks and their hosts (DHCP
// lease files), API URLs and kubeconfigs — as JSON for scripts or as text. Reads the state file,
// /proc and the API; changes nothing.
import * as k8s from "@kubernetes/client-node";
import { isRecord } from "../api/object.js";
import { controlPlaneNetns, fabricNetns, hostNetns, podNetnsName, secondaryBridgeName } from "./names.js";
import { type DhcpServer, dhcpLeaseFile } from "./secondary.js";
import { type LabState, readState } from "./state.js";
import { isOurProcess } from "./sys.js";
import { DEFAULT_NETWORK_MODE, type EchoPorts, type Interface } from "./topology.js";

export interface AddressInfo {
  interface: string;
  network: string;
  address: string;
}

export interface LabStatus {
  id: string;
  phase: LabState["phase"] | "absent";
  stateDir: string;
  topology: string;
  /** The cluster network mode the lab's control plane runs with. */
  networkMode?: string;
  api?: {
    url: string;
    internalUrl: string;
    kubeconfig: string;
    internalKubeconfig: string;
    reachable: boolean;
    error?: string;
  };
  controlPlane?: { netns: string; address: string };
  nodes: {
    name: string;
    netns: string;
    addresses: AddressInfo[];
    labels: Record<string, string>;
    ready: boolean | null;
    agent: { pid: number | null; running: boolean } | null;
  }[];
  pods: { namespace: string; name: string; node: string; ip: string; phase: string; netns: string }[];
  externals: {
    name: string;
    netns: string;
    addresses: AddressInfo[];
    echo: (EchoPorts & { running: boolean }) | null;
    dns: boolean;
  }[];
  dns: { host: string; server: string; port: number; hostsFile: string; running: boolean } | null;
  /** Secondary networks (seed 003's attachments): the bridge pods are plugged into on each node,
   *  the fabric bridge joining them, and the hosts on the segment. */
  secondaryNetworks: {
    name: string;
    /** Bridge name inside each node's namespace (what the attachments' `"bridge"` names). */
    bridge: string;
    /** The segment's bridge in the fabric namespace. */
    fabricBridge: string;
    fabricNetns: string;
    nodes: string[];
    hosts: {
      name: string;
      netns: string;
      address: string;
      echo: (EchoPorts & { running: boolean }) | null;
      dhcp: (DhcpServer & { leaseFile: string; running: boolean }) | null;
    }[];
  }[];
  processes: { name: string; netns: string; pid: number | null; running: boolean; log: string }[];
  notes: string[];
}

const addrs = (ifs: Interface[]): AddressInfo[] =>
  ifs.flatMap((i) => i.addresses.map((a) => ({ interface: i.name, network: i.network, address: a })));

export async function labStatus(id: string, stateDir: string): Promise<LabStatus> {
  const state = readState(stateDir);
  if (!state)
    return {
      id,
      phase: "absent",
      stateDir,
      topology: "",
      nodes: [],
      pods: [],
      externals: [],
      dns: null,
      secondaryNetworks: [],
      processes: [],
      notes: [],
    };
  const topo = state.topology;
  const running = (name: string) => {
    const p = state.processes.find((x) => x.name === name);
    return p && p.pid !== null ? isOurProcess(p.pid, p.argv, p.netns) : false;
  };
  const out: LabStatus = {
    id: state.id,
    phase: state.phase,
    stateDir,
    topology: state.topologySource,
    // State files written before the field existed ran the default mode.
    networkMode: topo.networkMode ?? DEFAULT_NETWORK_MODE,
    controlPlane: { netns: controlPlaneNetns(state.id), address: topo.controlPlane.address },
    nodes: [],
    pods: [],
    externals: topo.externals.map((x) => ({
      name: x.name,
      netns: hostNetns(state.id, x.name),
      addresses: addrs(x.interfaces),
      echo: x.echo ? { ...x.echo, running: running(`echo/${x.name}`) } : null,
      dns: topo.dns?.server === x.name,
    })),
    dns: null,
    secondaryNetworks: (topo.secondaryNetworks ?? []).map((n) => ({
      name: n.name,
      bridge: n.bridge,
      fabricBridge: secondaryBridgeName(n.name),
      fabricNetns: fabricNetns(state.id),
      nodes: n.nodes,
      hosts: n.hosts.map((h) => ({
        name: h.name,
        netns: hostNetns(state.id, h.name),
        address: h.address,
        echo: h.echo ? { ...h.echo, running: running(`echo/${h.name}`) } : null,
        dhcp: h.dhcp
          ? { ...h.dhcp, leaseFile: dhcpLeaseFile(stateDir, h.name), running: running(`dhcp/${h.name}`) }
          : null,
      })),
    })),
    processes: state.processes.map((p) => ({
      name: p.name,
      netns: p.netns,
      pid: p.pid,
      running: p.pid !== null && isOurProcess(p.pid, p.argv, p.netns),
      log: p.log,
    })),
    notes: state.notes,
  };
  if (topo.dns) {
    const host = topo.externals.find((x) => x.name === topo.dns?.server);
    out.dns = {
      host: topo.dns.server,
      server: host?.interfaces[0]?.addresses[0]?.split("/")[0] ?? "",
      port: 53,
      hostsFile: `${stateDir}/dns/hosts`,
      running: running(`dns/${topo.dns.server}`),
    };
  }

  const ready = new Map<string, boolean>();
  if (state.api) {
    out.api = { ...state.api, reachable: false };
    delete (out.api as { dataDir?: string }).dataDir;
    try {
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(state.api.kubeconfig);
      const core = kc.makeApiClient(k8s.CoreV1Api);
      const nodes = await withTimeout(core.listNode(), 5000);
      for (const n of nodes.items) {
        const cond = n.status?.conditions?.find((c) => c.type === "Ready");
        ready.set(n.metadata?.name ?? "", cond?.status === "True");
      }
      const pods = await withTimeout(core.listPodForAllNamespaces(), 5000);
      for (const p of pods.items) {
        const ns = p.metadata?.namespace ?? "";
        const name = p.metadata?.name ?? "";
        out.pods.push({
          namespace: ns,
          name,
          node: p.spec?.nodeName ?? "",
          ip: p.status?.podIP ?? "",
          phase: p.status?.phase ?? "",
          netns: podNetnsName(state.id, ns, name),
        });
      }
      out.api.reachable = true;
    } catch (e) {
      out.api.error = e instanceof Error ? e.message : isRecord(e) ? JSON.stringify(e) : String(e);
    }
  }
  out.nodes = topo.nodes.map((n) => {
    const agent = state.processes.find((p) => p.name === `agent/${n.name}`);
    return {
      name: n.name,
      netns: hostNetns(state.id, n.name),
      addresses: addrs(n.interfaces),
      labels: n.labels,
      ready: ready.has(n.name) ? ready.get(n.name)! : null,
      agent: agent ? { pid: agent.pid, running: running(agent.name) } : null,
    };
  });
  return out;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export function renderStatus(s: LabStatus): string {
  if (s.phase === "absent") return `lab ${s.id}: not found (no state in ${s.stateDir})\n`;
  const L: string[] = [];
  L.push(
    `lab ${s.id}: ${s.phase}   network mode: ${s.networkMode ?? "-"}   state: ${s.stateDir}   topology: ${s.topology}`,
  );
  if (s.api) {
    L.push(
      `API server: ${s.api.url} (root namespace), ${s.api.internalUrl} (inside the lab)${s.api.reachable ? "" : `  UNREACHABLE: ${s.api.error ?? ""}`}`,
    );
    L.push(`kubeconfig: ${s.api.kubeconfig}`);
    L.push(`  export KUBECONFIG=${s.api.kubeconfig}`);
  }
  L.push("", "NODES");
  for (const n of s.nodes)
    L.push(
      `  ${n.name.padEnd(10)} ${n.addresses
        .map((a) => `${a.interface}=${a.address}`)
        .join(" ")
        .padEnd(
          44,
        )} ready=${n.ready ?? "-"} agent=${n.agent ? (n.agent.running ? `pid ${n.agent.pid}` : "down") : "-"}   netns ${n.netns}`,
    );
  L.push("", "PODS");
  if (s.pods.length === 0) L.push("  (none)");
  for (const p of s.pods)
    L.push(
      `  ${`${p.namespace}/${p.name}`.padEnd(28)} ${(p.node || "-").padEnd(10)} ${(p.ip || "-").padEnd(16)} ${p.phase || "-"}`,
    );
  L.push("", "EXTERNAL HOSTS");
  for (const x of s.externals) {
    const echo = x.echo
      ? ` echo tcp ${x.echo.tcp.join(",") || "-"} udp ${x.echo.udp.join(",") || "-"} http ${x.echo.http.join(",") || "-"}${x.echo.running ? "" : " (DOWN)"}`
      : "";
    L.push(
      `  ${x.name.padEnd(10)} ${x.addresses.map((a) => a.address).join(" ")}${echo}${x.dns ? " dns:53" : ""}   netns ${x.netns}`,
    );
  }
  if (s.dns)
    L.push(
      "",
      `DNS: ${s.dns.server}:53 on ${s.dns.host} (hosts file ${s.dns.hostsFile})${s.dns.running ? "" : " DOWN"}`,
    );
  if (s.secondaryNetworks.length > 0) {
    L.push("", "SECONDARY NETWORKS (node bridge / fabric bridge: hosts)");
    for (const n of s.secondaryNetworks) {
      const hosts = n.hosts.map((h) => {
        const echo = h.echo ? ` echo${h.echo.running ? "" : " (DOWN)"}` : "";
        const dhcp = h.dhcp
          ? ` dhcp ${h.dhcp.rangeStart}-${h.dhcp.rangeEnd} lease ${h.dhcp.leaseSeconds}s renew ${h.dhcp.renewSeconds}s${h.dhcp.running ? "" : " (DOWN)"}`
          : "";
        return `${h.name} ${h.address}${echo}${dhcp}`;
      });
      L.push(`  ${n.name.padEnd(16)} ${n.bridge}/${n.fabricBridge}: ${hosts.join("; ") || "-"}`);
    }
  }
  const down = s.processes.filter((p) => !p.running);
  if (down.length > 0)
    L.push("", `processes not running: ${down.map((p) => `${p.name} (log ${p.log})`).join(", ")}`);
  for (const n of s.notes) L.push(`note: ${n}`);
  return `${L.join("\n")}\n`;
}
