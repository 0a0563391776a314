// Project networks end to end: the NetNamespace controller against `egress server`, driven with
// real kubectl and the `egress adm pod-network` CLI (spawned from its compiled entry).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import {
  AdmError,
  EXIT_USAGE,
  type PodNetworkArgs,
  parseDuration,
  runPodNetwork,
} from "../../../src/cli/adm.js";
import { NetNamespaceController } from "../../../src/controllers/netnamespace/controller.js";
import { MAX_VNID, MIN_VNID } from "../../../src/controllers/netnamespace/netid.js";
import type { PodNetworkCommand } from "../../../src/controllers/netnamespace/podnetwork.js";
import { eventually, startTestControlPlane, type TestControlPlane } from "../support/control-plane.js";

const ENTRY = fileURLToPath(new URL("../../../src/cli/adm-entry.js", import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function adm(kubeconfig: string, args: string[], timeout = "10s"): Promise<Run> {
  const child = spawn(
    process.execPath,
    [ENTRY, "adm", "pod-network", ...args, "--kubeconfig", kubeconfig, "--timeout", timeout],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on("close", (c) => resolve({ code: c ?? -1, stdout, stderr })));
}

async function netids(tc: TestControlPlane): Promise<Map<string, number>> {
  const out = await tc.kubectl.ok([
    "get",
    "netnamespaces",
    "-o",
    'jsonpath={range .items[*]}{.metadata.name}={.netid}{"\\n"}{end}',
  ]);
  return new Map(
    out
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), Number(l.slice(l.indexOf("=") + 1))] as const),
  );
}

async function waitNetNamespaces(tc: TestControlPlane, names: string[]): Promise<Map<string, number>> {
  return eventually(
    async () => {
      const m = await netids(tc);
      return names.every((n) => m.has(n)) ? m : undefined;
    },
    10_000,
    `NetNamespaces ${names.join(", ")}`,
  );
}

