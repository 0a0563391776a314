// The lab kubelet's egress router pods, the pure part: which pods are router pods, their containers'
// environment (literal values and ConfigMap keys, resolved once at pod start), the parsed router
// configuration, the node interface that stands in for the macvlan parent, and the exact commands
// the router container runs in the pod's namespace. No I/O here: router-net.ts runs the commands,
// pods.ts drives the pod's life and status.
import { cidrContains, parseCIDR, parseIP } from "../../api/ip.js";
import type { KubeObject } from "../../api/object.js";
import {
  type Env,
  isRedirectMode,
  parseRouterEnv,
  parseRouterMode,
  type RedirectConfig,
} from "../../router/config/env.js";
import { RouterConfigError } from "../../router/config/errors.js";
import { parseDnsProxyDestination, parseHttpProxyDestination } from "../../router/config/proxy.js";
import { type EgressSource, parseEgressGateway, parseEgressSource } from "../../router/config/redirect.js";
import { networkSetup } from "../../router/redirect/ip.js";
import { renderNftScript } from "../../router/redirect/nft.js";

export const MACVLAN_ANNOTATION = "pod.network.openshift.io/assign-macvlan";
/** The pod-side name of the egress interface, as upstream's macvlan. */
export const EGRESS_IFNAME = "macvlan0";

export type RouterImageKind = "router" | "http-proxy" | "dns-proxy";

// Both registries' names (openshift4 and openshift3) and any tag; a digest is stripped first.
const ROUTER_IMAGE = /(^|\/)ose-egress-(router|http-proxy|dns-proxy)(:[^/]*)?$/;

export function routerImageKind(image: string): RouterImageKind | undefined {
  const m = ROUTER_IMAGE.exec(image.replace(/@sha256:.*$/, ""));
  return m ? (m[2] as RouterImageKind) : undefined;
}

export interface EnvVarSpec {
  name: string;
  value?: string;
  valueFrom?: {
    configMapKeyRef?: { name?: string; key?: string; optional?: boolean };
    [other: string]: unknown;
  };
}

export interface EnvFromSpec {
  prefix?: string;
  configMapRef?: { name?: string; optional?: boolean };
  [other: string]: unknown;
}

export interface ContainerSpec {
  name: string;
  image: string;
  env?: EnvVarSpec[];
  envFrom?: EnvFromSpec[];
  ports?: { containerPort: number }[];
}

/** A container the kubelet cannot start (yet): `waiting` with this reason, or `terminated` with
 *  exit code 1 when the container itself would have failed (a bad router configuration). */
export class ContainerStartError extends Error {
  override name = "ContainerStartError";
  constructor(
    readonly container: string,
    readonly reason: string,
    message: string,
    readonly terminated: boolean,
    /** Worth retrying later (a ConfigMap that may still be created). */
    readonly retry = false,
  ) {
    super(message);
  }
}

/** ConfigMap data by name (the pod's namespace); a name missing from the map does not exist. */
export type ConfigMapData = ReadonlyMap<string, Readonly<Record<string, string>>>;

/** Names of the ConfigMaps the containers' environment refers to. */
export function referencedConfigMaps(containers: readonly ContainerSpec[]): string[] {
  const names = new Set<string>();
  for (const c of containers) {
    for (const e of c.env ?? []) {
      const n = e.valueFrom?.configMapKeyRef?.name;
      if (n) names.add(n);
    }
    for (const f of c.envFrom ?? []) if (f.configMapRef?.name) names.add(f.configMapRef.name);
  }
  return [...names].sort();
}

/**
 * The container's environment as the kubelet hands it over: `envFrom` first, then `env` in order
 * (later entries win). Messages are kubelet's own. `$(VAR)` references are not expanded.
 */
