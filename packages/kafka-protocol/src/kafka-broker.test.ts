import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import * as kp from './index.js';
import { KafkaTestConnection } from './test-support/kafka-connection.js';
import { crc32c, recordBatch, splitBatches } from './test-support/record-batch.js';

// The generated encoders and decoders against the real Kafka of the test services.
const brokers = process.env.BARGE_TEST_KAFKA_BROKERS;
const skip = brokers ? false : 'BARGE_TEST_KAFKA_BROKERS is not set (scripts/services.sh start kafka)';

describe('generated codecs against a real Kafka broker', { skip }, () => {
  let conn: KafkaTestConnection;
  const topic = `kp-test-${randomBytes(6).toString('hex')}`;
  const batches = [
    recordBatch([Buffer.from('first message')], 1_700_000_000_000n),
    recordBatch([Buffer.from('second message'), Buffer.from('third message')], 1_700_000_000_123n),
  ];

  before(async () => {
    conn = await KafkaTestConnection.open(brokers!.split(',')[0]!);
  });
  after(async () => {
    if (!conn) return;
    // DeleteTopics has no generated codec (the listener does not serve it): v1 by hand.
    await conn.request(
      20,
      1,
      (w: kp.KafkaWriter) => {
        w.arrayLength(false, 1);
        w.string(false, topic);
        w.int32(30_000);
      },
      null,
      (r: kp.KafkaReader) => {
        r.offset = r.end;
      },
    );
    conn.close();
  });

  test('ApiVersions v0 and v3 (flexible request, response header v0)', async () => {
    const v0 = await conn.request(
      18,
      0,
      kp.encodeApiVersionsRequest,
      kp.createApiVersionsRequest(),
      kp.decodeApiVersionsResponse,
    );
    assert.equal(v0.errorCode, 0);
    const v3 = await conn.request(
      18,
      3,
      kp.encodeApiVersionsRequest,
      kp.createApiVersionsRequest({
        clientSoftwareName: 'barge-kafka-protocol-test',
        clientSoftwareVersion: '0.1.0',
      }),
      kp.decodeApiVersionsResponse,
    );
    assert.equal(v3.errorCode, 0);
    for (const res of [v0, v3]) {
      const range = (key: number) => {
        const a = res.apiKeys.find((k) => k.apiKey === key);
        return a && [a.minVersion, a.maxVersion];
      };
      // Kafka 4.1.2: Produce is listed from v0 although v0-2 are rejected (KAFKA-18659).
      assert.deepEqual(range(0), [0, kp.API.Produce.validVersions[1]]);
      assert.deepEqual(range(1), [...kp.API.Fetch.validVersions]);
      assert.deepEqual(range(3), [...kp.API.Metadata.validVersions]);
      assert.deepEqual(range(18), [...kp.API.ApiVersions.validVersions]);
    }
    // v3 carries the tagged fields: supported and finalized features.
    assert.ok(v3.supportedFeatures.some((f) => f.name === 'metadata.version' && f.maxVersion > 0));
    assert.ok(v3.finalizedFeaturesEpoch > 0n);
    assert.ok(v3.finalizedFeatures.some((f) => f.name === 'metadata.version'));
  });

  test('CreateTopics v7 creates a unique topic; Metadata v1 and v12 list it', async () => {
    const created = await conn.request(
      19,
      7,
      kp.encodeCreateTopicsRequest,
      kp.createCreateTopicsRequest({
        topics: [
          kp.createCreateTopicsRequestCreatableTopic({
            name: topic,
            numPartitions: 1,
            replicationFactor: 1,
            configs: [
              kp.createCreateTopicsRequestCreatableTopicConfig({ name: 'retention.ms', value: '3600000' }),
            ],
          }),
        ],
        timeoutMs: 30_000,
      }),
      kp.decodeCreateTopicsResponse,
    );
    const result = created.topics[0]!;
    assert.equal(result.name, topic);
    assert.equal(result.errorCode, 0, result.errorMessage ?? '');
    assert.equal(result.numPartitions, 1);
    assert.ok(!kp.isZeroUuid(result.topicId));
    assert.ok(result.configs?.some((c) => c.name === 'retention.ms' && c.value === '3600000'));

    // The leader may take a moment to be elected: poll Metadata v12 until the partition has one.
    let v12: kp.MetadataResponse | undefined;
    for (let i = 0; i < 100; i++) {
      v12 = await conn.request(
        3,
        12,
        kp.encodeMetadataRequest,
        kp.createMetadataRequest({ topics: [kp.createMetadataRequestTopic({ name: topic })] }),
        kp.decodeMetadataResponse,
      );
      const p = v12.topics[0]?.partitions[0];
      if (v12.topics[0]?.errorCode === 0 && p && p.errorCode === 0 && p.leaderId >= 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const t12 = v12!.topics.find((t) => t.name === topic);
    assert.ok(t12, 'topic in Metadata v12');
    assert.deepEqual(t12.topicId, result.topicId);
    assert.equal(t12.partitions.length, 1);
    assert.ok(v12!.brokers.some((b) => b.nodeId === t12.partitions[0]!.leaderId));
    assert.ok(v12!.clusterId);

    const v1 = await conn.request(
      3,
      1,
      kp.encodeMetadataRequest,
      kp.createMetadataRequest({ topics: [kp.createMetadataRequestTopic({ name: topic })] }),
      kp.decodeMetadataResponse,
    );
    const t1 = v1.topics.find((t) => t.name === topic);
    assert.ok(t1, 'topic in Metadata v1');
    assert.equal(t1.errorCode, 0);
    assert.equal(t1.isInternal, false);
    assert.deepEqual(
      t1.partitions.map((p) => [p.partitionIndex, p.leaderId]),
      [[0, t12.partitions[0]!.leaderId]],
    );
    assert.ok(v1.brokers.length >= 1);
  });

  test('Produce v3 then v9 of hand-built v2 batches: base offsets 0 then 1', async () => {
    let expectedBase = 0n;
    for (const [version, batch] of [
      [3, batches[0]!],
      [9, batches[1]!],
    ] as const) {
      const res = await conn.request(
        0,
        version,
        kp.encodeProduceRequest,
        kp.createProduceRequest({
          acks: -1,
          timeoutMs: 30_000,
          topicData: [
            kp.createProduceRequestTopicProduceData({
              name: topic,
              partitionData: [kp.createProduceRequestPartitionProduceData({ index: 0, records: batch })],
            }),
          ],
        }),
        kp.decodeProduceResponse,
      );
      const p = res.responses[0]!.partitionResponses[0]!;
      assert.equal(res.responses[0]!.name, topic);
      assert.equal(p.errorCode, 0, `Produce v${version}: ${p.errorMessage ?? ''}`);
      assert.equal(p.baseOffset, expectedBase);
      expectedBase += BigInt(batch.readInt32BE(23) + 1); // last offset delta + 1
    }
  });

  for (const version of [4, 12]) {
    test(`Fetch v${version} reads both batches back byte for byte (apart from offsets and leader epoch)`, async () => {
      const res = await conn.request(
        1,
        version,
        kp.encodeFetchRequest,
        kp.createFetchRequest({
          maxWaitMs: 500,
          minBytes: 1,
          maxBytes: 1 << 20,
          sessionEpoch: -1,
          topics: [
            kp.createFetchRequestFetchTopic({
              topic,
              partitions: [
                kp.createFetchRequestFetchPartition({
                  partition: 0,
                  fetchOffset: 0n,
                  partitionMaxBytes: 1 << 20,
                }),
              ],
            }),
          ],
        }),
        kp.decodeFetchResponse,
      );
      assert.equal(res.errorCode, 0);
      const p = res.responses[0]!.partitions[0]!;
      assert.equal(res.responses[0]!.topic, topic);
      assert.equal(p.errorCode, 0);
      assert.equal(p.highWatermark, 3n);
      assert.ok(Buffer.isBuffer(p.records));
      const fetched = splitBatches(p.records);
      assert.equal(fetched.length, 2);
      const baseOffsets = [0n, 1n];
      fetched.forEach((got, i) => {
        const sent = batches[i]!;
        assert.equal(got.readBigInt64BE(0), baseOffsets[i]);
        // Same length, magic, CRC and records; the broker sets base offset and leader epoch.
        assert.deepEqual(got.subarray(8, 12), sent.subarray(8, 12));
        assert.deepEqual(got.subarray(16), sent.subarray(16));
        assert.equal(crc32c(got.subarray(21)), got.readUInt32BE(17));
      });
    });
  }
});
