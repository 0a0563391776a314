// Redirect mode throughput (issue 5): iperf3 through an egress router namespace carrying the
// nftables that `egress router render` prints (DNAT per port, SNAT to EGRESS_SOURCE, refusal of
// other ports), against the same path without it. Target: router ≥ 0.95 of direct (it is kernel NAT).
//
//   client (eth0 10.128.0.5/24) ── router/forwarder (eth0 10.128.0.1/24, macvlan0 192.168.12.99/24)
//     ── server (eth0 192.168.12.1/24 = the egress gateway, 203.0.113.25/32 on lo, iperf3 -s)
//
// One set of namespaces; each round measures three setups, each going first in turn (the middle
// namespace's ruleset is flushed before each): "router" loads the rendered script and the client
// connects to the router's cluster address 10.128.0.1 (DNAT to 203.0.113.25, SNAT to
// 192.168.12.99); "direct": no ruleset, the client connects to 203.0.113.25 itself (routed, no
// conntrack); "direct-nat": the same route with the middle namespace masquerading the client to its
// own address, as a node does for a pod that reaches an outside server without a router (conntrack
// and one NAT, but no DNAT map and no refusal chain). The namespaces are deleted at the end, also
// on failure. Needs root and iperf3. Prints a markdown table and one JSON line.
//   node dist/bench/router/redirect.bench.js [--runs 7] [--seconds 3] [--sysctl k=v,...]
// --sysctl sets sysctls in the middle namespace only (experiments; docs/benchmarks.md).
import { execFileSync, spawn } from "node:child_process";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { cleanupOnSignal } from "../../test/e2e/support/on-signal.js";
import { arg, textArg } from "../support/args.js";

const RUNS = arg("runs", 7);
const SECONDS = arg("seconds", 3);
/** --sysctl a=b,c=d: set in the middle namespace (its own, never the host's), for experiments. */
const SYSCTLS = (textArg("sysctl") ?? "").split(",").filter((kv) => kv !== "");
const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

const P = `rtb${process.pid % 100000}`;
const NS = { client: `${P}-c`, router: `${P}-r`, server: `${P}-s` };
const SOURCE = "192.168.12.99";
const GATEWAY = "192.168.12.1";
const TARGET = "203.0.113.25";
const ROUTER_CLUSTER_IP = "10.128.0.1";
const PORT = 5201;
/** "direct-nat": what a node does for a pod that reaches outside without a router. */
const MASQUERADE = `table ip nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 10.128.0.0/14 ip daddr != 10.128.0.0/14 masquerade
	}
}
`;

const sh = (cmd: string, args: string[], input?: string) =>
  execFileSync(cmd, args, { encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], ...(input ? { input } : {}) });
const ip = (ns: string, line: string) => sh("ip", ["-n", ns, ...line.split(" ")]);
const inNs = (ns: string, ...argv: string[]) => sh("ip", ["netns", "exec", ns, ...argv]);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

/** The router's nftables script, rendered by our CLI from the pod's environment. */
function renderWithEnv(): string {
  return execFileSync(process.execPath, [CLI, "router", "render"], {
    encoding: "utf8",
    env: {
      ...process.env,
      EGRESS_ROUTER_MODE: "init",
      EGRESS_SOURCE: `${SOURCE}/24`,
      EGRESS_GATEWAY: GATEWAY,
      EGRESS_DESTINATION: `${PORT} tcp ${TARGET}\n`,
    },
  });
}

