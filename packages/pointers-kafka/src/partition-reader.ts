import { createRequire } from 'node:module';
import {
  CorruptDataError,
  decodePointer,
  errorMessage,
  PermanentError,
  type PointerRecord,
} from '@barge/core';
import type { Kafka } from 'kafkajs';
import { mapKafkaError } from './errors.js';
import {
  connectInternalCluster,
  type FetchedMessage,
  type InternalBroker,
  type InternalCluster,
  type PartitionData,
  READ_COMMITTED,
} from './internal-cluster.js';
import { toSafeNumber } from './kafka.js';
import type { KafkaPointersConfig } from './options.js';

/** What one read of a partition resolves to: pointers in offset order. */
export type PointerPage = Promise<PointerRecord[]>;

/** Bytes fetched per call: about 2,000 pointers. */
const FETCH_BYTES = 1024 * 1024;
/**
 * kafkajs's filter of one fetched partition: drops records before the offset asked for, aborted
 * transactions and control records (commit markers), as its consumer does.
 */
const Batch = createRequire(import.meta.url)('kafkajs/src/consumer/batch') as new (
  topic: string,
  fetchedOffset: string,
  partitionData: PartitionData,
) => { messages: FetchedMessage[] };

/**
 * Reads pointers of one partition outside any consumer group (consumer lag in messages).
 * kafkajs has no group-less consumer, so this uses the cluster client the kafkajs `Kafka`
 * object creates for its producers and consumers (a private symbol) and its fetch request,
 * read_committed. One connection set per queue, made at the first read; replaced after an error.
 */
export class KafkaPartitionReader {
  #cluster: Promise<InternalCluster> | undefined;
  #closed = false;

  /** `client`: the queue's kafkajs client and config (read at the first use). */
  constructor(private readonly client: () => { kafka: Kafka; config: KafkaPointersConfig }) {}

  /**
   * Up to `max` committed pointers of Kafka topic `kt` partition `partition` from offset `from`.
   * A fetch that holds only commit markers or aborted pointers is followed by the next one.
   */
  async read(kt: string, partition: number, from: number, max: number): PointerPage {
    if (this.#closed) throw new PermanentError('the Kafka pointer queue is closed');
    const what = `read pointers of "${kt}" partition ${partition} from offset ${from}`;
    const connecting = this.#connect();
    try {
      const broker = await this.#leader(await connecting, kt, partition);
      for (let offset = from; ; ) {
        const data = await fetchPartition(broker, kt, partition, offset);
        if (!data || data.messages.length === 0) return [];
        const batch = new Batch(kt, String(offset), data);
        if (batch.messages.length > 0) {
          return batch.messages.slice(0, max).map((m) => decode(kt, partition, m));
        }
        const next = Number(data.messages.at(-1)!.offset) + 1;
        if (!(next > offset)) return [];
        offset = next;
      }
    } catch (e) {
      if (e instanceof CorruptDataError) throw e;
      if (this.#cluster === connecting) this.#drop();
      throw mapKafkaError(e, what, this.client().config);
    }
  }

  async #leader(cluster: InternalCluster, kt: string, partition: number): Promise<InternalBroker> {
    await cluster.addTargetTopic(kt);
    const leader = Object.keys(cluster.findLeaderForPartitions(kt, [partition]))[0];
    if (leader === undefined) {
      await cluster.refreshMetadata();
      throw new Error(`no leader known for "${kt}" partition ${partition}`);
    }
    return cluster.findBroker({ nodeId: leader });
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#drop();
  }

  #connect(): Promise<InternalCluster> {
    this.#cluster ??= connectInternalCluster(this.client().kafka);
    return this.#cluster;
  }

  async #drop(): Promise<void> {
    const cluster = this.#cluster;
    this.#cluster = undefined;
    await cluster?.then((c) => c.disconnect()).catch(() => {});
  }
}

/** One fetch of one partition from `offset`, read_committed, without waiting for new records. */
async function fetchPartition(
  broker: InternalBroker,
  kt: string,
  partition: number,
  offset: number,
): Promise<PartitionData | undefined> {
  const res = await broker.fetch({
    replicaId: -1,
    isolationLevel: READ_COMMITTED,
    maxWaitTime: 0,
    minBytes: 1,
    maxBytes: FETCH_BYTES,
    topics: [{ topic: kt, partitions: [{ partition, fetchOffset: String(offset), maxBytes: FETCH_BYTES }] }],
  });
  return res.responses.find((r) => r.topicName === kt)?.partitions.find((p) => p.partition === partition);
}

function decode(kt: string, partition: number, m: FetchedMessage): PointerRecord {
  const offset = toSafeNumber(m.offset, `offset in "${kt}" partition ${partition}`);
  try {
    if (m.value === null) throw new Error('record has no value');
    return {
      partition,
      offset,
      timestamp: toSafeNumber(m.timestamp, 'record timestamp'),
      pointer: decodePointer(m.value),
    };
  } catch (e) {
    throw new CorruptDataError(
      `pointer at offset ${offset} of "${kt}" partition ${partition} is unreadable: ${errorMessage(e)}`,
      { cause: e },
    );
  }
}
