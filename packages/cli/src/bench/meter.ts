import { LatencyHistogram } from './histogram.js';

/** One point of the JSON summary's `timeline`: the second (or part) that ended at `t`. */
export interface TimelinePoint {
  t: number;
  messagesPerSecond: number;
  mbPerSecond: number;
  p99AckMs: number | null;
}

const MB = 1e6;

/**
 * Counts what a benchmark moved, in total and per interval: messages, bytes and latencies (ack
 * latency per `send`, and end-to-end latency per message for e2e). `tick` closes an interval
 * and adds it to the timeline; the run's totals keep growing.
 */
export class Meter {
  readonly ack = new LatencyHistogram();
  readonly endToEnd = new LatencyHistogram();
  readonly timeline: TimelinePoint[] = [];
  /** End-to-end p99 per timeline point (e2e only; for the chart). */
  readonly endToEndTimeline: (number | null)[] = [];
  messages = 0;
  bytes = 0;
  keyBytes = 0;
  readonly #intervalAck = new LatencyHistogram();
  readonly #intervalEndToEnd = new LatencyHistogram();
  #startedAt = performance.now();
  #lastTickAt = this.#startedAt;
  #lastMessages = 0;
  #lastBytes = 0;

  /** The measured phase starts now: the timeline counts from here. */
  start(): void {
    this.#startedAt = performance.now();
    this.#lastTickAt = this.#startedAt;
  }

  /** Seconds since the start. */
  elapsed(): number {
    return (performance.now() - this.#startedAt) / 1000;
  }

  /** Seconds since the last `tick`. */
  sinceTick(): number {
    return (performance.now() - this.#lastTickAt) / 1000;
  }

  /** `messages` of `bytes` (key + value; `keyBytes` of them keys) were moved (acknowledged, or consumed). */
  moved(messages: number, bytes: number, keyBytes = 0): void {
    this.messages += messages;
    this.bytes += bytes;
    this.keyBytes += keyBytes;
  }

  ackLatency(ms: number): void {
    this.ack.record(ms);
    this.#intervalAck.record(ms);
  }

  endToEndLatency(ms: number): void {
    this.endToEnd.record(ms);
    this.#intervalEndToEnd.record(ms);
  }

  /** Closes the current interval: its rates and p99 become a timeline point, returned. */
  tick(): TimelinePoint {
    const now = performance.now();
    const secs = Math.max(1e-3, (now - this.#lastTickAt) / 1000);
    const p99 = this.#intervalAck.percentile(99);
    const point: TimelinePoint = {
      t: round(this.elapsed(), 3),
      messagesPerSecond: Math.round((this.messages - this.#lastMessages) / secs),
      mbPerSecond: round((this.bytes - this.#lastBytes) / MB / secs, 3),
      p99AckMs: p99 === undefined ? null : round(p99, 3),
    };
    this.timeline.push(point);
    const e2e = this.#intervalEndToEnd.percentile(99);
    this.endToEndTimeline.push(e2e === undefined ? null : round(e2e, 3));
    this.#lastTickAt = now;
    this.#lastMessages = this.messages;
    this.#lastBytes = this.bytes;
    this.#intervalAck.reset();
    this.#intervalEndToEnd.reset();
    return point;
  }
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
