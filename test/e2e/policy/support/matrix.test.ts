// The matrix harness's pure part: expectations, mismatches and the grids printed on failure. No
// root, no lab.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  addrTarget,
  expectedMatrix,
  type MatrixPod,
  mismatches,
  type Observation,
  podTarget,
  renderComparison,
} from "./matrix.js";
import type { ProbeResult } from "./probe-script.js";

const pod = (namespace: string, name: string, ip: string): MatrixPod => ({
  namespace,
  name,
  ip,
  node: "node1",
  netns: `egp-t-${name}`,
  labels: {},
});
const a = pod("p1", "a", "10.128.0.2");
const b = pod("p2", "b", "10.128.2.2");
const out = addrTarget("1.2.3.4", 7000);
const targets = [podTarget(a, 7000), podTarget(b, 7000), podTarget(b, 7001, "UDP"), out];

test("expected matrix skips a pod's own columns; mismatches name both cells", () => {
  const want = expectedMatrix(
    [a, b],
    targets,
    (f, t) => t.pod === undefined || t.pod.namespace === f.namespace,
  );
  assert.deepEqual([...want.get("p1/a")!.keys()], ["p2/b:t7000", "p2/b:u7001", "1.2.3.4:t7000"]);
  assert.deepEqual([...want.get("p1/a")!.values()], [false, false, true]);
  const seen: Observation = {
    matrix: new Map([
      [
        "p1/a",
        new Map([
          ["p2/b:t7000", true],
          ["p2/b:u7001", false],
          ["1.2.3.4:t7000", true],
        ]),
      ],
      [
        "p2/b",
        new Map([
          ["p1/a:t7000", false],
          ["1.2.3.4:t7000", false],
        ]),
      ],
    ]),
    details: new Map<string, Map<string, ProbeResult>>([
      ["p1/a", new Map([["p2/b:t7000", { ok: true, src: "10.128.0.2", ms: 2 }]])],
      ["p2/b", new Map([["1.2.3.4:t7000", { ok: false, err: "TIMEOUT", ms: 1000 }]])],
    ]),
  };
  const wrong = mismatches(want, seen);
  assert.deepEqual(
    wrong.map((m) => `${m.from} -> ${m.to} ${m.expected}/${m.observed}`),
    ["p1/a -> p2/b:t7000 false/true", "p2/b -> 1.2.3.4:t7000 true/false"],
  );
  const text = renderComparison(
    want,
    seen,
    1234,
    targets.map((t) => t.key),
  );
  assert.match(text, /^reachability matrix: 2 of 5 cells wrong \(last round, 1234 ms after the first\)/);
  assert.match(text, /columns: 1=p1\/a:t7000 {2}2=p2\/b:t7000 {2}3=p2\/b:u7001 {2}4=1\.2\.3\.4:t7000/);
  // Rows: p1/a's own column is "-"; observed X where connected; comparison X where wrong.
  assert.match(
    text,
    /expected \(X = connected, \. = blocked\):\n.*\np1\/a {2}\s+- {2}\. {2}\. {2}X\np2\/b {2}\s+\. {2}- {2}- {2}X/,
  );
  assert.match(
    text,
    /comparison \(\. = as expected, X = wrong\):\n.*\np1\/a {2}\s+- {2}X {2}\. {2}\.\np2\/b {2}\s+\. {2}- {2}- {2}X/,
  );
  assert.match(text, /p1\/a -> p2\/b:t7000: expected blocked, observed connected \(seen as 10\.128\.0\.2\)/);
  assert.match(text, /p2\/b -> 1\.2\.3\.4:t7000: expected connected, observed blocked \(TIMEOUT\)/);
});

test("targets: keys, HTTP ports, resolver names", () => {
  assert.equal(podTarget(a, 8080).http, true);
  assert.equal(podTarget(a, 7000).http, undefined);
  assert.equal(addrTarget("203.0.113.25", 80).http, true);
  const dns = addrTarget("www.foo.com", 53, "DNS", "192.168.126.200");
  assert.equal(dns.key, "www.foo.com:dns");
  assert.equal(dns.resolver, "192.168.126.200");
});
