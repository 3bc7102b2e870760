import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeKafkaBatch, splitRecordBatches } from '@barge/core';
import {
  createFetchRequest,
  createFetchRequestFetchPartition,
  createFetchRequestFetchTopic,
  createInitProducerIdRequest,
  createProduceRequest,
  createProduceRequestPartitionProduceData,
  createProduceRequestTopicProduceData,
  decodeFetchResponse,
  decodeInitProducerIdResponse,
  decodeProduceResponse,
  encodeFetchRequest,
  encodeInitProducerIdRequest,
  encodeProduceRequest,
} from '@barge/kafka-protocol';
import { type BrokerProcess, freePort, startBroker, tempDir } from '../harness.js';
import { RawKafkaConnection } from '../kafka-raw.js';

/**
 * Idempotent Kafka producers across broker restarts, with the broker as its own process and
 * exact requests over a raw socket: the partition's owner rebuilds each producer's epoch and
 * last batches from the stored batch headers, so a batch resent after a restart gets its
 * original offset and is not stored twice, and gaps and stale epochs are still refused.
 */

const TOPIC = 'payments';
const OUT_OF_ORDER_SEQUENCE_NUMBER = 45;
const INVALID_PRODUCER_EPOCH = 47;

interface Sent {
  errorCode: number;
  baseOffset: bigint;
  errorMessage: string | null;
}

