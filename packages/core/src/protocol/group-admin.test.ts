import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiKey, decodeRequestBody, decodeResponseBody, encodeRequest, encodeResponse } from './api.js';
import type { ResetOffsetsRequest, ResetTarget } from './group-admin.js';
import { joinParts, ProtocolError } from './wire.js';

const requestBody = <K extends ApiKey>(k: K, body: Parameters<typeof encodeRequest<K>>[3]) =>
  joinParts(encodeRequest(k, 1, 1, body)).subarray(12);

describe('group admin apis', () => {
  it('ResetOffsets carries every target kind', () => {
    const targets: ResetTarget[] = [
      { to: 'earliest' },
      { to: 'latest' },
      { to: 'timestamp', timestamp: 1_700_000_000_000 },
      { to: 'offset', offset: 2 ** 40 },
    ];
    for (const target of targets) {
      const req: ResetOffsetsRequest = { group: 'g', topic: 't', target, partitions: [], execute: false };
      assert.deepEqual(decodeRequestBody(ApiKey.ResetOffsets, 1, requestBody(ApiKey.ResetOffsets, req)), req);
    }
  });

  it('ListGroups and DescribeGroup without a topic mean every topic', () => {
    assert.deepEqual(decodeRequestBody(ApiKey.ListGroups, 1, requestBody(ApiKey.ListGroups, {})), {});
    assert.deepEqual(
      decodeRequestBody(ApiKey.DescribeGroup, 1, requestBody(ApiKey.DescribeGroup, { group: 'g' })),
      { group: 'g' },
    );
  });

  it('unknown enum values and a negative target offset are malformed', () => {
    const body = requestBody(ApiKey.ResetOffsets, {
      group: 'g',
      topic: 't',
      target: { to: 'offset', offset: 5 },
      partitions: [],
      execute: true,
    });
    const badTarget = Buffer.from(body);
    badTarget[6] = 9; // group "g" (3 bytes), topic "t" (3 bytes), then the target byte
    assert.throws(() => decodeRequestBody(ApiKey.ResetOffsets, 1, badTarget), /target 9 is unknown/);
    const negative = Buffer.from(body);
    negative.writeBigInt64BE(-1n, 7);
    assert.throws(() => decodeRequestBody(ApiKey.ResetOffsets, 1, negative), /target offset must be >= 0/);
    assert.throws(
      () =>
        encodeRequest(ApiKey.ResetOffsets, 1, 1, {
          group: 'g',
          topic: 't',
          target: { to: 'newest' } as unknown as ResetTarget,
          partitions: [],
          execute: true,
        }),
      ProtocolError,
    );
    const status = joinParts(
      encodeResponse(ApiKey.ListGroups, 1, 1, {
        groups: [{ group: 'g', status: 'empty', members: 0, topics: [] }],
      }),
    ).subarray(10);
    const badStatus = Buffer.from(status);
    badStatus[4 + 3] = 3; // groups count, group "g", then the status byte
    assert.throws(() => decodeResponseBody(ApiKey.ListGroups, 1, badStatus), /status 3 is unknown/);
  });
});