export function resolveEnv(
  c: ContainerSpec,
  namespace: string,
  configMaps: ConfigMapData,
): Record<string, string> {
  const fail = (msg: string, retry = true) =>
    new ContainerStartError(c.name, "CreateContainerConfigError", msg, false, retry);
  const env: Record<string, string> = {};
  for (const f of c.envFrom ?? []) {
    const ref = f.configMapRef;
    if (!ref?.name)
      throw fail("envFrom: only configMapRef with a name is supported by the lab kubelet", false);
    const data = configMaps.get(ref.name);
    if (!data) {
      if (ref.optional) continue;
      throw fail(`configmap "${ref.name}" not found`);
    }
    for (const [k, v] of Object.entries(data)) env[`${f.prefix ?? ""}${k}`] = v;
  }
  for (const e of c.env ?? []) {
    if (e.valueFrom === undefined) {
      env[e.name] = e.value ?? "";
      continue;
    }
    const ref = e.valueFrom.configMapKeyRef;
    const other = Object.keys(e.valueFrom).find((k) => k !== "configMapKeyRef");
    if (!ref || other !== undefined)
      throw fail(`env ${e.name}: valueFrom.${other ?? "?"} is not supported by the lab kubelet`, false);
    const data = ref.name ? configMaps.get(ref.name) : undefined;
    if (!data) {
      if (ref.optional) continue;
      throw fail(`configmap "${ref.name ?? ""}" not found`);
    }
    const v = ref.key !== undefined ? data[ref.key] : undefined;
    if (v === undefined) {
      if (ref.optional) continue;
      throw fail(`couldn't find key ${ref.key ?? ""} in ConfigMap ${namespace}/${ref.name}`);
    }
    env[e.name] = v;
  }
  return env;
}

/**
 * What the ose-egress-router container itself does. In the proxy modes it only sets up the network
 * (upstream's script runs setup_network and exits); the proxy's destinations belong to the proxy
 * container, so they are not read here.
 */
export type RouterContainerConfig =
  | RedirectConfig
  | { mode: "http-proxy" | "dns-proxy"; source: EgressSource | null; gateway: string | null };

/** Parses the router container's environment. Throws RouterConfigError. */
export function parseRouterContainerEnv(env: Env): RouterContainerConfig {
  const mode = parseRouterMode(env.EGRESS_ROUTER_MODE);
  if (isRedirectMode(mode)) return parseRouterEnv(env) as RedirectConfig;
  const hasSource = (env.EGRESS_SOURCE ?? "").trim() !== "";
  const hasGateway = (env.EGRESS_GATEWAY ?? "").trim() !== "";
  const source = hasSource ? parseEgressSource(env.EGRESS_SOURCE) : null;
  const gateway = hasGateway ? parseEgressGateway(env.EGRESS_GATEWAY, source ?? undefined) : null;
  if (source !== null && gateway === null) parseEgressGateway(env.EGRESS_GATEWAY, source);
  return { mode, source, gateway };
}

export interface RouterContainerPlan {
  container: string;
  /** An init container (runs to completion first) or a main container. */
  init: boolean;
  config: RouterContainerConfig;
  /** The resolved environment, for the unit-test output. */
  env: Record<string, string>;
}

export interface ProxyContainerPlan {
  container: string;
  kind: "http-proxy" | "dns-proxy";
  env: Record<string, string>;
}

export interface RouterPodPlan {
  /** The annotation's value: "true" (the node interface on EGRESS_GATEWAY's network) or an
   *  interface name; undefined when the pod asks for no egress interface. */
  macvlan: string | undefined;
  router: RouterContainerPlan | undefined;
  proxies: ProxyContainerPlan[];
}

const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** The macvlan annotation's value, or undefined when absent, empty or "false". */
export function macvlanRequest(pod: KubeObject): string | undefined {
  const v = pod.metadata.annotations?.[MACVLAN_ANNOTATION]?.trim();
  if (v === undefined || v === "" || v === "false") return undefined;
  return v;
}

/**
 * Decides what the pod's router parts are; undefined for an ordinary pod. `envOf` resolves a
 * container's environment (resolveEnv with the ConfigMaps read at pod start). Throws
 * ContainerStartError naming the container.
 */
