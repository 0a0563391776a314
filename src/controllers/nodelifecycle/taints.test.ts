import assert from "node:assert/strict";
import { test } from "node:test";
import {
  desiredTaints,
  type NoExecuteMode,
  TAINT_NOT_READY,
  TAINT_UNREACHABLE,
  type Taint,
  taintsEqual,
} from "./taints.js";

const NOW = "2026-01-01T00:00:10Z";
const EARLIER = "2026-01-01T00:00:01Z";
const user: Taint = { key: "dedicated", value: "egress", effect: "NoSchedule" };
const userExec: Taint = { key: "maintenance", effect: "NoExecute" };
const ns = (key: string): Taint => ({ key, effect: "NoSchedule" });
const nx = (key: string, timeAdded = NOW): Taint => ({ key, effect: "NoExecute", timeAdded });

test("desiredTaints: condition taints follow Ready, the user's stay, present ones keep timeAdded", () => {
  const rows: {
    name: string;
    current: Taint[];
    ready: "True" | "False" | "Unknown" | undefined;
    noExecute: NoExecuteMode;
    want: Taint[];
  }[] = [
    { name: "ready, nothing", current: [], ready: "True", noExecute: "apply", want: [] },
    {
      name: "ready keeps user taints",
      current: [user, userExec],
      ready: "True",
      noExecute: "apply",
      want: [user, userExec],
    },
    {
      name: "unknown adds unreachable after user taints",
      current: [user],
      ready: "Unknown",
      noExecute: "apply",
      want: [user, ns(TAINT_UNREACHABLE), nx(TAINT_UNREACHABLE)],
    },
    {
      name: "false adds not-ready",
      current: [],
      ready: "False",
      noExecute: "apply",
      want: [ns(TAINT_NOT_READY), nx(TAINT_NOT_READY)],
    },
    {
      name: "present NoExecute keeps its timeAdded",
      current: [ns(TAINT_UNREACHABLE), nx(TAINT_UNREACHABLE, EARLIER)],
      ready: "Unknown",
      noExecute: "apply",
      want: [ns(TAINT_UNREACHABLE), nx(TAINT_UNREACHABLE, EARLIER)],
    },
    {
      name: "unknown → false swaps the key",
      current: [ns(TAINT_UNREACHABLE), nx(TAINT_UNREACHABLE, EARLIER), user],
      ready: "False",
      noExecute: "apply",
      want: [user, ns(TAINT_NOT_READY), nx(TAINT_NOT_READY)],
    },
    {
      name: "ready again removes condition taints only",
      current: [user, ns(TAINT_UNREACHABLE), nx(TAINT_UNREACHABLE, EARLIER), userExec],
      ready: "True",
      noExecute: "apply",
      want: [user, userExec],
    },
    {
      name: "disrupted zone: NoSchedule only, NoExecute removed",
      current: [ns(TAINT_UNREACHABLE), nx(TAINT_UNREACHABLE, EARLIER)],
      ready: "Unknown",
      noExecute: "remove",
      want: [ns(TAINT_UNREACHABLE)],
    },
    {
      name: "hold: keeps a present NoExecute",
      current: [ns(TAINT_UNREACHABLE), nx(TAINT_UNREACHABLE, EARLIER)],
      ready: "Unknown",
      noExecute: "hold",
      want: [ns(TAINT_UNREACHABLE), nx(TAINT_UNREACHABLE, EARLIER)],
    },
    {
      name: "hold: adds no NoExecute",
      current: [],
      ready: "Unknown",
      noExecute: "hold",
      want: [ns(TAINT_UNREACHABLE)],
    },
    {
      name: "hold: a stale key still goes",
      current: [ns(TAINT_NOT_READY), nx(TAINT_NOT_READY, EARLIER)],
      ready: "Unknown",
      noExecute: "hold",
      want: [ns(TAINT_UNREACHABLE)],
    },
    { name: "never reported: none", current: [user], ready: undefined, noExecute: "apply", want: [user] },
  ];
  for (const r of rows) assert.deepEqual(desiredTaints(r.current, r.ready, r.noExecute, NOW), r.want, r.name);
});

test("taintsEqual compares key, value, effect, timeAdded and order", () => {
  assert.ok(taintsEqual([user], [{ ...user }]));
  assert.ok(
    taintsEqual([{ key: "a", effect: "NoSchedule" }], [{ key: "a", value: "", effect: "NoSchedule" }]),
  );
  assert.ok(!taintsEqual([user, userExec], [userExec, user]));
  assert.ok(!taintsEqual([nx("a", NOW)], [nx("a", EARLIER)]));
  assert.ok(!taintsEqual([user], []));
});
