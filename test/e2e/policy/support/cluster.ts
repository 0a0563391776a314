// The policy tests' lab driver: brings up a lab with the network mode (and topology) a test file
// needs, creates namespaces and echo pods pinned to nodes, applies and deletes objects, runs the
// `egress` CLI, starts extra listeners inside pods, runs commands in node namespaces, and tears
// everything down (its probers and listeners by pid, then `lab down`). It enters only namespaces of
// its own lab id. Built on the lab e2e tests' driver (test/e2e/lab/probe.ts).
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { findByKind } from "../../../../src/api/kinds/index.js";
import type { Manifest } from "../../../../src/cli/apply.js";
import { type Client, isAlreadyExists } from "../../../../src/controllers/runtime/client.js";
import { TEMPLATE_APPLIED_ANNOTATION } from "../../../../src/controllers/workloads/template.js";
import { podNetnsName } from "../../../../src/lab/names.js";
import { EXAMPLES_DIR } from "../../../../src/lab/paths.js";
import { Lab, labSkip, type RunResult, sh, sleep, waitFor } from "../../lab/probe.js";
import { type MatrixPod, ProberPool, podKey } from "./matrix.js";

export const CLI_MAIN = fileURLToPath(new URL("../../../../src/cli/main.js", import.meta.url));
export const ECHO_SERVER = fileURLToPath(new URL("../../../../src/lab/echo-server.js", import.meta.url));
/** The seed manifests (vendored unchanged). */
export const EXAMPLES = EXAMPLES_DIR;
export { labSkip, sleep, waitFor };

export type NetworkMode = "multitenant" | "networkpolicy" | "subnet";

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: "TCP" | "UDP" | "SCTP";
}

export interface PodSpec {
  namespace: string;
  name: string;
  node: string;
  labels?: Record<string, string>;
  /** Default egress/echo (TCP 7000, UDP 7001, HTTP 8080). */
  image?: string;
  /** Declared container ports (named ports); default: ECHO_PORTS. */
  ports?: ContainerPort[];
}

/** What the egress/echo image serves, declared with names for NetworkPolicy named ports. */
export const ECHO_PORTS: ContainerPort[] = [
  { name: "echo-tcp", containerPort: 7000, protocol: "TCP" },
  { name: "echo-udp", containerPort: 7001, protocol: "UDP" },
  { name: "echo-http", containerPort: 8080, protocol: "TCP" },
];

export const OUTSIDE = {
  /** ext1, on the nodes' segment (not a node: outside the cluster); also the lab DNS. */
  ext1: "192.168.126.200",
  dns: "192.168.126.200",
  web25: "203.0.113.25",
  web26: "203.0.113.26",
  foo4: "1.2.3.4",
  foo5: "1.2.3.5",
  bar: "198.51.100.10",
  intranet: "192.168.1.10",
} as const;

export class PolicyLab {
  readonly lab: Lab;
  readonly probers = new ProberPool();
  private readonly children = new Set<ChildProcess>();
  private kcache?: k8s.KubeConfig;

  constructor(prefix: string) {
    this.lab = new Lab(prefix);
  }

  get id(): string {
    return this.lab.id;
  }

  get kubeconfig(): string {
    return join(this.lab.stateDir, "kubeconfig");
  }

  /** `lab up --network-mode <mode>` (plus a topology written from `topologyYaml`), then waits until
   *  every node is Ready and has its HostSubnet. */
  async up(mode: NetworkMode, opts: { topologyYaml?: string } = {}): Promise<void> {
    const extra = ["--network-mode", mode];
    if (opts.topologyYaml) {
      const file = join(this.lab.base, "topology.yaml");
      writeFileSync(file, opts.topologyYaml);
      extra.push("--topology", file);
    }
    this.lab.up(extra);
    const api = await this.api();
    await waitFor(
      "nodes Ready with HostSubnets",
      async () => {
        const nodes = await api
          .request<{
            items: {
              metadata: { name: string };
              status?: { conditions?: { type: string; status: string }[] };
            }[];
          }>("GET", "/api/v1/nodes")
          .catch(() => ({ items: [] }));
        const subnets = await api
          .request<{ items: unknown[] }>("GET", "/apis/network.openshift.io/v1/hostsubnets")
          .catch(() => ({ items: [] }));
        const ready = nodes.items.filter((n) =>
          n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
        );
        return ready.length >= 3 && subnets.items.length >= ready.length;
      },
      60_000,
      250,
    );
  }

  api(): Promise<Client> {
    return this.lab.api();
  }

  kc(): k8s.KubeConfig {
    if (!this.kcache) {
      this.kcache = new k8s.KubeConfig();
      this.kcache.loadFromFile(this.kubeconfig);
    }
    return this.kcache;
  }

