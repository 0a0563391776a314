import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PodNetworkError, type PodNetworkRequest, planPodNetworkChange } from "./podnetwork.js";

const existing: { name: string; labels: Record<string, string> }[] = [
  { name: "default", labels: {} },
  { name: "p1", labels: { team: "a" } },
  { name: "p2", labels: { team: "a" } },
  { name: "p3", labels: { team: "b" } },
];
const req = (r: Partial<PodNetworkRequest>): PodNetworkRequest => ({
  command: "join-projects",
  projects: [],
  existing,
  ...r,
});
const plan = (r: Partial<PodNetworkRequest>) =>
  planPodNetworkChange(req(r)).changes.map((c) => `${c.netnamespace}=${c.value}`);

describe("planPodNetworkChange", () => {
  it("join-projects --to=p1 p2 p3", () =>
    assert.deepEqual(plan({ to: "p1", projects: ["p3", "p2"] }), ["p2=join:p1", "p3=join:p1"]));
  it("join skips the target itself", () =>
    assert.deepEqual(plan({ to: "p1", selector: "team=a" }), ["p2=join:p1"]));
  it("isolate-projects by selector", () =>
    assert.deepEqual(plan({ command: "isolate-projects", selector: "team in (a,b)" }), [
      "p1=isolate",
      "p2=isolate",
      "p3=isolate",
    ]));
  it("make-projects-global", () =>
    assert.deepEqual(plan({ command: "make-projects-global", projects: ["p3"] }), ["p3=global"]));

  const errors: [string, Partial<PodNetworkRequest>, RegExp][] = [
    [
      "names and selector",
      { to: "p1", projects: ["p2"], selector: "team=a" },
      /either specify --selector=<project_selector> or projects but not both/,
    ],
    ["neither", { to: "p1" }, /must provide --selector=<project_selector> or projects/],
    ["join without --to", { projects: ["p2"] }, /must provide --to=<project_name>/],
    ["--to with isolate", { command: "isolate-projects", to: "p1", projects: ["p2"] }, /--to is only valid/],
    [
      "isolate default",
      { command: "isolate-projects", projects: ["default", "p1"] },
      /network isolation for project "default" is forbidden/,
    ],
    [
      "isolate default by selector",
      { command: "isolate-projects", selector: "!team" },
      /"default" is forbidden/,
    ],
    ["unknown project", { command: "make-projects-global", projects: ["nope"] }, /project "nope" not found/],
    ["unknown --to", { to: "nope", projects: ["p1"] }, /project "nope" not found/],
    [
      "bad selector",
      { command: "make-projects-global", selector: "a in x" },
      /invalid --selector: .*position 5/,
    ],
    [
      "selector matches nothing",
      { command: "make-projects-global", selector: "team=zzz" },
      /no projects selected/,
    ],
  ];
  for (const [name, r, re] of errors)
    it(`error: ${name}`, () =>
      assert.throws(
        () => planPodNetworkChange(req(r)),
        (e: unknown) => e instanceof PodNetworkError && re.test(e.message),
      ));
});
