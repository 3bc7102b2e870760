import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import type { BatchPointer } from '../pointer.js';
import {
  ANY_WRITE_PARTITION,
  API_KEYS,
  ApiKey,
  apiName,
  decodeErrorBody,
  decodeRequest,
  decodeRequestBody,
  decodeResponseBody,
  encodeErrorResponse,
  encodeRequest,
  encodeResponse,
  negotiateVersions,
  type RequestTypes,
  type ResponseTypes,
  SUPPORTED_VERSIONS,
  supportedVersionEntries,
} from './api.js';
import {
  BrokerResponseError,
  ERROR_CODE_INFO,
  ErrorCode,
  errorCodeName,
  isRetryableErrorCode,
} from './errors.js';
import { decodeRequestFrame, decodeResponseFrame, FrameDecoder, peekCorrelationId } from './frame.js';
import { FrameTooLargeError, joinParts, ProtocolError, Reader, Writer } from './wire.js';

const pointer: BatchPointer = {
  v: 1,
  topic: 'logs',
  writePartition: 3,
  sequence: 42,
  brokerId: 1,
  storage: { adapter: 'local', location: '/tmp/x', key: 'topics/logs/3/00000000000000000042-1-ab' },
  objectSize: 1000,
  headerLength: 200,
  messageCount: 10,
  chunkCount: 2,
  firstTimestamp: 1_700_000_000_000,
  lastTimestamp: 1_700_000_000_100,
  createdAt: 1_700_000_000_200,
  headerCrc: 0xdeadbeef,
};

const topicInfo = {
  name: 'logs',
  writePartitions: 4,
  readPartitions: 2,
  batch: { maxBytes: 8 * 1024 * 1024, maxMessages: 100_000, maxDelayMs: 250 },
  compression: 'lz4',
};

const big = Buffer.alloc(5000, 7);

