import assert from "node:assert/strict";
import { test } from "node:test";
import { compileNodeProgram } from "../compile/node-program.js";
import type { NodeView } from "../compile/types.js";
import { elementDelta } from "./incremental.js";

const T = "inet t";
const script = (blocks: string[]) =>
  `table ${T} {}\ndelete table ${T}\ntable ${T} {\n${blocks.join("\n")}\n}\n`;
const set = (name: string, elements: string[], flags = "") =>
  [
    `\tset ${name} {`,
    "\t\ttype ipv4_addr",
    ...(flags ? [`\t\tflags ${flags}`] : []),
    ...(elements.length > 0
      ? [
          "\t\telements = {",
          ...elements.map((e, i) => `\t\t\t${e}${i < elements.length - 1 ? "," : ""}`),
          "\t\t}",
        ]
      : []),
    "\t}",
  ].join("\n");
const vmap = (name: string, elements: string[]) =>
  [
    `\tmap ${name} {`,
    "\t\ttype ipv4_addr : verdict",
    ...(elements.length > 0
      ? [
          "\t\telements = {",
          ...elements.map((e, i) => `\t\t\t${e}${i < elements.length - 1 ? "," : ""}`),
          "\t\t}",
        ]
      : []),
    "\t}",
  ].join("\n");
const chain = (name: string, rules: string[]) =>
  [`\tchain ${name} {`, ...rules.map((r) => `\t\t${r}`), "\t}"].join("\n");

test("identical scripts: nothing to do", () => {
  const s = script([set("a", ["10.0.0.1"])]);
  assert.equal(elementDelta(s, s), "");
});

test("set elements added and removed become delete/add element lines, deletions first", () => {
  const a = script([set("a", ["10.0.0.1", "10.0.0.2"]), chain("c", ["ip saddr @a drop"])]);
  const b = script([set("a", ["10.0.0.2", "10.0.0.3"]), chain("c", ["ip saddr @a drop"])]);
  assert.equal(elementDelta(a, b), `delete element ${T} a { 10.0.0.1 }\nadd element ${T} a { 10.0.0.3 }\n`);
});

test("a set that becomes empty or stops being empty", () => {
  const a = script([set("a", [])]);
  const b = script([set("a", ["10.0.0.9", "10.0.0.8"])]);
  assert.equal(elementDelta(a, b), `add element ${T} a { 10.0.0.9, 10.0.0.8 }\n`);
  assert.equal(elementDelta(b, a), `delete element ${T} a { 10.0.0.9, 10.0.0.8 }\n`);
});

test("a map value that changes is deleted by key and re-added", () => {
  const a = script([vmap("m", ["10.0.0.1 : goto x", "10.0.0.2 : goto y"]), chain("x", []), chain("y", [])]);
  const b = script([vmap("m", ["10.0.0.1 : goto y", "10.0.0.2 : goto y"]), chain("x", []), chain("y", [])]);
  assert.equal(
    elementDelta(a, b),
    `delete element ${T} m { 10.0.0.1 }\nadd element ${T} m { 10.0.0.1 : goto y }\n`,
  );
});

test("any structural change gives undefined (the caller applies the whole script)", () => {
  const base = [set("a", ["10.0.0.1"]), chain("c", ["ip saddr @a drop"])];
  const a = script(base);
  assert.equal(
    elementDelta(a, script([set("a", ["10.0.0.1"]), chain("c", ["ip saddr @a accept"])])),
    undefined,
  );
  assert.equal(elementDelta(a, script([...base, chain("d", [])])), undefined);
  assert.equal(elementDelta(a, script([set("a", ["10.0.0.1"], "interval"), base[1]!])), undefined);
  assert.equal(
    elementDelta(a, script([chain("c", ["ip saddr @a drop"]), set("a", ["10.0.0.1"])])),
    undefined,
  );
  assert.equal(elementDelta(a, a.replaceAll("inet t", "inet u")), undefined);
  assert.equal(elementDelta(a, "flush ruleset\n"), undefined);
  assert.equal(elementDelta("garbage", a), undefined);
});

test("counter values are state, not structure", () => {
  const c = (n: number) => [`\tcounter k {`, `\t\tpackets ${n} bytes ${n * 60}`, "\t}"].join("\n");
  assert.equal(
    elementDelta(script([c(1), set("a", [])]), script([c(5), set("a", ["1.1.1.1"])])),
    `add element ${T} a { 1.1.1.1 }\n`,
  );
});

// The node compiler's own output: one more pod served by an EgressIP is only element changes.
function view(pods: string[]): NodeView {
  return {
    node: {
      name: "n1",
      nodeIP: "192.168.126.11",
      podSubnet: "10.128.0.0/23",
      bridge: "egbr0",
      interfaces: [{ name: "eth0", address: "192.168.126.11/18" }],
    },
    nodes: [
      { name: "n1", nodeIP: "192.168.126.11", podSubnet: "10.128.0.0/23" },
      { name: "n2", nodeIP: "192.168.126.12", podSubnet: "10.128.2.0/23" },
    ],
    clusterCIDRs: ["10.128.0.0/14"],
    serviceCIDR: "172.30.0.0/16",
    localPods: pods.map((ip, i) => ({ namespace: "a", name: `p${i}`, ip })),
    services: [],
    egressIPs: [
      { name: "e1", ips: [{ ip: "192.168.126.10", node: "n2", nodeIP: "192.168.126.12" }], podIPs: pods },
    ],
    projectEgress: [],
  };
}

test("compiled node programs: a pod added to an EgressIP is a two-line delta", () => {
  const a = compileNodeProgram(view(["10.128.0.5", "10.128.0.6"])).nft;
  const b = compileNodeProgram(view(["10.128.0.5", "10.128.0.6", "10.128.0.7"])).nft;
  const d = elementDelta(a, b);
  assert.ok(d !== undefined);
  assert.match(d, /^add element inet egress-node egress_pods \{ 10\.128\.0\.7 : goto egress-via-/m);
  assert.equal(d.trim().split("\n").length, 1);
});
