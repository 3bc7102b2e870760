/**
 * In-process wake-ups for long polls: a poll that found nothing registers here and sleeps
 * until something is published (or its assignment, position or lifetime changes) or its
 * timeout passes. No busy loop, no timer per idle partition.
 */
export class Notifier {
  readonly #waiters = new Set<() => void>();

  /** Wakes every current waiter. */
  notify(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  get waiting(): number {
    return this.#waiters.size;
  }

  /**
   * Resolves on the first `notify()` of any of `notifiers`, or after `ms`. Registers
   * synchronously, so a check-then-wait in the same tick cannot miss a notification.
   */
  static waitAny(notifiers: readonly Notifier[], ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        for (const n of notifiers) n.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      for (const n of notifiers) n.#waiters.add(done);
    });
  }
}
