// Failover outage in the lab, measured with real packets (root). Brings up its own lab
// (`lab up --example seed`, random id, temporary state dir), adds one selected client pod per node,
// then repeats two scenarios and prints one line per run and a JSON summary:
//   link:  the node holding an egress IP has its underlay link cut (fabric veth down); a pod on the
//          node holding no egress IP connects to the echo server every 50 ms (300 ms timeout).
//          Outage = cut → end of the first successful probe after the last failed one. Then the link
//          comes back and the time the old holder keeps the address (two holders) is measured,
//          with broadcast ARP from ext1 every 100 ms counting answerers.
//   agent: the holder's agent is SIGKILLed instead; the node stays on the network and its kernel
//          keeps the address and SNAT rules of the dead agent. Probed for --window ms; then the
//          agent is restarted as `lab up` starts it and the time until the assignment is consistent
//          again (each IP on exactly its holder) is measured.
// A probe pod evicted because a cut outlasted the node grace (4 s) is created again before the next
// run (logged, and listed in the summary as probePodsRecreated).
// Never touches anything outside its own lab; `lab down` runs in `finally`.
//
//   npx tsc -p tsconfig.json --outDir .build/x && node .build/x/bench/lab/failover.bench.js --runs 20
//   options: --mode link|agent|both (both), --window ms (6000, agent mode), --keep (leave the lab up)
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  type ConnectRecord,
  type EgressAssignment,
  Lab,
  labSkip,
  now,
  outage,
  type PodInfo,
  pidAlive,
  sleep,
  waitFor,
} from "../../test/e2e/lab/probe.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "20" },
    mode: { type: "string", default: "both" },
    window: { type: "string", default: "6000" },
    keep: { type: "boolean", default: false },
  },
});
const RUNS = Number(values.runs);
const WINDOW = Number(values.window);
const ECHO = "192.168.126.200";
const EGRESS_IPS = ["192.168.126.10", "192.168.126.102"];
const NODES = ["node1", "node2", "node3"];

const skip = labSkip();
if (skip) {
  console.error(`failover bench skipped: ${skip}`);
  process.exit(0);
}

const q = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};
const med = (xs: number[]) => Math.round(q(xs, 0.5));
const max = (xs: number[]) => Math.round(Math.max(...xs));
const merge = (into: Record<string, number>, add: Record<string, number>) => {
  for (const [k, v] of Object.entries(add)) into[k] = (into[k] ?? 0) + v;
};
const log = (s: string) => process.stdout.write(`${s}\n`);

const lab = new Lab("b");
const agentPid = new Map<string, number>();
const probePods = new Map<string, PodInfo>();

/** The node holding no egress IP (exactly one of three), where the probe runs. */
const bystander = (eips: EgressAssignment[]) => NODES.find((n) => !eips.some((e) => e.node === n))!;

const ms = (x: number) => (Number.isFinite(x) ? `${Math.round(x)} ms` : String(x));
const sum = (...ms: Record<string, number>[]) => {
  const out: Record<string, number> = {};
  for (const m of ms) merge(out, m);
  return out;
};
const seen = (rs: ConnectRecord[]) => {
  const m: Record<string, number> = {};
  for (const x of rs) if (x.ok) m[x.src!] = (m[x.src!] ?? 0) + 1;
  return m;
};

/** Two probes: one on the node holding no egress IP (it becomes the new holder, so its flows take
 *  the local path) and one on the other holder (its flows to the moved IP are rerouted). */
async function startProbes(eips: EgressAssignment[], from: string) {
  const nodes = [bystander(eips), NODES.find((n) => n !== from && n !== bystander(eips))!];
  const probes = nodes.map((n) => ({
    node: n,
    probe: lab.probe(probePods.get(n)!.netns, "connect", ECHO, 7000, 50, 300),
  }));
  for (const p of probes) await p.probe.ready(5);
  await sleep(700);
  return probes;
}

async function stopProbes(probes: Awaited<ReturnType<typeof startProbes>>, cutAt: number) {
  const out = [];
  for (const { node, probe } of probes) {
    await probe.stop();
    const o = outage(probe.connects, cutAt, EGRESS_IPS);
    out.push({
      node,
      recs: probe.connects,
      o,
      leaks: o.leaks.map((x) => `${x.src}@+${Math.round(x.t0 - cutAt)}ms`),
    });
  }
  return out as [(typeof out)[number], (typeof out)[number]];
}

