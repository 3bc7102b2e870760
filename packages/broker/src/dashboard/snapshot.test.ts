import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Gauge, Registry } from 'prom-client';
import { BrokerMetrics } from '../metrics.js';
import { dashboardSnapshot } from './snapshot.js';

/** The value of every sample line of `/metrics` text named `name`, summed. */
function sumOfSamples(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m?.[1] === name) total += Number(m[3]);
  }
  return total;
}

describe('dashboard snapshot (/ui/data)', () => {
  it('sums counters and gauges over their labels, as /metrics shows them', async () => {
    const m = new BrokerMetrics();
    m.produceMessages.inc({ topic: 'a' }, 10);
    m.produceMessages.inc({ topic: 'b' }, 32);
    m.produceBytes.inc({ topic: 'a' }, 1000);
    m.requestErrors.inc({ error: 'THROTTLED' }, 2);
    m.requestErrors.inc({ error: 'REQUEST_TIMED_OUT' });
    m.inFlightBytes.set(4096);
    m.orphanBytes.set({ topic: 'a' }, 100);
    m.orphanBytes.set({ topic: 'b' }, 23);

    const s = await dashboardSnapshot(m.registry);
    const text = await m.registry.metrics();
    assert.equal(s.counters.produceMessages, 42);
    assert.equal(s.counters.produceMessages, sumOfSamples(text, 'barge_produce_messages_total'));
    assert.equal(s.counters.produceBytes, 1000);
    assert.equal(s.counters.requestErrors, 3);
    assert.equal(s.counters.batchesUploaded, 0);
    assert.equal(s.gauges.inFlightBytes, 4096);
    assert.equal(s.gauges.orphanBytes, 123);
    assert.equal(s.gauges.orphanBytes, sumOfSamples(text, 'barge_orphan_bytes'));
    assert.ok(Math.abs(s.time - Date.now()) < 5000);
  });

  it('adds histograms bucket by bucket over their labels, with count and sum', async () => {
    const m = new BrokerMetrics();
    m.storagePutSeconds.observe({ adapter: 's3' }, 0.003);
    m.storagePutSeconds.observe({ adapter: 's3' }, 0.2);
    m.storagePutSeconds.observe({ adapter: 'gcs' }, 0.004);
    m.storagePutSeconds.observe({ adapter: 'gcs' }, 60);

    const h = (await dashboardSnapshot(m.registry)).histograms.storagePutSeconds;
    assert.ok(h);
    assert.equal(h.count, 4);
    assert.ok(Math.abs(h.sum - 60.207) < 1e-9);
    const at = (le: number) => h.buckets.find(([b]) => b === le)?.[1];
    assert.equal(at(0.001), 0);
    assert.equal(at(0.005), 2);
    assert.equal(at(0.25), 3);
    assert.equal(at(30), 3, 'the 60 s upload is only in +Inf, which is the count');
    assert.deepEqual(
      h.buckets.map(([le]) => le),
      [...h.buckets.map(([le]) => le)].sort((a, b) => a - b),
      'ascending bounds',
    );
    const text = await m.registry.metrics();
    assert.equal(h.count, sumOfSamples(text, 'barge_storage_put_seconds_count'));
  });

  it('gives lag per group, summed over topics and read partitions, and null for metrics not registered', async () => {
    const registry = new Registry();
    const pointers = new Gauge({
      name: 'barge_group_lag_pointers',
      help: 'lag',
      labelNames: ['group', 'topic', 'partition'],
      registers: [registry],
    });
    pointers.set({ group: 'g2', topic: 't', partition: '0' }, 3);
    pointers.set({ group: 'g1', topic: 't', partition: '0' }, 5);
    pointers.set({ group: 'g1', topic: 'u', partition: '1' }, 7);

    const s = await dashboardSnapshot(registry);
    assert.deepEqual(s.lag, [
      { group: 'g1', pointers: 12, messages: null },
      { group: 'g2', pointers: 3, messages: null },
    ]);
    assert.equal(s.counters.produceMessages, null);
    assert.equal(s.histograms.uploadSeconds, null);
    assert.equal(s.build, null);
  });

  it('has the build info labels', async () => {
    const s = await dashboardSnapshot(new BrokerMetrics().registry);
    assert.equal(s.build?.node_version, process.version);
    assert.match(s.build?.version ?? '', /^\d+\.\d+\.\d+/);
  });
});
