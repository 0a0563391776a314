// `egress lab up`: builds the lab from a topology — namespaces, bridges, veths, addresses, routes,
// sysctls (inside lab namespaces only), the secondary networks' segments, the echo, DNS and DHCP
// servers, `egress server` in the control-plane namespace with an inherited loopback listener for
// the root namespace, the nodes' CNI bin dir (reference plugins + the lab's whereabouts shim), the
// agents — and, with --example seed, applies the seed manifests (000, 003) and a few pods. Each
// resource is recorded in the state file before it is made; on failure everything made so far is
// removed again. Files are written only inside the state dir.
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { request as httpsRequest } from "node:https";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { formatFieldError } from "../api/errors.js";
import { applyManifests, parseManifests } from "../cli/apply.js";
import { labDown } from "./down.js";
import { checkLabId, controlPlaneNetns, hostNetns, LAB_ID_ENV, podNetnsPrefix } from "./names.js";
import { CLI_MAIN, DEFAULT_TOPOLOGY, ECHO_SERVER, EXAMPLES_DIR, WHEREABOUTS_PLUGIN } from "./paths.js";
import { buildSteps, dnsmasqArgv, echoArgs, renderHostsFile, stepCommand } from "./plan.js";
import { dhcpLeaseFile, dhcpServerArgv, whereaboutsFlatFile, whereaboutsShim } from "./secondary.js";
import { type LabState, type ProcessRecord, readState, STATE_VERSION, writeState } from "./state.js";
import { LabCommandError, listNetns, processArgv, runOk, sleep } from "./sys.js";
import {
  DEFAULT_NETWORK_MODE,
  isNetworkMode,
  type NetworkMode,
  networkModeError,
  parseTopology,
  type Topology,
} from "./topology.js";

export class LabError extends Error {
  override name = "LabError";
}

export interface UpOptions {
  id: string;
  stateDir: string;
  topologyFile?: string;
  example?: string;
  /** Root-namespace loopback port for the API (0 = any free port). */
  apiPort?: number;
  /** Leave whatever was made when a step fails (for debugging). */
  keepOnFailure?: boolean;
  /** Skip the agents even when `egress agent` exists. */
  noAgents?: boolean;
  /** Overrides the topology's networkMode (`--network-mode`). */
  networkMode?: string;
  dnsmasq?: string;
  log?: (line: string) => void;
}

export const DNSMASQ = "/usr/sbin/dnsmasq";
/** The reference CNI plugins (Debian containernetworking-plugins). */
export const CNI_BIN_DIR = "/usr/lib/cni";

export async function labUp(o: UpOptions): Promise<LabState> {
  const id = checkLabId(o.id);
  const log = o.log ?? (() => undefined);
  const topologySource = o.topologyFile ?? DEFAULT_TOPOLOGY;
  const topology = parseTopology(readFileSync(topologySource, "utf8"), topologySource);
  if (o.networkMode !== undefined) topology.networkMode = checkNetworkMode(o.networkMode);

  const existing = readState(o.stateDir);
  if (existing)
    throw new LabError(
      `lab ${JSON.stringify(id)} already has a state file in ${o.stateDir} (phase ${existing.phase}); run \`egress lab down --id ${id}\` first`,
    );
  const steps = buildSteps(id, topology);
  const taken = new Set(listNetns());
  const clash = steps
    .flatMap((s) => (s.kind === "netns" ? s.namespaces.map((n) => n.name) : []))
    .filter((n) => taken.has(n));
  if (clash.length > 0)
    throw new LabError(
      `network namespaces already exist: ${clash.join(", ")} (another lab with id ${JSON.stringify(id)}?)`,
    );

  mkdirSync(join(o.stateDir, "logs"), { recursive: true, mode: 0o700 });
  const state: LabState = {
    version: STATE_VERSION,
    id,
    phase: "creating",
    createdAt: new Date().toISOString(),
    stateDir: o.stateDir,
    topologySource,
    topology,
    namespaces: [],
    processes: [],
    files: [],
    notes: [],
  };
  writeState(state);
  try {
    await build(state, topology, steps, o, log);
    log("lab is up");
    state.phase = "up";
    writeState(state);
    return state;
  } catch (e) {
    if (!o.keepOnFailure) {
      log(`lab up failed; removing what was made: ${e instanceof Error ? e.message : String(e)}`);
      await labDown({ id, stateDir: o.stateDir, keepDir: true, log });
    }
    throw e;
  }
}

