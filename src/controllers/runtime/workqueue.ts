// A work queue keyed by object, as client-go's: a key queued several times is processed once; a key
// is never processed by two workers at once (changes arriving meanwhile queue it again); failures
// are retried with per-key exponential backoff. Pure logic plus timers; no API access.

export interface WorkQueueOptions {
  /** First retry delay (ms). */
  baseDelayMs?: number;
  /** Longest retry delay (ms). */
  maxDelayMs?: number;
  /** Parallel workers. */
  workers?: number;
}

export type ReconcileOutcome = { requeueAfterMs?: number } | undefined;

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private waiting: (() => void)[] = [];
  private running = 0;
  private stopped = false;
  private pumpScheduled = false;
  private readonly base: number;
  private readonly max: number;
  private readonly workers: number;

  constructor(
    private readonly handler: (key: string) => Promise<ReconcileOutcome>,
    private readonly onError: (key: string, err: unknown, attempt: number) => void = () => {},
    opts: WorkQueueOptions = {},
  ) {
    this.base = opts.baseDelayMs ?? 5;
    this.max = opts.maxDelayMs ?? 30_000;
    this.workers = opts.workers ?? 1;
  }

  add(key: string): void {
    if (this.stopped) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    // Start workers on the next microtask so a burst of adds in one tick coalesces.
    if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      queueMicrotask(() => {
        this.pumpScheduled = false;
        this.pump();
      });
    }
  }

  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    const old = this.timers.get(key);
    if (old) clearTimeout(old);
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    t.unref();
    this.timers.set(key, t);
  }

  /** Retry delay for the n-th consecutive failure (1-based). */
  delayFor(attempt: number): number {
    return Math.min(this.max, this.base * 2 ** Math.min(attempt - 1, 30));
  }

  get length(): number {
    return this.queue.length;
  }

  /** Resolves when nothing is queued or running (tests, shutdown). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.running === 0 && !this.pumpScheduled) return Promise.resolve();
    return new Promise((r) => this.waiting.push(r));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.queue.length = 0;
    this.queued.clear();
  }

  private pump(): void {
    while (!this.stopped && this.running < this.workers && this.queue.length > 0) {
      const key = this.queue.shift()!;
      this.queued.delete(key);
      this.processing.add(key);
      this.running++;
      void this.run(key);
    }
    if (this.queue.length === 0 && this.running === 0) {
      const w = this.waiting;
      this.waiting = [];
      for (const r of w) r();
    }
  }

  private async run(key: string): Promise<void> {
    try {
      const out = await this.handler(key);
      this.failures.delete(key);
      if (out?.requeueAfterMs !== undefined) this.addAfter(key, out.requeueAfterMs);
    } catch (e) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      this.onError(key, e, n);
      this.addAfter(key, this.delayFor(n));
    } finally {
      this.processing.delete(key);
      this.running--;
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
    }
  }
}
