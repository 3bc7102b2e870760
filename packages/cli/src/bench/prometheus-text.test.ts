import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetricSums, parsePrometheusText } from './prometheus-text.js';

const TEXT = `# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 1.25

barge_storage_put_seconds_bucket{le="0.005",adapter="local"} 3
barge_storage_put_seconds_count{adapter="local"} 7
barge_storage_put_seconds_count{adapter="s3"} 5
barge_batches_closed_total{reason="max_delay"} 4 1700000000000
barge_build_info{version="1.0.0",storage="a \\"quoted\\" name"} 1
nodejs_heap_space_size_total_bytes{space="new"} +Inf
not a metric line
`;

describe('parsePrometheusText', () => {
  it('reads names, labels (escapes too), values and skips comments, blanks and junk', () => {
    const samples = parsePrometheusText(TEXT);
    assert.equal(samples.length, 7);
    assert.deepEqual(samples[0], { name: 'process_cpu_seconds_total', labels: {}, value: 1.25 });
    assert.deepEqual(samples[1]?.labels, { le: '0.005', adapter: 'local' });
    assert.equal(samples[4]?.value, 4, 'the timestamp is not the value');
    assert.equal(samples[5]?.labels.storage, 'a "quoted" name');
    assert.equal(samples[6]?.value, Number.POSITIVE_INFINITY);
  });

  it('sums a metric over its label sets', () => {
    const sums = new MetricSums(parsePrometheusText(TEXT));
    assert.equal(sums.get('barge_storage_put_seconds_count'), 12);
    assert.equal(sums.get('process_cpu_seconds_total'), 1.25);
    assert.equal(sums.get('absent_total'), undefined);
  });
});
