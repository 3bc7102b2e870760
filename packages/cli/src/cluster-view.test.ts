import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type MetadataResponse, NO_OWNER, type TopicInfo } from '@barge/core';
import { clusterText, clusterView } from './cluster-view.js';

const batch = { maxBytes: 8 << 20, maxMessages: 100_000, maxDelayMs: 250 };
const topic = (name: string, writePartitions: number): TopicInfo => ({
  name,
  writePartitions,
  readPartitions: 1,
  batch,
  compression: 'none',
});

/** A Metadata response of broker 2, as version 1 decodes it (no cluster section). */
const v1: MetadataResponse = {
  brokerId: 2,
  storage: { adapter: 's3', location: 'bucket' },
  pointers: { adapter: 'kafka' },
  maxFrameBytes: 16 << 20,
  maxReadBytes: (16 << 20) - 64,
  maxMessagesPerRequest: 100_000,
  topics: [topic('logs', 3), topic('events', 2)],
};

describe('clusterView', () => {
  it('lists the brokers by id, counts the write partitions each owns and marks the one that answered', () => {
    const v = clusterView(
      {
        ...v1,
        cluster: {
          clusterId: 'prod',
          // In any order: the view lists them by id.
          brokers: [
            { brokerId: 2, host: 'b2.internal', port: 7070 },
            { brokerId: 1, host: 'b1.internal', port: 7070 },
          ],
          owners: [
            [1, 2, 1],
            [2, 2],
          ],
        },
      },
      'b2.internal:7070',
    );
    assert.deepEqual(v, {
      clusterId: 'prod',
      answeredBy: 2,
      brokers: [
        { brokerId: 1, host: 'b1.internal', port: 7070, writePartitions: 2, answered: false },
        { brokerId: 2, host: 'b2.internal', port: 7070, writePartitions: 3, answered: true },
      ],
      topics: [
        { name: 'logs', writePartitions: 3, owners: [1, 2, 1] },
        { name: 'events', writePartitions: 2, owners: [2, 2] },
      ],
      rebalancing: false,
    });
    assert.equal(
      clusterText(v),
      [
        'cluster prod: 2 brokers, 5 write partitions in 2 topics; answered by broker 2',
        '',
        'BROKER  ADDRESS           WRITE-PARTITIONS  ANSWERED',
        '1       b1.internal:7070  2',
        '2       b2.internal:7070  3                 yes',
        '',
        'TOPIC   WRITE-PARTITIONS  OWNERS (broker of write partition 0, 1, …)',
        'logs    3                 1,2,1',
        'events  2                 2,2',
        '',
      ].join('\n'),
    );
  });

  it('shows NO_OWNER (and missing entries) as "-" with the rebalancing note', () => {
    const v = clusterView(
      {
        ...v1,
        cluster: {
          clusterId: 'prod',
          brokers: [{ brokerId: 2, host: 'b2.internal', port: 7070 }],
          owners: [[2, NO_OWNER], []],
        },
      },
      'b2.internal:7070',
    );
    assert.deepEqual(
      v.topics.map((t) => t.owners),
      [
        [2, null, null],
        [null, null],
      ],
    );
    assert.equal(v.rebalancing, true);
    assert.equal(v.brokers[0]?.writePartitions, 1);
    const text = clusterText(v);
    assert.match(text, /^logs {4}3 {17}2,-,-$/m);
    assert.match(text, /^-: no owner now: the cluster is rebalancing/m);
  });

  it('reads a version 1 answer as one broker without clustering that owns everything', () => {
    const v = clusterView(v1, '10.0.0.5:7070');
    assert.equal(v.clusterId, null);
    assert.deepEqual(v.brokers, [
      { brokerId: 2, host: '10.0.0.5', port: 7070, writePartitions: 5, answered: true },
    ]);
    assert.deepEqual(
      v.topics.map((t) => t.owners),
      [
        [2, 2, 2],
        [2, 2],
      ],
    );
    assert.match(
      clusterText(v),
      /^cluster \(none\): 1 broker, 5 write partitions in 2 topics; answered by broker 2$/m,
    );
  });
});
