// PersistentNft: the NftExecer interface over one long-lived nft-helper process (helper/nft-helper.c,
// which runs libnftables in-process), so a change costs a pipe round trip instead of spawning `nft`.
// Requests are serialized (one in flight; the helper answers in order). The helper runs in the
// caller's namespace or under `ip netns exec <netns>`. If it dies, the request in flight fails with
// NftHelperError (an apply may or may not have been committed) and the next request starts a new
// helper. When the helper binary or libnftables.so.1 is missing it falls back to RealNft (spawning
// `nft` per change) for good. Besides run.ts this is the one dataplane adapter that starts a process;
// it never composes nft commands itself (listJson only names the table).
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { commandLine } from "../run.js";
import { errorLine, NftError, type NftExecer, RealNft } from "./execer.js";
import { encodeRequest, type Reply, ReplyDecoder, type RequestOp } from "./frame.js";

/** Where the build puts the helper: <out>/bin/nft-helper, this module being <out>/src/dataplane/nft/. */
export const DEFAULT_HELPER_PATH = fileURLToPath(new URL("../../../bin/nft-helper", import.meta.url));

export interface PersistentNftOptions {
  /** Network namespace name: the helper starts as `ip netns exec <netns> <helper>`. */
  netns?: string;
  /** The helper binary (default DEFAULT_HELPER_PATH). */
  helperPath?: string;
  /** Arguments for the helper (tests run a fake helper as `node fake-helper.js ...`). */
  helperArgs?: string[];
  /** nft binary for the RealNft fallback. */
  nftPath?: string;
  /** Called once when the executor falls back to RealNft, with the reason (for the agent's log). */
  onFallback?: (reason: string) => void;
  /** Time the helper has to load libnftables and say hello (default 10 s). */
  startTimeoutMs?: number;
}

/** The helper failed as a process (did not start, died, spoke garbage), not nft refusing a script. */
export class NftHelperError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(stderr.trim() ? `${message}; helper stderr: ${stderr.trim()}` : message);
    this.name = "NftHelperError";
  }
}

type Child = ChildProcessByStdio<Writable, Readable, Readable>;

interface Pending {
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
  what: string;
}

const STDERR_TAIL = 4096;
/** nft's own word for a missing table/object, in `nft list` errors. */
const NOT_FOUND = /No such file or directory/;
/** What a table family or name may contain when it is pasted into a `list table` command. */
const WORD = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** One helper process: frames out, replies matched to requests in order. */
class HelperProcess {
  readonly child: Child;
  private readonly decoder = new ReplyDecoder();
  private readonly pending: Pending[] = [];
  private stderrTail = "";
  /** Set once the process is gone (or unusable): every later request fails with it. */
  failure: NftHelperError | undefined;
  private failMessage: string | undefined;
  readonly closed: Promise<void>;
  readonly hello: Promise<Reply>;

  constructor(file: string, args: string[], onGone: () => void) {
    this.child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"] });
    this.hello = new Promise<Reply>((resolve, reject) =>
      this.pending.push({ resolve, reject, what: "starting" }),
    );
    this.child.stdin.on("error", () => {
      // EPIPE when the helper died: the close handler reports it
    });
    this.child.stdout.on("data", (chunk: Buffer) => {
      let replies: Reply[];
      try {
        replies = this.decoder.push(chunk);
      } catch (e) {
        this.fail(`nft-helper (pid ${this.child.pid}) sent a malformed reply: ${(e as Error).message}`);
        this.child.kill("SIGKILL");
        return;
      }
      for (const r of replies) {
        const p = this.pending.shift();
        if (p) p.resolve(r);
        else {
          this.fail(`nft-helper (pid ${this.child.pid}) sent a reply nobody asked for`);
          this.child.kill("SIGKILL");
        }
      }
      this.updateRef();
    });
    this.child.stderr.on("data", (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString("utf8")).slice(-STDERR_TAIL);
    });
    this.closed = new Promise<void>((resolve) => {
      this.child.on("error", (e) => {
        this.fail(`nft-helper ${file} could not be started: ${e.message}`);
        onGone();
        resolve();
      });
      this.child.on("close", (code, signal) => {
        this.fail(
          `nft-helper (pid ${this.child.pid}) exited (${signal ? `signal ${signal}` : `code ${code}`})`,
        );
        onGone();
        resolve();
      });
    });
    this.updateRef();
  }

  private fail(message: string): void {
    this.failMessage ??= message;
    this.failure ??= new NftHelperError(message, this.stderrTail);
    for (const p of this.pending.splice(0))
      p.reject(new NftHelperError(`${this.failMessage} while ${p.what}`, this.stderrTail));
  }

  /** The helper's pipes keep Node's event loop alive only while a request is in flight: an idle
   *  helper must not keep the agent (or a test) from exiting. */
  private updateRef(): void {
    const busy = this.pending.length > 0;
    for (const s of [this.child.stdin, this.child.stdout, this.child.stderr] as unknown as {
      ref?: () => void;
      unref?: () => void;
    }[]) {
      if (busy) s.ref?.();
      else s.unref?.();
    }
    if (busy) this.child.ref();
    else this.child.unref();
  }

  request(op: RequestOp, payload: string, what: string): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    const reply = new Promise<Reply>((resolve, reject) => this.pending.push({ resolve, reject, what }));
    this.updateRef();
    this.child.stdin.write(encodeRequest({ op, payload }));
    return reply;
  }

  /** Closes the request channel (the helper exits on EOF); SIGKILL if it lingers. */
  async stop(): Promise<void> {
    this.child.stdin.end();
    const t = setTimeout(() => this.child.kill("SIGKILL"), 2000);
    await this.closed;
    clearTimeout(t);
  }
}

