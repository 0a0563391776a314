// A minimal cluster of network namespaces for dataplane e2e tests and the benchmark (not the real lab):
// a fabric namespace with one bridge (the 192.168.126.0/18 host network), node namespaces plugged into
// it with `eth0`, pod namespaces plugged into a bridge in their node namespace, and an external host.
// Every name carries a random tag (`egdp-<tag>-...`) and destroy() deletes every namespace created,
// also after failures and when the process is interrupted (SIGINT/SIGTERM/SIGHUP between up() and
// destroy()). Never touches the root namespace beyond creating/deleting these namespaces
// (veth peers are moved into namespaces right away).
import { execFileSync, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { cleanupOnSignal } from "../support/on-signal.js";

export function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, {
    encoding: "utf8",
    stdio: ["pipe", "pipe", "pipe"],
    ...(input ? { input } : {}),
  });
}
const ipn = (ns: string, ...args: string[]) => sh("ip", ["-n", ns, ...args]);

export interface LabNode {
  name: string;
  ns: string;
  nodeIP: string;
  podSubnet: string;
  gateway: string;
}

export interface LabPod {
  name: string;
  ns: string;
  ip: string;
  node: LabNode;
}

export class NetLab {
  readonly tag = Math.random().toString(36).slice(2, 7);
  readonly fabric = `egdp-${this.tag}-fab`;
  private readonly namespaces: string[] = [];
  private readonly children: { pid?: number; kill: (s: NodeJS.Signals) => boolean }[] = [];
  private vethSeq = 0;
  private unregisterSignals: (() => void) | undefined;

  private addNs(suffix: string): string {
    const ns = `egdp-${this.tag}-${suffix}`;
    sh("ip", ["netns", "add", ns]);
    this.namespaces.push(ns);
    ipn(ns, "link", "set", "lo", "up");
    return ns;
  }

  /** Creates the fabric namespace and its bridge. */
  up(): void {
    this.unregisterSignals ??= cleanupOnSignal(() => this.destroy());
    this.addNs("fab");
    ipn(this.fabric, "link", "add", "br0", "type", "bridge");
    ipn(this.fabric, "link", "set", "br0", "up");
  }

  /** A veth with `inner` inside `ns` and the peer in `peerNs` (created directly there). */
  private veth(ns: string, inner: string, peerNs: string, peer: string): void {
    const tmp = `egdp${this.tag}${this.vethSeq++}`;
    // Create inside `ns` so nothing ever appears in the root namespace.
    ipn(ns, "link", "add", inner, "type", "veth", "peer", "name", tmp, "netns", peerNs);
    ipn(peerNs, "link", "set", tmp, "name", peer);
  }

  /** A host on the fabric (node or external): eth0 with `address` (CIDR). */
  host(suffix: string, address: string): string {
    const ns = this.addNs(suffix);
    this.veth(ns, "eth0", this.fabric, `v-${suffix}`);
    ipn(this.fabric, "link", "set", `v-${suffix}`, "master", "br0", "up");
    ipn(ns, "addr", "add", address, "dev", "eth0");
    ipn(ns, "link", "set", "eth0", "up");
    return ns;
  }

  node(name: string, nodeIP: string, podSubnet: string, gateway: string): LabNode {
    const ns = this.host(name, `${nodeIP}/18`);
    ipn(ns, "link", "add", "egbr0", "type", "bridge");
    ipn(ns, "addr", "add", `${gateway}/${podSubnet.split("/")[1]}`, "dev", "egbr0");
    ipn(ns, "link", "set", "egbr0", "up");
    return { name, ns, nodeIP, podSubnet, gateway };
  }

  pod(node: LabNode, name: string, ip: string): LabPod {
    const ns = this.addNs(`${node.name}${name}`);
    const port = `vp-${name}`;
    this.veth(ns, "eth0", node.ns, port);
    ipn(node.ns, "link", "set", port, "master", "egbr0", "up");
    ipn(ns, "addr", "add", `${ip}/${node.podSubnet.split("/")[1]}`, "dev", "eth0");
    ipn(ns, "link", "set", "eth0", "up");
    ipn(ns, "route", "add", "default", "via", node.gateway);
    return { name, ns, ip, node };
  }

