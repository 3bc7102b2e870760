import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterMember } from '@barge/core';
import type { Cluster, Logger } from 'kafkajs';
import { clusterAssigner, decodeAssignment } from './assignor.js';

// Pure logic: what members join the cluster group with, and what the leader hands back.

function assignerFor(self: ClusterMember) {
  return clusterAssigner({
    self: () => self,
    owned: () => [],
    generation: () => 0,
    topics: async () => [{ topic: 't', writePartitions: 4 }],
    kafkaTopic: 'cluster-topic',
  })({ cluster: {} as Cluster, groupId: 'g', logger: {} as Logger });
}

describe('cluster group assignor', () => {
  it("passes every member's Kafka listener to every member; members without one have none", async () => {
    const withKafka: ClusterMember = {
      brokerId: 1,
      host: 'b1',
      port: 7070,
      kafka: { host: 'b1.kafka', port: 9092 },
    };
    const without: ClusterMember = { brokerId: 2, host: 'b2', port: 7070 };
    const members = [withKafka, without].map((m, i) => ({
      memberId: `m${i}`,
      memberMetadata: assignerFor(m).protocol({ topics: ['cluster-topic'] }).metadata,
    }));
    const assignments = await assignerFor(withKafka).assign({ members, topics: ['cluster-topic'] });
    const decoded = decodeAssignment(assignments[1]!.memberAssignment);
    assert.deepEqual(decoded?.members, [withKafka, without]);
    assert.deepEqual(decoded?.owners.t, [1, 1, 2, 2]);
  });
});
