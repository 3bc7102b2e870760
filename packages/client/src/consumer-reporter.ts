import { EventEmitter } from 'node:events';
import { errorMessage } from '@barge/core';
import type { ConnectionObserver } from './connection.js';
import { CONSUMER_EVENTS, type ConsumerEventPayloads } from './consumer-events.js';
import type { ConsumerEvents, TopicPartitionOffset } from './consumer-types.js';
import { type DamagedData, type DamagedDataCounts, type DamageSink, describeDamage } from './damaged-data.js';
import { Instrumentation, type RemoveInstrumentationEventListener } from './instrumentation.js';
import type { Logger } from './logger.js';
import { networkObserver } from './network-observer.js';
import type { GroupJoin } from './remote.js';

/**
 * What a consumer tells the world: its instrumentation events (`consumer.*`), the earlier
 * positional events (`crash`, `rebalance`, `commit`) and its log entries.
 */
export class ConsumerReporter implements DamageSink {
  readonly log: Logger;
  readonly #groupId: string;
  readonly #instrumentation: Instrumentation<ConsumerEventPayloads>;
  readonly #positional = new EventEmitter<ConsumerEvents>();
  #skipped: DamagedDataCounts = { batches: 0, chunks: 0, messages: 0 };

  constructor(groupId: string, log: Logger) {
    this.#groupId = groupId;
    this.log = log;
    this.#instrumentation = new Instrumentation(CONSUMER_EVENTS, log);
  }

  /** See `Consumer.on`. */
  on(event: string, listener: (...args: never[]) => void): RemoveInstrumentationEventListener | undefined {
    if (event === 'crash' || event === 'rebalance' || event === 'commit') {
      this.#positional.on(event, listener as () => void);
      return undefined;
    }
    return this.#instrumentation.on(event as keyof ConsumerEventPayloads, listener as () => void);
  }

  /** For the broker connection: `consumer.network.*` events and connection logs. */
  observer(): ConnectionObserver {
    return networkObserver(this.#instrumentation, 'consumer', this.log);
  }

  connectRetry = (e: unknown, retry: number, delayMs: number): void => {
    this.log.warn(`cannot connect yet, retrying in ${delayMs} ms`, {
      retry: retry + 1,
      error: errorMessage(e),
    });
  };

  connected(brokers: readonly string[], broker: string | undefined): void {
    this.log.info(broker ? `connected to broker ${broker}` : 'connected', { groupId: this.#groupId });
    this.#instrumentation.emit(CONSUMER_EVENTS.CONNECT, { brokers, broker });
  }

  joined(join: GroupJoin): void {
    const assignment = [...join.assignment];
    this.log.info(`joined group ${join.group} of topic ${join.topic}`, {
      memberId: join.memberId,
      assignment,
    });
    this.#instrumentation.emit(CONSUMER_EVENTS.GROUP_JOIN, {
      groupId: join.group,
      memberId: join.memberId,
      topic: join.topic,
      memberAssignment: { [join.topic]: assignment },
      duration: join.durationMs,
    });
  }

  /** The group assigned `assignment` of `topic`; `previous` is undefined at the first assignment. */
  assigned(
    topic: string,
    assignment: number[],
    previous: readonly number[] | undefined,
    memberId: string,
  ): void {
    this.#positional.emit('rebalance', topic, assignment);
    if (previous === undefined || samePartitions(previous, assignment)) return;
    this.log.info(`partitions of ${topic} moved: now [${assignment.join(', ')}]`, {
      groupId: this.#groupId,
      previous,
    });
    this.#instrumentation.emit(CONSUMER_EVENTS.REBALANCING, {
      groupId: this.#groupId,
      memberId,
      topic,
      assignment,
      previous: [...previous],
    });
  }

  committed(done: TopicPartitionOffset[]): void {
    if (done.length === 0) return;
    this.#positional.emit('commit', done);
    const topics = [...new Set(done.map((d) => d.topic))].map((topic) => ({
      topic,
      partitions: done
        .filter((d) => d.topic === topic)
        .map((d) => ({ partition: d.partition, offset: d.offset, messageIndex: d.messageIndex ?? 0 })),
    }));
    this.#instrumentation.emit(CONSUMER_EVENTS.COMMIT_OFFSETS, { groupId: this.#groupId, topics });
  }

  crashed(error: unknown): void {
    this.log.error('the consumer crashed', { groupId: this.#groupId, error: errorMessage(error) });
    this.#instrumentation.emit(CONSUMER_EVENTS.CRASH, { groupId: this.#groupId, error, restart: false });
    this.#positional.emit('crash', error);
  }

  /** Damaged or missing data skipped so far (`onDamagedData: 'skip'`). */
  get skippedDamaged(): DamagedDataCounts {
    return this.#skipped;
  }

  /** Data that could not be read was passed over: logged, counted, and emitted as `consumer.skipped`. */
  skipped(d: DamagedData): void {
    const s = this.#skipped;
    const whole = d.reason !== 'corrupt-chunk';
    this.#skipped = {
      batches: s.batches + (whole ? 1 : 0),
      chunks: s.chunks + (whole ? 0 : 1),
      messages: s.messages + (d.toMessageIndex - d.fromMessageIndex),
    };
    this.log.warn(`skipped ${describeDamage(d)}`, { groupId: this.#groupId, reason: d.reason });
    this.#instrumentation.emit(CONSUMER_EVENTS.SKIPPED, { ...d, groupId: this.#groupId });
  }

  disconnected(): void {
    this.log.info('disconnected', { groupId: this.#groupId });
    this.#instrumentation.emit(CONSUMER_EVENTS.DISCONNECT, {});
  }
}

/** The same partitions, in any order. */
function samePartitions(a: readonly number[], b: readonly number[]): boolean {
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}