export function planRouterPod(
  pod: KubeObject,
  containers: { init: readonly ContainerSpec[]; main: readonly ContainerSpec[] },
  envOf: (c: ContainerSpec) => Record<string, string>,
): RouterPodPlan | undefined {
  const macvlan = macvlanRequest(pod);
  const all = [
    ...containers.init.map((c) => ({ c, init: true })),
    ...containers.main.map((c) => ({ c, init: false })),
  ];
  const routers = all.filter((x) => routerImageKind(x.c.image) === "router");
  const proxyContainers = containers.main.filter((c) => {
    const k = routerImageKind(c.image);
    return k === "http-proxy" || k === "dns-proxy";
  });
  if (macvlan === undefined && routers.length === 0 && proxyContainers.length === 0) return undefined;
  if (macvlan !== undefined && macvlan !== "true" && !IFNAME.test(macvlan)) {
    throw new ContainerStartError(
      routers[0]?.c.name ?? containers.main[0]?.name ?? "",
      "InvalidMacvlanAnnotation",
      `annotation ${MACVLAN_ANNOTATION}: expected "true" or an interface name: ${JSON.stringify(macvlan)}`,
      false,
    );
  }
  if (routers.length > 1) {
    throw new ContainerStartError(
      routers[1]!.c.name,
      "Error",
      `more than one egress router container (${routers.map((r) => r.c.name).join(", ")})`,
      true,
    );
  }
  let router: RouterContainerPlan | undefined;
  const r = routers[0];
  if (r) {
    const env = envOf(r.c);
    let config: RouterContainerConfig;
    try {
      config = parseRouterContainerEnv(env);
    } catch (e) {
      if (e instanceof RouterConfigError) throw new ContainerStartError(r.c.name, "Error", e.message, true);
      throw e;
    }
    // Upstream's script fails on `ip addr add … dev macvlan0` when the pod has no macvlan; the
    // proxy modes without EGRESS_SOURCE and unit-test touch no interface.
    const needsIf = config.mode !== "unit-test" && config.source !== null;
    if (needsIf && macvlan === undefined) {
      throw new ContainerStartError(
        r.c.name,
        "Error",
        `the pod has no ${EGRESS_IFNAME} interface: it needs the annotation ${MACVLAN_ANNOTATION}: "true" (or an interface name)`,
        true,
      );
    }
    router = { container: r.c.name, init: r.init, config, env };
  }
  const proxies: ProxyContainerPlan[] = proxyContainers.map((c) => {
    const kind = routerImageKind(c.image) as "http-proxy" | "dns-proxy";
    const env = envOf(c);
    try {
      if (kind === "http-proxy") parseHttpProxyDestination(env.EGRESS_HTTP_PROXY_DESTINATION);
      else parseDnsProxyDestination(env.EGRESS_DNS_PROXY_DESTINATION);
    } catch (e) {
      if (e instanceof RouterConfigError) throw new ContainerStartError(c.name, "Error", e.message, true);
      throw e;
    }
    return { container: c.name, kind, env };
  });
  return { macvlan, router, proxies };
}

export interface NodeInterface {
  ifname: string;
  /** IPv4 `address/len` entries. */
  cidrs: string[];
}

/**
 * The node interface the pod's egress interface is bridged to. For "true": the one whose IPv4
 * network contains EGRESS_GATEWAY (else EGRESS_SOURCE), since a macvlan on any other segment can
 * never reach the gateway; `fallback` (the node's primary interface) when the router gives neither.
 * For a name: that interface, which must exist.
 */
export function chooseUnderlay(
  macvlan: string,
  router: RouterContainerPlan | undefined,
  ifs: readonly NodeInterface[],
  fallback: string,
  node: string,
): string {
  const container = router?.container ?? "";
  if (macvlan !== "true") {
    if (!ifs.some((i) => i.ifname === macvlan))
      throw new ContainerStartError(
        container,
        "EgressInterfaceNotFound",
        `node ${node} has no interface ${JSON.stringify(macvlan)} (annotation ${MACVLAN_ANNOTATION})`,
        false,
      );
    return macvlan;
  }
  const cfg = router?.config;
  const target = cfg?.gateway ?? cfg?.source?.address ?? null;
  if (target === null) return fallback;
  const ip = parseIP(target);
  const hit = ifs.find((i) =>
    i.cidrs.some((c) => {
      const cidr = parseCIDR(c);
      return cidr !== undefined && ip !== undefined && cidrContains(cidr, ip);
    }),
  );
  if (!hit)
    throw new ContainerStartError(
      container,
      "EgressInterfaceNotFound",
      `node ${node} has no interface on the network of ${cfg?.gateway ? "EGRESS_GATEWAY" : "EGRESS_SOURCE"} ${target}`,
      false,
      true,
    );
  return hit.ifname;
}

