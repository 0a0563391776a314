// Keeps the current addresses of one DNS proxy target. A name is re-resolved when its TTL has
// run out (clamped to [minTtlSeconds, maxTtlSeconds]); when re-resolution fails the last good
// answer is kept and retried after `retrySeconds` (haproxy's "hold valid", which upstream's
// DNS proxy used). Concurrent callers share one lookup. No I/O of its own: the resolver and the
// clock are injected.

export interface TtlAnswer {
  address: string;
  ttl: number;
}

export interface TtlResolver {
  resolve4(name: string): Promise<TtlAnswer[]>;
}

export interface CacheOptions {
  now?: () => number;
  minTtlSeconds?: number;
  maxTtlSeconds?: number;
  retrySeconds?: number;
}

export class TargetAddresses {
  private addresses: string[] = [];
  private expiresAt = 0;
  private inflight: Promise<string[]> | undefined;
  private readonly now: () => number;
  private readonly minTtl: number;
  private readonly maxTtl: number;
  private readonly retry: number;
  /** Number of lookups made (for tests and metrics). */
  lookups = 0;

  constructor(
    readonly target: string,
    readonly isName: boolean,
    private readonly resolver: TtlResolver,
    opts: CacheOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.minTtl = opts.minTtlSeconds ?? 1;
    this.maxTtl = opts.maxTtlSeconds ?? 3600;
    this.retry = opts.retrySeconds ?? 5;
    if (!isName) this.addresses = [target];
  }

  /** Current addresses; resolves first when the cached answer has expired. Rejects only when
   *  no answer was ever obtained. */
  async current(): Promise<string[]> {
    if (!this.isName) return this.addresses;
    if (this.now() < this.expiresAt && this.addresses.length > 0) return this.addresses;
    this.inflight ??= this.refresh().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async refresh(): Promise<string[]> {
    this.lookups++;
    try {
      const answers = await this.resolver.resolve4(this.target);
      if (answers.length === 0) throw new Error(`no A records for ${this.target}`);
      const ttl = Math.min(this.maxTtl, Math.max(this.minTtl, Math.min(...answers.map((a) => a.ttl))));
      this.addresses = answers.map((a) => a.address);
      this.expiresAt = this.now() + ttl * 1000;
      return this.addresses;
    } catch (e) {
      if (this.addresses.length === 0) throw e;
      this.expiresAt = this.now() + this.retry * 1000;
      return this.addresses;
    }
  }
}