async function linkRun(i: number) {
  const eips = await lab.waitStable(2, 1000, 30_000);
  const ip = EGRESS_IPS[i % 2]!;
  const from = eips.find((e) => e.egressIP === ip)!.node;
  const probes = await startProbes(eips, from);
  const cutAt = now();
  lab.link(from, "down");
  let movedMs = Number.NaN;
  const to = await waitFor(
    "the IP on a new holder",
    async () => {
      const s = (await lab.egressIPStatus()).find((e) => e.egressIP === ip);
      if (s && s.node !== from && Number.isNaN(movedMs)) movedMs = now() - cutAt;
      return s && s.node !== from && lab.addressHolders(ip, [s.node]).length === 1 ? s.node : undefined;
    },
    15_000,
    25,
  );
  const addedMs = now() - cutAt;
  await sleep(1500);
  const [a, b] = await stopProbes(probes, cutAt);
  // Link back: how long does the old holder keep the address, and does ARP see two answerers?
  const arp = lab.arpAnswers(ip, 4000, 100);
  await sleep(200);
  const upAt = now();
  lab.link(from, "up");
  const keptMs = await waitFor(
    `${from} dropping ${ip}`,
    () => (lab.addressHolders(ip, [from]).length === 0 ? now() - upAt : undefined),
    20_000,
    20,
  );
  const macs = await arp;
  const r = {
    ip,
    from,
    to,
    outageMs: Math.max(a.o.outageMs, b.o.outageMs),
    outageOnNewHolderMs: a.o.outageMs,
    outageElsewhereMs: b.o.outageMs,
    failed: a.o.failed + b.o.failed,
    statusMovedMs: movedMs,
    addressOnNewHolderMs: addedMs,
    leaks: [...a.leaks, ...b.leaks],
    seenAfterCut: sum(a.o.during, a.o.after, b.o.during, b.o.after),
    oldHolderKeptAfterLinkUpMs: keptMs,
    arpAnswerers: macs.length,
  };
  log(
    `link  #${i + 1} ${ip} ${from}→${to}: outage ${ms(a.o.outageMs)} (probe on ${a.node}, ${a.o.failed} failed) / ` +
      `${ms(b.o.outageMs)} (probe on ${b.node}, ${b.o.failed} failed), status moved +${ms(movedMs)}, ` +
      `address on ${to} +${ms(addedMs)}, leaks ${JSON.stringify(r.leaks)}; ` +
      `link up: ${from} kept the IP ${ms(keptMs)}, ARP answerers ${macs.join(",")}`,
  );
  return r;
}

