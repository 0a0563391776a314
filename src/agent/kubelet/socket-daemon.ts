// A helper process of the agent that serves a unix socket — the reference `dhcp` daemon, our resident
// whereabouts IPAM daemon: started on demand unless something already answers on the socket, waited
// for until it accepts connections, stopped by the pid this manager started. Subclasses say only how
// to spawn theirs. Must not decide when a daemon is needed (the attachment code does).
import type { ChildProcess } from "node:child_process";
import { connect } from "node:net";

export interface SocketDaemonSpec {
  /** For messages: "dhcp daemon", "whereabouts daemon". */
  name: string;
  /** How long to wait for the socket to accept connections after the spawn. */
  startTimeoutMs: number;
  /** How long `stop()` waits after SIGTERM before SIGKILL. */
  stopTimeoutMs: number;
  log?: (msg: string) => void;
}

export abstract class SocketDaemon {
  private child: ChildProcess | undefined;
  private starting: Promise<string> | undefined;

  constructor(
    readonly socketPath: string,
    protected readonly spec: SocketDaemonSpec,
  ) {}

  /** The pid of the daemon this manager started and that still runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Spawns the daemon (its stderr, when piped, is kept for error messages). */
  protected abstract spawnDaemon(): Promise<ChildProcess>;

  /** Called with each chunk of the daemon's stderr. */
  protected onStderr(_text: string): void {}

  /** Called after `stop()` ended the daemon. */
  protected async afterStop(): Promise<void> {}

  private alive(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = connect(this.socketPath);
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
  }

  /** Starts the daemon unless one answers on the socket (e.g. left by a previous agent run);
   *  concurrent callers share one start. Resolves with the socket path. */
  ensure(): Promise<string> {
    this.starting ??= this.start().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async start(): Promise<string> {
    if (await this.alive()) return this.socketPath;
    const child = await this.spawnDaemon();
    this.child = child;
    let err = "";
    child.stdout?.resume();
    child.stderr?.on("data", (d: Buffer) => {
      err = (err + d.toString()).slice(-2000);
      this.onStderr(d.toString());
    });
    child.on("exit", (code, signal) => {
      this.spec.log?.(`${this.spec.name} exited (${code ?? signal}): ${err.trim()}`);
      if (this.child === child) this.child = undefined;
    });
    // Not a reason for the agent's event loop to stay alive: it stops the daemon (or its exit does).
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr])
      (s as { unref?: () => void } | null)?.unref?.();
    for (let waited = 0; waited < this.spec.startTimeoutMs; waited += 50) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      if (await this.alive()) return this.socketPath;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${this.spec.name} did not come up on ${this.socketPath}: ${err.trim()}`);
  }

  /** Stops the daemon this manager started (SIGTERM, then SIGKILL after the spec's timeout). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, this.spec.stopTimeoutMs))]);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    this.child = undefined;
    await this.afterStop();
  }
}
