/**
 * The broker-wide budget of bytes in flight: chunk bytes accepted from producers and not yet
 * released (a batch is released once its pointer is published, or it is abandoned). Crossing
 * `limit` turns `over` on (the broker pauses producer sockets); dropping to `resumeAt`
 * (90 % of the limit) turns it off again. The hysteresis keeps sockets from flapping.
 */
export class ByteBudget {
  #used = 0;
  #peak = 0;
  #over = false;
  readonly resumeAt: number;
  #listeners: ((over: boolean) => void)[] = [];

  constructor(readonly limit: number) {
    this.resumeAt = Math.floor(limit * 0.9);
  }

  get used(): number {
    return this.#used;
  }

  /** Highest `used` seen. */
  get peak(): number {
    return this.#peak;
  }

  get over(): boolean {
    return this.#over;
  }

  /** Called with `true` when the budget is exceeded and `false` when it has room again. */
  onChange(listener: (over: boolean) => void): void {
    this.#listeners.push(listener);
  }

  acquire(n: number): void {
    this.#used += n;
    if (this.#used > this.#peak) this.#peak = this.#used;
    if (!this.#over && this.#used > this.limit) this.#set(true);
  }

  release(n: number): void {
    this.#used -= n;
    if (this.#used < 0) this.#used = 0;
    if (this.#over && this.#used <= this.resumeAt) this.#set(false);
  }

  #set(over: boolean): void {
    this.#over = over;
    for (const l of this.#listeners) l(over);
  }
}
