import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ClusterMember, NO_OWNER } from '@barge/core';
import type { OwnerCheck, WriteOwnership } from '../cluster/write-ownership.js';
import type { KafkaBrokerView } from './kafka-context.js';
import { groupCoordinator, type KafkaNode, kafkaNodes, partitionLeader } from './kafka-placement.js';

/** A view of broker `self` whose ownership answers from `members` and `owners` (pure logic). */
function view(self: number, members: ClusterMember[] | undefined, owners: number[] = []): KafkaBrokerView {
  const ownership: Pick<WriteOwnership, 'members' | 'check'> = {
    members: () => members,
    check: (_topic, wp): OwnerCheck => {
      const owner = owners[wp] ?? NO_OWNER;
      return owner === self ? { owned: true } : { owned: false, ownerId: owner, why: 'elsewhere' };
    },
  };
  return {
    brokerId: self,
    advertised: () => ({ host: '127.0.0.1', port: 9000 + self }),
    clusterId: 'c',
    topics: undefined as never,
    ownership: ownership as WriteOwnership,
  };
}

const member = (id: number, kafka = true): ClusterMember => ({
  brokerId: id,
  host: '127.0.0.1',
  port: 7000 + id,
  ...(kafka ? { kafka: { host: `b${id}.internal`, port: 9000 + id } } : {}),
});

const node = (id: number): KafkaNode => ({ nodeId: id, host: `b${id}.internal`, port: 9000 + id });

describe('Kafka placement in a cluster', () => {
  it('lists the members with a Kafka listener, by id; none before the first assignment', () => {
    assert.deepEqual(kafkaNodes(view(1, [member(3), member(1), member(2, false)])), [node(1), node(3)]);
    assert.equal(kafkaNodes(view(1, undefined)), undefined);
  });

  it("a partition's leader is its owner when the owner has a Kafka listener", () => {
    const v = view(1, [member(1), member(2), member(3, false)], [1, 2, 3, NO_OWNER]);
    const nodes = kafkaNodes(v);
    assert.deepEqual(
      [0, 1, 2, 3].map((p) => partitionLeader(v, nodes, 't', p)?.nodeId),
      [1, 2, undefined, undefined],
    );
  });

  it('every member names the same coordinator for a group, whatever the order it knows the nodes in', () => {
    const nodes = [node(1), node(2), node(3)];
    const groups = Array.from({ length: 300 }, (_, i) => `group-${i}`);
    const a = groups.map((g) => groupCoordinator(nodes, g)?.nodeId);
    const b = groups.map((g) => groupCoordinator([...nodes].reverse(), g)?.nodeId);
    assert.deepEqual(a, b);
    for (const id of [1, 2, 3]) {
      const share = a.filter((x) => x === id).length;
      assert.ok(share > 60 && share < 140, `broker ${id} coordinates ${share} of 300 groups`);
    }
    assert.equal(groupCoordinator([], 'g'), undefined);
    assert.equal(groupCoordinator(undefined, 'g'), undefined);
  });

  it('a broker leaving moves only the groups it coordinated', () => {
    const groups = Array.from({ length: 300 }, (_, i) => `group-${i}`);
    const before = groups.map((g) => groupCoordinator([node(1), node(2), node(3)], g)?.nodeId);
    const after = groups.map((g) => groupCoordinator([node(1), node(3)], g)?.nodeId);
    groups.forEach((g, i) => {
      if (before[i] !== 2) assert.equal(after[i], before[i], `${g} stays`);
      else assert.notEqual(after[i], 2);
    });
  });
});
