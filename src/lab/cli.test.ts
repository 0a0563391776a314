import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { resolveTarget } from "./cli.js";
import { podNetnsName } from "./names.js";

const entry = join(dirname(fileURLToPath(import.meta.url)), "cli-entry.js");
const known = { nodes: ["node1"], externals: ["ext1"] };

test("exec targets", () => {
  assert.equal(resolveTarget("t1", "node/node1", known), "egl-t1-node1");
  assert.equal(resolveTarget("t1", "external/ext1", known), "egl-t1-ext1");
  assert.equal(resolveTarget("t1", "cp", known), "egl-t1-cp");
  assert.equal(resolveTarget("t1", "control-plane", known), "egl-t1-cp");
  assert.equal(resolveTarget("t1", "fabric", known), "egl-t1-fabric");
  assert.equal(
    resolveTarget("t1", "namespace1/client-a", known),
    podNetnsName("t1", "namespace1", "client-a"),
  );
  assert.equal(resolveTarget("t1", "pod/node/x", known), podNetnsName("t1", "node", "x"));
  assert.throws(() => resolveTarget("t1", "node/node9", known), /no node "node9".*node1/);
  assert.throws(() => resolveTarget("t1", "external/x", known), /no external host "x"/);
  assert.throws(() => resolveTarget("t1", "a/b/c", known), /expected <namespace>\/<pod>/);
});

test("status and down of a lab that does not exist", () => {
  const dir = mkdtempSync(join(tmpdir(), "egl-cli-"));
  try {
    const st = spawnSync(
      process.execPath,
      [entry, "lab", "status", "--id", "zz9", "--state-dir", join(dir, "s"), "-o", "json"],
      {
        encoding: "utf8",
      },
    );
    assert.equal(st.status, 1);
    assert.equal(JSON.parse(st.stdout).phase, "absent");
    const down = spawnSync(
      process.execPath,
      [entry, "lab", "down", "--id", "zz9", "--state-dir", join(dir, "s")],
      {
        encoding: "utf8",
      },
    );
    assert.equal(down.status, 0, down.stderr);
    assert.match(down.stdout, /nothing to remove/);
    const bad = spawnSync(process.execPath, [entry, "lab", "status", "--id", "Bad-Id"], { encoding: "utf8" });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /lab id "Bad-Id"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("lab up --network-mode with an unknown mode fails before making anything", () => {
  const dir = mkdtempSync(join(tmpdir(), "egl-cli-"));
  try {
    const r = spawnSync(
      process.execPath,
      [entry, "lab", "up", "--id", "zz8", "--state-dir", join(dir, "s"), "--network-mode", "ovs-multitenant"],
      { encoding: "utf8" },
    );
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /--network-mode: Invalid value: "ovs-multitenant": expected one of multitenant, networkpolicy, subnet/,
    );
    assert.equal(existsSync(join(dir, "s")), false, "no state directory");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