  /** Creates a namespace. The project-template controller gives every new namespace the seed's
   *  default NetworkPolicies (allow-from-same-namespace, allow-from-default-namespace); unless
   *  `keepTemplate`, they are deleted again once created, so tests start from "no policy". */
  async namespace(name: string, labels: Record<string, string> = {}, keepTemplate = false): Promise<void> {
    const api = await this.api();
    await api.request("POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name, labels },
    });
    if (keepTemplate) return;
    const applied = await waitFor(
      `project template applied to ${name}`,
      async () => {
        const ns = await api.request<{ metadata: { annotations?: Record<string, string> } }>(
          "GET",
          `/api/v1/namespaces/${name}`,
        );
        return ns.metadata.annotations?.[TEMPLATE_APPLIED_ANNOTATION];
      },
      15_000,
      100,
    );
    for (const policy of applied.split(",").filter(Boolean))
      await this.remove("networking.k8s.io/v1", "NetworkPolicy", name, policy);
  }

  /** The NetNamespace's netid once the controller has made it. */
  async netid(name: string, timeoutMs = 15_000): Promise<number> {
    const api = await this.api();
    return waitFor(
      `NetNamespace ${name}`,
      async () => {
        const o = await api
          .request<{ netid?: number }>("GET", `/apis/network.openshift.io/v1/netnamespaces/${name}`)
          .catch(() => undefined);
        return typeof o?.netid === "number" ? o.netid : undefined;
      },
      timeoutMs,
      100,
    );
  }

  /** Creates the pods (bound to their nodes) and waits until all run with an address. */
  async pods(specs: PodSpec[], timeoutMs = 60_000): Promise<MatrixPod[]> {
    const api = await this.api();
    await Promise.all(
      specs.map((p) =>
        api.request("POST", `/api/v1/namespaces/${p.namespace}/pods`, {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: p.name, namespace: p.namespace, labels: p.labels ?? {} },
          spec: {
            nodeName: p.node,
            containers: [{ name: "main", image: p.image ?? "egress/echo", ports: p.ports ?? ECHO_PORTS }],
          },
        }),
      ),
    );
    const want = new Set(specs.map(podKey));
    const found = await waitFor(
      `pods Running: ${[...want].join(", ")}`,
      async () => {
        const l = await api.request<{
          items: {
            metadata: { namespace: string; name: string };
            status?: { phase?: string; podIP?: string };
          }[];
        }>("GET", "/api/v1/pods");
        const ok = new Map(
          l.items
            .filter((p) => want.has(podKey(p.metadata)) && p.status?.phase === "Running" && p.status.podIP)
            .map((p) => [podKey(p.metadata), p.status!.podIP!]),
        );
        return ok.size === want.size ? ok : undefined;
      },
      timeoutMs,
      250,
    );
    return specs.map((p) => ({
      namespace: p.namespace,
      name: p.name,
      node: p.node,
      ip: found.get(podKey(p))!,
      netns: podNetnsName(this.id, p.namespace, p.name),
      labels: p.labels ?? {},
    }));
  }

  async deletePod(p: MatrixPod): Promise<void> {
    this.probers.drop(p.netns);
    await (await this.api()).request("DELETE", `/api/v1/namespaces/${p.namespace}/pods/${p.name}`);
  }

  /** Create, or merge-patch when it exists: the objects' JSON is sent as written. (Not through
   *  `egress apply`/client-node's KubernetesObjectApi: its typed serializer drops fields such as a
   *  NetworkPolicy's `ingress[].from`, see the test in networkpolicy.test.ts.) */
  async apply(docs: object[], namespace = "default"): Promise<void> {
    const api = await this.api();
    for (const d of docs as Manifest[]) {
      const rt = findByKind(d.apiVersion, d.kind);
      if (!rt) throw new Error(`apply: unknown kind ${d.apiVersion} ${d.kind}`);
      const ns = rt.namespaced ? (d.metadata.namespace ?? namespace) : undefined;
      const body = { ...d, metadata: { ...d.metadata, ...(ns ? { namespace: ns } : {}) } };
      try {
        await api.request("POST", api.path(rt, ns), body);
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
        await api.patch(rt, ns ?? "", d.metadata.name, body, "merge");
      }
    }
  }

  async remove(apiVersion: string, kind: string, namespace: string, name: string): Promise<void> {
    const c = k8s.KubernetesObjectApi.makeApiClient(this.kc());
    await c.delete({ apiVersion, kind, metadata: { name, namespace } }).catch((e: unknown) => {
      if ((e as { code?: number }).code !== 404) throw e;
    });
  }

  /** Runs `egress <args>` with this lab's kubeconfig in the environment; resolves when it exits. */
  egress(args: string[], timeoutMs = 90_000): Promise<RunResult & { endedAt: number }> {
    return new Promise((resolve) => {
      const env: NodeJS.ProcessEnv = { ...process.env, KUBECONFIG: this.kubeconfig };
      delete env.NODE_TEST_CONTEXT;
      const child = spawn(process.execPath, [CLI_MAIN, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.once("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr, endedAt: Date.now() });
      });
    });
  }

  /** Extra echo listeners inside a pod's network namespace (the lab echo server: TCP and UDP
   *  ports the egress/echo image does not serve, e.g. the seed's 80/443/5432). */
  async listen(p: MatrixPod, tcp: number[], udp: number[] = []): Promise<void> {
    const child = spawn(
      "ip",
      [
        "netns",
        "exec",
        p.netns,
        process.execPath,
        ECHO_SERVER,
        ...tcp.flatMap((x) => ["--tcp", String(x)]),
        ...udp.flatMap((x) => ["--udp", String(x)]),
      ],
      { stdio: "ignore" },
    );
    this.children.add(child);
    child.once("close", () => this.children.delete(child));
    // Listening within a moment; the matrix's convergence wait covers the rest.
    await sleep(300);
  }

  /** A command in a node's network namespace. */
  inNode(node: string, argv: string[]): RunResult {
    return sh(["ip", "netns", "exec", this.lab.ns(node), ...argv]);
  }

  /** Probers, listeners, restarted agents (by pid), then `lab down`. */
  down(): RunResult {
    this.probers.stopAll();
    for (const c of this.children) if (c.pid) killQuietly(c.pid);
    this.children.clear();
    const r = this.lab.down();
    this.lab.removeBase();
    return r;
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    /* gone */
  }
}
