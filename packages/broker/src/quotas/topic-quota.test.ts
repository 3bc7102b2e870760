import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseBrokerConfig } from '@barge/core';
import { EmbeddedPointerQueue } from '@barge/pointers-embedded';
import { LocalStorage } from '@barge/storage-local';
import { BrokerMetrics } from '../metrics.js';
import { silent } from '../test-helpers.js';
import { TopicRegistry } from '../topics.js';
import { QuotaManager } from './quota-manager.js';
import { TopicQuota } from './topic-quota.js';

/** Two brokers' topic registries on one storage: the topics quota counts what either created. */
describe('topics quota', () => {
  let dir: string;
  let storage: LocalStorage;
  let pointers: EmbeddedPointerQueue;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'barge-topic-quota-'));
    storage = new LocalStorage({ root: join(dir, 'objects') });
    pointers = new EmbeddedPointerQueue({ path: join(dir, 'pointers.sqlite') });
  });
  after(async () => {
    await pointers.close();
    await rm(dir, { recursive: true, force: true });
  });

  const broker = async () => {
    const topics = new TopicRegistry(storage, pointers, silent);
    await topics.load([]);
    const { quotas } = parseBrokerConfig({
      security: { quotas: { principals: { alice: { topics: 2 }, dave: { topics: 1 } } } },
    }).security;
    return { topics, quota: new TopicQuota(new QuotaManager(quotas, new BrokerMetrics()), topics, storage) };
  };
  const create = (b: Awaited<ReturnType<typeof broker>>, principal: string, name: string) =>
    b.quota.guard(principal, name, () => b.topics.create({ name }, false, principal));

  it('counts topics another broker created for the principal, and records the creator in the metadata', async () => {
    const one = await broker();
    const two = await broker(); // loaded before `one` creates anything
    await create(one, 'alice', 'a1');
    await create(one, 'bob', 'b1');
    await create(two, 'alice', 'a2');
    await assert.rejects(create(two, 'alice', 'a3'), {
      errorCode: 54,
      message:
        'principal "alice" may create at most 2 topics and created 2 (quota security.quotas.principals["alice"].topics); topic "a3" was not created',
    });
    await assert.rejects(create(one, 'alice', 'a3'), /may create at most 2 topics/);
    assert.equal(two.topics.get('a3'), undefined);
    const meta = JSON.parse(await readFile(join(dir, 'objects/_meta/topics/a1.json'), 'utf8'));
    assert.equal(meta.createdBy, 'alice');
    // A fresh load reads the creators back; bob has no quota.
    const three = await broker();
    assert.equal(three.topics.creatorOf('a2'), 'alice');
    assert.equal(three.topics.creatorOf('b1'), 'bob');
    await create(three, 'bob', 'b2');
  });

  it('counts creations still running on this broker', async () => {
    const b = await broker();
    const racing = await Promise.allSettled([create(b, 'dave', 'd1'), create(b, 'dave', 'd2')]);
    // Whichever passed the check first is created; the other is refused.
    assert.deepEqual(racing.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    const created = ['d1', 'd2'].filter((name) => b.topics.get(name));
    assert.equal(created.length, 1);
  });
});
