import assert from "node:assert/strict";
import { test } from "node:test";
import type { KubeObject } from "../../api/object.js";
import type { PodState } from "./pods.js";
import {
  type ContainerSpec,
  ContainerStartError,
  chooseUnderlay,
  combineDad,
  type DadResult,
  type FenceTarget,
  fencePlan,
  type PortView,
  parseDad,
  planRouterPod,
  probePathProblem,
  referencedConfigMaps,
  resolveEnv,
  routerImageKind,
  routerSteps,
  unitTestOutput,
} from "./router.js";
import { fenceTargets } from "./router-fence.js";

test("router images: both registries, tags and digests; others are not", () => {
  const table: [string, string | undefined][] = [
    ["registry.redhat.io/openshift4/ose-egress-router", "router"],
    ["registry.access.redhat.com/openshift3/ose-egress-router:v3.11", "router"],
    ["registry.access.redhat.com/openshift3/ose-egress-http-proxy", "http-proxy"],
    ["registry.access.redhat.com/openshift3/ose-egress-dns-proxy@sha256:abcd", "dns-proxy"],
    ["ose-egress-router", "router"],
    ["registry.redhat.io/openshift4/ose-egress-router-extra", undefined],
    ["registry.redhat.io/openshift3/ose-pod", undefined],
    ["example.com/not-ose-egress-router", undefined],
  ];
  for (const [image, want] of table) assert.equal(routerImageKind(image), want, image);
});

const cms = new Map([["routes", { destination: "80 tcp 203.0.113.25\n", other: "x" }]]);

test("env: literal values, configMapKeyRef, envFrom, optional refs and kubelet's messages", () => {
  const c: ContainerSpec = {
    name: "r",
    image: "ose-egress-router",
    envFrom: [{ configMapRef: { name: "routes" }, prefix: "CM_" }],
    env: [
      { name: "A", value: "1" },
      { name: "EGRESS_DESTINATION", valueFrom: { configMapKeyRef: { name: "routes", key: "destination" } } },
      { name: "OPT", valueFrom: { configMapKeyRef: { name: "missing", key: "k", optional: true } } },
      { name: "EMPTY" },
    ],
  };
  assert.deepEqual(referencedConfigMaps([c]), ["missing", "routes"]);
  assert.deepEqual(resolveEnv(c, "ns", cms), {
    CM_destination: "80 tcp 203.0.113.25\n",
    CM_other: "x",
    A: "1",
    EGRESS_DESTINATION: "80 tcp 203.0.113.25\n",
    EMPTY: "",
  });
  const errs: [EnvVarLike, RegExp, boolean][] = [
    [{ configMapKeyRef: { name: "gone", key: "k" } }, /^configmap "gone" not found$/, true],
    [
      { configMapKeyRef: { name: "routes", key: "nope" } },
      /^couldn't find key nope in ConfigMap ns\/routes$/,
      true,
    ],
    [{ secretKeyRef: { name: "s", key: "k" } }, /valueFrom\.secretKeyRef is not supported/, false],
  ];
  for (const [valueFrom, msg, retry] of errs) {
    assert.throws(
      () => resolveEnv({ name: "r", image: "i", env: [{ name: "X", valueFrom }] }, "ns", cms),
      (e: unknown) =>
        e instanceof ContainerStartError &&
        e.reason === "CreateContainerConfigError" &&
        msg.test(e.message) &&
        e.retry === retry &&
        !e.terminated,
    );
  }
});
type EnvVarLike = NonNullable<NonNullable<ContainerSpec["env"]>[number]["valueFrom"]>;

const pod = (annotations: Record<string, string> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "p", namespace: "ns", annotations },
});
const env = (vars: Record<string, string>) => Object.entries(vars).map(([name, value]) => ({ name, value }));
const routerC = (vars: Record<string, string>): ContainerSpec => ({
  name: "router",
  image: "registry.redhat.io/openshift4/ose-egress-router",
  env: env(vars),
});
const REDIRECT = {
  EGRESS_SOURCE: "192.168.12.99/24",
  EGRESS_GATEWAY: "192.168.12.1",
  EGRESS_DESTINATION: "80 tcp 203.0.113.25\n203.0.113.27",
  EGRESS_ROUTER_MODE: "init",
};
const envOf = (c: ContainerSpec) => resolveEnv(c, "ns", cms);
const MACVLAN = { "pod.network.openshift.io/assign-macvlan": "true" };