async function build(
  state: LabState,
  topo: Topology,
  steps: ReturnType<typeof buildSteps>,
  o: UpOptions,
  log: (line: string) => void,
): Promise<void> {
  const id = state.id;
  const t0 = Date.now();
  for (const s of steps) {
    if (s.kind === "netns") {
      state.namespaces.push(...s.namespaces);
      writeState(state);
    }
    const { argv, input } = stepCommand(s);
    runOk(argv, input);
  }
  log(`underlay ready: ${state.namespaces.length} namespaces in ${Date.now() - t0} ms`);

  // External services: echo servers and the lab DNS.
  for (const x of topo.externals) {
    if (!x.echo) continue;
    await startProcess(state, `echo/${x.name}`, hostNetns(id, x.name), [
      process.execPath,
      ECHO_SERVER,
      ...echoArgs(x.echo),
    ]);
  }
  if (topo.dns) {
    const dnsDir = join(state.stateDir, "dns");
    mkdirSync(dnsDir, { recursive: true });
    const hostsFile = join(dnsDir, "hosts");
    writeFileSync(hostsFile, renderHostsFile(topo.dns.records));
    const server = topo.externals.find((x) => x.name === topo.dns?.server)!;
    const listen = server.interfaces.flatMap((i) => i.addresses.map((a) => a.split("/")[0]!));
    const bin = o.dnsmasq ?? DNSMASQ;
    if (!existsSync(bin)) throw new LabError(`dnsmasq not found at ${bin} (Debian package dnsmasq-base)`);
    await startProcess(
      state,
      `dns/${server.name}`,
      hostNetns(id, server.name),
      dnsmasqArgv(bin, hostsFile, listen, topo.dns.ttl),
    );
  }

  // Hosts on secondary networks: echo servers and DHCP servers (dnsmasq, leases in the state dir).
  for (const net of topo.secondaryNetworks ?? [])
    for (const h of net.hosts) {
      if (h.echo)
        await startProcess(state, `echo/${h.name}`, hostNetns(id, h.name), [
          process.execPath,
          ECHO_SERVER,
          ...echoArgs(h.echo),
        ]);
      if (h.dhcp) {
        const bin = o.dnsmasq ?? DNSMASQ;
        if (!existsSync(bin)) throw new LabError(`dnsmasq not found at ${bin} (Debian package dnsmasq-base)`);
        mkdirSync(join(state.stateDir, "dhcp"), { recursive: true });
        await startProcess(
          state,
          `dhcp/${h.name}`,
          hostNetns(id, h.name),
          dhcpServerArgv(bin, { ...h, dhcp: h.dhcp }, dhcpLeaseFile(state.stateDir, h.name)),
        );
      }
    }

  // The control plane: `egress server` inside the control-plane namespace, plus a listener on
  // loopback of the root namespace that the server inherits as fd 3.
  const cpNs = controlPlaneNetns(id);
  const cpAddr = topo.controlPlane.address.split("/")[0]!;
  const dataDir = join(state.stateDir, "apiserver");
  const listener = await listenLoopback(o.apiPort ?? 0);
  const port = (listener.address() as { port: number }).port;
  const fd = (listener as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== "number" || fd < 0)
    throw new LabError("cannot get the file descriptor of the loopback listener");
  try {
    await startProcess(
      state,
      "apiserver",
      cpNs,
      [
        process.execPath,
        CLI_MAIN,
        "server",
        "--data-dir",
        dataDir,
        "--listen",
        `${cpAddr}:${topo.controlPlane.port}`,
        "--advertise-host",
        cpAddr,
        "--tls-san",
        "127.0.0.1",
        "--listen-fd",
        "3",
        "--network-mode",
        topo.networkMode ?? DEFAULT_NETWORK_MODE,
        // The egress-firewall controller resolves dnsName rules with the resolver the pods use.
        ...(labDnsAddress(topo) ? ["--dns-server", labDnsAddress(topo)!] : []),
      ],
      fd,
    );
  } finally {
    listener.close();
  }
  const url = `https://127.0.0.1:${port}`;
  const caFile = join(dataDir, "pki", "ca.crt");
  const apiProc = state.processes.find((p) => p.name === "apiserver")!;
  await waitReady(url, caFile, apiProc, 30_000);
  const token = readFileSync(join(dataDir, "token"), "utf8").trim();
  const kubeconfig = join(state.stateDir, "kubeconfig");
  writeFileSync(kubeconfig, renderKubeconfig(url, readFileSync(caFile, "utf8"), token), { mode: 0o600 });
  state.api = {
    url,
    internalUrl: `https://${cpAddr}:${topo.controlPlane.port}`,
    kubeconfig,
    internalKubeconfig: join(dataDir, "kubeconfig"),
    dataDir,
  };
  writeState(state);
  log(`API server ready at ${url} (inside the lab: ${state.api.internalUrl})`);

  // Agents, one per node, if this build has them.
  if (o.noAgents) {
    state.notes.push("agents not started (--no-agents)");
  } else if (spawnSync(process.execPath, [CLI_MAIN, "agent", "--help"], { encoding: "utf8" }).status !== 0) {
    const note = "agents skipped: this build has no `egress agent` command (nodes and pods stay empty)";
    state.notes.push(note);
    log(note);
  } else {
    // The lab's DNS server doubles as the pods' resolver (names of the seeds' examples).
    const dnsAddress = labDnsAddress(topo);
    const cni = prepareCniBinDir(state.stateDir, state.api.internalKubeconfig);
    for (const n of topo.nodes) {
      const labels = Object.entries(n.labels)
        .map(([k, v]) => (v === "" ? k : `${k}=${v}`))
        .join(",");
      await startProcess(
        state,
        `agent/${n.name}`,
        hostNetns(id, n.name),
        [
          process.execPath,
          CLI_MAIN,
          "agent",
          "--node",
          n.name,
          "--kubeconfig",
          state.api.internalKubeconfig,
          "--netns-prefix",
          podNetnsPrefix(id),
          "--state-dir",
          join(state.stateDir, "agents", n.name),
          "--cni-bin-dir",
          cni.bin,
          ...(labels ? ["--labels", labels] : []),
          ...(dnsAddress ? ["--cluster-dns", dnsAddress] : []),
        ],
        undefined,
        cni.env,
      );
    }
  }
  writeState(state);

  if (o.example !== undefined) await applyExample(state, o.example, log);
}