/** One sample request and response per api; the round-trip test covers them all. */
const samples: { [K in ApiKey]: { req: RequestTypes[K]; res: ResponseTypes[K] } } = {
  [ApiKey.ApiVersions]: {
    req: { clientId: 'test-client', versions: supportedVersionEntries() },
    res: { brokerId: 7, versions: supportedVersionEntries() },
  },
  [ApiKey.Metadata]: {
    req: { topics: ['a', 'logs'] },
    res: {
      brokerId: 7,
      storage: { adapter: 's3', location: 'bucket' },
      pointers: { adapter: 'kafka' },
      maxFrameBytes: 16 << 20,
      maxReadBytes: (16 << 20) - 64,
      maxMessagesPerRequest: 100_000,
      topics: [topicInfo, { ...topicInfo, name: 'ünïcode' }],
    },
  },
  [ApiKey.Produce]: {
    req: {
      topic: 'logs',
      writePartition: ANY_WRITE_PARTITION,
      acks: 'durable',
      producerId: 2 ** 40 + 5,
      timeoutMs: 30_000,
      chunks: [
        {
          meta: {
            codec: 2,
            length: big.length,
            messageCount: 3,
            uncompressedLength: 100,
            crc32: crc32(big),
            producerId: 2 ** 40 + 5,
            baseSequence: 10,
            minTimestamp: 5,
            maxTimestamp: 9,
          },
          bytes: big,
        },
        {
          meta: {
            codec: 0,
            length: 0,
            messageCount: 0,
            uncompressedLength: 0,
            crc32: 0,
            producerId: 2 ** 40 + 5,
            baseSequence: 13,
            minTimestamp: 0,
            maxTimestamp: 0,
          },
          bytes: Buffer.alloc(0),
        },
      ],
    },
    res: {
      writePartition: 1,
      sequence: 99,
      firstChunkIndex: 2,
      firstMessageIndex: 17,
      readPartition: 1,
      offset: 12345,
    },
  },
  [ApiKey.CreateTopic]: {
    req: { name: 'new', readPartitions: 3, batch: { maxDelayMs: 0 }, ifNotExists: true },
    res: { created: true, topic: topicInfo },
  },
  [ApiKey.ListTopics]: { req: {}, res: { topics: [topicInfo] } },
  [ApiKey.DescribeTopic]: {
    req: { name: 'logs' },
    res: {
      topic: topicInfo,
      partitions: [
        { partition: 0, low: 0, high: 10 },
        { partition: 1, low: 5, high: 2 ** 50 },
      ],
    },
  },
  [ApiKey.JoinGroup]: {
    req: { group: 'g', topic: 'logs', sessionTimeoutMs: 10_000, fromBeginning: true, clientId: 'c1' },
    res: { memberId: 'm-1', generation: 3, readPartitions: 4, assignment: [0, 2], revoking: [] },
  },
  [ApiKey.Heartbeat]: { req: { memberId: 'm-1' }, res: { generation: 4, assignment: [], revoking: [] } },
  [ApiKey.LeaveGroup]: { req: { memberId: 'm-1' }, res: {} },
  [ApiKey.FetchPointers]: {
    req: { memberId: 'm-1', maxRecords: 100, maxWaitMs: 500 },
    res: {
      generation: 1,
      assignment: [0],
      revoking: [],
      records: [{ partition: 0, offset: 7, timestamp: 1_700_000_000_000, pointer }],
    },
  },
  [ApiKey.CommitOffsets]: {
    req: { memberId: 'm-1', positions: [{ partition: 0, offset: 8, messageIndex: 3 }] },
    res: {},
  },
  [ApiKey.FetchCommitted]: {
    req: { memberId: 'm-1', partitions: [0, 1] },
    res: { positions: [{ partition: 0, committed: { offset: 8, messageIndex: 0 } }, { partition: 1 }] },
  },
  [ApiKey.Seek]: { req: { memberId: 'm-1', partition: 1, offset: 0 }, res: {} },
  [ApiKey.OffsetForTimestamp]: {
    req: { topic: 'logs', partition: 0, timestamp: -5 },
    res: { offset: 3 },
  },
  [ApiKey.Watermarks]: { req: { topic: 'logs', partition: 0 }, res: { low: 0, high: 10 } },
  [ApiKey.ListGroups]: {
    req: { topic: 'logs' },
    res: {
      groups: [
        { group: 'readers', status: 'stable', members: 2, topics: ['logs', 'ünïcode'] },
        { group: 'idle', status: 'empty', members: 0, topics: [] },
      ],
    },
  },
  [ApiKey.DescribeGroup]: {
    req: { group: 'readers' },
    res: {
      group: 'readers',
      status: 'rebalancing',
      members: [
        {
          memberId: 'm-1',
          clientId: 'c1',
          host: '10.0.0.1',
          assignment: [{ topic: 'logs', partitions: [0, 2] }],
        },
        { memberId: 'm-2', clientId: 'c2', host: '', assignment: [] },
      ],
      partitions: [
        {
          topic: 'logs',
          partition: 0,
          low: 3,
          high: 2 ** 50,
          committed: { offset: 7, messageIndex: 2, lag: 2 ** 50 - 7 },
        },
        { topic: 'logs', partition: 1, low: 0, high: 0 },
      ],
    },
  },
  [ApiKey.ResetOffsets]: {
    req: {
      group: 'readers',
      topic: 'logs',
      target: { to: 'timestamp', timestamp: -5 },
      partitions: [1],
      execute: true,
    },
    res: {
      partitions: [
        { partition: 0, previous: { offset: 9, messageIndex: 4 }, offset: 0 },
        { partition: 1, offset: 2 ** 40 },
      ],
    },
  },
  [ApiKey.ReadObject]: {
    req: { key: pointer.storage.key, offset: 0, length: 0xffffffff },
    res: { objectSize: 5000, offset: 0, data: big },
  },
  [ApiKey.SaslHandshake]: {
    req: { mechanism: 'SCRAM-SHA-256' },
    res: { mechanisms: ['SCRAM-SHA-256', 'SCRAM-SHA-512'] },
  },
  [ApiKey.SaslAuthenticate]: {
    req: { authBytes: Buffer.from('n,,n=user,r=rOprNGfwEbeRWgbNEkqO') },
    res: { authBytes: Buffer.from('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='), sessionLifetimeMs: 0 },
  },
};