function setup(): void {
  for (const ns of Object.values(NS)) sh("ip", ["netns", "add", ns]);
  for (const ns of Object.values(NS)) ip(ns, "link set lo up");
  // client <-> router (the router's cluster interface is eth0, as in the pod)
  ip(NS.client, `link add eth0 type veth peer name eth0 netns ${NS.router}`);
  // router <-> server (the router's egress interface is macvlan0, as in the pod)
  ip(NS.router, `link add macvlan0 type veth peer name eth0 netns ${NS.server}`);
  ip(NS.client, "addr add 10.128.0.5/24 dev eth0");
  ip(NS.client, "link set eth0 up");
  ip(NS.client, `route add default via ${ROUTER_CLUSTER_IP}`);
  ip(NS.router, `addr add ${ROUTER_CLUSTER_IP}/24 dev eth0`);
  ip(NS.router, `addr add ${SOURCE}/24 dev macvlan0`);
  ip(NS.router, "link set eth0 up");
  ip(NS.router, "link set macvlan0 up");
  ip(NS.router, `route add default via ${GATEWAY}`);
  inNs(NS.router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
  for (const kv of SYSCTLS) inNs(NS.router, "sysctl", "-q", "-w", kv);
  ip(NS.server, `addr add ${GATEWAY}/24 dev eth0`);
  ip(NS.server, `addr add ${TARGET}/32 dev lo`);
  ip(NS.server, "link set eth0 up");
  // Only the direct setup needs this: the router's replies go to the SNAT address.
  ip(NS.server, `route add 10.128.0.0/24 via ${SOURCE}`);
}

function cleanup(): void {
  for (const ns of Object.values(NS)) {
    try {
      sh("ip", ["netns", "del", ns]);
    } catch {
      // not there
    }
  }
}

function iperf(target: string): number {
  const out = inNs(NS.client, "iperf3", "-c", target, "-p", String(PORT), "-t", String(SECONDS), "-J");
  const j = JSON.parse(out) as { error?: string; end?: { sum_received?: { bits_per_second?: number } } };
  const bps = j.end?.sum_received?.bits_per_second;
  if (j.error || !bps) throw new Error(`iperf3 → ${target}: ${j.error ?? out.slice(0, 200)}`);
  return bps;
}

async function main(): Promise<void> {
  cleanup();
  const script = renderWithEnv();
  setup();
  const server = spawn(
    "ip",
    ["netns", "exec", NS.server, "iperf3", "-s", "--forceflush", "-p", String(PORT)],
    {
      stdio: ["ignore", "pipe", "ignore"],
    },
  );
  // "Accepted connection from A, port N": who the server saw, per test.
  let serverLog = "";
  server.stdout.on("data", (d: Buffer) => (serverLog += d.toString()));
  const unregister = cleanupOnSignal(() => {
    server.kill();
    cleanup();
  });
  const peers = () => [...serverLog.matchAll(/Accepted connection from ([\d.]+)/g)].map((m) => m[1]!);
  try {
    await new Promise((r) => setTimeout(r, 300));
    type Setup = "router" | "direct" | "direct-nat";
    const results: Record<Setup, number[]> = { router: [], direct: [], "direct-nat": [] };
    const ratios: number[] = [];
    const natRatios: number[] = [];
    const loads: string[] = [load()];
    const measure = async (which: Setup): Promise<number> => {
      sh("ip", ["netns", "exec", NS.router, "nft", "flush", "ruleset"]);
      if (which === "router") sh("ip", ["netns", "exec", NS.router, "nft", "-f", "-"], script);
      if (which === "direct-nat") sh("ip", ["netns", "exec", NS.router, "nft", "-f", "-"], MASQUERADE);
      const before = peers().length;
      const bps = iperf(which === "router" ? ROUTER_CLUSTER_IP : TARGET);
      await new Promise((r) => setTimeout(r, 100)); // the server's output arrives on the event loop
      // The path must be the one we claim: through the router the server sees EGRESS_SOURCE.
      const seen = new Set(peers().slice(before));
      const want = which === "direct" ? "10.128.0.5" : SOURCE;
      if (seen.size !== 1 || !seen.has(want))
        throw new Error(`${which}: server saw ${[...seen].join(",") || "nothing"}, expected ${want}`);
      return bps;
    };
    for (let i = 0; i < RUNS; i++) {
      const order: Setup[] = ["router", "direct", "direct-nat"];
      for (let k = 0; k < i % 3; k++) order.push(order.shift()!); // each setup goes first in turn
      const got: Record<string, number> = {};
      for (const w of order) got[w] = await measure(w);
      for (const w of order) results[w].push(got[w]!);
      ratios.push(got.router! / got.direct!);
      natRatios.push(got.router! / got["direct-nat"]!);
      loads.push(load());
    }
    const gbit = (b: number) => (b / 1e9).toFixed(2);
    process.stdout.write(
      "| run | router Gbit/s | direct Gbit/s | direct-nat Gbit/s | router/direct | router/direct-nat | load (1/5/15 min) after |\n|---|---|---|---|---|---|---|\n",
    );
    for (let i = 0; i < RUNS; i++)
      process.stdout.write(
        `| ${i + 1} | ${gbit(results.router[i]!)} | ${gbit(results.direct[i]!)} | ${gbit(results["direct-nat"][i]!)} | ${ratios[i]!.toFixed(3)} | ${natRatios[i]!.toFixed(3)} | ${loads[i + 1]} |\n`,
      );
    const summary = {
      runs: RUNS,
      seconds: SECONDS,
      routerMedianBps: median(results.router),
      directMedianBps: median(results.direct),
      medianRatio: median(ratios),
      ratioOfMedians: median(results.router) / median(results.direct),
      directNatMedianBps: median(results["direct-nat"]),
      medianRatioToDirectNat: median(natRatios),
      loadBefore: loads[0],
      loadAfter: loads.at(-1),
    };
    process.stdout.write(
      `median ratio router/direct: ${summary.medianRatio.toFixed(3)} (target ≥ 0.95); router/direct-nat: ${summary.medianRatioToDirectNat.toFixed(3)}\n${JSON.stringify(summary)}\n`,
    );
  } finally {
    unregister();
    server.kill();
    cleanup();
  }
}

main().catch((e: unknown) => {
  cleanup();
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
