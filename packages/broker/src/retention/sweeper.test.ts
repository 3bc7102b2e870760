import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ApiKey, type BrokerConfigInput, listAll, type TopicConfig } from '@barge/core';
import { batchKey, hedgeKey, orphanMetaKey } from '../keys.js';
import { type Harness, ok, produceRequest, readAllPointers, startHarness } from '../test-helpers.js';

const harnesses: Harness[] = [];
after(async () => {
  await Promise.all(harnesses.map((h) => h.dispose()));
});

/** Grace and skew small enough for a test: objects settle 600 ms after they are stored. */
const FAST: BrokerConfigInput = {
  retention: { intervalMs: 3_600_000, orphanGraceMs: 600, clockSkewMs: 0 },
  upload: { pointerRetryBudgetMs: 300, backoffBaseMs: 5, backoffMaxMs: 50 },
};
const SETTLE_MS = 800;

async function harness(topic: BrokerConfigInput['topics']): Promise<Harness> {
  const h = await startHarness({ ...FAST, topics: topic });
  harnesses.push(h);
  return h;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function produce(h: Harness, topic: string, values: string[]): Promise<void> {
  const c = await h.client();
  ok(await c.request(ApiKey.Produce, produceRequest(topic, values)));
}

async function batchObjects(h: Harness, topic: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of listAll(h.storage, `topics/${topic}/`)) out.push(o.key);
  return out;
}

async function liveKeys(h: Harness, topic: string): Promise<string[]> {
  return (await readAllPointers(h.pointers, topic)).map((p) => p.pointer.storage.key);
}

function topicOf(h: Harness, name: string): TopicConfig {
  const t = h.broker.topics.get(name);
  assert.ok(t);
  return t;
}

describe('retention sweeper (local storage, embedded queue)', () => {
  it('by time: trims the pointers of expired batches, then deletes their objects; newer ones stay', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 5 }, retention: { ms: 1000 } }]);
    await produce(h, 't', ['old']);
    const [oldKey] = await liveKeys(h, 't');
    await sleep(1300);
    await produce(h, 't', ['new']);
    await sleep(SETTLE_MS);
    const sweep = await h.broker.retention.sweepTopic(topicOf(h, 't'));
    assert.equal(sweep.pointersTrimmed, 1);
    assert.deepEqual(sweep.retentionDeleted, [oldKey]);
    const live = await liveKeys(h, 't');
    assert.equal(live.length, 1);
    assert.deepEqual(await batchObjects(h, 't'), live);
    assert.deepEqual(await h.pointers.watermarks('t', 0), { low: 1, high: 2 });
    const metrics = await h.broker.metrics.registry.metrics();
    assert.match(metrics, /barge_retention_deleted_objects_total\{topic="t"\} 1/);
  });

  it('without retention nothing is deleted, however old', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 5 } }]);
    await produce(h, 't', ['a']);
    await produce(h, 't', ['b']);
    await sleep(SETTLE_MS);
    const sweep = await h.broker.retention.sweepTopic(topicOf(h, 't'));
    assert.deepEqual(sweep, {
      topic: 't',
      pointersTrimmed: 0,
      retentionDeleted: [],
      orphansDeleted: [],
      orphansWaiting: [],
      uploadsAborted: [],
    });
    assert.equal((await batchObjects(h, 't')).length, 2);
  });

  it('by bytes: keeps the newest objects within retention.bytes', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 5 }, retention: { bytes: 1 } }]);
    for (const v of ['a', 'b', 'c']) {
      await produce(h, 't', [v.repeat(100)]);
      await sleep(20);
    }
    const keys = await liveKeys(h, 't');
    const sizes = (await readAllPointers(h.pointers, 't')).map((p) => p.pointer.objectSize);
    // Keep the last two batches' bytes exactly.
    const topic = { ...topicOf(h, 't'), retention: { bytes: sizes[1]! + sizes[2]! } };
    await sleep(SETTLE_MS);
    const sweep = await h.broker.retention.sweepTopic(topic);
    assert.deepEqual(sweep.retentionDeleted, [keys[0]]);
    assert.deepEqual(await batchObjects(h, 't'), keys.slice(1));
    assert.deepEqual(await liveKeys(h, 't'), keys.slice(1));
  });

  it('never deletes an object a live pointer reaches, even when retention selects it', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 5 } }]);
    await produce(h, 't', ['a']);
    const keys = await liveKeys(h, 't');
    await sleep(SETTLE_MS);
    // Selected by retention, but the broker trims only through `deleteBefore`: hide it.
    const deleteBefore = h.pointers.deleteBefore;
    Object.assign(h.pointers, { deleteBefore: undefined });
    try {
      const sweep = await h.broker.retention.sweepTopic({ ...topicOf(h, 't'), retention: { ms: 1 } });
      assert.deepEqual(sweep.retentionDeleted, []);
    } finally {
      Object.assign(h.pointers, { deleteBefore });
    }
    assert.deepEqual(await batchObjects(h, 't'), keys);
  });
});

