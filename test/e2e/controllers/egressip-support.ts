// Shared helpers for the EgressIP controller tests and the failover benchmark: Node objects created
// and driven the way a user (or kubelet) would, and tiny local health endpoints for the prober.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { egressIPType, nodeType } from "../../../src/api/kinds/index.js";
import type { KubeObject } from "../../../src/api/object.js";
import type { Client } from "../../../src/controllers/runtime/client.js";
import type { Kubectl } from "../support/kubectl.js";

export const ASSIGNABLE = "k8s.ovn.org/egress-assignable";
export const HEALTH = "egress.openshift.io/health-endpoint";

export interface NodeSpec {
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  internalIP?: string;
  ready?: boolean;
}

export function nodeManifest(n: NodeSpec): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: n.name, labels: n.labels ?? {}, annotations: n.annotations ?? {} },
  });
}

export function readyPatch(ready: boolean, internalIP?: string): string {
  return JSON.stringify({
    status: {
      conditions: [
        {
          type: "Ready",
          status: ready ? "True" : "False",
          reason: ready ? "KubeletReady" : "KubeletNotReady",
        },
      ],
      ...(internalIP ? { addresses: [{ type: "InternalIP", address: internalIP }] } : {}),
    },
  });
}

/** kubectl create + kubectl patch --subresource=status, as a user would. */
export async function kubectlNode(k: Kubectl, n: NodeSpec): Promise<void> {
  await k.ok(["create", "-f", "-"], nodeManifest(n));
  await k.ok([
    "patch",
    "node",
    n.name,
    "--subresource=status",
    "--type=merge",
    "-p",
    readyPatch(n.ready ?? true, n.internalIP),
  ]);
}

export async function kubectlSetReady(k: Kubectl, name: string, ready: boolean): Promise<void> {
  await k.ok(["patch", "node", name, "--subresource=status", "--type=merge", "-p", readyPatch(ready)]);
}

/** Same through the client (benchmarks: no kubectl process start in the measured path). */
export async function clientNode(c: Client, n: NodeSpec): Promise<void> {
  await c.create(nodeType, JSON.parse(nodeManifest(n)) as KubeObject);
  await clientSetReady(c, n.name, n.ready ?? true, n.internalIP);
}

export async function clientSetReady(
  c: Client,
  name: string,
  ready: boolean,
  internalIP?: string,
): Promise<void> {
  await c.patch(nodeType, "", name, JSON.parse(readyPatch(ready, internalIP)), "merge", "status");
}

export function primaryIfAddr(cidr: string): Record<string, string> {
  return { "k8s.ovn.org/node-primary-ifaddr": JSON.stringify({ ipv4: cidr }) };
}

/** "ip=node" lines of an EgressIP's status, sorted. */
export async function assignments(c: Client, name: string): Promise<Map<string, string>> {
  const o = await c.get<{ status?: { items?: { node: string; egressIP: string }[] } }>(
    egressIPType,
    "",
    name,
  );
  return new Map((o.status?.items ?? []).map((i) => [i.egressIP, i.node]));
}

/** A node agent's health endpoint stand-in: answers 200, or hangs, or is closed. */
export class HealthServer {
  /** ok: 200; hang: never answers (the prober times out); reset: drops the connection (agent gone). */
  mode: "ok" | "hang" | "reset" = "ok";
  private readonly srv: Server;
  url = "";
  constructor() {
    this.srv = createServer((req, res) => {
      if (this.mode === "hang") return;
      if (this.mode === "reset") {
        req.socket.destroy();
        return;
      }
      res.end("ok");
    });
  }
  async start(): Promise<this> {
    await new Promise<void>((r) => this.srv.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.srv.address() as AddressInfo).port}/healthz`;
    return this;
  }
  async close(): Promise<void> {
    this.srv.closeAllConnections();
    await new Promise<void>((r) => this.srv.close(() => r()));
  }
}