function roundTripRequest<K extends ApiKey>(k: K, req: RequestTypes[K], correlationId = 77) {
  const frame = joinParts(encodeRequest(k, 1, correlationId, req));
  assert.equal(frame.readUInt32BE(0), frame.length - 4);
  const { header, body } = decodeRequestFrame(frame.subarray(4));
  assert.deepEqual(header, { apiKey: k, apiVersion: 1, correlationId });
  return decodeRequestBody(k, 1, body);
}

function roundTripResponse<K extends ApiKey>(k: K, res: ResponseTypes[K], correlationId = 78) {
  const frame = joinParts(encodeResponse(k, 1, correlationId, res));
  assert.equal(frame.readUInt32BE(0), frame.length - 4);
  const { header, body } = decodeResponseFrame(frame.subarray(4));
  assert.deepEqual(header, { correlationId, errorCode: 0 });
  return decodeResponseBody(k, 1, body);
}

describe('protocol round trips', () => {
  for (const k of API_KEYS) {
    it(`${apiName(k)} request and response`, () => {
      const s = samples[k];
      assert.deepEqual(roundTripRequest(k, s.req), s.req);
      assert.deepEqual(roundTripResponse(k, s.res), s.res);
    });
  }

  it('v2 of JoinGroup, Heartbeat and FetchPointers carry the revoke phase; v1 drops it', () => {
    const state = { generation: 5, assignment: [0, 1, 2], revoking: [1, 2] };
    const roundTrip = <K extends ApiKey>(k: K, v: number, res: ResponseTypes[K]) =>
      decodeResponseBody(k, v, joinParts(encodeResponse(k, v, 9, res)).subarray(10));
    const join = { ...state, memberId: 'm', readPartitions: 3 };
    assert.deepEqual(roundTrip(ApiKey.JoinGroup, 2, join), join);
    assert.deepEqual(roundTrip(ApiKey.Heartbeat, 2, state), state);
    const fetch = { ...state, records: samples[ApiKey.FetchPointers].res.records };
    assert.deepEqual(roundTrip(ApiKey.FetchPointers, 2, fetch), fetch);
    assert.deepEqual(roundTrip(ApiKey.Heartbeat, 1, state), { ...state, revoking: [] });
    const hb = { memberId: 'm', released: [2, 1] };
    const body = joinParts(encodeRequest(ApiKey.Heartbeat, 2, 9, hb)).subarray(12);
    assert.deepEqual(decodeRequestBody(ApiKey.Heartbeat, 2, body), hb);
    const v1 = joinParts(encodeRequest(ApiKey.Heartbeat, 1, 9, hb)).subarray(12);
    assert.deepEqual(decodeRequestBody(ApiKey.Heartbeat, 1, v1), { memberId: 'm' });
  });

  it('a produce chunk whose meta disagrees with its bytes or the request is not encoded', () => {
    const req = samples[ApiKey.Produce].req;
    const [first, ...rest] = req.chunks;
    const withMeta = (meta: Partial<(typeof req.chunks)[number]['meta']>) => ({
      ...req,
      chunks: [{ bytes: first!.bytes, meta: { ...first!.meta, ...meta } }, ...rest],
    });
    assert.throws(
      () => encodeRequest(ApiKey.Produce, 1, 1, withMeta({ length: 1 })),
      /chunks\[0\]: meta.length is 1/,
    );
    assert.throws(
      () => encodeRequest(ApiKey.Produce, 1, 1, withMeta({ producerId: 3 })),
      /chunks\[0\]: meta.producerId is 3, the request's producerId is/,
    );
  });

  it('produce chunk data is referenced, not copied, when encoding and decoding', () => {
    const parts = encodeRequest(ApiKey.Produce, 1, 1, samples[ApiKey.Produce].req);
    assert.ok(parts.includes(big), 'the chunk buffer itself is one of the parts');
    const frame = joinParts(parts);
    const { header, body } = decodeRequestFrame(frame.subarray(4));
    const req = decodeRequest(header, body);
    assert.equal(req.apiKey, ApiKey.Produce);
    if (req.apiKey !== ApiKey.Produce) return;
    const data = req.body.chunks[0]!.bytes;
    assert.equal(data.buffer, frame.buffer, 'decoded chunk data is a view of the frame');
    assert.deepEqual(data, big);
  });

  it('error responses carry a message, and ApiVersions errors carry the broker versions', () => {
    const f = encodeErrorResponse(9, ErrorCode.UNKNOWN_TOPIC, 'topic "x" does not exist');
    const { header, body } = decodeResponseFrame(f.subarray(4));
    assert.deepEqual(header, { correlationId: 9, errorCode: 10 });
    assert.deepEqual(decodeErrorBody(ApiKey.Produce, body), { message: 'topic "x" does not exist' });
    const v = encodeErrorResponse(1, ErrorCode.UNSUPPORTED_VERSION, 'no', {
      brokerId: 3,
      versions: supportedVersionEntries(),
    });
    const d = decodeResponseFrame(v.subarray(4));
    assert.deepEqual(decodeErrorBody(ApiKey.ApiVersions, d.body).versions, {
      brokerId: 3,
      versions: supportedVersionEntries(),
    });
    const long = encodeErrorResponse(1, ErrorCode.INVALID_REQUEST, 'é'.repeat(100_000));
    assert.ok(decodeErrorBody(0, decodeResponseFrame(long.subarray(4)).body).message.length > 100);
  });

  it('create topic omits unset settings', () => {
    const got = roundTripRequest(ApiKey.CreateTopic, { name: 't' });
    assert.deepEqual(got, { name: 't' });
  });

  it('encoders reject out-of-range values with ProtocolError', () => {
    assert.throws(
      () => encodeRequest(ApiKey.Seek, 1, 1, { memberId: 'm', partition: -1, offset: 0 }),
      ProtocolError,
    );
    assert.throws(
      () => encodeRequest(ApiKey.Seek, 1, 1, { memberId: 'm', partition: 0, offset: 2 ** 53 }),
      ProtocolError,
    );
    assert.throws(
      () => encodeRequest(ApiKey.Seek, 9, 1, { memberId: 'm', partition: 0, offset: 0 }),
      /version 9/,
    );
    assert.throws(
      () => encodeRequest(ApiKey.Produce, 1, 1, { ...samples[ApiKey.Produce].req, acks: 'all' as 'durable' }),
      /acks/,
    );
    assert.throws(() => encodeRequest(ApiKey.Metadata, 1, 1, { topics: ['x'.repeat(70_000)] }), /65535/);
  });
});

