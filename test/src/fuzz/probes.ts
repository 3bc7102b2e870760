import {
  ANY_WRITE_PARTITION,
  API_KEYS,
  ApiKey,
  ErrorCode,
  encodeChunk,
  encodeRequest,
  errorCodeName,
  joinParts,
  type RequestTypes,
  SUPPORTED_VERSIONS,
  supportedVersionEntries,
} from '@barge/core';
import { hostileChunkProbe } from './hostile-chunks.js';
import { damage, int, open, type Probe, type ProbeContext, pick, randomBytes } from './probe-kit.js';
import { RawConnection } from './raw-client.js';

/**
 * Hostile clients for the live protocol fuzz run (`e2e/protocol-fuzz.test.ts`). Each probe opens
 * its own connections, does one kind of damage, checks what the broker's contract promises
 * (error codes, closing oversized-frame connections, refusing corrupt chunks) and records what
 * does not hold in `violations`.
 */

const GROUP = 'fuzz-g';

/** A valid request body of `apiKey` aimed at the probes' own topic and group. */
function sampleRequest(ctx: ProbeContext, apiKey: ApiKey, memberId: string): RequestTypes[ApiKey] {
  const r = ctx.random;
  const t = ctx.fuzzTopic;
  switch (apiKey) {
    case ApiKey.ApiVersions:
      return { clientId: 'fuzz', versions: supportedVersionEntries() };
    case ApiKey.Metadata:
      return { topics: [t] };
    case ApiKey.Produce: {
      const chunk = encodeChunk([{ value: randomBytes(r, int(r, 0, 64)) }], 'none', {
        producerId: ctx.hostileProducerId,
      });
      const acks = pick(r, ['none', 'received', 'durable'] as const);
      return {
        topic: t,
        writePartition: ANY_WRITE_PARTITION,
        acks,
        producerId: ctx.hostileProducerId,
        timeoutMs: 5_000,
        chunks: [chunk],
      };
    }
    case ApiKey.CreateTopic:
      return { name: `fz-${int(r, 0, 9)}`, ifNotExists: true, writePartitions: 1, readPartitions: 1 };
    case ApiKey.ListTopics:
      return {};
    case ApiKey.DescribeTopic:
      return { name: t };
    case ApiKey.JoinGroup:
      return { group: GROUP, topic: t, sessionTimeoutMs: 3_000, fromBeginning: true, clientId: 'fuzz' };
    case ApiKey.Heartbeat:
    case ApiKey.LeaveGroup:
      return { memberId };
    case ApiKey.FetchPointers:
      return { memberId, maxRecords: 10, maxWaitMs: 100 };
    case ApiKey.CommitOffsets:
      return { memberId, positions: [{ partition: 0, offset: 0, messageIndex: 0 }] };
    case ApiKey.FetchCommitted:
      return { memberId, partitions: [0] };
    case ApiKey.Seek:
      return { memberId, partition: 0, offset: 0 };
    case ApiKey.OffsetForTimestamp:
      return { topic: t, partition: 0, timestamp: Date.now() };
    case ApiKey.Watermarks:
      return { topic: t, partition: 0 };
    case ApiKey.ReadObject:
      return { key: ctx.object.key, offset: int(r, 0, ctx.object.size), length: int(r, 0, 64 * 1024) };
    case ApiKey.ListGroups:
      return {};
    case ApiKey.DescribeGroup:
      return { group: GROUP };
    case ApiKey.ResetOffsets:
      return { group: GROUP, topic: t, target: { to: 'earliest' }, partitions: [], execute: false };
    case ApiKey.SaslHandshake:
      return { mechanism: 'SCRAM-SHA-256' };
    case ApiKey.SaslAuthenticate:
      return { authBytes: randomBytes(r, int(r, 0, 64)) };
  }
}

/** The body of a valid request (the frame without length prefix and header). */
function requestBody(apiKey: ApiKey, version: number, body: RequestTypes[ApiKey]): Buffer {
  return joinParts(encodeRequest(apiKey, version, 0, body as never)).subarray(12);
}

const versionOf = (r: () => number, apiKey: ApiKey) =>
  int(r, SUPPORTED_VERSIONS[apiKey].min, SUPPORTED_VERSIONS[apiKey].max);

// ---------------------------------------------------------------------------------------------
// Probes run in every fuzz run
// ---------------------------------------------------------------------------------------------