async function agentRun(i: number) {
  const eips = await lab.waitStable(2, 1000, 30_000);
  const ip = EGRESS_IPS[i % 2]!;
  const from = eips.find((e) => e.egressIP === ip)!.node;
  const pid = agentPid.get(from)!;
  if (!pidAlive(pid)) throw new Error(`agent of ${from} (pid ${pid}) is not running`);
  const probes = await startProbes(eips, from);
  const killAt = now();
  process.kill(pid, "SIGKILL");
  let movedMs = Number.NaN;
  let to = "";
  let addedMs = Number.NaN;
  while (now() - killAt < WINDOW) {
    const s = (await lab.egressIPStatus()).find((e) => e.egressIP === ip);
    if (s && s.node !== from) {
      if (Number.isNaN(movedMs)) movedMs = now() - killAt;
      to = s.node;
      if (Number.isNaN(addedMs) && lab.addressHolders(ip, [s.node]).length === 1) addedMs = now() - killAt;
    }
    await sleep(50);
  }
  const arp = await lab.arpAnswers(ip, 1000, 200);
  const results = await stopProbes(probes, killAt);
  const per = results.map(({ node, recs, o, leaks }) => {
    const tail = recs.filter((x) => x.t0 > killAt + WINDOW - 1000);
    const afterMove = recs.filter((x) => !Number.isNaN(movedMs) && x.t0 > killAt + movedMs);
    return {
      node,
      recovered: tail.length > 0 && tail.every((x) => x.ok),
      outageMs: o.outageMs,
      failed: o.failed,
      failRatioAfterMove: afterMove.length
        ? afterMove.filter((x) => !x.ok).length / afterMove.length
        : Number.NaN,
      seenAfterMove: seen(afterMove),
      leaks,
    };
  });
  const oldStillHas = lab.addressHolders(ip, [from]).length === 1;
  // Restart the agent as the lab does, and wait until each IP is on exactly its holder again.
  const restartAt = now();
  const newPid = await lab.restartAgent(from, join(lab.stateDir, "logs", `bench-restart-${from}.log`));
  agentPid.set(from, newPid);
  await lab.waitStable(2, 500, 60_000);
  const consistentMs = now() - restartAt;
  const r = {
    ip,
    from,
    to,
    recovered: per.every((p) => p.recovered),
    outageMs: per.every((p) => p.recovered)
      ? Math.max(...per.map((p) => p.outageMs))
      : Number.POSITIVE_INFINITY,
    per,
    statusMovedMs: movedMs,
    addressOnNewHolderMs: addedMs,
    oldHolderStillHasAddress: oldStillHas,
    arpAnswerers: arp,
    seenAfterMove: sum(...per.map((p) => p.seenAfterMove)),
    leaks: per.flatMap((p) => p.leaks),
    consistentAfterRestartMs: consistentMs,
  };
  log(
    `agent #${i + 1} ${ip} ${from}→${to || "-"}: status moved +${ms(movedMs)}, address on new holder ` +
      `${Number.isNaN(addedMs) ? "never" : `+${ms(addedMs)}`}, old holder keeps it: ${oldStillHas}, ARP answered by ` +
      `${arp.join(",") || "nobody"}; ${per
        .map(
          (p) =>
            `probe on ${p.node}: recovered ${p.recovered}, failed after move ${(p.failRatioAfterMove * 100).toFixed(0)}%, ` +
            `seen after move ${JSON.stringify(p.seenAfterMove)}, leaks ${JSON.stringify(p.leaks)}`,
        )
        .join("; ")}; consistent ${ms(consistentMs)} after restart`,
  );
  return r;
}

const errors: string[] = [];
/** Probe pods created again because the node lifecycle controller had evicted them. */
const recreated: string[] = [];

/** A cut that outlasts the node grace (4 s) gets the node tainted and its pods evicted, the bench's
 *  probe pod among them (it runs without a toleration, like any pod): create it again before the
 *  next run instead of failing every later run on that node. */
async function ensureProbePods(run: number): Promise<void> {
  const running = new Set(
    lab
      .status()
      .pods.filter((p) => p.phase === "Running")
      .map((p) => `${p.namespace}/${p.name}`),
  );
  for (const n of NODES) {
    const pod = probePods.get(n)!;
    if (running.has(`${pod.namespace}/${pod.name}`) && existsSync(`/run/netns/${pod.netns}`)) continue;
    const name = `bench-${n}-r${run + 1}`;
    log(`probe pod ${pod.namespace}/${pod.name} on ${n} is gone (evicted); creating ${name}`);
    probePods.set(n, await lab.createPod("namespace1", name, n));
    recreated.push(`${n} before run ${run + 1}`);
  }
}

/** One run; an error (e.g. assignments that never settle) is logged and counted, and the lab is
 *  put back together (links up, dead agents restarted) before the next run. */
async function attempt<T>(mode: string, i: number, run: () => Promise<T>): Promise<T | undefined> {
  try {
    await ensureProbePods(i);
    return await run();
  } catch (e) {
    const msg = `${mode} #${i + 1}: ${e instanceof Error ? e.message : String(e)}`;
    errors.push(msg);
    log(`ERROR ${msg}`);
    for (const n of NODES) lab.link(n, "up");
    for (const n of NODES)
      if (!pidAlive(agentPid.get(n)!))
        agentPid.set(n, await lab.restartAgent(n, join(lab.stateDir, "logs", `bench-restart-${n}.log`)));
    await sleep(3000);
    return undefined;
  }
}

