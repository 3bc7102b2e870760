import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { sampleBatch } from '../batch/fixtures.js';
import { batchPointer } from '../batch/header.js';
import { fuzzRuns, largestAllocationDuring, mutate, mutationArb, outcome } from '../test-support/fuzz.js';
import {
  ANY_WRITE_PARTITION,
  API_KEYS,
  ApiKey,
  type ApiVersionEntry,
  apiName,
  type BatchSettingsInfo,
  decodeErrorBody,
  decodeRequest,
  decodeRequestBody,
  decodeResponseBody,
  encodeErrorResponse,
  encodeRequest,
  encodeResponse,
  type ProduceChunk,
  type RequestTypes,
  type ResponseTypes,
  SUPPORTED_VERSIONS,
  type TopicInfo,
} from './api.js';
import { ErrorCode } from './errors.js';
import { decodeRequestFrame, decodeResponseFrame, FrameDecoder } from './frame.js';
import type { GroupPartitionLag, ResetTarget } from './group-admin.js';
import { joinParts, ProtocolError } from './wire.js';

/**
 * Property-based fuzzing of every request and response codec, for every supported version:
 * arbitrary valid values round-trip; valid encodings that are cut, bit-flipped, given absurd
 * length or count fields, or spliced either decode to something the encoder reproduces, or throw
 * `ProtocolError`; nothing allocates more than the input justifies or takes long.
 */

// ---------------------------------------------------------------------------------------------
// Arbitrary valid bodies
// ---------------------------------------------------------------------------------------------

const rec = <T>(shape: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> =>
  fc.record(shape, { noNullPrototype: true }) as fc.Arbitrary<T>;
const str = fc.string({ unit: 'grapheme', maxLength: 10 });
const nonEmpty = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 10 });
const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.oneof(fc.nat({ max: 0xffffffff }), fc.constantFrom(0, 0xffffffff, ANY_WRITE_PARTITION));
const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const u53 = fc.oneof(fc.maxSafeNat(), fc.constantFrom(0, Number.MAX_SAFE_INTEGER));
const i53 = fc.integer({ min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
const list = <T>(a: fc.Arbitrary<T>) => fc.array(a, { maxLength: 4 });
const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));

const versionEntry: fc.Arbitrary<ApiVersionEntry> = fc
  .tuple(u16, u16, u16)
  .map(([apiKey, a, b]) => ({ apiKey, minVersion: Math.min(a, b), maxVersion: Math.max(a, b) }));
const batchSettings = rec<BatchSettingsInfo>({ maxBytes: u53, maxMessages: u32, maxDelayMs: u32 });
const topicInfo = rec<TopicInfo>({
  name: str,
  writePartitions: u32,
  readPartitions: u32,
  batch: batchSettings,
  compression: str,
});
/** GroupState: `revoking` exists from v2 on (v1 decodes it as empty). */
const groupState = (v: number) => ({
  generation: u32,
  assignment: list(u32),
  revoking: v >= 2 ? list(u32) : fc.constant<number[]>([]),
});
const position = rec({ offset: u53, messageIndex: u32 });
/** Produce and ReadObject responses: `throttleTimeMs` exists from v2 on (v1 decodes without it). */
const throttleTime = (v: number): { throttleTimeMs?: fc.Arbitrary<number> } =>
  v >= 2 ? { throttleTimeMs: u32 } : {};
const pointers = [
  batchPointer(sampleBatch().batch, { adapter: 's3', location: 'bucket', key: 'topics/orders.eu/3/42' }),
  batchPointer(sampleBatch().batch, { adapter: 'local', location: '/var/ü', key: 'k' }),
];

const produceRequest = fc.maxSafeNat().chain((producerId) =>
  rec<RequestTypes[typeof ApiKey.Produce]>({
    topic: str,
    writePartition: u32,
    acks: fc.constantFrom('none' as const, 'received' as const, 'durable' as const),
    producerId: fc.constant(producerId),
    timeoutMs: u32,
    chunks: list(
      fc
        .tuple(
          rec({
            codec: u8,
            messageCount: u32,
            uncompressedLength: u32,
            crc32: u32,
            baseSequence: u53,
            minTimestamp: i53,
            maxTimestamp: i53,
          }),
          bytes(64),
        )
        .map(
          ([meta, data]): ProduceChunk => ({
            bytes: data,
            meta: { ...meta, length: data.length, producerId },
          }),
        ),
    ),
  }),
);

