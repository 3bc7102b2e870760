/**
 * Wakes Kafka fetches waiting for data (`maxWaitMs`) when this broker publishes pointers of a
 * partition, so a long poll answers as soon as the data is there instead of at its next look.
 * Pointers another broker publishes are only seen at the next look (`wait`'s timeout).
 */
export class PublishSignal {
  readonly #waiters = new Map<string, Set<() => void>>();

  /** Called after pointers of `topic`/`partition` were published. */
  published(topic: string, partition: number): void {
    const k = key(topic, partition);
    const waiters = this.#waiters.get(k);
    if (!waiters) return;
    this.#waiters.delete(k);
    for (const wake of waiters) wake();
  }

  /** Resolves at the next publication of any of `partitions`, or after `ms`. */
  wait(partitions: readonly { topic: string; partition: number }[], ms: number): Promise<void> {
    return new Promise((resolve) => {
      const keys = partitions.map((p) => key(p.topic, p.partition));
      const done = () => {
        clearTimeout(timer);
        for (const k of keys) {
          const set = this.#waiters.get(k);
          set?.delete(done);
          if (set?.size === 0) this.#waiters.delete(k);
        }
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      for (const k of keys) {
        let set = this.#waiters.get(k);
        if (!set) {
          set = new Set();
          this.#waiters.set(k, set);
        }
        set.add(done);
      }
    });
  }
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
