/** How many produce requests may be in flight: a fixed number (`maxInFlight`), or sized from measurements. */
export type RequestLimit =
  | { readonly fixed: number }
  | { readonly adaptive: { readonly min: number; readonly max: number } };

/** Requests in flight of an adaptive window before it has measured anything, and never fewer. */
export const ADAPTIVE_MIN_REQUESTS = 16;
/** Requests in flight an adaptive window never exceeds (the byte budget usually binds first). */
export const ADAPTIVE_MAX_REQUESTS = 1024;
/**
 * A request waits until it can carry this share of the byte budget (or all that its sender has
 * queued): while the budget is nearly spent, the few bytes an ack frees would otherwise go out at
 * once as a request of about the acknowledged one's size, and a full budget would stay split
 * into many small requests, each costing both sides a frame, an ack and often a batch of its own.
 */
const BUDGET_SHARES = 16;
/** Shortest round between two resizes; a round also lasts at least one smoothed ack latency. */
const MIN_ROUND_MS = 10;
/** Room to grow: the limit becomes this many times the requests in flight on average. */
const HEADROOM = 2;
/** Weight of the newest ack in the smoothed latency. */
const LATENCY_WEIGHT = 0.25;

export interface InFlightWindowOptions {
  /** Bytes of requests in flight (`maxInFlightBytes`); a request larger than this still goes, alone. */
  readonly maxBytes: number;
  readonly requests: RequestLimit;
}

/**
 * How many produce requests, and how many bytes of them, may be in flight at once: a byte
 * budget that always holds, and a request limit that is fixed or follows Little's law.
 *
 * Adaptive: a round lasts one smoothed ack latency. At its end the limit becomes HEADROOM times
 * the requests that were in flight on average during the round (by Little's law, the ack rate
 * times the ack latency), within [min, max]. While the limit binds, the average is the limit,
 * so it doubles every round: the producer adds requests while the broker keeps up. When the
 * broker saturates, latency grows with the requests in flight and the byte budget becomes the
 * bound. When the application sends less, the limit falls back to twice what it uses. A failed
 * request halves the limit. The average is weighted by time, not counted per ack, because a
 * broker that batches answers many requests at once. A binding limit also grows without an ack
 * once a round has lasted (`mayStart`), so it need not wait for the first ack to grow.
 *
 * Senders (`K`, the producer's partition queues) ask `mayStart`; one refused waits in line, and
 * nobody starts past the first in line. A request larger than the free bytes thus gets the room
 * that frees up next, however many smaller requests of other senders keep coming. A sender asks
 * for the bytes it wants to send (`wantedBytes`): with a backlog, a share of the byte budget.
 *
 * Pure bookkeeping: the caller passes the clock (ms), so the logic is testable without timers.
 */
export class InFlightWindow<K = unknown> {
  private requests = 0;
  private bytes = 0;
  private requestLimit: number;
  private latencyMs: number | undefined;
  /** Start of the current round; undefined while nothing was in flight since the last resize. */
  private roundStart: number | undefined;
  /** Integral of requests in flight over the round so far (request × ms), up to `lastChange`. */
  private requestMs = 0;
  private lastChange = 0;
  /** Senders refused by `mayStart` and not started since, in the order they were first refused. */
  private readonly line = new Set<K>();

  constructor(private readonly options: InFlightWindowOptions) {
    const { requests } = options;
    this.requestLimit = 'fixed' in requests ? requests.fixed : requests.adaptive.min;
  }

  /** Requests in flight now. */
  get requestsInFlight(): number {
    return this.requests;
  }

  /** Bytes of requests in flight now. */
  get bytesInFlight(): number {
    return this.bytes;
  }

  /** Requests allowed in flight now. */
  get maxRequests(): number {
    return this.requestLimit;
  }

  /** Smoothed ack latency in ms, once an ack was measured. */
  get ackLatencyMs(): number | undefined {
    return this.latencyMs;
  }

  /** Whether another request may start, if it is small enough. */
  get hasRoom(): boolean {
    return this.requests < this.requestLimit && this.roomBytes > 0;
  }

  /** Bytes a request starting now may carry: any size while nothing is in flight. */
  get roomBytes(): number {
    return this.requests === 0 ? Number.POSITIVE_INFINITY : Math.max(0, this.options.maxBytes - this.bytes);
  }

  /**
   * Bytes a sender's next request waits for room for: at least its `smallest` (its first chunk),
   * and of what it has `queued`, up to a share of the byte budget (BUDGET_SHARES).
   */
  wantedBytes(smallest: number, queued: number): number {
    return Math.max(smallest, Math.min(queued, Math.ceil(this.options.maxBytes / BUDGET_SHARES)));
  }