/** Optional keys of `T`: present with a value from `a`, or absent (never present as undefined). */
const maybe = <T extends object, K extends keyof T>(key: K, a: fc.Arbitrary<NonNullable<T[K]>>) =>
  fc.option(a, { nil: undefined }).map((v) => (v === undefined ? {} : { [key]: v }) as Partial<T>);

const createTopicRequest = fc
  .tuple(
    nonEmpty,
    maybe<RequestTypes[3], 'writePartitions'>('writePartitions', u32),
    maybe<RequestTypes[3], 'readPartitions'>('readPartitions', u32),
    maybe<RequestTypes[3], 'compression'>('compression', str),
    maybe<RequestTypes[3], 'ifNotExists'>('ifNotExists', fc.constant(true)),
    maybe<BatchSettingsInfo, 'maxBytes'>('maxBytes', u53),
    maybe<BatchSettingsInfo, 'maxMessages'>('maxMessages', u32),
    maybe<BatchSettingsInfo, 'maxDelayMs'>('maxDelayMs', u32),
  )
  .map(([name, w, r, c, i, ...batchParts]): RequestTypes[3] => {
    const batch = Object.assign({}, ...batchParts) as Partial<BatchSettingsInfo>;
    return { name, ...w, ...r, ...c, ...i, ...(Object.keys(batch).length > 0 ? { batch } : {}) };
  });

const resetTarget: fc.Arbitrary<ResetTarget> = fc.oneof(
  fc.constant({ to: 'earliest' as const }),
  fc.constant({ to: 'latest' as const }),
  rec({ to: fc.constant('timestamp' as const), timestamp: i53 }),
  rec({ to: fc.constant('offset' as const), offset: u53 }),
);
const status = fc.constantFrom('empty' as const, 'stable' as const, 'rebalancing' as const);
/** v2 adds the lag in messages: unknown, exact or estimated. */
const messageLag = (v: number) =>
  v >= 2
    ? fc.oneof(
        fc.constant({}),
        rec({ messageLag: u53 }),
        rec({ messageLag: u53, messageLagEstimated: fc.constant(true as const) }),
      )
    : fc.constant({});
const lagPartition = (v: number): fc.Arbitrary<GroupPartitionLag> =>
  fc
    .tuple(
      rec({ topic: str, partition: u32, low: u53, high: u53 }),
      fc.option(
        fc
          .tuple(rec({ offset: u53, messageIndex: u32, lag: u53 }), messageLag(v))
          .map(([c, m]) => ({ ...c, ...m })),
        { nil: undefined },
      ),
    )
    .map(([p, committed]) => (committed ? { ...p, committed } : p));

/** An arbitrary of one body, or (for bodies that changed between versions) one per version. */
type ByVersion<T> = fc.Arbitrary<T> | ((version: number) => fc.Arbitrary<T>);
type Arbitraries = { [K in ApiKey]: { req: ByVersion<RequestTypes[K]>; res: ByVersion<ResponseTypes[K]> } };

