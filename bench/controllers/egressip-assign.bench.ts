// Benchmark: whole-cluster EgressIP assignment for 5,000 nodes and 1,000 EgressIPs of 1–4 IPs.
// Run: node .build/<you>/bench/controllers/egressip-assign.bench.js (or dist/…). Prints ms per run
// for: first placement, steady state (result fed back, nothing moves), one node failing.
import { type AssignInput, assignEgressIPs } from "../../src/controllers/egressip/assign.js";
import { EGRESS_ASSIGNABLE_LABEL } from "../../src/controllers/egressip/node.js";

const NODES = 5000;
const EIPS = 1000;

function build(subnets: number): AssignInput {
  const nodes = [];
  for (let i = 0; i < NODES; i++) {
    const s = i % subnets;
    const ip = `10.${s}.${(i >> 8) & 255}.${i & 255}`;
    nodes.push({
      name: `node-${String(i).padStart(5, "0")}`,
      labels: { [EGRESS_ASSIGNABLE_LABEL]: "" },
      ready: true,
      reachable: true,
      addresses: [ip],
      primaryIfAddr: { ipv4: `${ip}/16` },
    });
  }
  const egressIPs = [];
  let k = 0;
  for (let e = 0; e < EIPS; e++) {
    const ips: string[] = [];
    for (let j = 0; j < 1 + (e % 4); j++, k++)
      ips.push(
        `10.${k % subnets}.200.${k % 250}`.replace(
          /200\.(\d+)$/,
          (_m, h) => `${200 + Math.floor(k / 250 / subnets)}.${h}`,
        ),
      );
    egressIPs.push({
      name: `eip-${String(e).padStart(4, "0")}`,
      creationTimestamp: "2024-01-01T00:00:00Z",
      egressIPs: ips,
      status: [],
    });
  }
  return { nodes, egressIPs, platform: "BareMetal" };
}

function time(label: string, f: () => void, runs = 20): number {
  f(); // warm-up
  const t = [];
  const cpu = [];
  for (let i = 0; i < runs; i++) {
    const s = process.hrtime.bigint();
    const c = process.cpuUsage();
    f();
    const d = process.cpuUsage(c);
    t.push(Number(process.hrtime.bigint() - s) / 1e6);
    cpu.push((d.user + d.system) / 1e3);
  }
  cpu.sort((a, b) => a - b);
  t.sort((a, b) => a - b);
  const med = t[Math.floor(t.length / 2)]!;
  console.log(
    `${label.padEnd(50)} wall median ${med.toFixed(1)} ms, min ${t[0]!.toFixed(1)} ms; CPU median ${cpu[Math.floor(cpu.length / 2)]!.toFixed(1)} ms, min ${cpu[0]!.toFixed(1)} ms`,
  );
  return med;
}

for (const subnets of [1, 50]) {
  const input = build(subnets);
  const ipCount = input.egressIPs.reduce((s, e) => s + e.egressIPs.length, 0);
  console.log(`${NODES} nodes in ${subnets} subnet(s), ${EIPS} EgressIPs, ${ipCount} IPs`);
  let r = assignEgressIPs(input);
  time("  first placement (empty status)", () => {
    r = assignEgressIPs(input);
  });
  const settled: AssignInput = {
    ...input,
    egressIPs: input.egressIPs.map((e) => ({ ...e, status: r.status.get(e.name) ?? [] })),
  };
  time("  steady state (status fed back, nothing moves)", () => {
    r = assignEgressIPs(settled);
  });
  if (r.moves.length !== 0) throw new Error("steady state moved something");
  const victim = settled.egressIPs[0]!.status[0]!.node;
  const failed: AssignInput = {
    ...settled,
    nodes: settled.nodes.map((n) => (n.name === victim ? { ...n, ready: false } : n)),
  };
  time(`  one node NotReady (${victim})`, () => {
    r = assignEgressIPs(failed);
  });
  console.log(
    `    moves: ${r.moves.length} (all from ${victim}: ${r.moves.every((m) => m.from === victim)})`,
  );
}