export interface RouterSteps {
  /** sysctls in the pod namespace. */
  sysctls: Record<string, string>;
  /** `ip` argument lists (without the leading "ip"), run with `ip -n <pod netns>` in order. */
  ip: string[][];
  /** EGRESS_SOURCE, to be probed for duplicates before it is added; null = no address. */
  source: string | null;
  /** The nftables script (redirect modes), loaded with `nft -f -` in the pod namespace. */
  nft: string | null;
  /** Gratuitous ARP argv (arping …), run in the pod namespace after the address is up. */
  announce: string[] | null;
}

export interface ClusterRoutes {
  /** Cluster networks and the service network: kept on the cluster interface. */
  cidrs: string[];
  /** The pod's cluster gateway (the CNI bridge address). */
  gateway: string;
  clusterInterface: string;
}

/**
 * What the router container does, as upstream's setup_network + iptables, but idempotent
 * (`replace` instead of `add`) so a retried or re-adopted pod converges. The cluster and service
 * networks stay routed over the cluster interface before the default route moves to the gateway
 * (openshift-sdn gives macvlan pods the same routes), so replies reach clients on other nodes.
 * unit-test and proxy modes without EGRESS_SOURCE do nothing.
 */
export function routerSteps(config: RouterContainerConfig, routes: ClusterRoutes): RouterSteps {
  const none: RouterSteps = { sysctls: {}, ip: [], source: null, nft: null, announce: null };
  if (config.mode === "unit-test" || config.source === null || config.gateway === null) return none;
  const redirect = isRedirectMode(config.mode);
  const plan = networkSetup(config.source, config.gateway, EGRESS_IFNAME, redirect);
  const ip: string[][] = [];
  for (const argv of plan.ip) {
    const a = argv.slice(1);
    if (a[0] === "route" && a[1] === "replace" && a[2] === "default") {
      for (const c of routes.cidrs)
        ip.push(["route", "replace", c, "via", routes.gateway, "dev", routes.clusterInterface]);
    }
    if ((a[0] === "address" || a[0] === "route") && a[1] === "add") a[1] = "replace";
    ip.push(a);
  }
  return {
    sysctls: plan.sysctls,
    ip,
    source: config.source.address,
    nft: config.mode === "init" || config.mode === "legacy" ? renderNftScript(config) : null,
    announce: plan.arping,
  };
}

/** What a unit-test mode router prints: the commands it would run and the nftables rules. */
export function unitTestOutput(config: RouterContainerConfig): string {
  if (config.mode !== "unit-test") return "";
  const plan = networkSetup(config.source, config.gateway, EGRESS_IFNAME, true);
  const lines = [
    ...Object.entries(plan.sysctls).map(([k, v]) => `sysctl -w ${k}=${v}`),
    ...plan.ip.map((a) => a.join(" ")),
    plan.arping.join(" "),
  ];
  return `${lines.join("\n")}\n${renderNftScript(config)}`;
}

/** A router pod as the fence sees it: its namespace and the node end of its egress veth. */
export interface FenceTarget {
  key: string;
  netns: string;
  hostVeth: string;
}

export interface FencePlan {
  /** Veths to take down now: the API is out of reach, another node may get the source soon. */
  fence: FenceTarget[];
  /** Veths that are down while the API answers: bring up after a duplicate-address probe. */
  unfence: FenceTarget[];
}

