import assert from "node:assert/strict";
import { test } from "node:test";
import { Command } from "commander";
import {
  addControlPlaneFlags,
  type ControlPlaneFlagValues,
  controlPlaneOptions,
} from "./control-plane-flags.js";

function parse(args: string[]): ReturnType<typeof controlPlaneOptions> {
  const cmd = addControlPlaneFlags(new Command("x").exitOverride());
  cmd.parse(args, { from: "user" });
  return controlPlaneOptions(cmd.opts() as ControlPlaneFlagValues);
}

test("defaults give sub-second reachability detection and OpenShift's networks", () => {
  const o = parse([]);
  assert.equal(o.platform, "BareMetal");
  // Worst-case detection: interval × failures + timeout = 450 ms; two failures ride out one slow probe.
  assert.equal(o.egressIPReachabilityTimeoutMs, 250);
  assert.equal(o.egressIPReachabilityIntervalMs, 100);
  assert.equal(o.egressIPReachabilityFailures, 2);
  assert.deepEqual(o.clusterNetworks, [{ cidr: "10.128.0.0/14", hostSubnetLength: 9 }]);
});

test("flags are parsed and bad values are refused naming the flag", () => {
  const o = parse([
    "--platform",
    "aws",
    "--egressip-reachability-timeout",
    "0",
    "--global-namespaces",
    "a",
    "b",
  ]);
  assert.equal(o.platform, "AWS");
  assert.equal(o.egressIPReachabilityTimeoutMs, 0);
  assert.deepEqual(o.globalNamespaces, ["a", "b"]);
  assert.throws(
    () => parse(["--egressip-reachability-interval", "0"]),
    /--egressip-reachability-interval: .*"0"/,
  );
  assert.throws(() => parse(["--host-subnet-length", "40"]), /--host-subnet-length/);
});

test("node lifecycle: 4 s grace and 0 s default tolerations by default; flags override, bad values refused", () => {
  const d = parse([]);
  assert.equal(d.nodeMonitorGracePeriodMs, 4000);
  assert.equal(d.nodeMonitorPeriodMs, 500);
  assert.equal(d.defaultNotReadyTolerationSeconds, 0);
  assert.equal(d.defaultUnreachableTolerationSeconds, 0);
  const o = parse([
    "--node-monitor-grace-period",
    "40000",
    "--node-monitor-period",
    "5000",
    "--default-not-ready-toleration-seconds",
    "300",
    "--default-unreachable-toleration-seconds",
    "30",
  ]);
  assert.equal(o.nodeMonitorGracePeriodMs, 40000);
  assert.equal(o.nodeMonitorPeriodMs, 5000);
  assert.equal(o.defaultNotReadyTolerationSeconds, 300);
  assert.equal(o.defaultUnreachableTolerationSeconds, 30);
  assert.throws(
    () => parse(["--node-monitor-grace-period", "3000"]),
    /--node-monitor-grace-period: .*≥ 3500.*"3000"/,
  );
  assert.throws(() => parse(["--node-monitor-period", "1.5"]), /--node-monitor-period/);
  assert.throws(
    () => parse(["--default-unreachable-toleration-seconds", "-1"]),
    /--default-unreachable-toleration-seconds/,
  );
});
