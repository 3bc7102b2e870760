import type { Connection } from './connection.js';

export interface ReaperLimits {
  /** Close connections idle this long, and those whose client reads no response byte this long (0: never). */
  idleTimeoutMs: number;
  /** Close connections that take longer than this to send one frame (0: never). */
  requestReadTimeoutMs: number;
}

/** Why the broker closed a connection on its own. */
export type ReapReason = 'idle' | 'read_timeout' | 'write_stalled';

/**
 * Closes the connections that hold a slot or memory without making progress: idle ones (nothing
 * received, pending or unsent: long polls and requests in progress keep a connection open),
 * slow senders (a frame started and not complete within the read timeout, counted only while
 * the broker is reading the connection), and clients that stopped reading their responses.
 * One timer sweeps all connections a few times per timeout.
 */
export class ConnectionReaper {
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly limits: ReaperLimits,
    private readonly connections: () => Iterable<Connection>,
    private readonly reap: (conn: Connection, reason: ReapReason, ms: number) => void,
  ) {}

  start(): void {
    const timeouts = [this.limits.idleTimeoutMs, this.limits.requestReadTimeoutMs].filter((t) => t > 0);
    if (timeouts.length === 0 || this.#timer) return;
    const every = Math.min(1000, Math.max(10, Math.floor(Math.min(...timeouts) / 5)));
    this.#timer = setInterval(() => this.sweep(Date.now()), every);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  sweep(now: number): void {
    const { idleTimeoutMs, requestReadTimeoutMs } = this.limits;
    for (const conn of this.connections()) {
      if (conn.closing) continue;
      const reason =
        overdue(conn.frameReadSince(), requestReadTimeoutMs, now, 'read_timeout') ??
        overdue(conn.writeStalledSince(now), idleTimeoutMs, now, 'write_stalled') ??
        overdue(conn.idleSince(), idleTimeoutMs, now, 'idle');
      if (reason) this.reap(conn, reason[0], reason[1]);
    }
  }
}

function overdue(
  since: number | undefined,
  timeoutMs: number,
  now: number,
  reason: ReapReason,
): [ReapReason, number] | undefined {
  if (since === undefined || timeoutMs <= 0 || now - since < timeoutMs) return undefined;
  return [reason, now - since];
}