describe('Kafka idempotent producer across broker restarts', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let config: string;
  let bootstrap: string;
  let broker: BrokerProcess | undefined;
  let producerId = -1n;

  const start = async () => {
    broker = await startBroker(['--config', config]);
  };
  const restart = async () => {
    assert.equal(await broker!.stop(), 0, 'SIGTERM stops the broker cleanly');
    await start();
  };

  /** Produce v9 (acks=all) of one batch of `records` records with this producer id, epoch and sequence. */
  async function send(
    epoch: number,
    sequence: number,
    records = 1,
    conn?: RawKafkaConnection,
  ): Promise<Sent> {
    const c = conn ?? (await RawKafkaConnection.open(bootstrap));
    try {
      const batch = encodeKafkaBatch(
        Array.from({ length: records }, (_, i) => ({ key: `e${epoch}`, value: `seq-${sequence + i}` })),
        { producerId: Number(producerId), producerEpoch: epoch, baseSequence: sequence },
      );
      const res = await c.request(
        0,
        9,
        encodeProduceRequest,
        createProduceRequest({
          acks: -1,
          timeoutMs: 30_000,
          topicData: [
            createProduceRequestTopicProduceData({
              name: TOPIC,
              partitionData: [createProduceRequestPartitionProduceData({ index: 0, records: batch })],
            }),
          ],
        }),
        decodeProduceResponse,
      );
      const p = res.responses[0]!.partitionResponses[0]!;
      return { errorCode: p.errorCode, baseOffset: p.baseOffset, errorMessage: p.errorMessage };
    } finally {
      if (!conn) c.close();
    }
  }

  /** Every record of partition 0 from offset 0, as [offset, value]: consumed with Fetch v12. */
  async function consumeAll(): Promise<[number, number][]> {
    const c = await RawKafkaConnection.open(bootstrap);
    try {
      const out: [number, number][] = [];
      for (let offset = 0n; ; ) {
        const res = await c.request(
          1,
          12,
          encodeFetchRequest,
          createFetchRequest({
            maxWaitMs: 0,
            minBytes: 0,
            maxBytes: 1 << 20,
            topics: [
              createFetchRequestFetchTopic({
                topic: TOPIC,
                partitions: [createFetchRequestFetchPartition({ partition: 0, fetchOffset: offset })],
              }),
            ],
          }),
          decodeFetchResponse,
        );
        const p = res.responses[0]!.partitions[0]!;
        assert.equal(p.errorCode, 0);
        const records = p.records as Buffer | null;
        if (!records || records.length === 0) {
          assert.equal(offset, p.highWatermark, 'read up to the high watermark');
          return out;
        }
        for (const b of splitRecordBatches(records)) {
          out.push([b.header.baseOffset, b.header.recordsCount]);
          offset = BigInt(b.header.baseOffset + b.header.recordsCount);
        }
      }
    } finally {
      c.close();
    }
  }

  before(async () => {
    dir = await tempDir('barge-e2e-kafka-idempotence-');
    bootstrap = `127.0.0.1:${await freePort()}`;
    config = join(dir.path, 'barge.yaml');
    await writeFile(
      config,
      [
        `broker: { dataDir: ${JSON.stringify(join(dir.path, 'data'))} }`,
        `kafka: { listen: "${bootstrap}" }`,
        'topics:',
        `  - { name: ${TOPIC}, writePartitions: 1, readPartitions: 1, batch: { maxDelayMs: 5 } }`,
        '',
      ].join('\n'),
    );
    await start();
    const c = await RawKafkaConnection.open(bootstrap);
    try {
      const init = await c.request(
        22,
        4,
        encodeInitProducerIdRequest,
        createInitProducerIdRequest({ transactionalId: null, transactionTimeoutMs: 60_000 }),
        decodeInitProducerIdResponse,
      );
      assert.equal(init.errorCode, 0);
      assert.equal(init.producerEpoch, 0);
      producerId = init.producerId;
    } finally {
      c.close();
    }
  });

  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });

  it('answers batches resent after a restart with their original offsets and stores none twice', async () => {
    const first: bigint[] = [];
    for (let seq = 0; seq < 5; seq++) {
      const r = await send(0, seq * 2, 2);
      assert.equal(r.errorCode, 0, r.errorMessage ?? '');
      first.push(r.baseOffset);
    }
    assert.deepEqual(first, [0n, 2n, 4n, 6n, 8n]);

    await restart();
    // Resent at once on separate connections, while the partition's producers are being rebuilt:
    // each waits for the rebuild and none is refused.
    const resent = await Promise.all([0, 4, 8].map((seq) => send(0, seq, 2)));
    assert.deepEqual(
      resent.map((r) => [r.errorCode, r.baseOffset]),
      [
        [0, 0n],
        [0, 4n],
        [0, 8n],
      ],
      JSON.stringify(resent.map((r) => r.errorMessage)),
    );
    const next = await send(0, 10, 1);
    assert.deepEqual([next.errorCode, next.baseOffset], [0, 10n], next.errorMessage ?? '');
    assert.deepEqual(
      await consumeAll(),
      [
        [0, 2],
        [2, 2],
        [4, 2],
        [6, 2],
        [8, 2],
        [10, 1],
      ],
      'each batch stored once, at dense offsets',
    );
  });

  it('refuses a sequence gap and a new epoch that does not start at 0, after a restart too', async () => {
    const gap = await send(0, 13);
    assert.equal(gap.errorCode, OUT_OF_ORDER_SEQUENCE_NUMBER, gap.errorMessage ?? '');
    const badEpoch = await send(1, 5);
    assert.equal(badEpoch.errorCode, OUT_OF_ORDER_SEQUENCE_NUMBER, badEpoch.errorMessage ?? '');
    await restart();
    const gapAgain = await send(0, 12);
    assert.equal(gapAgain.errorCode, OUT_OF_ORDER_SEQUENCE_NUMBER, gapAgain.errorMessage ?? '');
  });

  it('refuses a stale epoch once a newer one wrote, after a restart too', async () => {
    const bumped = await send(1, 0, 3);
    assert.deepEqual([bumped.errorCode, bumped.baseOffset], [0, 11n], bumped.errorMessage ?? '');
    const stale = await send(0, 11);
    assert.equal(stale.errorCode, INVALID_PRODUCER_EPOCH, stale.errorMessage ?? '');
    await restart();
    const staleAgain = await send(0, 11);
    assert.equal(staleAgain.errorCode, INVALID_PRODUCER_EPOCH, staleAgain.errorMessage ?? '');
    const retried = await send(1, 0, 3);
    assert.deepEqual([retried.errorCode, retried.baseOffset], [0, 11n], retried.errorMessage ?? '');
    const consumed = await consumeAll();
    assert.equal(consumed.at(-1)?.join(), '11,3', 'the retry was not stored again');
    assert.equal(consumed.length, 7);
  });
});