const started = Date.now();
try {
  log(`lab ${lab.id}: up --example seed`);
  lab.up();
  await lab.waitSeedReady();
  for (const n of NODES) probePods.set(n, await lab.createPod("namespace1", `bench-${n}`, n));
  for (const n of NODES) agentPid.set(n, lab.agentRecord(n).pid!);
  await lab.waitStable(2, 2000, 30_000);
  const macs = NODES.map((n) => `${n}=${lab.mac(n)}`).join(" ");
  log(`ready after ${((Date.now() - started) / 1000).toFixed(1)} s; ${macs}; load ${load()}`);

  const summary: Record<string, unknown> = { runs: RUNS, probe: "connect every 50 ms, 300 ms timeout" };
  if (values.mode === "link" || values.mode === "both") {
    const rs = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await attempt("link", i, () => linkRun(i));
      if (r) rs.push(r);
    }
    const seen: Record<string, number> = {};
    for (const r of rs) merge(seen, r.seenAfterCut);
    summary.link = {
      outageMs: { median: med(rs.map((r) => r.outageMs)), max: max(rs.map((r) => r.outageMs)) },
      outageProbeOnNewHolderMs: {
        median: med(rs.map((r) => r.outageOnNewHolderMs)),
        max: max(rs.map((r) => r.outageOnNewHolderMs)),
      },
      outageProbeOnOtherHolderMs: {
        median: med(rs.map((r) => r.outageElsewhereMs)),
        max: max(rs.map((r) => r.outageElsewhereMs)),
      },
      runsWithoutFailedProbe: rs.filter((r) => r.failed === 0).length,
      statusMovedMs: {
        median: med(rs.map((r) => r.statusMovedMs)),
        max: max(rs.map((r) => r.statusMovedMs)),
      },
      addressOnNewHolderMs: {
        median: med(rs.map((r) => r.addressOnNewHolderMs)),
        max: max(rs.map((r) => r.addressOnNewHolderMs)),
      },
      leakedProbes: rs.flatMap((r) => r.leaks),
      seenAfterCut: seen,
      oldHolderKeptAfterLinkUpMs: {
        median: med(rs.map((r) => r.oldHolderKeptAfterLinkUpMs)),
        max: max(rs.map((r) => r.oldHolderKeptAfterLinkUpMs)),
      },
      runsWithTwoArpAnswerers: rs.filter((r) => r.arpAnswerers > 1).length,
    };
  }
  if (values.mode === "agent" || values.mode === "both") {
    const rs = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await attempt("agent", i, () => agentRun(i));
      if (r) rs.push(r);
    }
    const seen: Record<string, number> = {};
    for (const r of rs) merge(seen, r.seenAfterMove);
    const rec = rs.filter((r) => r.recovered);
    summary.agent = {
      windowMs: WINDOW,
      recoveredWithinWindow: rec.length,
      outageMsOfRecovered: rec.length
        ? { median: med(rec.map((r) => r.outageMs)), max: max(rec.map((r) => r.outageMs)) }
        : null,
      statusMovedMs: {
        median: med(rs.map((r) => r.statusMovedMs)),
        max: max(rs.map((r) => r.statusMovedMs)),
      },
      newHolderAddedAddress: rs.filter((r) => !Number.isNaN(r.addressOnNewHolderMs)).length,
      oldHolderStillHasAddress: rs.filter((r) => r.oldHolderStillHasAddress).length,
      failedProbesAfterMovePercent: {
        probeOnNewHolder: Math.round(
          100 *
            q(
              rs.map((r) => r.per[0]!.failRatioAfterMove),
              0.5,
            ),
        ),
        probeOnOtherHolder: Math.round(
          100 *
            q(
              rs.map((r) => r.per[1]!.failRatioAfterMove),
              0.5,
            ),
        ),
      },
      seenAfterMove: seen,
      leakedProbes: rs.flatMap((r) => r.leaks),
      consistentAfterRestartMs: {
        median: med(rs.map((r) => r.consistentAfterRestartMs)),
        max: max(rs.map((r) => r.consistentAfterRestartMs)),
      },
    };
  }
  summary.errors = errors;
  summary.probePodsRecreated = recreated;
  summary.loadAverage = load();
  summary.wallSeconds = Math.round((Date.now() - started) / 1000);
  log(JSON.stringify(summary, null, 2));
} finally {
  if (values.keep) log(`lab ${lab.id} kept: state ${lab.stateDir}`);
  else {
    const r = lab.down();
    if (r.code !== 0) console.error(`lab down failed: ${r.stderr}`);
    lab.removeBase();
  }
}

function load(): string {
  return loadavg()
    .map((x) => x.toFixed(1))
    .join(" ");
}