test("plan: ordinary pods have none; router, proxies and annotation are found", () => {
  assert.equal(
    planRouterPod(pod(), { init: [], main: [{ name: "c", image: "egress/client" }] }, envOf),
    undefined,
  );
  const plan = planRouterPod(
    pod(MACVLAN),
    {
      init: [routerC({ ...REDIRECT, EGRESS_ROUTER_MODE: "http-proxy", EGRESS_DESTINATION: "" })],
      main: [
        {
          name: "proxy",
          image: "registry.access.redhat.com/openshift3/ose-egress-http-proxy",
          env: env({ EGRESS_HTTP_PROXY_DESTINATION: "!*.example.com\n*" }),
        },
      ],
    },
    envOf,
  );
  assert.equal(plan?.macvlan, "true");
  assert.equal(plan?.router?.init, true);
  assert.equal(plan?.router?.config.mode, "http-proxy");
  assert.deepEqual(
    plan?.proxies.map((p) => [p.container, p.kind]),
    [["proxy", "http-proxy"]],
  );
  // legacy as a main container
  const legacy = planRouterPod(
    pod(MACVLAN),
    { init: [], main: [routerC({ ...REDIRECT, EGRESS_ROUTER_MODE: "" })] },
    envOf,
  );
  assert.equal(legacy?.router?.init, false);
  assert.equal(legacy?.router?.config.mode, "legacy");
});

test("plan errors name the container and carry the parser's message", () => {
  const cases: [KubeObject, ContainerSpec[], ContainerSpec[], string, RegExp, boolean][] = [
    [
      pod(MACVLAN),
      [routerC({ ...REDIRECT, EGRESS_DESTINATION: "80 tcp 203.0.113.25\n80 udp 203.0.113.26" })],
      [],
      "Error",
      /^EGRESS_DESTINATION line 2: duplicate local port/,
      true,
    ],
    [
      pod(MACVLAN),
      [routerC({ ...REDIRECT, EGRESS_ROUTER_MODE: "INIT" })],
      [],
      "Error",
      /^EGRESS_ROUTER_MODE: must be one of/,
      true,
    ],
    [
      pod(),
      [routerC(REDIRECT)],
      [],
      "Error",
      /needs the annotation pod\.network\.openshift\.io\/assign-macvlan/,
      true,
    ],
    [
      pod({ "pod.network.openshift.io/assign-macvlan": "bad name!" }),
      [routerC(REDIRECT)],
      [],
      "InvalidMacvlanAnnotation",
      /expected "true" or an interface name/,
      false,
    ],
    [
      pod(MACVLAN),
      [routerC({ ...REDIRECT, EGRESS_ROUTER_MODE: "http-proxy", EGRESS_GATEWAY: "" })],
      [],
      "Error",
      /^EGRESS_GATEWAY: must be set/,
      true,
    ],
    [
      pod(MACVLAN),
      [routerC(REDIRECT), { ...routerC(REDIRECT), name: "second" }],
      [],
      "Error",
      /more than one egress router container/,
      true,
    ],
    [
      pod(MACVLAN),
      [],
      [
        {
          name: "proxy",
          image: "ose-egress-dns-proxy",
          env: env({ EGRESS_DNS_PROXY_DESTINATION: "53 1.2.3.4\n53 5.6.7.8" }),
        },
      ],
      "Error",
      /^EGRESS_DNS_PROXY_DESTINATION line 2: duplicate local port/,
      true,
    ],
  ];
  for (const [p, init, main, reason, msg, terminated] of cases) {
    assert.throws(
      () => planRouterPod(p, { init, main }, envOf),
      (e: unknown) =>
        e instanceof ContainerStartError &&
        e.reason === reason &&
        msg.test(e.message) &&
        e.terminated === terminated,
      msg.source,
    );
  }
  // unit-test needs no interface
  const unit = planRouterPod(
    pod(),
    { init: [routerC({ ...REDIRECT, EGRESS_ROUTER_MODE: "unit-test" })], main: [] },
    envOf,
  );
  assert.equal(unit?.router?.config.mode, "unit-test");
});