const arbitraries: Arbitraries = {
  [ApiKey.ApiVersions]: {
    req: rec({ clientId: str, versions: list(versionEntry) }),
    res: rec({ brokerId: u32, versions: list(versionEntry) }),
  },
  [ApiKey.Metadata]: {
    req: rec({ topics: list(str) }),
    res: (v) =>
      rec({
        brokerId: u32,
        storage: rec({ adapter: str, location: str }),
        pointers: rec({ adapter: str }),
        maxFrameBytes: u32,
        maxReadBytes: u32,
        maxMessagesPerRequest: u32,
        topics: list(topicInfo),
      }).chain((body) =>
        v < 2
          ? fc.constant(body)
          : // v2: brokers, and one owner list per topic.
            rec({
              clusterId: str,
              brokers: list(rec({ brokerId: u32, host: str, port: fc.integer({ min: 0, max: 0xffff }) })),
              owners: fc.tuple(...body.topics.map(() => list(u32))),
            }).map((cluster) => ({ ...body, cluster })),
      ),
  },
  [ApiKey.Produce]: {
    req: produceRequest,
    res: (v) =>
      rec({
        writePartition: u32,
        sequence: i53,
        firstChunkIndex: u32,
        firstMessageIndex: u32,
        readPartition: i32,
        offset: i53,
        ...throttleTime(v),
      }),
  },
  [ApiKey.CreateTopic]: { req: createTopicRequest, res: rec({ created: fc.boolean(), topic: topicInfo }) },
  [ApiKey.ListTopics]: { req: fc.constant({}), res: rec({ topics: list(topicInfo) }) },
  [ApiKey.DescribeTopic]: {
    req: rec({ name: str }),
    res: rec({ topic: topicInfo, partitions: list(rec({ partition: u32, low: u53, high: u53 })) }),
  },
  [ApiKey.JoinGroup]: {
    req: rec({ group: str, topic: str, sessionTimeoutMs: u32, fromBeginning: fc.boolean(), clientId: str }),
    res: (v) => rec({ memberId: str, readPartitions: u32, ...groupState(v) }),
  },
  [ApiKey.Heartbeat]: {
    req: (v) => (v >= 2 ? rec({ memberId: str, released: list(u32) }) : rec({ memberId: str })),
    res: (v) => rec(groupState(v)),
  },
  [ApiKey.LeaveGroup]: { req: rec({ memberId: str }), res: fc.constant({}) },
  [ApiKey.FetchPointers]: {
    req: rec({ memberId: str, maxRecords: u32, maxWaitMs: u32 }),
    res: (v) =>
      rec({
        ...groupState(v),
        records: list(
          rec({ partition: u32, offset: u53, timestamp: i53, pointer: fc.constantFrom(...pointers) }),
        ),
      }),
  },
  [ApiKey.CommitOffsets]: {
    req: rec({ memberId: str, positions: list(rec({ partition: u32, offset: u53, messageIndex: u32 })) }),
    res: fc.constant({}),
  },
  [ApiKey.FetchCommitted]: {
    req: rec({ memberId: str, partitions: list(u32) }),
    res: rec({
      positions: list(
        fc
          .tuple(u32, fc.option(position, { nil: undefined }))
          .map(([partition, committed]) => (committed ? { partition, committed } : { partition })),
      ),
    }),
  },
  [ApiKey.Seek]: { req: rec({ memberId: str, partition: u32, offset: u53 }), res: fc.constant({}) },
  [ApiKey.OffsetForTimestamp]: {
    req: rec({ topic: str, partition: u32, timestamp: i53 }),
    res: rec({ offset: u53 }),
  },
  [ApiKey.Watermarks]: { req: rec({ topic: str, partition: u32 }), res: rec({ low: u53, high: u53 }) },
  [ApiKey.ReadObject]: {
    req: rec({ key: str, offset: u53, length: u32 }),
    res: (v) => rec({ objectSize: u53, offset: u53, data: bytes(200), ...throttleTime(v) }),
  },
  [ApiKey.ListGroups]: {
    req: maybe<RequestTypes[21], 'topic'>('topic', nonEmpty),
    res: rec({ groups: list(rec({ group: str, status, members: u32, topics: list(str) })) }),
  },
  [ApiKey.DescribeGroup]: {
    req: fc
      .tuple(str, maybe<RequestTypes[22], 'topic'>('topic', nonEmpty))
      .map(([group, topic]) => ({ group, ...topic })),
    res: (v) =>
      rec({
        group: str,
        status,
        members: list(
          rec({
            memberId: str,
            clientId: str,
            host: str,
            assignment: list(rec({ topic: str, partitions: list(u32) })),
          }),
        ),
        partitions: list(lagPartition(v)),
      }),
  },
  [ApiKey.ResetOffsets]: {
    req: rec({ group: str, topic: str, target: resetTarget, partitions: list(u32), execute: fc.boolean() }),
    res: rec({
      partitions: list(
        fc
          .tuple(u32, fc.option(position, { nil: undefined }), u53)
          .map(([partition, previous, offset]) =>
            previous ? { partition, previous, offset } : { partition, offset },
          ),
      ),
    }),
  },
  [ApiKey.SaslHandshake]: { req: rec({ mechanism: str }), res: rec({ mechanisms: list(str) }) },
  [ApiKey.SaslAuthenticate]: {
    req: rec({ authBytes: bytes(100) }),
    res: rec({ authBytes: bytes(100), sessionLifetimeMs: u53 }),
  },
};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

type Side = 'request' | 'response';

/** Every (api, version, side) the protocol module supports. */
const cases = API_KEYS.flatMap((apiKey) => {
  const out: { apiKey: ApiKey; version: number; side: Side }[] = [];
  for (let v = SUPPORTED_VERSIONS[apiKey].min; v <= SUPPORTED_VERSIONS[apiKey].max; v++)
    for (const side of ['request', 'response'] as const) out.push({ apiKey, version: v, side });
  return out;
});

