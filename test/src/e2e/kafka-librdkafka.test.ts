import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  CODEC,
  decodeBatchHeader,
  KAFKA_COMPRESSION,
  KAFKA_COMPRESSION_NAMES,
  type KafkaCompressionName,
  listAll,
  splitRecordBatches,
  verifyChunk,
} from '@barge/core';
import { createLocalStorage } from '@barge/storage-local';
import { type BrokerProcess, freePort, startBroker, tempDir } from '../harness.js';
import { checkProducedAndConsumed } from '../kafka-client-lines.js';
import { type LibrdkafkaClient, librdkafkaClient, pythonMissing } from '../librdkafka-client.js';

/**
 * librdkafka (the C client under confluent-kafka, node-rdkafka and confluent-kafka-go; here
 * through confluent-kafka, test/kafka-clients/librdkafka) against the broker's Kafka listener,
 * with the broker as its own process. For each compression an idempotent producer writes keyed
 * records to a three-partition topic, then a consumer group reads them all back and commits. The
 * stored `kafka` chunks must hold the batches compressed as librdkafka sent them: librdkafka
 * compresses only when the broker advertises Produce from v0 (KAFKA-18659). The broker never
 * decompresses them (zstd too, on a Node.js without zstd); librdkafka's consumer does.
 */

const run = promisify(execFile);
const RECORDS = 300;
const COMPRESSIONS = ['lz4', 'zstd', 'gzip', 'snappy'] as const satisfies readonly KafkaCompressionName[];
const skip = pythonMissing();

const topicOf = (compression: string) => `clicks-${compression}`;

describe('librdkafka (confluent-kafka) through the Kafka listener', { skip }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let bootstrap: string;
  let broker: BrokerProcess | undefined;
  let client: LibrdkafkaClient;

  before(async () => {
    client = await librdkafkaClient();
    dir = await tempDir('barge-e2e-kafka-librdkafka-');
    bootstrap = `127.0.0.1:${await freePort()}`;
    const config = join(dir.path, 'barge.yaml');
    await writeFile(
      config,
      [
        `broker: { dataDir: ${JSON.stringify(join(dir.path, 'data'))} }`,
        `kafka: { listen: "${bootstrap}", groupInitialRebalanceDelayMs: 100 }`,
        'topics:',
        ...COMPRESSIONS.map(
          (c) =>
            `  - { name: ${topicOf(c)}, writePartitions: 3, readPartitions: 3, batch: { maxDelayMs: 5 } }`,
        ),
        '',
      ].join('\n'),
    );
    broker = await startBroker(['--config', config]);
  });

  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });

  /** The Kafka compression of every record batch stored for `topic`, and their records. */
  async function storedBatches(topic: string): Promise<{ compressions: string[]; records: number }> {
    const storage = await createLocalStorage({ root: join(dir.path, 'data', 'objects') });
    const compressions: string[] = [];
    let records = 0;
    try {
      for await (const o of listAll(storage, `topics/${topic}/`)) {
        const object = await storage.get(o.key);
        for (const c of decodeBatchHeader(object).chunks) {
          assert.equal(c.codec, CODEC.kafka, `${o.key} chunk ${c.index} is a kafka chunk`);
          const bytes = object.subarray(c.offset, c.offset + c.length);
          verifyChunk(bytes, c, `${o.key} chunk ${c.index}`);
          for (const { header } of splitRecordBatches(bytes)) {
            assert.ok(header.producerId >= 0, 'batches come from an idempotent producer');
            compressions.push(KAFKA_COMPRESSION_NAMES[header.compression]!);
            records += header.recordsCount;
          }
        }
      }
    } finally {
      await storage.close();
    }
    return { compressions, records };
  }

  for (const compression of COMPRESSIONS) {
    it(`${compression}: every record read back once by a group, at dense offsets, stored as librdkafka compressed it`, async () => {
      const topic = topicOf(compression);
      const { stdout } = await run(
        client.python,
        [
          client.script,
          '--brokers',
          bootstrap,
          '--topic',
          topic,
          '--group',
          `${topic}-readers`,
          '--compression',
          compression,
          '-n',
          String(RECORDS),
          '--keys',
          '12',
        ],
        { timeout: 90_000, maxBuffer: 16 * 1024 * 1024 },
      );
      const { lines, partitions } = checkProducedAndConsumed(stdout, RECORDS);

      const committed = lines.filter((l) => l.op === 'committed');
      assert.deepEqual(
        Object.fromEntries(committed.map((l) => [l.partition, l.offset])),
        Object.fromEntries([...partitions].map(([p, offsets]) => [p, offsets.length])),
        'the group committed the end of every partition',
      );

      const stored = await storedBatches(topic);
      assert.equal(stored.records, RECORDS, 'every record is in a stored kafka chunk');
      assert.ok(stored.compressions.length > 0);
      assert.deepEqual(
        new Set(stored.compressions),
        new Set([compression]),
        `every stored batch is ${compression} (${KAFKA_COMPRESSION[compression]})`,
      );
    });
  }
});
