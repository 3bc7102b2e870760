import { Producer, type ProducerMessage } from '@barge/client';
import { brokerSasl } from '../sasl-flags.js';
import { brokerTls } from '../tls-flags.js';
import type { Meter } from './meter.js';
import type { BenchOptions } from './options.js';
import { defaultSendMessages, type Payload } from './payload.js';

/** The producer's default `bufferBytes`: the application keeps at most this much unacknowledged. */
const DEFAULT_BUFFER_BYTES = 64 * 1024 * 1024;
/** With `--rate`, sends are spaced at most this far apart (ms), so the pace stays smooth. */
const RATE_STEP_MS = 5;

/** Builds the messages of one `send`: the shared ones, or stamped copies (e2e). */
export type MessageSource = (n: number) => ProducerMessage[];

/** Messages still to send, shared by the producers: a count, or a deadline. */
class Quota {
  #left: number;
  #stopped = false;

  constructor(
    count: number | undefined,
    private readonly deadline: number | undefined,
  ) {
    this.#left = count ?? Number.POSITIVE_INFINITY;
  }

  /** Up to `n` messages to send now; 0 when the run is over. */
  take(n: number): number {
    if (this.#stopped || (this.deadline !== undefined && performance.now() >= this.deadline)) return 0;
    const granted = Math.min(n, this.#left);
    this.#left -= granted;
    return granted;
  }

  stop(): void {
    this.#stopped = true;
  }
}

/** Connected producers with the benchmark's settings (client defaults for everything not given). */
export async function connectProducers(o: BenchOptions): Promise<Producer[]> {
  const producers = Array.from(
    { length: o.producers },
    (_, i) =>
      new Producer({
        brokers: [o.broker],
        clientId: `barge-bench-${i}`,
        acks: o.acks,
        tls: brokerTls(),
        sasl: brokerSasl(),
        ...o.tuning,
      }),
  );
  try {
    await Promise.all(producers.map((p) => p.connect()));
  } catch (e) {
    await Promise.all(producers.map((p) => p.disconnect().catch(() => {})));
    throw e;
  }
  return producers;
}

/**
 * Sends `--count` messages (or for `--duration`) from every producer, many sends in flight: each
 * producer keeps up to its buffer's worth of sends unacknowledged, so its window and
 * back-pressure set the pace; with `--rate`, sends leave on a schedule (open loop) instead and
 * each one's latency counts from when it was due. Records each send's ack latency and the
 * acknowledged messages in `meter`. Throws the first failed send, after the others settled.
 */
export async function produce(
  producers: readonly Producer[],
  o: BenchOptions,
  job: {
    payload: Payload;
    meter: Pick<Meter, 'ackLatency' | 'moved'>;
    /** Default: the payload's shared messages. */
    source?: MessageSource;
    /** Sending stops when this aborts (Ctrl-C); what was sent is still awaited. */
    stop?: AbortSignal;
  },
): Promise<void> {
  const { payload, meter } = job;
  const source = job.source ?? ((n: number) => payload.group(n));
  const deadline = o.durationSeconds === undefined ? undefined : performance.now() + o.durationSeconds * 1000;
  const quota = new Quota(o.count, deadline);
  job.stop?.addEventListener('abort', () => quota.stop(), { once: true });
  const ratePerProducer = o.rate / producers.length;
  const perSend =
    o.sendMessages ??
    (ratePerProducer > 0
      ? Math.min(
          defaultSendMessages(payload.messageBytes),
          Math.max(1, Math.ceil((ratePerProducer * RATE_STEP_MS) / 1000)),
        )
      : defaultSendMessages(payload.messageBytes));
  const budget = o.tuning.bufferBytes ?? DEFAULT_BUFFER_BYTES;
  let failure: unknown;
  await Promise.all(
    producers.map(async (producer) => {
      const pending = new Set<Promise<void>>();
      let outstanding = 0;
      let sent = 0;
      const startedAt = performance.now();
      for (let n = quota.take(perSend); n > 0; n = quota.take(perSend)) {
        let due = Number.POSITIVE_INFINITY;
        if (ratePerProducer > 0) {
          due = startedAt + (sent / ratePerProducer) * 1000;
          const wait = due - performance.now();
          if (wait >= 1) await new Promise((r) => setTimeout(r, wait));
        }
        const bytes = n * payload.messageBytes;
        while (pending.size > 0 && outstanding + bytes > budget) await Promise.race(pending);
        if (failure !== undefined) break;
        outstanding += bytes;
        sent += n;
        // With --rate the latency counts from when the send was due, so a send held up by a
        // late timer or by back-pressure counts its wait (no coordinated omission).
        const sentAt = Math.min(due, performance.now());
        const p: Promise<void> = producer
          .send({ topic: o.topic, messages: source(n) })
          .then(
            () => {
              meter.ackLatency(performance.now() - sentAt);
              meter.moved(n, bytes);
            },
            (e: unknown) => {
              failure ??= e;
              quota.stop();
            },
          )
          .finally(() => {
            outstanding -= bytes;
            pending.delete(p);
          });
        pending.add(p);
      }
      await Promise.all(pending);
    }),
  );
  if (failure !== undefined) throw failure;
}

export async function disconnectAll(producers: readonly Producer[]): Promise<void> {
  await Promise.all(producers.map((p) => p.disconnect().catch(() => {})));
}
