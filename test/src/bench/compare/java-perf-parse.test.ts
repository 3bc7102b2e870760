import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONSUMER_COMPLETE, CONSUMER_TIMED_OUT, PRODUCER_1KIB, PRODUCER_100B } from './java-perf-fixtures.js';
import { parseConsumerPerformance, parseProducerPerformance } from './java-perf-parse.js';

describe('ProducerPerformance output', () => {
  it('takes the summary line apart and keeps the progress lines separately', () => {
    const out = parseProducerPerformance(PRODUCER_1KIB);
    assert.deepEqual(out.summary, {
      records: 300000,
      recordsPerSecond: 14723.9,
      mibPerSecond: 14.38,
      avgLatencyMs: 1759.22,
      maxLatencyMs: 3785,
      p50Ms: 1669,
      p95Ms: 3050,
      p99Ms: 3538,
      p999Ms: 3687,
    });
    assert.equal(out.intervals.length, 4);
    assert.deepEqual(out.intervals[1], {
      records: 103402,
      recordsPerSecond: 20573.4,
      mibPerSecond: 20.09,
      avgLatencyMs: 1677.5,
      maxLatencyMs: 2923,
    });
  });

  it('reads a run that ended inside its first reporting interval', () => {
    const out = parseProducerPerformance(PRODUCER_100B);
    assert.equal(out.intervals.length, 0);
    assert.equal(out.summary.records, 100000);
    assert.equal(out.summary.p99Ms, 222);
  });

  it('refuses output without a summary (a run that died half-way)', () => {
    const progressOnly = PRODUCER_1KIB.split('\n').slice(0, 4).join('\n');
    assert.throws(() => parseProducerPerformance(progressOnly), /no ProducerPerformance summary/);
  });
});

describe('ConsumerPerformance output', () => {
  it('maps the columns by the header line', () => {
    assert.deepEqual(parseConsumerPerformance(CONSUMER_COMPLETE), {
      startTime: '2026-12-03 09:34:56:691',
      endTime: '2026-12-03 09:35:02:165',
      mib: 204.8492,
      mibPerSecond: 37.4222,
      messages: 300000,
      messagesPerSecond: 54804.5305,
      rebalanceMs: 890,
      fetchMs: 4584,
      fetchMibPerSecond: 44.6879,
      fetchMessagesPerSecond: 65445.0262,
      warning: null,
    });
  });

  it('keeps the timeout warning and the figures printed after it', () => {
    const out = parseConsumerPerformance(CONSUMER_TIMED_OUT);
    assert.match(out.warning ?? '', /Exiting before consuming the expected number of messages/);
    assert.equal(out.messages, 600000);
    assert.equal(out.fetchMibPerSecond, 34.9886);
  });

  it('refuses a header without its data line', () => {
    assert.throws(
      () => parseConsumerPerformance(CONSUMER_COMPLETE.split('\n')[0]!),
      /no ConsumerPerformance data/,
    );
  });
});
