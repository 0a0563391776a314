// `ip` adapter: reads state with `ip -json` and runs actions with `ip -batch -` (one process per sync),
// announces egress IPs with `arping` and sets sysctls — all inside the execer's network namespace.
// RealIp runs the binaries (optionally via `ip netns exec <ns>`); FakeIp keeps the state in memory with
// the kernel's refusals ("File exists", "No such process") for unit tests. Deciding WHAT to change is
// diff.ts's job, not this module's.
import { commandLine, run } from "../run.js";
import {
  arpingArgs,
  type IpAction,
  type IpState,
  ipArgs,
  parseAddresses,
  parseRoutes,
  parseRules,
} from "./diff.js";

export interface IpExecer {
  read(): Promise<IpState>;
  /** Runs the non-announce actions in order; stops at the first failure (IpExecError). */
  exec(actions: IpAction[]): Promise<void>;
  /** Gratuitous ARP for an address just added. */
  announce(dev: string, ip: string): Promise<void>;
  setSysctl(key: string, value: string): Promise<void>;
}

export class IpExecError extends Error {
  constructor(
    readonly command: string[],
    readonly stderr: string,
  ) {
    super(`${command.join(" ")} failed: ${stderr.trim()}`);
    this.name = "IpExecError";
  }
}

export interface RealIpOptions {
  /** Network namespace name; absent = the caller's own namespace (the agent runs inside its node). */
  netns?: string;
  ipPath?: string;
  arpingPath?: string;
}

export class RealIp implements IpExecer {
  private readonly ip: string;
  constructor(private readonly opts: RealIpOptions = {}) {
    this.ip = opts.ipPath ?? "ip";
  }

  private async json(args: string[]): Promise<unknown> {
    const r = await run(this.opts.netns, this.ip, ["-json", ...args]);
    if (r.code !== 0)
      throw new IpExecError(commandLine(this.opts.netns, this.ip, ["-json", ...args]), r.stderr);
    return r.stdout.trim() === "" ? [] : (JSON.parse(r.stdout) as unknown);
  }

  async read(): Promise<IpState> {
    const [a, r, u] = await Promise.all([
      this.json(["addr", "show"]),
      this.json(["route", "show", "table", "all"]),
      this.json(["rule", "show"]),
    ]);
    return { addresses: parseAddresses(a), routes: parseRoutes(r), rules: parseRules(u) };
  }

  async exec(actions: IpAction[]): Promise<void> {
    const lines = actions.map(ipArgs).filter((a): a is string[] => a !== undefined);
    if (lines.length === 0) return;
    const r = await run(
      this.opts.netns,
      this.ip,
      ["-batch", "-"],
      `${lines.map((l) => l.join(" ")).join("\n")}\n`,
    );
    if (r.code !== 0) throw new IpExecError(commandLine(this.opts.netns, this.ip, ["-batch", "-"]), r.stderr);
  }

  async announce(dev: string, ip: string): Promise<void> {
    const bin = this.opts.arpingPath ?? "arping";
    const args = arpingArgs({ dev, ip });
    const r = await run(this.opts.netns, bin, args);
    // arping -U exits 1 when no reply came, which is normal for an unsolicited announcement.
    if (r.code !== 0 && r.code !== 1)
      throw new IpExecError(commandLine(this.opts.netns, bin, args), r.stderr);
  }

  async setSysctl(key: string, value: string): Promise<void> {
    if (!/^[a-z0-9_./-]+$/i.test(key)) throw new IpExecError(["sysctl", key], "invalid sysctl key");
    const args = ["-q", "-w", `${key}=${value}`];
    const r = await run(this.opts.netns, "sysctl", args);
    if (r.code !== 0) throw new IpExecError(commandLine(this.opts.netns, "sysctl", args), r.stderr);
  }
}

/** In-memory `ip` with the kernel's refusals, starting from any state (owned or not). */
export class FakeIp implements IpExecer {
  state: IpState;
  readonly announced: { dev: string; ip: string }[] = [];
  readonly sysctls = new Map<string, string>();
  /** Every action executed, in order (announce excluded). */
  readonly log: IpAction[] = [];

  constructor(initial: Partial<IpState> = {}) {
    this.state = { addresses: [], routes: [], rules: [], ...structuredClone(initial) };
  }

  async read(): Promise<IpState> {
    return structuredClone(this.state);
  }

  async exec(actions: IpAction[]): Promise<void> {
    for (const a of actions) {
      const args = ipArgs(a);
      if (!args) continue;
      const fail = (msg: string): never => {
        throw new IpExecError(["ip", ...args], msg);
      };
      const s = this.state;
      switch (a.op) {
        case "add-address":
          if (s.addresses.some((x) => x.dev === a.address.dev && x.address === a.address.address))
            fail("RTNETLINK answers: File exists");
          s.addresses.push({ ...a.address });
          break;
        case "del-address": {
          const i = s.addresses.findIndex((x) => x.dev === a.dev && x.address === a.address);
          if (i < 0) fail("RTNETLINK answers: Cannot assign requested address");
          s.addresses.splice(i, 1);
          break;
        }
        case "replace-route": {
          const i = s.routes.findIndex((x) => x.table === a.route.table && x.dst === a.route.dst);
          const r = { ...a.route, protocol: "201" };
          if (i < 0) s.routes.push(r);
          else s.routes[i] = r;
          break;
        }
        case "del-route": {
          const i = s.routes.findIndex((x) => x.table === a.route.table && x.dst === a.route.dst);
          if (i < 0) fail("RTNETLINK answers: No such process");
          s.routes.splice(i, 1);
          break;
        }
        case "add-rule":
          s.rules.push({ ...a.rule, protocol: "201" });
          break;
        case "del-rule": {
          const r = a.rule;
          const i = s.rules.findIndex(
            (x) =>
              x.priority === r.priority &&
              x.fwmark === r.fwmark &&
              x.fwmask === r.fwmask &&
              x.table === r.table,
          );
          if (i < 0) fail("RTNETLINK answers: No such file or directory");
          s.rules.splice(i, 1);
          break;
        }
      }
      this.log.push(a);
    }
  }

  async announce(dev: string, ip: string): Promise<void> {
    this.announced.push({ dev, ip });
  }

  async setSysctl(key: string, value: string): Promise<void> {
    this.sysctls.set(key, value);
  }
}