describe("NetNamespace controller, multitenant mode", () => {
  let tc: TestControlPlane;
  let kc: string;
  before(async () => {
    tc = await startTestControlPlane([new NetNamespaceController()], {
      options: { networkMode: "multitenant", globalNamespaces: ["infra"] },
    });
    kc = tc.srv.kubeconfigPath;
    for (const ns of ["p1", "p2", "p3", "p4", "infra"]) await tc.kubectl.ok(["create", "namespace", ns]);
  });
  after(async () => {
    await tc?.stop();
  });

  test("every namespace gets a NetNamespace: default and global ones 0, others unique in range", async () => {
    const m = await waitNetNamespaces(tc, ["default", "p1", "p2", "p3", "p4", "infra"]);
    assert.equal(m.get("default"), 0);
    assert.equal(m.get("infra"), 0);
    const others = ["p1", "p2", "p3", "p4"].map((n) => m.get(n)!);
    for (const id of others) assert.ok(id >= MIN_VNID && id <= MAX_VNID, `netid ${id} in range`);
    assert.equal(new Set(others).size, others.length, "unique netids");
    assert.equal(await tc.kubectl.ok(["get", "netnamespace", "p1", "-o", "jsonpath={.netname}"]), "p1");
    const table = await tc.kubectl.ok(["get", "netnamespaces"]);
    assert.match(table.split("\n")[0]!, /^NAME\s+NETID\s+EGRESS IPS/);
    assert.match(table, new RegExp(`\\np1\\s+${m.get("p1")}\\s+<none>`));
  });

  test("join-projects gives the projects the target's netid", async () => {
    const r = await adm(kc, ["join-projects", "--to=p1", "p2", "p3"]);
    assert.equal(r.code, 0, r.stderr);
    const m = await netids(tc);
    assert.equal(m.get("p2"), m.get("p1"));
    assert.equal(m.get("p3"), m.get("p1"));
    assert.match(r.stdout, new RegExp(`netnamespace/p2 netid ${m.get("p1")}`));
    const ann = await tc.kubectl.ok(["get", "netnamespace", "p2", "-o", "jsonpath={.metadata.annotations}"]);
    assert.doesNotMatch(ann, /change-network/, "the controller removed the annotation");
  });

  test("isolate-projects gives each a fresh unique netid", async () => {
    const r = await adm(kc, ["isolate-projects", "p2", "p3"]);
    assert.equal(r.code, 0, r.stderr);
    const m = await netids(tc);
    const ids = [...m.values()].filter((x) => x !== 0);
    for (const p of ["p2", "p3"]) {
      assert.notEqual(m.get(p), 0);
      assert.equal(ids.filter((x) => x === m.get(p)).length, 1, `${p} alone on its netid`);
    }
  });

  test("make-projects-global sets netid 0", async () => {
    const r = await adm(kc, ["make-projects-global", "p2"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await netids(tc)).get("p2"), 0);
  });

  test("--selector selects projects by Namespace labels", async () => {
    await tc.kubectl.ok(["label", "namespace", "p3", "p4", "team=blue"]);
    const r = await adm(kc, ["join-projects", "--to=p1", "--selector=team=blue"]);
    assert.equal(r.code, 0, r.stderr);
    const m = await netids(tc);
    assert.equal(m.get("p3"), m.get("p1"));
    assert.equal(m.get("p4"), m.get("p1"));
    await runPodNetwork(
      tc.client,
      { command: "make-projects-global", projects: [], selector: "team in (blue)" },
      { timeoutMs: 10_000 },
    );
    const m2 = await netids(tc);
    assert.equal(m2.get("p3"), 0);
    assert.equal(m2.get("p4"), 0);
    assert.notEqual(m2.get("p1"), 0);
  });

  test("argument errors exit 2 with upstream's meaning and change nothing", async () => {
    const before = await netids(tc);
    const inProcess: [PodNetworkArgs, RegExp][] = [
      [
        { command: "isolate-projects", projects: [] },
        /must provide --selector=<project_selector> or projects/,
      ],
      [{ command: "join-projects", projects: ["p2"] }, /must provide --to=<project_name>/],
      [{ command: "make-projects-global", projects: ["nope"] }, /project "nope" not found/],
      [{ command: "join-projects", to: "ghost", projects: ["p2"] }, /project "ghost" not found/],
      [{ command: "isolate-projects", projects: [], selector: "team=green" }, /no projects selected/],
      [{ command: "isolate-projects", projects: [], selector: "a b" }, /invalid --selector/],
    ];
    for (const [args, msg] of inProcess)
      await assert.rejects(
        runPodNetwork(tc.client, args, { timeoutMs: 1000 }),
        (e: unknown) => e instanceof AdmError && e.exitCode === EXIT_USAGE && msg.test(e.message),
        JSON.stringify(args),
      );
    // Through the real binary: the exit code and stderr.
    const spawned: [string[], RegExp][] = [
      [
        ["isolate-projects", "p1", "--selector=team=blue"],
        /either specify --selector=<project_selector> or projects but not both/,
      ],
      [["isolate-projects", "default", "p1"], /network isolation for project "default" is forbidden/],
      [["isolate-projects", "--to=p1", "p2"], /unknown option/],
    ];
    const runs = await Promise.all(spawned.map(([args]) => adm(kc, args)));
    spawned.forEach(([args, msg], i) => {
      assert.equal(runs[i]!.code, 2, `${args.join(" ")}: ${runs[i]!.stderr}`);
      assert.match(runs[i]!.stderr, msg, args.join(" "));
    });
    assert.throws(() => parseDuration("--timeout", "soon"), /invalid --timeout "soon"/);
    assert.deepEqual(await netids(tc), before);
  });

  test("isolate of default through the annotation is refused with a Warning and removed", async () => {
    await tc.kubectl.ok([
      "annotate",
      "netnamespace",
      "default",
      "pod.network.openshift.io/multitenant.change-network=isolate",
    ]);
    await eventually(
      async () => {
        const a = await tc.kubectl.ok([
          "get",
          "netnamespace",
          "default",
          "-o",
          "jsonpath={.metadata.annotations}",
        ]);
        return a.includes("change-network") ? undefined : true;
      },
      10_000,
      "annotation removed",
    );
    assert.equal((await netids(tc)).get("default"), 0);
    const ev = await eventually(
      async () => {
        const out = await tc.kubectl.ok([
          "get",
          "events",
          "-n",
          "default",
          "--field-selector",
          "involvedObject.name=default,reason=ChangeNetworkFailed",
          "-o",
          "jsonpath={.items[*].message}",
        ]);
        return out !== "" ? out : undefined;
      },
      5_000,
      "ChangeNetworkFailed event",
    );
    assert.match(ev, /network isolation for namespace "default" is not allowed/);
  });

  test("deleting a namespace deletes its NetNamespace; its netid is reused only when free", async () => {
    await tc.kubectl.ok(["create", "namespace", "q1"]);
    await tc.kubectl.ok(["create", "namespace", "q2"]);
    const x = (await waitNetNamespaces(tc, ["q1", "q2"])).get("q1")!;
    assert.equal((await adm(kc, ["join-projects", "--to=q1", "q2"])).code, 0);
    await tc.kubectl.ok(["delete", "namespace", "q1"]);
    await eventually(async () => ((await netids(tc)).has("q1") ? undefined : true), 10_000, "q1 deleted");
    assert.equal((await netids(tc)).get("q2"), x, "q2 keeps the shared netid");
    // The same name probes from the same start: were x free, q1 would get it again.
    await tc.kubectl.ok(["create", "namespace", "q1"]);
    const again = (await waitNetNamespaces(tc, ["q1"])).get("q1")!;
    assert.notEqual(again, x, "x is still used by q2");
    await tc.kubectl.ok(["delete", "namespace", "q1", "q2"]);
    await eventually(
      async () => {
        const m = await netids(tc);
        return m.has("q1") || m.has("q2") ? undefined : true;
      },
      10_000,
      "q1, q2 deleted",
    );
    await tc.kubectl.ok(["create", "namespace", "q1"]);
    assert.equal((await waitNetNamespaces(tc, ["q1"])).get("q1"), x, "x is free again");
  });

  test("property: across random join/isolate/global sequences, joined netids are equal, isolated unique", async () => {
    const projects = ["r1", "r2", "r3", "r4", "r5"];
    for (const p of projects) await tc.kubectl.ok(["create", "namespace", p]);
    await waitNetNamespaces(tc, projects);
    type Op = { command: PodNetworkCommand; projects: string[]; to?: string };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        command: fc.constant<PodNetworkCommand>("join-projects"),
        to: fc.constantFrom(...projects),
        projects: fc.subarray(projects, { minLength: 1 }),
      }),
      fc.record({
        command: fc.constantFrom<PodNetworkCommand>("isolate-projects", "make-projects-global"),
        projects: fc.subarray(projects, { minLength: 1 }),
      }),
    );
    let fresh = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 3, maxLength: 6 }), async (ops) => {
        // The model: which projects must share a network (a label per equivalence class).
        const start = await netids(tc);
        const label = new Map(projects.map((p) => [p, start.get(p) === 0 ? "global" : `id${start.get(p)}`]));
        for (const o of ops) {
          if (o.command === "join-projects" && o.projects.every((p) => p === o.to)) continue;
          await runPodNetwork(tc.client, o, { timeoutMs: 10_000, pollMs: 20 });
          for (const p of o.projects) {
            if (o.command === "join-projects") {
              if (p !== o.to) label.set(p, label.get(o.to!)!);
            } else label.set(p, o.command === "make-projects-global" ? "global" : `fresh${fresh++}`);
          }
          const m = await netids(tc);
          for (const a of projects) {
            assert.equal(m.get(a) === 0, label.get(a) === "global", `${a} global iff made global`);
            for (const b of projects)
              if (a < b)
                assert.equal(
                  m.get(a) === m.get(b),
                  label.get(a) === label.get(b),
                  `${a}, ${b} share a netid iff joined (after ${JSON.stringify(o)})`,
                );
          }
        }
      }),
      { numRuns: 3, seed: 42 },
    );
  });
});

describe("NetNamespace controller, networkpolicy mode", () => {
  let tc: TestControlPlane;
  before(async () => {
    tc = await startTestControlPlane([new NetNamespaceController()], {
      options: { networkMode: "networkpolicy" },
    });
    await tc.kubectl.ok(["create", "namespace", "a1"]);
    await tc.kubectl.ok(["create", "namespace", "a2"]);
  });
  after(async () => {
    await tc?.stop();
  });

  test("netids are still allocated, but changes are refused with an event and the annotation removed", async () => {
    const m = await waitNetNamespaces(tc, ["a1", "a2"]);
    assert.notEqual(m.get("a1"), m.get("a2"));
    const r = await adm(tc.srv.kubeconfigPath, ["join-projects", "--to=a1", "a2"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /a2: .*network mode is networkpolicy; project networks can be changed only in multitenant mode/,
    );
    assert.deepEqual(await netids(tc), m);
  });

  test("the CLI times out (exit 3) when no controller applies the change", async () => {
    await tc.cp.stop();
    const r = await adm(tc.srv.kubeconfigPath, ["make-projects-global", "a1"], "300ms");
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /timed out after 300 ms .*: a1/);
  });
});
