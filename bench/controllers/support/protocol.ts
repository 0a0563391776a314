// Messages between cluster.bench.ts and its controllers' process (IPC channel of child_process).
// Types only.

export type ParentCommand =
  | { cmd: "stats"; id: number }
  | { cmd: "gc"; id: number }
  /** Starts the V8 sampling profiler in the controllers' process (node:inspector). */
  | { cmd: "profile-start"; id: number }
  /** Stops it and writes the .cpuprofile to `file`. */
  | { cmd: "profile-stop"; id: number; file: string }
  | { cmd: "stop" };

export interface ChildStats {
  type: "stats";
  id: number;
  /** Wall clock (ms since the epoch, sub-ms) when the numbers were taken. */
  at: number;
  /** process.cpuUsage() user + system, ms. */
  cpuMs: number;
  rss: number;
  heapUsed: number;
  /** Watch events the shared informers delivered so far, by resource. */
  podEvents: number;
  nodeEvents: number;
  namespaceEvents: number;
  /** egress_ips_assign_latency_seconds (first triggering event → last status write). */
  assignLatency: { sum: number; count: number };
}

export interface ChildReady {
  type: "ready";
  spawnedAt: number;
  readyAt: number;
}
