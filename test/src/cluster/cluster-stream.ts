import { Producer, type ProducerOptions } from '@barge/client';
import { LossChecker, type LossReport, type Progress } from '../faults/loss-checker.js';
import { runId } from '../kafka-fixtures.js';
import { makeMessage } from '../workload.js';
import type { ClusterTopic, TestCluster } from './cluster-harness.js';

/**
 * Producers see a broker that died, paused or lost Kafka as requests that time out or fail:
 * they retry for 60 s (four times the failover the issue allows; a send still failing then
 * fails the test sooner than the default 120 s), with a backoff of at most 1 s so the stream
 * resumes soon after the new owner does.
 */
export const CLUSTER_PRODUCER: Omit<ProducerOptions, 'brokers'> = {
  lingerMs: 5,
  requestTimeoutMs: 10_000,
  deliveryTimeoutMs: 60_000,
  retry: { initialRetryTime: 100, maxRetryTime: 1000 },
};

/** Message ids reserved after the stream's for `probe` messages. */
const PROBE_IDS = 10_000;

/**
 * A stream of keyed, numbered, self-verifying messages (`workload.ts`) sent `durable` to a
 * cluster by one producer bootstrapped with every broker address, every ack recorded; then a
 * fresh consumer group reads everything back and the shared loss checker counts lost,
 * duplicated and reordered messages per write partition.
 */
export class ClusterStream {
  readonly checker: LossChecker;
  #nextProbe: number;

  constructor(
    readonly cluster: TestCluster,
    readonly topic: ClusterTopic,
    /** At most this many stream messages. */
    readonly capacity = 200_000,
  ) {
    this.checker = new LossChecker(topic.name, topic.writePartitions, capacity + PROBE_IDS, {
      ...CLUSTER_PRODUCER,
      brokers: cluster.addresses(),
    });
    this.#nextProbe = capacity;
  }

  connect(): Promise<void> {
    return this.checker.connect();
  }

  disconnect(): Promise<void> {
    return this.checker.disconnect();
  }

  /** Messages acked durable so far (probes included). */
  get acked(): number {
    return this.checker.ackedCount;
  }

  /**
   * Sends until `during` (the faults) resolves, about ten messages per send and six sends in
   * flight: a paced stream whose rate follows the durable-ack latency.
   */
  run(during: (progress: Progress) => Promise<void>): Promise<void> {
    return this.checker.produce({
      from: 0,
      to: this.capacity,
      sendSize: 60,
      concurrency: 6,
      during,
      stopWithFaults: true,
    });
  }

  /**
   * Sends one message to each of `writePartitions` through a new producer bootstrapped with
   * `brokers` and resolves once all are acked durable; they count in the loss check.
   */
  async probe(writePartitions: readonly number[], brokers: string[]): Promise<void> {
    const producer = new Producer({
      ...CLUSTER_PRODUCER,
      brokers,
      acks: 'durable',
      retry: { initialRetryTime: 50, maxRetryTime: 200 },
    });
    await producer.connect();
    try {
      await Promise.all(
        writePartitions.map(async (writePartition) => {
          const id = this.#nextProbe++;
          await producer.send({
            topic: this.topic.name,
            messages: [{ ...makeMessage(id, 100), writePartition }],
          });
          this.checker.acked[id] = 1;
          this.checker.ackedCount++;
        }),
      );
    } finally {
      await producer.disconnect();
    }
  }

  /** Reads the topic back with a fresh group through the brokers `live` (default every one running). */
  check(live: string[] = this.cluster.liveIds().map((id) => this.cluster.address(id))): Promise<LossReport> {
    return this.checker.check(live, `check-${runId()}`, 90_000);
  }

  /** `error text: count` of the sends that failed (each failed send's messages are not acked). */
  sendErrors(): string {
    return [...this.checker.sendErrors].map(([e, n]) => `${e}: ${n}`).join('; ');
  }
}
