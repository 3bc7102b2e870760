import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as kp from './index.js';

const { KafkaReader, KafkaWriter } = kp;

describe('headers', () => {
  test('header versions follow the API flexible versions; ApiVersions responses always use v0', () => {
    assert.equal(kp.requestHeaderVersion(0, 8), 1);
    assert.equal(kp.requestHeaderVersion(0, 9), 2);
    assert.equal(kp.responseHeaderVersion(0, 8), 0);
    assert.equal(kp.responseHeaderVersion(0, 9), 1);
    assert.equal(kp.requestHeaderVersion(18, 3), 2);
    assert.equal(kp.responseHeaderVersion(18, 3), 0);
    assert.equal(kp.requestHeaderVersion(17, 1), 1); // SaslHandshake: never flexible
    assert.equal(kp.requestHeaderVersion(9999, 1), 1); // unknown API: the common prefix
    assert.equal(kp.responseHeaderVersion(9999, 1), 0);
  });

  test('request header v2: client id keeps its int16 length; unknown tagged fields are skipped', () => {
    const w = new KafkaWriter();
    kp.encodeRequestHeader(w, 2, {
      requestApiKey: 3,
      requestApiVersion: 12,
      correlationId: 77,
      clientId: 'cli',
    });
    const bytes = w.toBuffer();
    assert.deepEqual([...bytes], [0, 3, 0, 12, 0, 0, 0, 77, 0, 3, 0x63, 0x6c, 0x69, 0]);
    // The same header with two unknown tagged fields, then the body's first byte.
    const tagged = Buffer.concat([bytes.subarray(0, -1), Buffer.from([2, 5, 2, 0xaa, 0xbb, 9, 0, 0x42])]);
    const r = new KafkaReader(tagged);
    assert.deepEqual(kp.decodeRequestHeader(r, 2), {
      requestApiKey: 3,
      requestApiVersion: 12,
      correlationId: 77,
      clientId: 'cli',
    });
    assert.equal(r.int8('body'), 0x42);
    assert.equal(kp.decodeRequestHeader(new KafkaReader(bytes.subarray(0, -1)), 1).clientId, 'cli');
    const nullClient = new KafkaWriter();
    kp.encodeRequestHeader(nullClient, 1, {
      requestApiKey: 18,
      requestApiVersion: 0,
      correlationId: 1,
      clientId: null,
    });
    assert.equal(kp.decodeRequestHeader(new KafkaReader(nullClient.toBuffer()), 1).clientId, null);
  });

  test('response headers v0 and v1', () => {
    for (const [version, expected] of [
      [0, [0, 0, 1, 2]],
      [1, [0, 0, 1, 2, 0]],
    ] as const) {
      const w = new KafkaWriter();
      kp.encodeResponseHeader(w, version, 258);
      const bytes = w.toBuffer();
      assert.deepEqual([...bytes], expected);
      assert.equal(kp.decodeResponseHeader(new KafkaReader(bytes), version).correlationId, 258);
    }
  });
});

describe('API table', () => {
  test('keyed by name, with the schemas version ranges', () => {
    assert.deepEqual(kp.API.Produce, { apiKey: 0, name: 'Produce', validVersions: [3, 13], flexibleMin: 9 });
    assert.deepEqual(kp.API.ApiVersions, {
      apiKey: 18,
      name: 'ApiVersions',
      validVersions: [0, 4],
      flexibleMin: 3,
    });
    assert.equal(kp.API.SaslHandshake.flexibleMin, null);
    assert.equal(Object.keys(kp.API).length, 21);
    assert.equal(kp.apiByKey(1)?.name, 'Fetch');
    assert.equal(kp.apiByKey(36)?.name, 'SaslAuthenticate');
    assert.equal(kp.apiByKey(20), undefined);
  });
});