/**
 * Fencing of router pods' source addresses. An agent cut off from the API server longer than the
 * fence time (shorter than the control plane's node grace period) takes every router pod's egress
 * veth down, so the pod stops answering ARP for EGRESS_SOURCE before the node lifecycle controller
 * can evict it and a replacement on another node takes the address. Once the API answers again a
 * fenced pod comes back only if nobody else answers for its source (the pod may have been evicted
 * and replaced meanwhile; its teardown follows when the kubelet sees the deletion). `up` maps a
 * veth to whether it is administratively up; absent veths (not attached yet, or gone) are left.
 */
export function fencePlan(
  targets: readonly FenceTarget[],
  up: ReadonlyMap<string, boolean>,
  apiReachable: boolean,
): FencePlan {
  const plan: FencePlan = { fence: [], unfence: [] };
  for (const t of targets) {
    const state = up.get(t.hostVeth);
    if (state === undefined) continue;
    if (!apiReachable && state) plan.fence.push(t);
    if (apiReachable && !state) plan.unfence.push(t);
  }
  return plan;
}

/**
 * Duplicate-address probing (RFC 5227 with `arping -D`). iputils' arping takes whole seconds only,
 * and with `-w 1` its second probe leaves just as it exits, so one process is one useful probe. We
 * run DAD_PROBES of them staggered by DAD_STAGGER_MS: three probes within 0.7 s, and something
 * listens for any ARP from the address (requests and replies both count) until 1.7 s. A holder that
 * misses one probe (a frame lost while a link comes up, a busy softirq) answers another.
 */
export const DAD_PROBES = 3;
export const DAD_STAGGER_MS = 350;
export const DAD_ARGS = ["-D", "-c", "1", "-w", "1"] as const;

/** One `arping -D` run: who answered, or nobody, or a failure that proves nothing. */
export type DadResult = { kind: "free" } | { kind: "held"; mac: string } | { kind: "error"; message: string };

/** Reads one `arping -D` run: exit 0 is "nobody answered"; exit 1 with a reply names the holder;
 *  anything else (exit 2: interface down, bad argument) is an error. */
export function parseDad(code: number | null, stdout: string, stderr: string): DadResult {
  const mac = /(?:reply|request) from \S+ \[([0-9A-Fa-f:]{17})\]/.exec(stdout)?.[1];
  if (mac) return { kind: "held", mac: mac.toLowerCase() };
  if (code === 0) return { kind: "free" };
  return { kind: "error", message: `exit ${code}: ${stderr.trim() || stdout.trim()}` };
}

/** Combines staggered probes: any holder wins (first in start order); the address is free only
 *  when every probe ran and heard no one; otherwise the first error. */
export function combineDad(results: readonly DadResult[]): DadResult {
  const held = results.find((r) => r.kind === "held");
  if (held) return held;
  return results.find((r) => r.kind === "error") ?? { kind: "free" };
}

/** The bridge-port view of an interface that a duplicate-address probe depends on. */
export interface PortView {
  /** The bridge the interface is enslaved to (undefined: none). */
  master?: string;
  /** The bridge port state (`forwarding`, `disabled`, `blocking`, ...). */
  state?: string;
  operstate?: string;
}

/**
 * Why a probe from the pod's egress interface could not hear a holder right now (undefined: it
 * can). The pod's veth must be a forwarding port of the underlay bridge, and the bridge's underlay
 * port must be forwarding too: a frame sent while either is not is dropped, nobody answers, and an
 * address in use would look free (the known bug of issue 5).
 */
export function probePathProblem(
  podEnd: PortView | undefined,
  hostEnd: PortView | undefined,
  underlay: PortView | undefined,
): string | undefined {
  if (podEnd?.operstate !== "UP") return `pod interface is ${podEnd?.operstate ?? "missing"}`;
  if (!hostEnd) return "node end of the egress veth is missing";
  if (!hostEnd.master) return "node end of the egress veth is not on the underlay bridge";
  if (hostEnd.state !== "forwarding")
    return `node end of the egress veth is ${hostEnd.state ?? "not a port"}`;
  if (!underlay) return `underlay port of ${hostEnd.master} is missing`;
  if (underlay.master !== hostEnd.master) return `underlay port is not on ${hostEnd.master}`;
  if (underlay.state !== "forwarding") return `underlay port is ${underlay.state ?? "not a port"}`;
  return undefined;
}