/**
 * The nodes' CNI bin dir, `<state>/cni/bin`: a link to every reference plugin of /usr/lib/cni and a
 * `whereabouts` shim that runs this build's plugin with the lab's flat file
 * (`<state>/cni/whereabouts.conf`: kubernetes datastore, the agents' kubeconfig) and host-lock dir.
 * This is what a node installer does with /opt/cni/bin and /etc/cni/net.d/whereabouts.d; the lab
 * keeps it in its state dir so nothing outside is written and several labs can coexist.
 */
function prepareCniBinDir(
  stateDir: string,
  kubeconfig: string,
): { bin: string; env: Record<string, string> } {
  const dir = join(stateDir, "cni");
  const bin = join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  mkdirSync(join(dir, "locks"), { recursive: true });
  for (const f of existsSync(CNI_BIN_DIR) ? readdirSync(CNI_BIN_DIR) : [])
    if (f !== "whereabouts") symlinkSync(join(CNI_BIN_DIR, f), join(bin, f));
  const flat = join(dir, "whereabouts.conf");
  writeFileSync(flat, whereaboutsFlatFile(kubeconfig), { mode: 0o600 });
  writeFileSync(
    join(bin, "whereabouts"),
    whereaboutsShim(process.execPath, WHEREABOUTS_PLUGIN, flat, join(dir, "locks")),
  );
  chmodSync(join(bin, "whereabouts"), 0o755);
  // The same settings in the agents' environment, which they pass on to every plugin call — also to
  // the compiled whereabouts shim of the resident IPAM daemon, which comes before this dir.
  return { bin, env: { WHEREABOUTS_FLATFILE: flat, WHEREABOUTS_LOCK_DIR: join(dir, "locks") } };
}

/** `--network-mode` of `lab up`: the same values and error shape as the topology field. */
export function checkNetworkMode(v: string): NetworkMode {
  if (isNetworkMode(v)) return v;
  throw new LabError(formatFieldError(networkModeError("--network-mode", v)));
}

/** The lab DNS server's first address: the pods' resolver and the controllers' dnsName resolver. */
export function labDnsAddress(topo: Topology): string | undefined {
  const host = topo.externals.find((x) => x.name === topo.dns?.server);
  return host?.interfaces.flatMap((i) => i.addresses)[0]?.split("/")[0];
}

/** Spawns `ip netns exec <netns> argv…` detached, output to <state>/logs/<name>.log; the intent is
 *  recorded before the spawn and the pid right after. `extraFd` becomes the child's fd 3. */
