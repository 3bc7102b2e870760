import type { Logger } from 'pino';
import { ByteBudget } from './budget.js';
import type { BrokerMetrics } from './metrics.js';
import type { Connection } from './server/connection.js';

/**
 * The broker's back-pressure, in one place: produced bytes held in open or uploading batches
 * count against `upload.inFlightBytes`. While the budget is exhausted every producer connection
 * stops being read (TCP then pushes back on the client); when enough bytes are released they are
 * read again. A request that still arrives while more than twice the budget is held is refused
 * with THROTTLED instead of being buffered.
 */
export class Backpressure {
  readonly budget: ByteBudget;
  /** Connections that sent a produce request: only those are paused. */
  readonly #producers = new Set<Connection>();

  constructor(
    inFlightBytes: number,
    private readonly connections: () => Iterable<Connection>,
    private readonly metrics: BrokerMetrics,
    private readonly log: Logger,
  ) {
    this.budget = new ByteBudget(inFlightBytes);
    this.budget.onChange((over) => this.#onBudget(over));
  }

  /** Why a produce request must be refused now, or undefined to accept it. */
  refusal(): string | undefined {
    if (this.budget.used <= this.budget.limit * 2) return undefined;
    return `the broker has ${this.budget.used} bytes in flight; retry later`;
  }

  /** Called after a produce request from `conn` was taken in: pauses it while over budget. */
  produced(conn: Connection): void {
    this.#producers.add(conn);
    if (!this.budget.over) return;
    conn.pause();
    this.#updatePaused();
  }

  /** Forgets a closed connection. */
  closed(conn: Connection): void {
    this.#producers.delete(conn);
    this.#updatePaused();
  }

  /** Connections not being read because of the budget. */
  get pausedConnections(): number {
    let n = 0;
    for (const c of this.connections()) if (c.paused) n++;
    return n;
  }

  #onBudget(over: boolean): void {
    if (over) {
      for (const c of this.#producers) c.pause();
      this.log.warn(
        { inFlightBytes: this.budget.used, limit: this.budget.limit },
        'in-flight byte budget exhausted; pausing producer connections',
      );
    } else {
      for (const c of this.connections()) c.resume();
      this.log.info(
        { inFlightBytes: this.budget.used },
        'in-flight bytes below the budget; resuming connections',
      );
    }
    this.#updatePaused();
  }

  #updatePaused(): void {
    this.metrics.pausedSockets.set(this.pausedConnections);
  }
}