describe('orphan collection (local storage, embedded queue)', () => {
  it('collects marker, crash and hedge-loser orphans after the grace period, and nothing younger', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 5 } }]);
    await produce(h, 't', ['first']);
    const [live] = await liveKeys(h, 't');
    assert.ok(live);
    const body = Buffer.from('not a batch');
    // Publication given up: an object with a marker, no pointer.
    const marked = batchKey('t', 0, 10, 1);
    await h.storage.put(marked, body);
    await h.storage.put(orphanMetaKey(marked), Buffer.from('{}'));
    // A crash between put and publish: an object, no marker, no pointer (a sequence after the live one).
    const crashed = batchKey('t', 0, 11, 1);
    await h.storage.put(crashed, body);
    // A losing hedged attempt of the live batch.
    const loser = hedgeKey(live, 1);
    await h.storage.put(loser, body);
    await produce(h, 't', ['later']);

    const young = await h.broker.retention.sweepTopic(topicOf(h, 't'));
    assert.deepEqual(young.orphansDeleted, [], 'nothing younger than the grace period is touched');
    assert.deepEqual(young.orphansWaiting, [marked]);
    assert.match(await h.broker.metrics.registry.metrics(), /barge_orphan_objects\{topic="t"\} 1/);

    await sleep(SETTLE_MS);
    const sweep = await h.broker.retention.sweepTopic(topicOf(h, 't'));
    assert.deepEqual(sweep.orphansDeleted.sort(), [marked, crashed, loser].sort());
    const remaining = await batchObjects(h, 't');
    assert.deepEqual(remaining, (await liveKeys(h, 't')).sort());
    assert.equal(remaining.length, 2);
    await assert.rejects(h.storage.head(orphanMetaKey(marked)), { code: 'NOT_FOUND' });
    const metrics = await h.broker.metrics.registry.metrics();
    assert.match(metrics, /barge_orphans_collected_objects_total\{topic="t"\} 3/);
    assert.match(metrics, /barge_orphan_objects\{topic="t"\} 0/);
  });

  it('keeps an object whose pointer expired from the queue when the topic keeps data forever', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 5 } }]);
    await produce(h, 't', ['a']);
    await produce(h, 't', ['b']);
    const [expired] = await liveKeys(h, 't');
    // The queue's own retention dropped the first pointer: unreferenced, no marker, older than every live pointer.
    await h.pointers.deleteBefore!('t', 0, 1);
    await sleep(SETTLE_MS);
    const sweep = await h.broker.retention.sweepTopic(topicOf(h, 't'));
    assert.deepEqual(sweep.orphansDeleted, []);
    assert.equal((await batchObjects(h, 't')).length, 2);
    assert.ok((await batchObjects(h, 't')).includes(expired!));
  });
});
