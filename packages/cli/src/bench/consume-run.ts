import { randomUUID } from 'node:crypto';
import { type ConsumedMessage, Consumer } from '@barge/client';
import type { ObjectStorage } from '@barge/core';
import { CliError } from '../fail.js';
import { brokerSasl } from '../sasl-flags.js';
import { openConfiguredStorage } from '../storage.js';
import { brokerTls } from '../tls-flags.js';
import type { Meter } from './meter.js';
import type { BenchOptions } from './options.js';

const IDLE_CHECK_MS = 100;
const ASSIGN_TIMEOUT_MS = 30_000;

async function withTimeout(assigned: Promise<void>, ms: number, readPartitions: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new CliError(
            `the consumer was not assigned all ${readPartitions} read partitions within ${ms / 1000} s (is --group shared with other members?)`,
          ),
        ),
      ms,
    );
  });
  try {
    await Promise.race([assigned, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface ConsumeSetup {
  /** Start at these pointer offsets (read partition → offset) instead of by `--from-beginning`. */
  readonly startAt?: ReadonlyMap<number, number>;
  /** Counts a message, or not (e2e: only the run's own); records what it measures. Default: all count. */
  readonly accept?: (m: ConsumedMessage) => boolean;
  /** Reading stops when this aborts (Ctrl-C). */
  readonly stop?: AbortSignal;
}

/**
 * A consumer that counts what it reads into a meter and stops at a target count or when no
 * message came for `--idle` seconds. Reads through the broker's read proxy, or with `--direct`
 * straight from the storage the broker config names (`--config` / `--data`).
 */
export class BenchConsumer {
  /** When the consumer started running, and when it took its last counted message (performance.now()). */
  startedAt = 0;
  lastMessageAt = 0;
  #target: number | undefined;
  #done = false;
  #finished!: () => void;
  #crash: unknown;
  readonly #finishedP = new Promise<void>((r) => {
    this.#finished = r;
  });
  #idleTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly consumer: Consumer,
    private readonly storage: ObjectStorage | undefined,
    o: BenchOptions,
    private readonly meter: Meter,
  ) {
    this.#target = o.count;
  }

  /** Connects, joins and runs; with `startAt`, resolves once every read partition is assigned and positioned. */
  static async start(o: BenchOptions, readPartitions: number, meter: Meter, setup: ConsumeSetup = {}) {
    const storage = o.direct ? await openConfiguredStorage(o.config, o.data) : undefined;
    const consumer = new Consumer({
      brokers: [o.broker],
      groupId: o.group ?? `barge-bench-${randomUUID().slice(0, 8)}`,
      clientId: 'barge-bench',
      tls: brokerTls(),
      sasl: brokerSasl(),
      fromBeginning: o.fromBeginning,
      autoCommit: o.group !== undefined,
      ...(storage ? { storage } : {}),
    });
    const bench = new BenchConsumer(consumer, storage, o, meter);
    setup.stop?.addEventListener('abort', () => bench.#finish(), { once: true });
    let positioned = false;
    const assigned = new Promise<void>((resolve, reject) => {
      consumer.on('rebalance', (topic, partitions) => {
        if (positioned || partitions.length < readPartitions) return;
        positioned = true;
        const seeks = [...(setup.startAt ?? [])].map(([partition, offset]) =>
          consumer.seek({ topic, partition, offset }),
        );
        Promise.all(seeks).then(() => resolve(), reject);
      });
      consumer.on('crash', (e) => {
        bench.#crash ??= e;
        bench.#finish();
        reject(e);
      });
    });
    assigned.catch(() => {}); // a crash is reported by finished()
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: o.topic });
      bench.startedAt = performance.now();
      bench.lastMessageAt = bench.startedAt;
      await consumer.run({ eachBatch: async ({ batch }) => bench.#take(batch.messages, setup.accept) });
      bench.#idleTimer = setInterval(() => {
        if (performance.now() - bench.lastMessageAt >= o.idleSeconds * 1000) bench.#finish();
      }, IDLE_CHECK_MS);
      // Only where reading starts matters (e2e: at the end, before anything is produced) is the
      // assignment awaited; a --group shared with other members may never get every partition.
      if (setup.startAt) await withTimeout(assigned, ASSIGN_TIMEOUT_MS, readPartitions);
    } catch (e) {
      await bench.stop();
      throw e;
    }
    return bench;
  }

  #take(messages: readonly ConsumedMessage[], accept: ConsumeSetup['accept']): void {
    if (this.#done) return;
    let n = 0;
    let bytes = 0;
    let keyBytes = 0;
    for (const m of messages) {
      if (accept && !accept(m)) continue;
      n++;
      const k = m.key?.length ?? 0;
      bytes += m.value.length + k;
      keyBytes += k;
      if (this.#target !== undefined && this.meter.messages + n >= this.#target) break;
    }
    if (n === 0) return;
    this.lastMessageAt = performance.now();
    this.meter.moved(n, bytes, keyBytes);
    if (this.#target !== undefined && this.meter.messages >= this.#target) this.#finish();
  }

  /** Stop once `count` messages were read in all (e2e: what the producers had acknowledged). */
  expect(count: number): void {
    this.#target = count;
    if (this.meter.messages >= count) this.#finish();
  }

  #finish(): void {
    this.#done = true;
    this.#finished();
  }

  /** Resolves when the target was read or the consumer went idle; throws a consumer crash. */
  async finished(): Promise<void> {
    await this.#finishedP;
    if (this.#crash !== undefined) throw this.#crash;
  }

  /** Seconds from the start to the last message counted. */
  seconds(): number {
    return Math.max(1e-3, (this.lastMessageAt - this.startedAt) / 1000);
  }

  async stop(): Promise<void> {
    this.#finish();
    clearInterval(this.#idleTimer);
    await this.consumer.disconnect().catch(() => {});
    await this.storage?.close();
  }
}
