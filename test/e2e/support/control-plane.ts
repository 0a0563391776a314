// A test cluster for controller tests: an in-process `egress server` (API only), a client, kubectl,
// and the given controllers running against it (no leader election unless asked).
import {
  type RunningControlPlane,
  type RunOptions,
  runControllers,
} from "../../../src/controllers/control-plane.js";
import { Client } from "../../../src/controllers/runtime/client.js";
import type { Controller } from "../../../src/controllers/runtime/manager.js";
import { Kubectl } from "./kubectl.js";
import { startTestServer, type TestServer } from "./server.js";

export interface TestControlPlane {
  srv: TestServer;
  client: Client;
  kubectl: Kubectl;
  cp: RunningControlPlane;
  stop(): Promise<void>;
}

export async function startTestControlPlane(
  controllers: Controller[],
  run: RunOptions = {},
): Promise<TestControlPlane> {
  const srv = await startTestServer();
  const client = Client.fromFile(srv.kubeconfigPath);
  const cp = runControllers(client, controllers, { leaderElection: false, ...run });
  await cp.ready;
  return {
    srv,
    client,
    kubectl: new Kubectl(srv.kubeconfigPath),
    cp,
    async stop() {
      await cp.stop();
      await srv.stop();
    },
  };
}

/** Polls until `check` returns a value (not undefined) or the time is up. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  ms = 10_000,
  what = "condition",
): Promise<T> {
  const start = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() - start > ms)
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