test("underlay: the interface on the gateway's network, a named one, or an error", () => {
  const ifs = [
    { ifname: "eth0", cidrs: ["192.168.126.11/18"] },
    { ifname: "eth1", cidrs: ["192.168.12.11/24"] },
  ];
  const plan = planRouterPod(pod(MACVLAN), { init: [routerC(REDIRECT)], main: [] }, envOf)!;
  assert.equal(chooseUnderlay("true", plan.router, ifs, "eth0", "n1"), "eth1");
  assert.equal(chooseUnderlay("eth0", plan.router, ifs, "eth0", "n1"), "eth0");
  assert.equal(chooseUnderlay("true", undefined, ifs, "eth0", "n1"), "eth0");
  assert.throws(
    () => chooseUnderlay("true", plan.router, [ifs[0]!], "eth0", "n1"),
    (e: unknown) =>
      e instanceof ContainerStartError &&
      e.reason === "EgressInterfaceNotFound" &&
      /node n1 has no interface on the network of EGRESS_GATEWAY 192\.168\.12\.1/.test(e.message),
  );
  assert.throws(() => chooseUnderlay("eth7", plan.router, ifs, "eth0", "n1"), /no interface "eth7"/);
});

test("steps: idempotent ip commands, cluster routes before the default route, nft only for redirect", () => {
  const routes = {
    cidrs: ["10.128.0.0/14", "172.30.0.0/16"],
    gateway: "10.128.0.1",
    clusterInterface: "eth0",
  };
  const plan = planRouterPod(pod(MACVLAN), { init: [routerC(REDIRECT)], main: [] }, envOf)!;
  const s = routerSteps(plan.router!.config, routes);
  assert.deepEqual(s.ip, [
    ["address", "replace", "192.168.12.99/24", "dev", "macvlan0"],
    ["link", "set", "dev", "macvlan0", "up"],
    ["route", "replace", "192.168.12.1/32", "dev", "macvlan0"],
    ["route", "replace", "10.128.0.0/14", "via", "10.128.0.1", "dev", "eth0"],
    ["route", "replace", "172.30.0.0/16", "via", "10.128.0.1", "dev", "eth0"],
    ["route", "replace", "default", "via", "192.168.12.1", "dev", "macvlan0"],
  ]);
  assert.equal(s.source, "192.168.12.99");
  assert.match(s.nft ?? "", /tcp dport 80 dnat to 203\.0\.113\.25:80/);
  assert.deepEqual(s.sysctls, { "net.ipv4.ip_forward": "1" });
  const proxy = planRouterPod(
    pod(MACVLAN),
    { init: [routerC({ ...REDIRECT, EGRESS_ROUTER_MODE: "http-proxy" })], main: [] },
    envOf,
  )!;
  const ps = routerSteps(proxy.router!.config, routes);
  assert.equal(ps.nft, null);
  assert.deepEqual(ps.sysctls, {});
  assert.equal(ps.ip[0]?.[2], "192.168.12.99/24");
  const unit = planRouterPod(
    pod(),
    { init: [routerC({ ...REDIRECT, EGRESS_ROUTER_MODE: "unit-test" })], main: [] },
    envOf,
  )!;
  assert.deepEqual(routerSteps(unit.router!.config, routes).ip, []);
  const out = unitTestOutput(unit.router!.config);
  assert.match(out, /^sysctl -w net\.ipv4\.ip_forward=1\nip address add 192\.168\.12\.99\/24 dev macvlan0/);
  assert.match(out, /table ip egress-router \{/);
  assert.equal(unitTestOutput(plan.router!.config), "");
});

test("fencePlan: cut off → every up veth down; reachable → every down veth up (after a probe)", () => {
  const t = (n: string): FenceTarget => ({ key: `ns/${n}`, netns: `netns-${n}`, hostVeth: `mv${n}` });
  const targets = [t("a"), t("b"), t("c")];
  const up = new Map([
    ["mva", true],
    ["mvb", false],
    // mvc absent: not attached yet or already gone
  ]);
  const names = (xs: FenceTarget[]) => xs.map((x) => x.hostVeth);
  const cut = fencePlan(targets, up, false);
  assert.deepEqual([names(cut.fence), names(cut.unfence)], [["mva"], []]);
  const back = fencePlan(targets, up, true);
  assert.deepEqual([names(back.fence), names(back.unfence)], [[], ["mvb"]]);
  assert.deepEqual(fencePlan([], up, false), { fence: [], unfence: [] });
});

test("fenceTargets: router pods with an attached egress veth only", () => {
  const pod = (name: string, router?: PodState["router"]): PodState => ({
    uid: name,
    namespace: "default",
    name,
    netns: `n-${name}`,
    ip: "10.128.0.2",
    pids: [],
    ...(router ? { router } : {}),
  });
  assert.deepEqual(
    fenceTargets([
      pod("plain"),
      pod("pending", { done: false }),
      pod("router", { done: true, hostVeth: "mv123" }),
    ]),
    [{ key: "default/router", netns: "n-router", hostVeth: "mv123" }],
  );
});

test("arping -D output: free, held (reply or request from the address), errors", () => {
  const table: [number | null, string, string, DadResult][] = [
    [
      0,
      "ARPING 192.168.12.99 from 0.0.0.0 macvlan0\nSent 2 probes (2 broadcast(s))\nReceived 0 response(s)\n",
      "",
      { kind: "free" },
    ],
    [
      1,
      "ARPING 192.168.12.99 from 0.0.0.0 macvlan0\nUnicast reply from 192.168.12.99 [BE:E9:FF:19:62:7A]  4.428ms\nSent 1 probes (1 broadcast(s))\nReceived 1 response(s)\n",
      "",
      { kind: "held", mac: "be:e9:ff:19:62:7a" },
    ],
    [
      1,
      "ARPING 192.168.12.99 from 0.0.0.0 macvlan0\nBroadcast request from 192.168.12.99 [02:00:00:00:00:01]  1.0ms\n",
      "",
      { kind: "held", mac: "02:00:00:00:00:01" },
    ],
    [
      2,
      "",
      'arping: Interface "macvlan0" is down\n',
      { kind: "error", message: 'exit 2: arping: Interface "macvlan0" is down' },
    ],
    [
      1,
      "ARPING 192.168.12.99 from 0.0.0.0 macvlan0\n",
      "",
      { kind: "error", message: "exit 1: ARPING 192.168.12.99 from 0.0.0.0 macvlan0" },
    ],
    [null, "", "killed", { kind: "error", message: "exit null: killed" }],
  ];
  for (const [code, out, err, want] of table) assert.deepEqual(parseDad(code, out, err), want, out || err);
});

test("staggered probes: any holder wins, free only when every probe heard no one", () => {
  const free: DadResult = { kind: "free" };
  const held: DadResult = { kind: "held", mac: "02:00:00:00:00:01" };
  const err: DadResult = { kind: "error", message: "exit 2: x" };
  assert.deepEqual(combineDad([free, free, free]), free);
  assert.deepEqual(combineDad([free, held, free]), held);
  assert.deepEqual(combineDad([err, held]), held);
  assert.deepEqual(combineDad([free, err, free]), err);
  assert.deepEqual(combineDad([]), free);
});

test("probe path: the pod's veth and the underlay port must both forward on the same bridge", () => {
  const up = { operstate: "UP" };
  const port = (state: string, master = "eth1") => ({ master, state, operstate: "UP" });
  const table: [PortView | undefined, PortView | undefined, PortView | undefined, string | undefined][] = [
    [up, port("forwarding"), port("forwarding"), undefined],
    [{ operstate: "DOWN" }, port("forwarding"), port("forwarding"), "pod interface is DOWN"],
    [undefined, port("forwarding"), port("forwarding"), "pod interface is missing"],
    [up, undefined, port("forwarding"), "node end of the egress veth is missing"],
    // The bridge was deleted under the pod (two concurrent takeovers): no master, isolated.
    [up, { operstate: "UP" }, undefined, "node end of the egress veth is not on the underlay bridge"],
    [up, port("disabled"), port("forwarding"), "node end of the egress veth is disabled"],
    [up, port("forwarding"), undefined, "underlay port of eth1 is missing"],
    [up, port("forwarding"), port("forwarding", "br9"), "underlay port is not on eth1"],
    [up, port("forwarding"), port("disabled"), "underlay port is disabled"],
  ];
  for (const [pod, host, underlay, want] of table)
    assert.equal(probePathProblem(pod, host, underlay), want, JSON.stringify([pod, host, underlay]));
});
