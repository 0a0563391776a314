// Asks a silent node's host whether it is still there: a TCP connect to the agent's health endpoint
// (status.daemonEndpoints.kubeletEndpoint on the InternalIP). "refused" means the host answered
// with a reset — it is up, only its agent is down (restarting) —, "connected" that the agent runs
// but its status does not reach the API, "unreachable" that nothing answered in time (cut off,
// powered off). Thin adapter: it only observes.
import { connect } from "node:net";
import type { AgentProbe } from "./health.js";

export type TcpProbe = (host: string, port: number, timeoutMs: number) => Promise<AgentProbe>;

export const tcpProbe: TcpProbe = (host, port, timeoutMs) =>
  new Promise((resolve) => {
    const s = connect({ host, port });
    let done = false;
    const finish = (r: AgentProbe) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish("unreachable"), timeoutMs);
    s.once("connect", () => finish("connected"));
    s.once("error", (e: NodeJS.ErrnoException) =>
      finish(e.code === "ECONNREFUSED" ? "refused" : "unreachable"),
    );
  });
