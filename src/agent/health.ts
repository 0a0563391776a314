// The agent's health endpoint: `GET /healthz` answers 200 while the agent runs. The controllers'
// reachability probe calls it over the node's underlay address, so a node cut off the network or
// an agent that died fails the probe (docs/egressip.md describes the probe's timing).
//
// The HTTP server runs in a worker thread, not on the agent's event loop: a compile of a large node
// program, a burst of pod starts or GC would otherwise delay the answer past the probe's timeout and
// make a healthy node look unreachable (an EgressIP failover for nothing). The main thread stamps a
// shared heartbeat every HEARTBEAT_MS; the worker answers 503 once that stamp is older than
// `staleAfterMs`, so an agent whose event loop is stuck for good is still reported unhealthy. A
// SIGKILLed agent takes the worker with it (connection refused at once).
//
// Self-fence input: the controllers' prober sends PROBE_DEADLINE_HEADER (how soon after a probe this
// node answered it can be declared unreachable). The worker records when the last such probe arrived;
// `probeSilence()` tells the dataplane how long the node has not been probed and when it must drop its
// egress IPs because the controller may already be moving them (docs/egressip.md, "Self-fence").
import { once } from "node:events";
import { Worker } from "node:worker_threads";
import { PROBE_DEADLINE_HEADER } from "../controllers/egressip/prober.js";

/** Shared slots: main-thread heartbeat, last probe arrival, the probe's deadline (ms / epoch ms). */
export const SLOT_BEAT = 0;
export const SLOT_PROBE_AT = 1;
export const SLOT_DEADLINE = 2;
/** Time the node keeps for removing its addresses before the prober's earliest verdict. */
export const FENCE_MARGIN_MS = 200;

let current: BigInt64Array | undefined;

export interface ProbeSilence {
  /** Ms since the last probe that carried a deadline. */
  silentMs: number;
  /** Silence after which the node must fence itself. */
  fenceAfterMs: number;
}

/**
 * The probe silence seen by the most recently started health server of this process, or undefined
 * when no probe with a deadline has arrived yet (not probed, probing off, or an older controller):
 * then the node never fences on silence.
 */
export function probeSilence(now = Date.now()): ProbeSilence | undefined {
  if (!current) return undefined;
  const at = Number(Atomics.load(current, SLOT_PROBE_AT));
  const deadline = Number(Atomics.load(current, SLOT_DEADLINE));
  if (at === 0 || deadline <= 0) return undefined;
  return { silentMs: now - at, fenceAfterMs: fenceAfter(deadline) };
}

/** Fence FENCE_MARGIN_MS before the prober's earliest verdict, but never before half of it. */
export function fenceAfter(deadlineMs: number): number {
  return Math.max(deadlineMs - FENCE_MARGIN_MS, deadlineMs / 2);
}

const HEARTBEAT_MS = 100;
/** Main-thread silence after which the endpoint answers 503 (a stuck agent, not a busy one). */
export const DEFAULT_STALE_AFTER_MS = 5_000;

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

export async function startHealthServer(
  host: string,
  port: number,
  opts: { staleAfterMs?: number } = {},
): Promise<HealthServer> {
  const beat = new BigInt64Array(new SharedArrayBuffer(8 * 3));
  Atomics.store(beat, SLOT_BEAT, BigInt(Date.now()));
  const timer = setInterval(() => Atomics.store(beat, SLOT_BEAT, BigInt(Date.now())), HEARTBEAT_MS);
  timer.unref();
  const worker = new Worker(new URL("./health-worker.js", import.meta.url), {
    workerData: {
      host,
      port,
      beat,
      staleAfterMs: opts.staleAfterMs ?? DEFAULT_STALE_AFTER_MS,
      header: PROBE_DEADLINE_HEADER,
    },
  });
  // The worker must not keep the process alive on its own (the agent decides when to exit).
  worker.unref();
  try {
    const [msg] = (await Promise.race([
      once(worker, "message"),
      once(worker, "error").then(([e]) => {
        throw e;
      }),
    ])) as [{ port: number }];
    current = beat;
    return {
      port: msg.port,
      close: async () => {
        clearInterval(timer);
        if (current === beat) current = undefined;
        await worker.terminate();
      },
    };
  } catch (e) {
    clearInterval(timer);
    await worker.terminate();
    throw e;
  }
}
