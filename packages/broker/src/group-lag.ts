import {
  type DescribeGroupResponse,
  type GroupDescription,
  type GroupPartitionLag,
  hasErrorCode,
  mapLimit,
  type PointerQueue,
} from '@barge/core';

/** Watermark reads in flight at once while describing a group (one per read partition). */
const WATERMARK_CONCURRENCY = 8;

/**
 * A group with the watermarks, committed position and lag of every read partition of the topics
 * it reads (members' assignments and committed positions), or of `topic` alone. Lag is in
 * pointers: high watermark minus committed offset. Topics whose pointer topic has vanished are
 * left out. Throws what `describeGroup` throws (`NotFoundError` for an unknown group).
 */
export async function describeGroupLag(
  pointers: PointerQueue,
  group: string,
  topic?: string,
): Promise<DescribeGroupResponse> {
  const d = await pointers.describeGroup(group);
  const partitions: GroupPartitionLag[] = [];
  for (const t of topic === undefined ? topicsOf(d) : [topic]) {
    partitions.push(...(await topicLag(pointers, d, t)));
  }
  return { group: d.group, status: d.status, members: d.members, partitions };
}

function topicsOf(d: GroupDescription): string[] {
  const topics = new Set(d.committed.map((c) => c.topic));
  for (const m of d.members) for (const a of m.assignment) topics.add(a.topic);
  return [...topics].sort();
}

async function topicLag(pointers: PointerQueue, d: GroupDescription, topic: string) {
  let n: number;
  try {
    n = await pointers.partitions(topic);
  } catch (e) {
    if (hasErrorCode(e, 'NOT_FOUND')) return [];
    throw e;
  }
  const committed = new Map(d.committed.filter((c) => c.topic === topic).map((c) => [c.partition, c]));
  const ids = Array.from({ length: n }, (_, p) => p);
  return mapLimit(ids, WATERMARK_CONCURRENCY, async (partition): Promise<GroupPartitionLag> => {
    const { low, high } = await pointers.watermarks(topic, partition);
    const c = committed.get(partition);
    if (!c) return { topic, partition, low, high };
    const lag = Math.max(0, high - c.offset);
    return {
      topic,
      partition,
      low,
      high,
      committed: { offset: c.offset, messageIndex: c.messageIndex ?? 0, lag },
    };
  });
}
