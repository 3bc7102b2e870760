import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EmbeddedPointerQueue } from '@barge/pointers-embedded';
import { testPointer } from '@barge/testkit';
import { Registry } from 'prom-client';
import { ControlledPointerQueue } from '../test-helpers.js';
import { GroupLagGauges } from './group-lag-gauges.js';

/** The value of one series in a scrape, undefined when absent. */
function series(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('GroupLagGauges: consumer lag in /metrics, computed on scrape from the pointer queue', () => {
  let dir: string;
  let inner: EmbeddedPointerQueue;
  let queue: ControlledPointerQueue;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'barge-lag-gauges-'));
    inner = new EmbeddedPointerQueue({ path: join(dir, 'pointers.sqlite') });
    queue = new ControlledPointerQueue(inner);
    // Topic "t", 2 read partitions: write partition 0 → read partition 0 (4 pointers of 10
    // messages), write partition 1 → read partition 1 (2 pointers of 10).
    await inner.ensureTopic('t', 2);
    const ptr = (wp: number, s: number) => testPointer('t', wp, s, { messageCount: 10 });
    await inner.publish('t', [ptr(0, 0), ptr(0, 1), ptr(0, 2), ptr(0, 3), ptr(1, 0), ptr(1, 1)]);
    const c = await inner.subscribe({ group: 'readers', topic: 't' });
    // Read 1 pointer and 3 messages of the next on partition 0; all of partition 1.
    await c.commit([
      { partition: 0, offset: 1, messageIndex: 3 },
      { partition: 1, offset: 2 },
    ]);
    await c.close();
  });
  after(async () => {
    await inner.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('exports lag in pointers and messages per group, topic and read partition', async () => {
    const registry = new Registry();
    const gauges = new GroupLagGauges(registry);
    assert.doesNotMatch(await registry.metrics(), /^barge_group_lag_pointers\{/m, 'nothing before watch');
    gauges.watch(queue);
    const text = await registry.metrics();
    const p0 = 'group="readers",topic="t",partition="0"';
    const p1 = 'group="readers",topic="t",partition="1"';
    assert.equal(series(text, 'barge_group_lag_pointers', p0), 3);
    assert.equal(series(text, 'barge_group_lag_messages', p0), 27);
    assert.equal(series(text, 'barge_group_lag_pointers', p1), 0);
    assert.equal(series(text, 'barge_group_lag_messages', p1), 0);
  });

  it('computes at most every cacheMs, caps the series, and a stalled queue does not stall the scrape', async () => {
    const registry = new Registry();
    const limits = { cacheMs: 60_000, scrapeWaitMs: 300, maxGroups: 10, maxSeries: 1 };
    const gauges = new GroupLagGauges(registry, limits);
    gauges.watch(queue);
    let text = await registry.metrics();
    assert.equal(text.match(/^barge_group_lag_pointers\{/gm)?.length, 1, 'maxSeries caps the series');

    // Within cacheMs the queue is not asked again: a queue that never answers changes nothing.
    queue.listGroups = () => new Promise(() => {});
    text = await registry.metrics();
    assert.equal(series(text, 'barge_group_lag_messages', 'group="readers",topic="t",partition="0"'), 27);

    // A fresh gauge on the stalled queue: the scrape answers after scrapeWaitMs, without lag.
    const stalled = new Registry();
    new GroupLagGauges(stalled, { ...limits, cacheMs: 0 }).watch(queue);
    const started = Date.now();
    text = await stalled.metrics();
    assert.ok(Date.now() - started < 2000, `scrape took ${Date.now() - started} ms`);
    assert.doesNotMatch(text, /^barge_group_lag_pointers\{/m);
  });
});