async function startProcess(
  state: LabState,
  name: string,
  netns: string,
  argv: string[],
  extraFd?: number,
  extraEnv?: Record<string, string>,
): Promise<ProcessRecord> {
  const logPath = join(state.stateDir, "logs", `${name.replace(/\//g, "-")}.log`);
  const rec: ProcessRecord = { name, netns, argv, pid: null, log: logPath };
  state.processes.push(rec);
  writeState(state);
  const out = openSync(logPath, "a", 0o600);
  try {
    // nsenter switches only the network namespace. `ip netns exec` would also give the process a
    // private mount namespace, and the network namespaces the agent creates for its pods would then
    // be invisible (unusable) to everyone else, `egress lab exec` included.
    const child = spawn("nsenter", [`--net=/var/run/netns/${netns}`, "--", ...argv], {
      detached: true,
      stdio: extraFd === undefined ? ["ignore", out, out] : ["ignore", out, out, extraFd],
      env: { ...childEnv(state.id), ...extraEnv },
    });
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", () => resolve());
      child.once("error", reject);
    });
    rec.pid = child.pid ?? null;
    child.unref();
  } finally {
    closeSync(out);
  }
  writeState(state);
  // A process that dies at once (bad flag, port taken) is an error now, not a mystery later.
  await sleep(100);
  if (rec.pid === null || !processArgv(rec.pid))
    throw new LabError(`${name} exited at once: ${tail(logPath)}`);
  return rec;
}

/** The lab's processes log normally even when `lab up` runs under the test runner. */
function childEnv(id: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, [LAB_ID_ENV]: id };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

function listenLoopback(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(port, "127.0.0.1", () => resolve(srv));
  });
}

export function tail(path: string, lines = 15): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

async function waitReady(url: string, caFile: string, proc: ProcessRecord, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (proc.pid === null || !processArgv(proc.pid))
      throw new LabError(`the API server exited: ${tail(proc.log)}`);
    if (existsSync(caFile)) {
      try {
        const status = await getStatus(`${url}/readyz`, readFileSync(caFile, "utf8"));
        if (status === 200) return;
        last = `HTTP ${status}`;
      } catch (e) {
        last = e instanceof Error ? e.message : String(e);
      }
    }
    await sleep(100);
  }
  throw new LabError(
    `the API server did not become ready at ${url} within ${timeoutMs} ms (${last}): ${tail(proc.log)}`,
  );
}

function getStatus(url: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

export function renderKubeconfig(server: string, caPem: string, token: string): string {
  const cfg = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: "egress-lab",
        cluster: { server, "certificate-authority-data": Buffer.from(caPem).toString("base64") },
      },
    ],
    users: [{ name: "admin", user: { token } }],
    contexts: [{ name: "egress-lab", context: { cluster: "egress-lab", user: "admin" } }],
    "current-context": "egress-lab",
  };
  return `${JSON.stringify(cfg, null, 2)}\n`;
}

/** The pods `--example seed` adds: clients in both selected namespaces and in one the EgressIP does
 *  not select (seen with its node's IP), and an echo server for pod-to-pod checks. */
export const SEED_PODS: { namespace: string; name: string; image: string }[] = [
  { namespace: "namespace1", name: "client-a", image: "egress/client" },
  { namespace: "namespace1", name: "client-b", image: "egress/client" },
  { namespace: "namespace1", name: "echo", image: "egress/echo" },
  { namespace: "namespace2", name: "client-a", image: "egress/client" },
  { namespace: "namespace3", name: "client-a", image: "egress/client" },
  { namespace: "namespace3", name: "echo", image: "egress/echo" },
];

/** The pod `--example seed` adds for seed 003: one interface on every NetworkAttachmentDefinition
 *  of 003-ipam.yaml, net1…net6 in this order (static-net's address is fixed, so only one pod in the
 *  cluster may use it). An echo server, so pods on other nodes can reach it over the secondary
 *  networks. */
export const SEED_ATTACHMENT_POD = {
  namespace: "default",
  name: "multinet",
  image: "egress/echo",
  networks: ["static-net", "dhcp-net", "whereabouts-net", "tenant-a", "tenant-b", "dual-stack"],
} as const;