export class PersistentNft implements NftExecer {
  private helper: HelperProcess | undefined;
  private fallback: RealNft | undefined;
  private reason: string | undefined;
  /** Requests run one after another: the tail of that chain. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly helperPath: string;

  constructor(private readonly opts: PersistentNftOptions = {}) {
    this.helperPath = opts.helperPath ?? DEFAULT_HELPER_PATH;
  }

  /** "helper" while a helper runs, "spawn" after falling back to RealNft, "idle" before the first
   *  request or after the helper died. */
  get mode(): "helper" | "spawn" | "idle" {
    if (this.fallback) return "spawn";
    return this.helper && !this.helper.failure ? "helper" : "idle";
  }

  /** Why the executor fell back to spawning `nft`, if it did. */
  get fallbackReason(): string | undefined {
    return this.reason;
  }

  /** The running helper's pid (with a netns: `ip netns exec` execs the helper, so the same pid). */
  get pid(): number | undefined {
    return this.mode === "helper" ? this.helper?.child.pid : undefined;
  }

  apply(script: string): Promise<void> {
    return this.serial(async () => {
      const h = await this.ready();
      if (!h) return this.fallback!.apply(script);
      const r = await h.request("apply", script, "applying a script (it may or may not have been committed)");
      if (!r.ok) throw new NftError(this.command(["-f", "-"]), r.text, errorLine(r.text));
    });
  }

  check(script: string): Promise<void> {
    return this.serial(async () => {
      const h = await this.ready();
      if (!h) return this.fallback!.check(script);
      const r = await h.request("check", script, "checking a script");
      if (!r.ok) throw new NftError(this.command(["--check", "-f", "-"]), r.text, errorLine(r.text));
    });
  }

  listJson(family: string, name: string): Promise<unknown | undefined> {
    return this.serial(async () => {
      const args = ["-j", "list", "table", family, name];
      // The command travels as one line; nft joins its arguments with spaces the same way.
      for (const w of [family, name])
        if (!WORD.test(w))
          throw new NftError(this.command(args), `invalid table family or name ${JSON.stringify(w)}`);
      const h = await this.ready();
      if (!h) return this.fallback!.listJson(family, name);
      const r = await h.request("json", `list table ${family} ${name}`, "listing a table");
      if (!r.ok) {
        if (NOT_FOUND.test(r.text)) return undefined;
        throw new NftError(this.command(args), r.text);
      }
      return JSON.parse(r.text) as unknown;
    });
  }

  /** Stops the helper (after the requests already queued). Later requests start a new one. */
  close(): Promise<void> {
    return this.serial(async () => {
      const h = this.helper;
      this.helper = undefined;
      await h?.stop();
    });
  }

  private command(args: string[]): string[] {
    return commandLine(this.opts.netns, "nft-helper", args);
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const run = this.queue.then(f, f);
    this.queue = run.catch(() => {});
    return run;
  }

  /** The running helper, a new one if none runs, or undefined after falling back to RealNft. */
  private async ready(): Promise<HelperProcess | undefined> {
    if (this.fallback) return undefined;
    if (this.helper && !this.helper.failure) return this.helper;
    this.helper = undefined;
    try {
      await access(this.helperPath, constants.X_OK);
    } catch {
      return this.fallBack(`nft-helper ${this.helperPath} is missing or not executable`);
    }
    const [file, ...args] = commandLine(this.opts.netns, this.helperPath, this.opts.helperArgs ?? []);
    const h = new HelperProcess(file!, args, () => {
      if (this.helper === h) this.helper = undefined;
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new NftHelperError(`nft-helper did not start within ${this.startTimeoutMs} ms`, "")),
        this.startTimeoutMs,
      );
    });
    try {
      const hello = await Promise.race([h.hello, timeout]);
      if (!hello.ok) {
        // The helper runs but cannot load libnftables.so.1: spawning `nft` is all that is left.
        await h.stop();
        return this.fallBack(hello.text.trim());
      }
    } catch (e) {
      h.child.kill("SIGKILL");
      await h.closed;
      throw e;
    } finally {
      clearTimeout(timer);
    }
    this.helper = h;
    return h;
  }

  private get startTimeoutMs(): number {
    return this.opts.startTimeoutMs ?? 10_000;
  }

  private fallBack(reason: string): undefined {
    this.reason = reason;
    this.fallback = new RealNft({
      ...(this.opts.netns !== undefined ? { netns: this.opts.netns } : {}),
      ...(this.opts.nftPath !== undefined ? { nftPath: this.opts.nftPath } : {}),
    });
    this.opts.onFallback?.(reason);
    return undefined;
  }
}