  /** Whether a request of `bytes` may start now. */
  admits(bytes: number): boolean {
    return this.requests < this.requestLimit && bytes <= this.roomBytes;
  }

  /** Senders waiting in line, the first first. */
  get waiting(): ReadonlySet<K> {
    return this.line;
  }

  /**
   * Whether `sender`'s next request, of `bytes`, may start now: only if nobody waits in line
   * before it, and it fits (a binding adaptive limit may grow first). If not, the sender waits in
   * line (once) until it is allowed or leaves.
   */
  mayStart(sender: K, bytes: number, now: number): boolean {
    const first = this.line.values().next().value;
    const turn = first === undefined || first === sender;
    if (turn && (this.admits(bytes) || (this.grow(now) && this.admits(bytes)))) {
      this.line.delete(sender);
      return true;
    }
    this.line.add(sender);
    return false;
  }

  /** `sender` stops waiting in line (it cannot send now: a backoff, a recovery). */
  leaveLine(sender: K): void {
    this.line.delete(sender);
  }

  /** When a binding adaptive limit may grow next; undefined if it cannot (fixed, at its max, or idle). */
  get growthDueAt(): number | undefined {
    const { requests } = this.options;
    if (!('adaptive' in requests) || this.roundStart === undefined) return undefined;
    if (this.requestLimit >= requests.adaptive.max) return undefined;
    return this.roundStart + Math.max(MIN_ROUND_MS, this.latencyMs ?? 0);
  }

  /** A request of `bytes` was sent at `now`. */
  started(bytes: number, now: number): void {
    this.advance(now);
    this.roundStart ??= now;
    this.requests++;
    this.bytes += bytes;
  }

  /** A request of `bytes` sent at `startedAt` was acknowledged at `now`. */
  acked(bytes: number, startedAt: number, now: number): void {
    this.ended(bytes, now);
    const latency = Math.max(0, now - startedAt);
    this.latencyMs =
      this.latencyMs === undefined ? latency : this.latencyMs + LATENCY_WEIGHT * (latency - this.latencyMs);
    this.maybeResize(now);
  }

  /** A request of `bytes` failed (to be retried, or given up): no measurement; an adaptive limit halves. */
  failed(bytes: number, now: number): void {
    this.ended(bytes, now);
    const { requests } = this.options;
    if ('adaptive' in requests) {
      this.requestLimit = Math.max(requests.adaptive.min, Math.floor(this.requestLimit / 2));
      this.startRound(now);
    }
  }

  /**
   * The request limit binds while a request waits: an adaptive limit grows now, without waiting
   * for an ack, once the round has lasted `MIN_ROUND_MS` and the smoothed ack latency (just
   * `MIN_ROUND_MS` before the first ack). Durable acks wait for the broker's batch delay, so
   * without this a producer would hold its chunks for a whole ack latency per doubling at start.
   * The limit only grows here, to HEADROOM times the requests in flight on average. Returns
   * whether it grew.
   */
  private grow(now: number): boolean {
    const { requests } = this.options;
    const dueAt = this.growthDueAt;
    if (!('adaptive' in requests) || dueAt === undefined || now < dueAt) return false;
    if (this.requests < this.requestLimit) return false;
    const elapsed = now - this.roundStart!;
    this.advance(now);
    const limit = Math.min(requests.adaptive.max, Math.ceil((HEADROOM * this.requestMs) / elapsed));
    if (limit <= this.requestLimit) return false;
    this.requestLimit = limit;
    this.startRound(now);
    return true;
  }

  private ended(bytes: number, now: number): void {
    this.advance(now);
    this.requests--;
    this.bytes -= bytes;
  }

  /** Adds the requests in flight since the last change to the round's integral. */
  private advance(now: number): void {
    if (this.roundStart !== undefined) this.requestMs += this.requests * (now - this.lastChange);
    this.lastChange = now;
  }

  private maybeResize(now: number): void {
    const { requests } = this.options;
    if (!('adaptive' in requests) || this.roundStart === undefined || this.latencyMs === undefined) return;
    const elapsed = now - this.roundStart;
    if (elapsed < Math.max(MIN_ROUND_MS, this.latencyMs)) return;
    const averageInFlight = this.requestMs / elapsed;
    const { min, max } = requests.adaptive;
    this.requestLimit = Math.min(max, Math.max(min, Math.ceil(HEADROOM * averageInFlight)));
    this.startRound(now);
  }

  private startRound(now: number): void {
    this.roundStart = this.requests > 0 ? now : undefined;
    this.requestMs = 0;
    this.lastChange = now;
  }
}
