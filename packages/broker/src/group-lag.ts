import {
  type CommittedLag,
  type DescribeGroupResponse,
  type GroupDescription,
  type GroupPartitionLag,
  hasErrorCode,
  mapLimit,
  type PointerQueue,
} from '@barge/core';
import { type MessageLag, messageLag, readPointersAfter } from './message-lag.js';

/** Watermark reads in flight at once while describing a group (one per read partition). */
const WATERMARK_CONCURRENCY = 8;
/** Pointers read per partition to count its message lag; beyond, the lag is estimated. */
export const MESSAGE_LAG_MAX_POINTERS = 10_000;

/**
 * A group with the watermarks, committed position and lag of every read partition of the topics
 * it reads (members' assignments and committed positions), or of `topic` alone. Lag is in
 * pointers (high watermark minus committed offset) and, when the queue can read pointers outside
 * a group, in messages (`message-lag.ts`). Topics whose pointer topic has vanished are left out.
 * Throws what `describeGroup` throws (`NotFoundError` for an unknown group).
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
    const position = { offset: c.offset, messageIndex: c.messageIndex ?? 0 };
    const lag: CommittedLag = { ...position, lag: Math.max(0, high - c.offset) };
    const m = await messagesBehind(pointers, topic, partition, position, low, high);
    if (m) lag.messageLag = m.messages;
    if (m?.estimated) lag.messageLagEstimated = true;
    return { topic, partition, low, high, committed: lag };
  });
}

/**
 * The message lag of one partition; undefined when the queue cannot read pointers outside a
 * group, or failed to (the pointer lag is still known: the answer says "unknown" rather than fail).
 */
async function messagesBehind(
  pointers: PointerQueue,
  topic: string,
  partition: number,
  position: { offset: number; messageIndex: number },
  low: number,
  high: number,
): Promise<MessageLag | undefined> {
  const read = pointers.readPartition?.bind(pointers);
  if (!read) return undefined;
  try {
    const from = Math.max(position.offset, low);
    const after = await readPointersAfter(read, topic, partition, from, high, MESSAGE_LAG_MAX_POINTERS);
    return messageLag(position, after, high);
  } catch {
    return undefined;
  }
}