/** The body of a valid encoding: the frame without its length prefix and header. */
function encodeBody(apiKey: ApiKey, version: number, side: Side, value: unknown): Buffer {
  const frame =
    side === 'request'
      ? joinParts(encodeRequest(apiKey, version, 1, value as never))
      : joinParts(encodeResponse(apiKey, version, 1, value as never));
  return frame.subarray(side === 'request' ? 12 : 10);
}

function decodeBody(apiKey: ApiKey, version: number, side: Side, body: Buffer): unknown {
  return side === 'request'
    ? decodeRequestBody(apiKey, version, body)
    : decodeResponseBody(apiKey, version, body);
}

function arbitraryFor(apiKey: ApiKey, version: number, side: Side): fc.Arbitrary<unknown> {
  const a: ByVersion<unknown> = side === 'request' ? arbitraries[apiKey].req : arbitraries[apiKey].res;
  return typeof a === 'function' ? a(version) : a;
}

const isProtocolError = (e: unknown) => e instanceof ProtocolError;

/**
 * A decode of a few hundred bytes that takes this much CPU time means a loop the input controls.
 * CPU time, not wall time: a loaded machine that deschedules the test must not fail it.
 */
const MAX_DECODE_CPU_MS = 500;

/**
 * Decodes `body`: either a value whose re-encoding decodes to the same value (the decoder
 * accepts only what the encoder can write), or a `ProtocolError`. Bounded allocation and time.
 */
function checkDecode(apiKey: ApiKey, version: number, side: Side, body: Buffer, what: string): void {
  let decoded: unknown;
  const started = process.cpuUsage();
  const largest = largestAllocationDuring(() =>
    outcome(() => {
      decoded = decodeBody(apiKey, version, side, body);
    }, isProtocolError),
  );
  const cpu = process.cpuUsage(started);
  const took = (cpu.user + cpu.system) / 1000;
  assert.ok(
    took < MAX_DECODE_CPU_MS,
    `${what}: decoding ${body.length} bytes took ${took.toFixed(0)} ms of CPU`,
  );
  assert.ok(largest <= Math.max(4096, body.length), `${what}: allocated ${largest} bytes for ${body.length}`);
  if (decoded === undefined) return;
  const again = encodeBody(apiKey, version, side, decoded);
  assert.deepEqual(
    decodeBody(apiKey, version, side, again),
    decoded,
    `${what}: re-encoding changed the value`,
  );
}

const label = (apiKey: ApiKey, version: number, side: Side) => `${apiName(apiKey)} v${version} ${side}`;

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