describe('generated codec behaviour', () => {
  test('fields a version lacks are skipped when encoding and decode to their defaults', () => {
    const m = kp.createProduceRequest({
      transactionalId: 'tx',
      acks: -1,
      timeoutMs: 1000,
      topicData: [kp.createProduceRequestTopicProduceData({ name: 't', topicId: Buffer.alloc(16, 1) })],
    });
    const w = new KafkaWriter();
    kp.encodeProduceRequest(w, 9, m); // topicId is v13+: not written, no error
    const back = kp.decodeProduceRequest(new KafkaReader(w.toBuffer()), 9);
    assert.equal(back.topicData[0]!.name, 't');
    assert.deepEqual(back.topicData[0]!.topicId, kp.ZERO_UUID);
  });

  test('unknown tagged fields in a message body are skipped', () => {
    const w = new KafkaWriter();
    const m = kp.createApiVersionsRequest({ clientSoftwareName: 'a', clientSoftwareVersion: '1' });
    kp.encodeApiVersionsRequest(w, 3, m);
    const bytes = w.toBuffer();
    assert.equal(bytes.at(-1), 0);
    const withTag = Buffer.concat([bytes.subarray(0, -1), Buffer.from([1, 40, 3, 1, 2, 3])]);
    const r = new KafkaReader(withTag);
    assert.deepEqual(kp.decodeApiVersionsRequest(r, 3), m);
    assert.equal(r.remaining, 0);
  });

  test('a known tagged field whose size does not match its contents is INVALID', () => {
    const w = new KafkaWriter();
    kp.encodeApiVersionsResponse(w, 3, kp.createApiVersionsResponse({ finalizedFeaturesEpoch: 5n }));
    const bytes = w.toBuffer();
    // Tagged section at the end: count 1, tag 1, size 8, int64. Claim size 9 with one extra byte.
    const at = bytes.length - 11;
    assert.deepEqual([...bytes.subarray(at, at + 3)], [1, 1, 8]);
    const bad = Buffer.concat([
      bytes.subarray(0, at + 2),
      Buffer.from([9]),
      bytes.subarray(at + 3),
      Buffer.from([0]),
    ]);
    assert.throws(
      () => kp.decodeApiVersionsResponse(new KafkaReader(bad), 3),
      (e: unknown) =>
        e instanceof kp.KafkaProtocolError &&
        e.code === 'INVALID' &&
        /ApiVersionsResponse v3: finalizedFeaturesEpoch/.test(e.message),
    );
  });

  test('errors name the message, version and field path', () => {
    const w = new KafkaWriter();
    kp.encodeProduceRequest(
      w,
      9,
      kp.createProduceRequest({
        topicData: [
          kp.createProduceRequestTopicProduceData({
            name: 't',
            partitionData: [kp.createProduceRequestPartitionProduceData({ records: Buffer.alloc(100) })],
          }),
        ],
      }),
    );
    const bytes = w.toBuffer();
    assert.throws(
      () => kp.decodeProduceRequest(new KafkaReader(bytes, 0, bytes.length - 10), 9),
      /^KafkaProtocolError: ProduceRequest v9: topicData\.partitionData\.records: needs 100 bytes/,
    );
  });

  test('versions outside the schema are UNSUPPORTED_VERSION', () => {
    assert.throws(
      () => kp.decodeProduceRequest(new KafkaReader(Buffer.alloc(10)), 2),
      (e: unknown) => e instanceof kp.KafkaProtocolError && e.code === 'UNSUPPORTED_VERSION',
    );
    assert.throws(
      () => kp.encodeFetchResponse(new KafkaWriter(), 19, kp.createFetchResponse()),
      /FetchResponse v19/,
    );
  });

  test('null in a version that forbids it is rejected when encoding, naming the field', () => {
    const m = kp.createMetadataRequest({ topics: null }); // null (all topics) exists from v1
    kp.encodeMetadataRequest(new KafkaWriter(), 1, m);
    assert.throws(
      () => kp.encodeMetadataRequest(new KafkaWriter(), 0, m),
      /MetadataRequest v0: topics: null is not allowed/,
    );
  });

  test('records of a response may be several buffers, decoded as one', () => {
    const parts = [Buffer.alloc(5000, 1), Buffer.from([2, 3])];
    const partition = kp.createFetchResponsePartitionData({ partitionIndex: 0, records: parts });
    const m = kp.createFetchResponse({
      responses: [kp.createFetchResponseFetchableTopicResponse({ topic: 't', partitions: [partition] })],
    });
    const w = new KafkaWriter();
    kp.encodeFetchResponse(w, 12, m);
    const segments = w.finish();
    assert.ok(segments.includes(parts[0]!));
    const back = kp.decodeFetchResponse(new KafkaReader(Buffer.concat(segments)), 12);
    assert.deepEqual(back.responses[0]!.partitions[0]!.records, Buffer.concat(parts));
  });
});
