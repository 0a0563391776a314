// Service address allocation at admission, as the Kubernetes API server does it: a cluster IP
// from the service network (lowest free address, OpenShift's default 172.30.0.0/16) and node ports
// (30000–32767) for NodePort and LoadBalancer Services. Allocations are rebuilt from the stored
// Services on start and released when a Service is deleted.
import { ApiError } from "../api/errors.js";
import { cidrLast, formatIP, parseCIDR, parseIP } from "../api/ip.js";
import type { KubeObject } from "../api/object.js";
import { isRecord } from "../api/object.js";

const NODE_PORT_MIN = 30000;
const NODE_PORT_MAX = 32767;

interface ServicePortLike {
  port?: number;
  nodePort?: number;
}

export class ServiceAllocator {
  private readonly used = new Set<string>();
  private readonly usedPorts = new Set<number>();
  private readonly first: bigint;
  private readonly last: bigint;

  constructor(private readonly serviceCIDR: string) {
    const c = parseCIDR(serviceCIDR);
    if (c?.family !== 4) throw new Error(`--service-cidr: invalid IPv4 CIDR ${JSON.stringify(serviceCIDR)}`);
    this.first = c.network + 1n;
    this.last = cidrLast(c) - 1n;
  }

  /** Records the addresses of an existing Service (startup). */
  observe(svc: KubeObject): void {
    const spec = isRecord(svc.spec) ? svc.spec : {};
    if (typeof spec.clusterIP === "string" && spec.clusterIP !== "None") this.used.add(spec.clusterIP);
    for (const p of (Array.isArray(spec.ports) ? spec.ports : []) as ServicePortLike[]) {
      if (typeof p.nodePort === "number") this.usedPorts.add(p.nodePort);
    }
  }

  release(svc: KubeObject): void {
    const spec = isRecord(svc.spec) ? svc.spec : {};
    if (typeof spec.clusterIP === "string") this.used.delete(spec.clusterIP);
    for (const p of (Array.isArray(spec.ports) ? spec.ports : []) as ServicePortLike[]) {
      if (typeof p.nodePort === "number") this.usedPorts.delete(p.nodePort);
    }
  }

  /** Fills spec.clusterIP(s) and node ports; keeps what the old object had (they are immutable). */
  admit(svc: KubeObject, old: KubeObject | undefined): void {
    if (!isRecord(svc.spec)) return;
    const spec = svc.spec;
    const oldSpec = old && isRecord(old.spec) ? old.spec : undefined;
    if (spec.type === "ExternalName") return;
    if (oldSpec?.clusterIP && (spec.clusterIP === undefined || spec.clusterIP === ""))
      spec.clusterIP = oldSpec.clusterIP;
    if (spec.clusterIP === undefined || spec.clusterIP === "") {
      spec.clusterIP = this.allocateIP();
    } else if (spec.clusterIP !== "None" && !oldSpec) {
      const ip = String(spec.clusterIP);
      const parsed = parseIP(ip);
      if (parsed?.family !== 4 || parsed.value < this.first || parsed.value > this.last) {
        throw ApiError.invalid("Service", "", svc.metadata.name ?? "", [
          {
            field: "spec.clusterIP",
            type: "FieldValueInvalid",
            value: ip,
            detail: `must be within the service CIDR ${this.serviceCIDR}`,
          },
        ]);
      }
      if (this.used.has(ip)) {
        throw ApiError.invalid("Service", "", svc.metadata.name ?? "", [
          {
            field: "spec.clusterIP",
            type: "FieldValueInvalid",
            value: ip,
            detail: "provided IP is already allocated",
          },
        ]);
      }
      this.used.add(ip);
    }
    if (spec.clusterIP !== "None") {
      spec.clusterIPs = [spec.clusterIP];
      spec.ipFamilies ??= ["IPv4"];
      spec.ipFamilyPolicy ??= "SingleStack";
    }
    // Node ports the old object had and the new one dropped go back to the pool.
    const keptPorts = new Set(
      ((Array.isArray(spec.ports) ? spec.ports : []) as ServicePortLike[])
        .map((p) => p.nodePort)
        .filter((n) => n !== undefined),
    );
    for (const p of (Array.isArray(oldSpec?.ports) ? oldSpec.ports : []) as ServicePortLike[]) {
      if (typeof p.nodePort === "number" && !keptPorts.has(p.nodePort)) this.usedPorts.delete(p.nodePort);
    }
    if (spec.type === "NodePort" || spec.type === "LoadBalancer") {
      const oldPorts = (Array.isArray(oldSpec?.ports) ? oldSpec.ports : []) as ServicePortLike[];
      for (const p of (Array.isArray(spec.ports) ? spec.ports : []) as ServicePortLike[]) {
        if (typeof p.nodePort === "number" && p.nodePort > 0) {
          this.usedPorts.add(p.nodePort);
          continue;
        }
        const kept = oldPorts.find((o) => o.port === p.port)?.nodePort;
        if (kept !== undefined) this.usedPorts.add(kept);
        p.nodePort = kept ?? this.allocatePort();
      }
    }
  }

  private allocateIP(): string {
    for (let v = this.first; v <= this.last; v++) {
      const ip = formatIP({ family: 4, value: v });
      if (!this.used.has(ip)) {
        this.used.add(ip);
        return ip;
      }
    }
    throw new ApiError(
      500,
      "InternalError",
      `Internal error occurred: failed to allocate a serviceIP: range ${this.serviceCIDR} is full`,
    );
  }

  private allocatePort(): number {
    for (let p = NODE_PORT_MIN; p <= NODE_PORT_MAX; p++) {
      if (!this.usedPorts.has(p)) {
        this.usedPorts.add(p);
        return p;
      }
    }
    throw new ApiError(
      500,
      "InternalError",
      "Internal error occurred: failed to allocate a nodePort: range is full",
    );
  }
}