/** Random bytes, bare or behind a plausible frame header of a known api. */
export const randomBytesProbe: Probe = async (ctx) => {
  const r = ctx.random;
  const c = await open(ctx, 'random bytes');
  if (!c) return;
  const framed = r() < 0.5;
  const body = randomBytes(r, int(r, 0, 2048));
  const apiKey = pick(r, API_KEYS);
  await c.write(framed ? RawConnection.frame(apiKey, 1, int(r, 0, 0xffffffff), body) : body);
  ctx.count(framed ? 'random body' : 'random bytes');
  await c.linger(200);
  c.destroy();
};

/** A length prefix above the limit must get FRAME_TOO_LARGE and a closed connection; shorter than a header, a close. */
export const absurdLengthProbe: Probe = async (ctx) => {
  const r = ctx.random;
  const c = await open(ctx, 'absurd length');
  if (!c) return;
  const huge = r() < 0.7;
  const length = huge
    ? pick(r, [ctx.maxFrameBytes + 1, 0x7fffffff, 0x80000000, 0xffffffff])
    : pick(r, [0, 1, 4, 7]);
  const apiKey = pick(r, API_KEYS);
  const id = c.track(apiKey, 1);
  const head = Buffer.alloc(12);
  head.writeUInt32BE(length, 0);
  head.writeUInt16BE(apiKey, 4);
  head.writeUInt16BE(1, 6);
  head.writeUInt32BE(id, 8);
  const answered = c.response(id, 10_000);
  await c.write(Buffer.concat([huge ? head : head.subarray(0, 4 + length), randomBytes(r, int(r, 0, 64))]));
  if (huge) {
    const res = await answered;
    if (res?.errorCode !== ErrorCode.FRAME_TOO_LARGE && !c.isClosed) {
      ctx.violations.push(
        `length ${length}: expected FRAME_TOO_LARGE, got ${res ? errorCodeName(res.errorCode) : 'nothing'}`,
      );
    }
    if (!(await c.closesWithin(10_000)))
      ctx.violations.push(`length ${length}: connection not closed after FRAME_TOO_LARGE`);
  } else {
    await c.linger(200);
  }
  ctx.count(huge ? 'length above the limit' : 'length below a header');
  c.destroy();
};

/** A valid request cut short, then a half-close, a close or a reset. */
export const truncatedFrameProbe: Probe = async (ctx) => {
  const r = ctx.random;
  const c = await open(ctx, 'truncated frame');
  if (!c) return;
  const apiKey = pick(r, API_KEYS);
  const version = versionOf(r, apiKey);
  const frame = joinParts(encodeRequest(apiKey, version, 1, sampleRequest(ctx, apiKey, 'm') as never));
  await c.write(frame.subarray(0, int(r, 1, frame.length - 1)));
  const how = pick(r, ['end', 'destroy', 'reset'] as const);
  if (how === 'end') {
    c.end();
    await c.linger(300);
  }
  if (how === 'reset') c.reset();
  c.destroy();
  ctx.count(`truncated frame, then ${how}`);
};

/** Unknown api keys and unsupported versions get their error codes; the connection stays usable. */
export const unknownApiProbe: Probe = async (ctx) => {
  const r = ctx.random;
  const c = await open(ctx, 'unknown api');
  if (!c) return;
  for (let i = int(r, 1, 4); i > 0; i--) {
    const unknownKey = r() < 0.5;
    let apiKey: number;
    let version: number;
    let expected: number;
    if (unknownKey) {
      do apiKey = int(r, 0, 0xffff);
      while (API_KEYS.includes(apiKey as ApiKey));
      version = int(r, 0, 3);
      expected = ErrorCode.UNKNOWN_API;
    } else {
      apiKey = pick(r, API_KEYS);
      const range = SUPPORTED_VERSIONS[apiKey as ApiKey];
      version = pick(r, [0, range.max + 1, 0xffff]);
      expected = ErrorCode.UNSUPPORTED_VERSION;
    }
    const id = c.track(apiKey, version);
    const answered = c.response(id, 10_000);
    await c.write(RawConnection.frame(apiKey, version, id, randomBytes(r, int(r, 0, 32))));
    const res = await answered;
    if (res?.errorCode !== expected) {
      ctx.violations.push(
        `api ${apiKey} v${version}: expected ${errorCodeName(expected)}, got ${res ? errorCodeName(res.errorCode) : 'nothing'}`,
      );
    }
    ctx.count(unknownKey ? 'unknown api key' : 'unsupported version');
  }
  const ok = await c.request(ApiKey.ApiVersions, { clientId: 'fuzz', versions: supportedVersionEntries() });
  if (ok?.errorCode !== 0) ctx.violations.push('the connection stopped serving after unknown api errors');
  c.destroy();
};

/**
 * Valid requests of every api with damaged bodies (bit flips, absurd lengths and counts, cuts,
 * inserted bytes), on a connection that may have joined the probes' group first.
 */
