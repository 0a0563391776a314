// The lab's record of what it made, on disk (<state dir>/state.json), so `lab down` can remove
// exactly that, also after a crash. Every resource is recorded BEFORE it is created (processes:
// the intent first, the pid right after spawn), and each write replaces the file atomically.
// This module only reads and writes the record; it creates nothing else.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import { isRecord } from "../api/object.js";
import type { Topology } from "./topology.js";

export const STATE_VERSION = 1;

/** "secondary": an external host on a secondary network (src/lab/secondary.ts). */
export type NetnsRole = "fabric" | "control-plane" | "node" | "external" | "secondary";

export interface NetnsRecord {
  name: string;
  role: NetnsRole;
  /** Node or external host name (empty for fabric and control plane). */
  host: string;
}

export interface ProcessRecord {
  /** e.g. "apiserver", "agent/node1", "echo/ext1", "dns/ext1". */
  name: string;
  netns: string;
  /** The exec'd command line (what /proc/<pid>/cmdline shows once `ip netns exec` has exec'd). */
  argv: string[];
  /** null between the intent and the spawn. */
  pid: number | null;
  log: string;
}

export interface ApiRecord {
  /** URL for the root namespace (loopback listener inherited by the server). */
  url: string;
  /** URL inside the lab (control-plane namespace address). */
  internalUrl: string;
  /** Kubeconfig for the root namespace. */
  kubeconfig: string;
  /** Kubeconfig the agents use (server = internalUrl), written by `egress server`. */
  internalKubeconfig: string;
  dataDir: string;
}

export interface LabState {
  version: number;
  id: string;
  /** creating → up; stopping while `lab down` runs. A crashed `lab up` leaves "creating". */
  phase: "creating" | "up" | "stopping";
  createdAt: string;
  stateDir: string;
  topologySource: string;
  topology: Topology;
  namespaces: NetnsRecord[];
  processes: ProcessRecord[];
  /** Files and directories the lab wrote outside the state dir (none by default). */
  files: string[];
  api?: ApiRecord;
  /** Messages for the user (e.g. "agents skipped: ..."). */
  notes: string[];
}

export class LabStateError extends Error {
  override name = "LabStateError";
}

export const stateFile = (stateDir: string): string => join(stateDir, "state.json");

export function readState(stateDir: string): LabState | undefined {
  const path = stateFile(stateDir);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new LabStateError(`${path}: not JSON: ${(e as Error).message}`);
  }
  if (!isRecord(v) || v.version !== STATE_VERSION || typeof v.id !== "string" || !Array.isArray(v.namespaces))
    throw new LabStateError(`${path}: not a lab state file of version ${STATE_VERSION}`);
  return v as unknown as LabState;
}

/** Atomic replace: write a temporary file, fsync, rename over the old one. */
export function writeState(state: LabState): void {
  const path = stateFile(state.stateDir);
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, `${JSON.stringify(state, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