  /** The policy tests' layout: up(), one forwarding node n1 (10.128.0.0/23, br_netfilter on) with
   *  pods pa (10.128.0.2) and pb (10.128.0.3), and an outside host at `ext` (/18) routing the
   *  cluster network back through n1. */
  policyNode(ext: string): { node: LabNode; pa: LabPod; pb: LabPod; ext: string } {
    this.up();
    const node = this.node("n1", "192.168.126.11", "10.128.0.0/23", "10.128.0.1");
    sh("ip", ["netns", "exec", node.ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    sh("ip", ["netns", "exec", node.ns, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1"]);
    const pa = this.pod(node, "pa", "10.128.0.2");
    const pb = this.pod(node, "pb", "10.128.0.3");
    const host = this.host("ext", `${ext}/18`);
    sh("ip", ["-n", host, "route", "add", "10.128.0.0/14", "via", node.nodeIP]);
    return { node, pa, pb, ext: host };
  }

  /** Starts a long-running command inside `ns` (a server); destroy() kills it. */
  spawnIn(ns: string, argv: string[]): void {
    this.children.push(spawn("ip", ["netns", "exec", ns, ...argv], { stdio: "ignore" }));
  }

  /** Starts echo-server.js inside `ns` and resolves with its port. */
  echoServer(ns: string, host = "0.0.0.0"): Promise<number> {
    const script = fileURLToPath(new URL("./echo-server.js", import.meta.url));
    const child = spawn("ip", ["netns", "exec", ns, process.execPath, script, host], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    this.children.push(child);
    return new Promise((resolve, reject) => {
      child.once("error", reject);
      child.stdout.once("data", (b: Buffer) => resolve(Number(b.toString().trim())));
    });
  }

  /** Starts udp-peer.js in `ns` with `args`: `next` waits for its next stdout line, `drain` takes the
   *  lines read so far, `send` writes a stdin line. destroy() kills it. */
  udpPeer(
    ns: string,
    args: string[],
  ): { next: () => Promise<string>; drain: () => string[]; send: (line: string) => void } {
    const script = fileURLToPath(new URL("./udp-peer.js", import.meta.url));
    const child = spawn("ip", ["netns", "exec", ns, process.execPath, script, ...args], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    this.children.push(child);
    const lines: string[] = [];
    const waiting: ((l: string) => void)[] = [];
    let rest = "";
    child.stdout.on("data", (b: Buffer) => {
      const parts = (rest + b.toString("utf8")).split("\n");
      rest = parts.pop() ?? "";
      for (const l of parts) {
        const w = waiting.shift();
        if (w) w(l);
        else lines.push(l);
      }
    });
    return {
      next: () => {
        const l = lines.shift();
        return l !== undefined ? Promise.resolve(l) : new Promise((r) => waiting.push(r));
      },
      drain: () => lines.splice(0),
      send: (line) => child.stdin.write(`${line}\n`),
    };
  }

  /** Runs echo-client.js in `ns`: `count` connections, returns the source addresses seen. */
  probe(
    ns: string,
    host: string,
    port: number,
    count = 1,
    timeoutMs = 1500,
  ): { seen: Record<string, number>; failures: number } {
    const script = fileURLToPath(new URL("./echo-client.js", import.meta.url));
    const out = sh("ip", [
      "netns",
      "exec",
      ns,
      process.execPath,
      script,
      host,
      String(port),
      String(count),
      String(timeoutMs),
    ]);
    return JSON.parse(out) as { seen: Record<string, number>; failures: number };
  }

  /** probe() without blocking the test process, so a program can be changed while connections wait. */
  probeAsync(
    ns: string,
    host: string,
    port: number,
    count = 1,
    timeoutMs = 1500,
  ): Promise<{ seen: Record<string, number>; failures: number }> {
    const script = fileURLToPath(new URL("./echo-client.js", import.meta.url));
    const child = spawn(
      "ip",
      ["netns", "exec", ns, process.execPath, script, host, String(port), String(count), String(timeoutMs)],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    this.children.push(child);
    return new Promise((resolve, reject) => {
      let out = "";
      child.once("error", reject);
      child.stdout.on("data", (b: Buffer) => {
        out += b.toString("utf8");
      });
      child.once("close", (code) => {
        try {
          resolve(JSON.parse(out) as { seen: Record<string, number>; failures: number });
        } catch {
          reject(new Error(`echo-client in ${ns} exited with ${code}: ${JSON.stringify(out)}`));
        }
      });
    });
  }

  destroy(): void {
    this.unregisterSignals?.();
    this.unregisterSignals = undefined;
    for (const c of this.children) {
      try {
        c.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
    for (const ns of [...this.namespaces].reverse()) {
      try {
        sh("ip", ["netns", "del", ns]);
      } catch {
        // already gone
      }
    }
    this.namespaces.length = 0;
  }
}
