// Registers this node's Node object and keeps it current: labels on first registration, the
// addresses and `k8s.ovn.org/node-primary-ifaddr` / `k8s.ovn.org/host-cidrs` annotations read from
// the real interfaces, the Ready condition refreshed by a heartbeat, and the health endpoint's
// port in status.daemonEndpoints (where the controllers' reachability probe finds it).
import { nodeType } from "../api/kinds/index.js";
import type { KubeObject } from "../api/object.js";
import { type Client, isNotFound } from "../controllers/runtime/client.js";
import type { Logger } from "../util/log.js";
import { type NodeAddressing, nodeAddressing, readAddresses } from "./interfaces.js";

export const AGENT_VERSION = "v1.32.0-egress";

export interface NodeRegistrationOptions {
  name: string;
  labels: Record<string, string>;
  primaryInterface: string;
  healthPort: number;
  heartbeatMs: number;
  /** Addresses the agent added itself (egress IPs, gateways): never published as node networks. */
  owned: () => ReadonlySet<string>;
  /** Interfaces that are not node networks (the pod bridge). */
  skipInterfaces: ReadonlySet<string>;
}

const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

export class NodeRegistration {
  private timer: NodeJS.Timeout | undefined;
  private last: NodeAddressing | undefined;
  private lastSuccess = 0;
  private readonly startedAt = now();

  constructor(
    private readonly client: Client,
    private readonly opts: NodeRegistrationOptions,
    private readonly log: Logger,
  ) {}

  get addressing(): NodeAddressing | undefined {
    return this.last;
  }

  /** Whether the API server acknowledged a heartbeat within `withinMs`: an agent that cannot reach
   *  it may have lost its egress IPs to another node and must not keep answering for them. */
  apiReachable(withinMs: number): boolean {
    return Date.now() - this.lastSuccess < withinMs;
  }

  async register(): Promise<void> {
    try {
      await this.client.get(nodeType, "", this.opts.name);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      await this.client.create(nodeType, {
        apiVersion: "v1",
        kind: "Node",
        metadata: {
          name: this.opts.name,
          labels: { "kubernetes.io/hostname": this.opts.name, ...this.opts.labels },
        },
        spec: {},
      });
      this.log.info({ node: this.opts.name }, "registered node");
    }
    await this.heartbeat();
  }

  start(): void {
    const tick = () => {
      this.heartbeat()
        .catch((e) => this.log.warn({ err: e }, "node heartbeat failed"))
        .finally(() => {
          this.timer = setTimeout(tick, this.opts.heartbeatMs);
          this.timer.unref();
        });
    };
    this.timer = setTimeout(tick, this.opts.heartbeatMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  /** Publishes addresses/annotations when they changed and refreshes the Ready condition. */
  async heartbeat(): Promise<void> {
    const addressing = nodeAddressing(
      await readAddresses(),
      this.opts.primaryInterface,
      this.opts.owned(),
      this.opts.skipInterfaces,
    );
    if (JSON.stringify(addressing) !== JSON.stringify(this.last)) {
      await this.client.patch(nodeType, "", this.opts.name, {
        metadata: {
          annotations: {
            "k8s.ovn.org/node-primary-ifaddr": JSON.stringify(addressing.primaryIfAddr),
            "k8s.ovn.org/host-cidrs": JSON.stringify(addressing.hostCIDRs),
          },
        },
      });
    }
    const ts = now();
    const status: KubeObject["status"] = {
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "AgentReady",
          message: "egress agent is posting ready status",
          lastHeartbeatTime: ts,
          lastTransitionTime: this.startedAt,
        },
      ],
      addresses: [
        { type: "InternalIP", address: addressing.internalIP },
        { type: "Hostname", address: this.opts.name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: this.opts.healthPort } },
      nodeInfo: { kubeletVersion: AGENT_VERSION, operatingSystem: "linux", architecture: process.arch },
    };
    await this.client.patch(nodeType, "", this.opts.name, { status }, "merge", "status");
    this.last = addressing;
    this.lastSuccess = Date.now();
  }
}
