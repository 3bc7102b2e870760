/**
 * A byte budget for buffered producer data. `acquire(n)` waits (FIFO) until `n` more bytes fit
 * under the limit; a single request larger than the whole limit is let through when nothing
 * else is held, so one oversized send cannot deadlock.
 */
export class ByteBudget {
  private usedBytes = 0;
  private readonly waiters: { n: number; resolve: () => void; reject: (e: unknown) => void }[] = [];

  constructor(readonly limit: number) {}

  get used(): number {
    return this.usedBytes;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  private fits(n: number): boolean {
    return this.usedBytes + n <= this.limit || this.usedBytes === 0;
  }

  acquire(n: number): Promise<void> {
    if (this.waiters.length === 0 && this.fits(n)) {
      this.usedBytes += n;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.waiters.push({ n, resolve, reject }));
  }

  release(n: number): void {
    this.usedBytes = Math.max(0, this.usedBytes - n);
    while (this.waiters.length > 0) {
      const w = this.waiters[0]!;
      if (!this.fits(w.n)) break;
      this.waiters.shift();
      this.usedBytes += w.n;
      w.resolve();
    }
  }

  /** Rejects every waiter (on close). */
  rejectAll(e: unknown): void {
    for (const w of this.waiters.splice(0)) w.reject(e);
  }
}