describe('protocol decoders reject malformed input', () => {
  it('truncations of every sample request and response', () => {
    for (const k of API_KEYS) {
      const reqBody = joinParts(encodeRequest(k, 1, 1, samples[k].req)).subarray(12);
      const resBody = joinParts(encodeResponse(k, 1, 1, samples[k].res)).subarray(10);
      for (let cut = 0; cut < reqBody.length; cut += Math.max(1, Math.floor(reqBody.length / 200))) {
        if (k === ApiKey.ListTopics) break;
        assert.throws(
          () => decodeRequestBody(k, 1, reqBody.subarray(0, cut)),
          ProtocolError,
          `${apiName(k)} @${cut}`,
        );
      }
      for (let cut = 0; cut < resBody.length; cut += Math.max(1, Math.floor(resBody.length / 200))) {
        if (k === ApiKey.LeaveGroup || k === ApiKey.CommitOffsets || k === ApiKey.Seek) break;
        assert.throws(
          () => decodeResponseBody(k, 1, resBody.subarray(0, cut)),
          ProtocolError,
          `${apiName(k)} @${cut}`,
        );
      }
      assert.throws(() => decodeRequestBody(k, 1, Buffer.concat([reqBody, Buffer.from([0])])), /trailing/);
    }
  });

  it('unknown apis, versions and short frames', () => {
    assert.throws(() => decodeRequestBody(99 as ApiKey, 1, Buffer.alloc(0)), /unknown api key 99/);
    assert.throws(() => decodeRequestBody(ApiKey.Metadata, 0, Buffer.alloc(4)), /not supported/);
    assert.throws(() => decodeRequestFrame(Buffer.alloc(7)), ProtocolError);
    assert.throws(() => decodeResponseFrame(Buffer.alloc(5)), ProtocolError);
  });

  it('huge counts are rejected before allocating', () => {
    const w = new Writer();
    w.str16('m').u32(0xffffffff);
    const body = joinParts(w.finish());
    assert.throws(() => decodeRequestBody(ApiKey.FetchCommitted, 1, body), /cannot hold/);
  });

  it('invalid UTF-8, bad booleans, u64 above 2^53', () => {
    assert.throws(() => new Reader(Buffer.from([0, 2, 0xc3, 0x28])).str16('s'), /UTF-8/);
    assert.throws(() => new Reader(Buffer.from([2])).bool('b'), /0 or 1/);
    assert.throws(() => new Reader(Buffer.from([0, 0x20, 0, 0, 0, 0, 0, 0])).u64('x'), /2\^53/);
    assert.equal(
      new Reader(Buffer.from([0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])).u64('x'),
      2 ** 53 - 1,
    );
  });

  it('a pointer that is not valid JSON fails the fetch response', () => {
    const w = new Writer();
    w.u32(1).u32(0).u32(1).u32(0).u64(0).i64(0).bytes32(Buffer.from('{nope'));
    assert.throws(() => decodeResponseBody(ApiKey.FetchPointers, 1, joinParts(w.finish())), /record 0/);
  });

  it('fuzz: random bytes never escape as anything but ProtocolError', () => {
    fc.assert(
      fc.property(fc.constantFrom(...API_KEYS), fc.uint8Array({ maxLength: 300 }), (k, bytes) => {
        const b = Buffer.from(bytes);
        for (const decode of [decodeRequestBody, decodeResponseBody] as const) {
          try {
            decode(k, 1, b);
          } catch (e) {
            if (!(e instanceof ProtocolError)) throw e;
          }
        }
        try {
          decodeErrorBody(k, b);
        } catch (e) {
          if (!(e instanceof ProtocolError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('fuzz: mutated valid bodies never escape as anything but ProtocolError', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...API_KEYS),
        fc.boolean(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        (k, isRequest, edits) => {
          const s = samples[k];
          const frame = joinParts(isRequest ? encodeRequest(k, 1, 1, s.req) : encodeResponse(k, 1, 1, s.res));
          const body = Buffer.from(frame.subarray(isRequest ? 12 : 10));
          if (body.length === 0) return;
          for (const [pos, val] of edits) body[pos % body.length] = val;
          try {
            if (isRequest) decodeRequestBody(k, 1, body);
            else decodeResponseBody(k, 1, body);
          } catch (e) {
            if (!(e instanceof ProtocolError)) throw e;
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('property: produce requests round-trip', () => {
    const chunk = (producerId: number) =>
      fc
        .record(
          {
            codec: fc.integer({ min: 0, max: 255 }),
            messageCount: fc.nat(),
            uncompressedLength: fc.nat(),
            crc32: fc.nat(),
            baseSequence: fc.maxSafeNat(),
            minTimestamp: fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }),
            maxTimestamp: fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }),
            data: fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a)),
          },
          { noNullPrototype: true },
        )
        .map(({ data, ...meta }) => ({ bytes: data, meta: { ...meta, length: data.length, producerId } }));
    fc.assert(
      fc.property(
        fc.maxSafeNat().chain((producerId) =>
          fc.record(
            {
              topic: fc.string({ maxLength: 50 }),
              writePartition: fc.nat(),
              acks: fc.constantFrom('none' as const, 'received' as const, 'durable' as const),
              producerId: fc.constant(producerId),
              timeoutMs: fc.nat(),
              chunks: fc.array(chunk(producerId), { maxLength: 5 }),
            },
            { noNullPrototype: true },
          ),
        ),
        (req) => {
          assert.deepEqual(roundTripRequest(ApiKey.Produce, req), req);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('FrameDecoder', () => {
  const frames = [
    joinParts(encodeRequest(ApiKey.Produce, 1, 1, samples[ApiKey.Produce].req)),
    joinParts(encodeRequest(ApiKey.Metadata, 1, 2, { topics: [] })),
    joinParts(encodeRequest(ApiKey.ListTopics, 1, 3, {})),
  ];
  const stream = Buffer.concat(frames);

  it('reassembles frames from any split of the stream', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 20 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const d = new FrameDecoder();
        const out: Buffer[] = [];
        let prev = 0;
        for (const p of [...points, stream.length]) {
          d.push(stream.subarray(prev, p));
          prev = p;
          for (let f = d.next(); f; f = d.next()) out.push(Buffer.from(f));
        }
        assert.deepEqual(
          out,
          frames.map((f) => f.subarray(4)),
        );
        assert.equal(d.bufferedBytes, 0);
      }),
      { numRuns: 500 },
    );
  });

  it('returns a view of the pushed buffer when a frame is inside it', () => {
    const d = new FrameDecoder();
    d.push(stream);
    const f = d.next()!;
    assert.equal(f.buffer, stream.buffer);
  });

  it('rejects oversized frames and exposes the correlation id', () => {
    const d = new FrameDecoder({ maxFrameBytes: 100 });
    const frame = frames[0]!;
    d.push(frame.subarray(0, 6));
    assert.equal(d.next(), undefined, 'waits for the request header');
    d.push(frame.subarray(6, 20));
    assert.throws(
      () => d.next(),
      (e: unknown) => e instanceof FrameTooLargeError && peekCorrelationId(e.header) === 1 && e.length > 100,
    );
    assert.throws(() => d.next(), ProtocolError);
  });

  it('handles many one-byte pushes in linear work', () => {
    const d = new FrameDecoder();
    let n = 0;
    for (let i = 0; i < stream.length; i++) {
      d.push(stream.subarray(i, i + 1));
      for (let f = d.next(); f; f = d.next()) n++;
    }
    assert.equal(n, frames.length);
  });
});

describe('versions and error codes', () => {
  it('negotiation picks the highest common version and drops apis without one', () => {
    const mine = [
      { apiKey: 1, minVersion: 1, maxVersion: 3 },
      { apiKey: 2, minVersion: 4, maxVersion: 5 },
      { apiKey: 3, minVersion: 1, maxVersion: 1 },
    ];
    const theirs = [
      { apiKey: 1, minVersion: 2, maxVersion: 2 },
      { apiKey: 2, minVersion: 1, maxVersion: 3 },
    ];
    assert.deepEqual([...negotiateVersions(mine, theirs)], [[1, 2]]);
    for (const k of API_KEYS) assert.ok(SUPPORTED_VERSIONS[k].min <= SUPPORTED_VERSIONS[k].max);
  });

  it('every error code has matching info', () => {
    for (const [name, code] of Object.entries(ErrorCode)) {
      assert.equal(ERROR_CODE_INFO[code].name, name);
      assert.equal(errorCodeName(code), name);
    }
    assert.equal(errorCodeName(999), 'UNKNOWN_ERROR_999');
    assert.equal(isRetryableErrorCode(999), false);
    assert.equal(isRetryableErrorCode(ErrorCode.STORAGE_UNAVAILABLE), true);
    assert.equal(isRetryableErrorCode(ErrorCode.CORRUPT_CHUNK), false);
    const e = new BrokerResponseError(ErrorCode.THROTTLED, 'budget full');
    assert.equal(e.retryable, true);
    assert.equal(e.code, 'TRANSIENT');
    assert.match(e.message, /^THROTTLED: budget full$/);
    assert.equal(new BrokerResponseError(ErrorCode.REBALANCE_IN_PROGRESS, '').code, 'REBALANCE');
  });
});
