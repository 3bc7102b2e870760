import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ClusterMetadata, type MetadataResponse, NO_OWNER, type TopicInfo } from '@barge/core';
import { brokerAddress, clusterBrokerAddresses } from '../cluster-brokers.js';
import { OwnerTable } from './owner-table.js';

function topic(name: string, writePartitions: number): TopicInfo {
  return {
    name,
    writePartitions,
    readPartitions: 1,
    batch: { maxBytes: 1024, maxMessages: 10, maxDelayMs: 10 },
    compression: 'none',
  };
}

const A = { brokerId: 1, host: '10.0.0.1', port: 7070 };
const B = { brokerId: 2, host: '10.0.0.2', port: 7071 };

function answer(
  topics: TopicInfo[],
  cluster?: ClusterMetadata,
): Pick<MetadataResponse, 'topics' | 'cluster'> {
  return cluster ? { topics, cluster } : { topics };
}

describe('OwnerTable', () => {
  it('routes to the owner named by a cluster of several brokers', () => {
    const t = new OwnerTable();
    t.update(answer([topic('x', 3)], { clusterId: 'c', brokers: [A, B], owners: [[1, 2, NO_OWNER]] }));
    assert.equal(t.routes, true);
    assert.equal(t.ownerOf('x', 0), '10.0.0.1:7070');
    assert.equal(t.ownerOf('x', 1), '10.0.0.2:7071');
    assert.equal(t.ownerOf('x', 2), undefined, 'NO_OWNER: the bootstrap connection');
    assert.equal(t.ownerOf('x', 3), undefined, 'a write partition the answer did not list');
    assert.equal(t.ownerOf('y', 0), undefined, 'a topic not described yet');
  });

  it('does not route without a cluster: a v1 answer, a broker without clustering, a cluster of one', () => {
    const t = new OwnerTable();
    t.update(answer([topic('x', 1)]));
    assert.equal(t.ownerOf('x', 0), undefined);
    t.update(answer([topic('x', 1)], { clusterId: '', brokers: [A], owners: [[1]] }));
    assert.equal(t.ownerOf('x', 0), undefined);
    t.update(answer([topic('x', 1)], { clusterId: 'c', brokers: [A], owners: [[1]] }));
    assert.equal(t.routes, false);
    assert.equal(t.ownerOf('x', 0), undefined);
  });

  it('an answer for some topics keeps the owners of the others; the broker list is the latest', () => {
    const t = new OwnerTable();
    t.update(answer([topic('x', 1), topic('y', 1)], { clusterId: 'c', brokers: [A, B], owners: [[1], [2]] }));
    t.update(answer([topic('x', 1)], { clusterId: 'c', brokers: [A, B], owners: [[2]] }));
    assert.equal(t.ownerOf('x', 0), '10.0.0.2:7071');
    assert.equal(t.ownerOf('y', 0), '10.0.0.2:7071');
    // Broker 2 left: its write partitions have no known address until the next answer.
    const C = { brokerId: 3, host: 'c.internal', port: 7072 };
    t.update(answer([topic('x', 1)], { clusterId: 'c', brokers: [A, C], owners: [[3]] }));
    assert.equal(t.ownerOf('x', 0), 'c.internal:7072');
    assert.equal(t.ownerOf('y', 0), undefined);
  });

  it('forget drops one topic, and an answer without clustering drops everything', () => {
    const t = new OwnerTable();
    const cluster = { clusterId: 'c', brokers: [A, B], owners: [[1], [2]] };
    t.update(answer([topic('x', 1), topic('y', 1)], cluster));
    t.forget('x');
    assert.equal(t.ownerOf('x', 0), undefined);
    assert.equal(t.ownerOf('y', 0), '10.0.0.2:7071');
    t.update(answer([topic('y', 1)]));
    assert.equal(t.ownerOf('y', 0), undefined);
  });

  it('broker addresses: IPv6 hosts in brackets; only a cluster teaches addresses', () => {
    assert.equal(brokerAddress({ host: '::1', port: 7070 }), '[::1]:7070');
    assert.equal(brokerAddress({ host: 'b1.internal', port: 7070 }), 'b1.internal:7070');
    assert.deepEqual(clusterBrokerAddresses({ cluster: { clusterId: 'c', brokers: [A, B], owners: [] } }), [
      '10.0.0.1:7070',
      '10.0.0.2:7071',
    ]);
    assert.equal(clusterBrokerAddresses({ cluster: { clusterId: '', brokers: [A], owners: [] } }), undefined);
    assert.equal(clusterBrokerAddresses({}), undefined);
  });
});