describe('fuzz: every request and response codec', () => {
  it('covers every api key', () => {
    assert.deepEqual(Object.keys(arbitraries).map(Number).sort(), [...API_KEYS].sort());
  });

  for (const { apiKey, version, side } of cases) {
    const name = label(apiKey, version, side);
    it(`${name}: arbitrary values round-trip; damaged encodings decode consistently or throw ProtocolError`, () => {
      const arb = arbitraryFor(apiKey, version, side);
      fc.assert(
        fc.property(arb, (value) => {
          assert.deepEqual(
            decodeBody(apiKey, version, side, encodeBody(apiKey, version, side, value)),
            value,
          );
        }),
        fuzzRuns(150),
      );
      fc.assert(
        fc.property(arb, fc.array(mutationArb, { minLength: 1, maxLength: 3 }), (value, mutations) => {
          let body = encodeBody(apiKey, version, side, value);
          for (const m of mutations) body = mutate(body, m);
          checkDecode(apiKey, version, side, body, name);
        }),
        fuzzRuns(400),
      );
    });
  }

  it('every truncation of valid encodings throws ProtocolError', () => {
    fc.assert(
      fc.property(fc.constantFrom(...cases), fc.nat(), (c, seed) => {
        const [value] = fc.sample(arbitraryFor(c.apiKey, c.version, c.side), { seed, numRuns: 1 });
        const body = encodeBody(c.apiKey, c.version, c.side, value);
        for (let n = 0; n < body.length; n++) {
          const e = outcome(
            () => decodeBody(c.apiKey, c.version, c.side, body.subarray(0, n)),
            isProtocolError,
          );
          // A prefix can itself be a valid encoding only if what was cut is a trailing empty list.
          if (e === undefined)
            checkDecode(c.apiKey, c.version, c.side, body.subarray(0, n), label(c.apiKey, c.version, c.side));
        }
      }),
      fuzzRuns(200),
    );
  });

  it('the body of one api fed to another api, or to an unsupported version, throws ProtocolError', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...cases),
        fc.constantFrom(...API_KEYS),
        fc.oneof(fc.constant(undefined), u16),
        fc.nat(),
        (c, other, otherVersion, seed) => {
          const [value] = fc.sample(arbitraryFor(c.apiKey, c.version, c.side), { seed, numRuns: 1 });
          const body = encodeBody(c.apiKey, c.version, c.side, value);
          const version = otherVersion ?? SUPPORTED_VERSIONS[other].min;
          const range = SUPPORTED_VERSIONS[other];
          if (version < range.min || version > range.max) {
            assert.throws(() => decodeBody(other, version, c.side, body), /not supported/);
          } else {
            checkDecode(
              other,
              version,
              c.side,
              body,
              `${label(c.apiKey, c.version, c.side)} as ${apiName(other)}`,
            );
          }
        },
      ),
      fuzzRuns(1500),
    );
  });

  it('error bodies: damaged messages and ApiVersions version lists throw only ProtocolError', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...API_KEYS),
        fc.string({ maxLength: 50 }),
        fc.option(rec({ brokerId: u32, versions: list(versionEntry) }), { nil: undefined }),
        fc.array(mutationArb, { maxLength: 3 }),
        (apiKey, message, versions, mutations) => {
          let body = encodeErrorResponse(1, ErrorCode.INVALID_REQUEST, message, versions).subarray(10);
          for (const m of mutations) body = mutate(body, m);
          outcome(() => decodeErrorBody(apiKey, body), isProtocolError);
        },
      ),
      fuzzRuns(2000),
    );
  });
});

describe('fuzz: whole request frames through the frame decoder', () => {
  const apiKeyArb = fc.oneof(fc.constantFrom(...API_KEYS), u16);
  const versionArb = fc.oneof(fc.constantFrom(0, 1, 2), u16);

  it('any api key, version and body: a decoded request or ProtocolError', () => {
    fc.assert(
      fc.property(
        apiKeyArb,
        versionArb,
        fc.oneof(
          bytes(300),
          fc
            .tuple(fc.constantFrom(...API_KEYS), fc.nat(), fc.array(mutationArb, { maxLength: 2 }))
            .map(([k, seed, mutations]) => {
              const [value] = fc.sample(arbitraryFor(k, 1, 'request'), { seed, numRuns: 1 });
              let body = encodeBody(k, 1, 'request', value);
              for (const m of mutations) body = mutate(body, m);
              return body;
            }),
        ),
        u32,
        (apiKey, apiVersion, body, correlationId) => {
          const frame = Buffer.alloc(12 + body.length);
          frame.writeUInt32BE(8 + body.length, 0);
          frame.writeUInt16BE(apiKey, 4);
          frame.writeUInt16BE(apiVersion, 6);
          frame.writeUInt32BE(correlationId, 8);
          body.copy(frame, 12);
          const d = new FrameDecoder({ maxFrameBytes: 1024 });
          d.push(frame);
          const f = d.next();
          assert.ok(f, 'a frame within the limit is returned whole');
          const { header, body: b } = decodeRequestFrame(f);
          assert.deepEqual(header, { apiKey, apiVersion, correlationId });
          const e = outcome(() => decodeRequest(header, b), isProtocolError);
          const range = SUPPORTED_VERSIONS[apiKey as ApiKey] as
            | (typeof SUPPORTED_VERSIONS)[ApiKey]
            | undefined;
          const known = range !== undefined && apiVersion >= range.min && apiVersion <= range.max;
          if (!known) assert.ok(e instanceof ProtocolError, `api ${apiKey} v${apiVersion} must be refused`);
        },
      ),
      fuzzRuns(2000),
    );
  });

  it('short request and response frames throw ProtocolError', () => {
    fc.assert(
      fc.property(bytes(12), (b) => {
        outcome(() => decodeRequestFrame(b), isProtocolError);
        outcome(() => decodeResponseFrame(b), isProtocolError);
        if (b.length < 8) assert.throws(() => decodeRequestFrame(b), ProtocolError);
        if (b.length < 6) assert.throws(() => decodeResponseFrame(b), ProtocolError);
      }),
      fuzzRuns(500),
    );
  });
});