export const damagedRequestProbe: Probe = async (ctx) => {
  const r = ctx.random;
  const c = await open(ctx, 'damaged request');
  if (!c) return;
  let memberId = `m-${int(r, 0, 99)}`;
  if (r() < 0.4) {
    const joined = await c.request(
      ApiKey.JoinGroup,
      sampleRequest(ctx, ApiKey.JoinGroup, '') as RequestTypes[10],
    );
    if (joined?.errorCode === 0) memberId = (joined.body as { memberId: string }).memberId;
  }
  const waits: Promise<unknown>[] = [];
  for (let i = int(r, 1, 6); i > 0; i--) {
    const apiKey = pick(r, API_KEYS);
    const version = versionOf(r, apiKey);
    const body = damage(r, requestBody(apiKey, version, sampleRequest(ctx, apiKey, memberId)));
    const id = c.track(apiKey, version);
    waits.push(
      c.response(id, 2_000).then((res) => {
        if (res?.errorCode === ErrorCode.UNKNOWN_SERVER_ERROR) {
          ctx.violations.push(
            `damaged ${apiKey} v${version}: UNKNOWN_SERVER_ERROR ${JSON.stringify(res.body)}`,
          );
        }
      }),
    );
    await c.write(RawConnection.frame(apiKey, version, id, body));
    ctx.count(`damaged request (api ${apiKey})`);
  }
  await Promise.race([Promise.all(waits), c.linger(2_500)]);
  c.destroy();
};

// --- hostile chunks --------------------------------------------------------------------------

/** Keys outside the batch key space (traversal, metadata, absolute paths) are never served. */
export const foreignKeyProbe: Probe = async (ctx) => {
  const r = ctx.random;
  const c = await open(ctx, 'foreign key');
  if (!c) return;
  const key = pick(r, [
    '../../../../etc/passwd',
    '/etc/passwd',
    `topics/${ctx.fuzzTopic}/../../../../etc/passwd`,
    `_meta/topics/${ctx.goodTopic}.json`,
    `${ctx.object.key}/../../../_meta/topics/${ctx.goodTopic}.json`,
    `${ctx.object.key}\0`,
    '',
    '.',
    `${ctx.object.key.replaceAll('/', '\\')}`,
  ]);
  const res = await c.request(ApiKey.ReadObject, { key, offset: 0, length: 4096 }, 1, 10_000);
  if (res?.errorCode === 0) ctx.violations.push(`ReadObject served the foreign key ${JSON.stringify(key)}`);
  ctx.count('foreign ReadObject key');
  c.destroy();
};

/** Many connections at once: some ask ApiVersions, some close at once, some reset mid-frame. */
export const connectionChurnProbe: Probe = async (ctx) => {
  const r = ctx.random;
  const n = int(r, 5, 25);
  const plans = Array.from({ length: n }, () => int(r, 0, 2));
  await Promise.all(
    plans.map(async (plan) => {
      const c = await open(ctx, 'churn');
      if (!c) return;
      if (plan === 0) {
        const res = await c.request(ApiKey.ApiVersions, { clientId: 'churn', versions: [] }, 1, 10_000);
        if (res?.errorCode !== 0) {
          ctx.violations.push(`churn: ApiVersions got ${res ? errorCodeName(res.errorCode) : 'no answer'}`);
        }
      } else if (plan === 2) {
        await c.write(RawConnection.frame(ApiKey.Metadata, 1, 1, Buffer.alloc(0)).subarray(0, 6));
        c.reset();
      }
      c.destroy();
    }),
  );
  ctx.count('connection churn');
};

export const PROTOCOL_PROBES: readonly { name: string; weight: number; run: Probe }[] = [
  { name: 'random bytes', weight: 3, run: randomBytesProbe },
  { name: 'absurd length', weight: 2, run: absurdLengthProbe },
  { name: 'truncated frame', weight: 2, run: truncatedFrameProbe },
  { name: 'unknown api', weight: 1, run: unknownApiProbe },
  { name: 'damaged request', weight: 5, run: damagedRequestProbe },
  { name: 'hostile chunk', weight: 4, run: hostileChunkProbe },
  { name: 'connection churn', weight: 1, run: connectionChurnProbe },
  { name: 'foreign key', weight: 1, run: foreignKeyProbe },
];

/** A protocol probe drawn by weight. */
export function pickProbe(r: () => number): (typeof PROTOCOL_PROBES)[number] {
  let x = r() * PROTOCOL_PROBES.reduce((n, p) => n + p.weight, 0);
  for (const p of PROTOCOL_PROBES) {
    x -= p.weight;
    if (x < 0) return p;
  }
  return PROTOCOL_PROBES[0]!;
}
