import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AclEntry, AclSet, type Principal } from '@barge/core';
import {
  API,
  createMetadataRequest,
  createOffsetFetchRequest,
  createProduceRequest,
  type MetadataResponse,
  type OffsetFetchResponse,
  type ProduceResponse,
} from '@barge/kafka-protocol';
import { pino } from 'pino';
import { AccessControl } from '../auth/access-control.js';
import { BrokerMetrics } from '../metrics.js';
import { guardApi } from './kafka-acl.js';
import { KAFKA_ACL_RULES } from './kafka-acl-rules.js';
import { type KafkaApi, KafkaError, type KafkaRequestContext } from './kafka-api.js';
import type { KafkaConnection } from './kafka-connection.js';

const allow = (principal: string, operation: AclEntry['operation'], type: 'topic' | 'group', name: string) =>
  ({ principal, operation, permission: 'allow', resource: { type, name, pattern: 'literal' } }) as AclEntry;

/** Runs `apiKey`'s rule for `principal` in front of an API that answers with `answer(req)`. */
async function guarded<Req, Res>(
  apiKey: number,
  acls: AclEntry[],
  req: Req,
  answer: (req: Req) => Res,
  apiVersion = 9,
): Promise<{ res: Res | undefined; served: Req | undefined; failed: string | undefined }> {
  const metrics = new BrokerMetrics();
  const access = new AccessControl({ acls: () => new AclSet(acls), member: () => undefined, metrics });
  let served: Req | undefined;
  let failed: string | undefined;
  const principal: Principal = { name: 'alice', method: 'SCRAM-SHA-256' };
  const conn = { principal, log: pino({ level: 'silent' }), fail: (m: string) => (failed = m) };
  const inner = {
    apiKey,
    name: `api-${apiKey}`,
    versions: [0, 20],
    decode: () => undefined,
    encode: () => {},
    handle: (r: unknown) => {
      served = r as Req;
      return answer(r as Req);
    },
  } as unknown as KafkaApi;
  const api = guardApi(inner, KAFKA_ACL_RULES.get(apiKey), access, metrics);
  const ctx: KafkaRequestContext = {
    conn: conn as unknown as KafkaConnection,
    apiVersion,
    correlationId: 1,
    clientId: 't',
  };
  const res = (await api.handle(req, ctx)) as Res | undefined;
  return { res, served, failed };
}

describe('Kafka listener ACL rules', () => {
  it('every API the wire codecs know has a rule (a new API cannot skip the decision)', () => {
    for (const api of Object.values(API))
      assert.ok(KAFKA_ACL_RULES.has(api.apiKey), `${api.name} has no ACL rule`);
  });

  it('Produce: a topic without write is answered TOPIC_AUTHORIZATION_FAILED and never written; the others are', async () => {
    const req = createProduceRequest({
      acks: -1,
      topicData: [
        { name: 'mine', topicId: Buffer.alloc(16), partitionData: [{ index: 0, records: Buffer.alloc(1) }] },
        {
          name: 'theirs',
          topicId: Buffer.alloc(16),
          partitionData: [{ index: 1, records: Buffer.alloc(1) }],
        },
      ],
    });
    const { res, served } = await guarded<typeof req, ProduceResponse>(
      0,
      [allow('alice', 'write', 'topic', 'mine')],
      req,
      (r) => ({
        throttleTimeMs: 0,
        nodeEndpoints: [],
        responses: r.topicData.map((t) => ({ name: t.name, topicId: t.topicId, partitionResponses: [] })),
      }),
    );
    assert.deepEqual(
      served?.topicData.map((t) => t.name),
      ['mine'],
    );
    const theirs = res?.responses.find((t) => t.name === 'theirs');
    assert.equal(theirs?.partitionResponses[0]?.errorCode, KafkaError.TOPIC_AUTHORIZATION_FAILED);
    assert.match(
      String(theirs?.partitionResponses[0]?.errorMessage),
      /principal "alice" may not write topic "theirs"/,
    );
    assert.ok(res?.responses.some((t) => t.name === 'mine'));
  });

  it('Produce with acks=0 and a refused topic closes the connection and writes nothing', async () => {
    const req = createProduceRequest({
      acks: 0,
      topicData: [{ name: 'theirs', topicId: Buffer.alloc(16), partitionData: [] }],
    });
    const { res, served, failed } = await guarded(0, [], req, () => ({}));
    assert.equal(res, undefined);
    assert.equal(served, undefined);
    assert.match(String(failed), /may not write topic "theirs"/);
  });

  it('Metadata: all topics are filtered to those it may describe; a named one it may not is refused', async () => {
    const topic = (name: string) => ({
      errorCode: 0,
      name,
      topicId: Buffer.alloc(16),
      isInternal: false,
      partitions: [],
      topicAuthorizedOperations: 0,
    });
    const answer = (r: { topics: { name: string | null }[] | null }) =>
      ({
        topics: (r.topics?.map((t) => t.name!) ?? ['mine', 'theirs']).map(topic),
      }) as unknown as MetadataResponse;
    const acls = [allow('alice', 'read', 'topic', 'mine')];
    const all = await guarded(3, acls, createMetadataRequest({ topics: null }), answer);
    assert.deepEqual(
      all.res?.topics.map((t) => t.name),
      ['mine'],
    );
    const named = await guarded(
      3,
      acls,
      createMetadataRequest({ topics: [{ name: 'theirs', topicId: Buffer.alloc(16) }] }),
      answer,
    );
    assert.deepEqual(named.served?.topics, []);
    assert.deepEqual(
      named.res?.topics.map((t) => [t.name, t.errorCode]),
      [['theirs', KafkaError.TOPIC_AUTHORIZATION_FAILED]],
    );
  });

  it('OffsetFetch v8: a group it may not describe is GROUP_AUTHORIZATION_FAILED; others are served', async () => {
    const req = createOffsetFetchRequest({
      groups: [
        { groupId: 'g-mine', memberId: null, memberEpoch: -1, topics: null },
        { groupId: 'g-theirs', memberId: null, memberEpoch: -1, topics: null },
      ],
    });
    const { res, served } = await guarded<typeof req, OffsetFetchResponse>(
      9,
      [allow('alice', 'read', 'group', 'g-mine')],
      req,
      (r) => ({
        throttleTimeMs: 0,
        topics: [],
        errorCode: 0,
        groups: r.groups.map((g) => ({ groupId: g.groupId, topics: [], errorCode: 0 })),
      }),
    );
    assert.deepEqual(
      served?.groups.map((g) => g.groupId),
      ['g-mine'],
    );
    assert.deepEqual(
      res?.groups.map((g) => [g.groupId, g.errorCode]),
      [
        ['g-mine', 0],
        ['g-theirs', KafkaError.GROUP_AUTHORIZATION_FAILED],
      ],
    );
  });

  it('InitProducerId needs write on some topic (or the cluster): else CLUSTER_AUTHORIZATION_FAILED', async () => {
    const req = { transactionalId: null };
    const ok = await guarded(22, [allow('alice', 'write', 'topic', 'mine')], req, () => ({ errorCode: 0 }));
    assert.deepEqual(ok.res, { errorCode: 0 });
    const refused = await guarded(22, [allow('alice', 'read', 'topic', 'mine')], req, () => ({
      errorCode: 0,
    }));
    assert.equal(refused.served, undefined);
    assert.equal((refused.res as { errorCode: number }).errorCode, KafkaError.CLUSTER_AUTHORIZATION_FAILED);
  });
});