export function seedManifests(withAttachmentPod = true): string {
  const p = SEED_ATTACHMENT_POD;
  const docs: unknown[] = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: "namespace3", labels: { env: "dev" } } },
    ...SEED_PODS.map((p) => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: p.name, namespace: p.namespace, labels: { app: p.name } },
      spec: { containers: [{ name: "main", image: p.image }] },
    })),
    ...(withAttachmentPod
      ? [
          {
            apiVersion: "v1",
            kind: "Pod",
            metadata: {
              name: p.name,
              namespace: p.namespace,
              labels: { app: p.name },
              annotations: { "k8s.v1.cni.cncf.io/networks": p.networks.join(",") },
            },
            spec: { containers: [{ name: "main", image: p.image }] },
          },
        ]
      : []),
  ];
  return docs.map((d) => JSON.stringify(d)).join("\n---\n");
}

/** Waits until every node is Ready and has its HostSubnet, so the example's pods spread over all of
 *  them instead of landing on whichever agent registered first. */
async function waitForNodes(kc: k8s.KubeConfig, names: string[], log: (line: string) => void): Promise<void> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const nodes = await core.listNode().catch(() => ({ items: [] as k8s.V1Node[] }));
    const ready = new Set(
      nodes.items
        .filter((n) => n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"))
        .map((n) => n.metadata?.name ?? ""),
    );
    const subnets = await objects
      .list("network.openshift.io/v1", "HostSubnet")
      .then((l) => new Set(l.items.map((h) => h.metadata?.name ?? "")))
      .catch(() => new Set<string>());
    const missing = names.filter((n) => !ready.has(n) || !subnets.has(n));
    if (missing.length === 0) {
      log(`all ${names.length} nodes ready`);
      return;
    }
    if (Date.now() > deadline) throw new LabError(`nodes not ready after 60 s: ${missing.join(", ")}`);
    await sleep(200);
  }
}

/** The `"bridge"` of every NetworkAttachmentDefinition's CNI config (plugin or plugin list). */
export function attachmentBridges(manifests: { kind: string; [k: string]: unknown }[]): string[] {
  const out: string[] = [];
  for (const m of manifests) {
    if (m.kind !== "NetworkAttachmentDefinition") continue;
    const config = (m.spec as { config?: unknown } | undefined)?.config;
    let doc: unknown;
    try {
      doc = typeof config === "string" ? JSON.parse(config) : undefined;
    } catch {
      continue;
    }
    const d = doc as { bridge?: unknown; plugins?: { bridge?: unknown }[] } | undefined;
    for (const p of [d, ...(Array.isArray(d?.plugins) ? d.plugins : [])])
      if (typeof p?.bridge === "string") out.push(p.bridge);
  }
  return out;
}

/** Seed files `--example seed` applies (examples/seed/). */
export const SEED_FILES = ["000-egressip.yaml", "003-ipam.yaml"] as const;

async function applyExample(state: LabState, example: string, log: (line: string) => void): Promise<void> {
  if (example !== "seed")
    throw new LabError(`--example: unknown example ${JSON.stringify(example)} (known: seed)`);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(state.api!.kubeconfig);
  await waitForNodes(
    kc,
    state.topology.nodes.map((n) => n.name),
    log,
  );
  // Applied unchanged, in this order: the seed pods' networks must exist before the pods.
  const lines: string[] = [];
  const bridges: string[] = [];
  for (const name of SEED_FILES) {
    const file = join(EXAMPLES_DIR, name);
    if (!existsSync(file)) throw new LabError(`--example seed: ${file} not found`);
    const manifests = parseManifests(readFileSync(file, "utf8"), file);
    bridges.push(...attachmentBridges(manifests));
    lines.push(...(await applyManifests(kc, manifests)));
  }
  // Without segments for the attachments' bridges (a topology with `secondaryNetworks: []`), the
  // bridge plugin would make isolated bridges and DHCP could never succeed: no such pod then.
  const have = new Set((state.topology.secondaryNetworks ?? []).map((n) => n.bridge));
  const missing = [...new Set(bridges)].filter((b) => !have.has(b));
  if (missing.length > 0) {
    const note = `seed pod ${SEED_ATTACHMENT_POD.namespace}/${SEED_ATTACHMENT_POD.name} not created: the topology has no secondary network for bridge(s) ${missing.join(", ")} that 003-ipam.yaml's attachments use`;
    state.notes.push(note);
    writeState(state);
    log(note);
  }
  lines.push(...(await applyManifests(kc, parseManifests(seedManifests(missing.length === 0), "seed pods"))));
  for (const l of lines) log(l);
}

export { LabCommandError };
