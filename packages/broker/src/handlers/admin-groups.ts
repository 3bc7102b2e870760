import {
  ApiKey,
  ErrorCode,
  errorMessage,
  type GroupDescription,
  hasErrorCode,
  type PointerQueue,
  type ResetOffsetsRequest,
  type ResetOffsetsResponse,
  type TopicConfig,
} from '@barge/core';
import { RequestError } from '../errors.js';
import { describeGroupLag } from '../group-lag.js';
import { GROUP_NAME } from '../groups.js';
import { checkTopicName, type TopicRegistry } from '../topics.js';
import { pointerCall } from './topics.js';
import type { HandlerTable } from './types.js';

export interface AdminGroupDeps {
  topics: TopicRegistry;
  pointers: PointerQueue;
}

/**
 * Group administration: list groups, describe one (members, committed positions and lag per
 * read partition) and reset its offsets. Works on the pointer queue's groups, so it sees every
 * member of a Kafka group, not only the consumers of this broker.
 */
export function adminGroupHandlers(d: AdminGroupDeps): HandlerTable {
  /** A topic that exists, with its pointer topic made sure of. */
  const pointerTopic = async (name: string): Promise<TopicConfig> => {
    checkTopicName(name);
    const t = await d.topics.require(name);
    await pointerCall(() => d.topics.ensurePointerTopic(t));
    return t;
  };
  return {
    [ApiKey.ListGroups]: async (_conn, body) => {
      if (body.topic !== undefined) await pointerTopic(body.topic);
      return { groups: await pointerCall(() => d.pointers.listGroups(body.topic)) };
    },
    [ApiKey.DescribeGroup]: async (_conn, body) => {
      checkGroupName(body.group);
      if (body.topic !== undefined) await pointerTopic(body.topic);
      return pointerCall(async () => {
        try {
          return await describeGroupLag(d.pointers, body.group, body.topic);
        } catch (e) {
          if (hasErrorCode(e, 'NOT_FOUND')) throw unknownGroup(e);
          throw e;
        }
      });
    },
    [ApiKey.ResetOffsets]: async (_conn, body) => {
      checkGroupName(body.group);
      const t = await pointerTopic(body.topic);
      return resetOffsets(d.pointers, t, body);
    },
  };
}

/**
 * Plans the new committed offset of each partition (Kafka's tool clamps a target outside the
 * retained range to it; so does this) and, with `execute`, writes them. A group with members is
 * refused in a dry run too, as Kafka's tool does: the plan could not be applied.
 */
async function resetOffsets(
  pointers: PointerQueue,
  t: TopicConfig,
  req: ResetOffsetsRequest,
): Promise<ResetOffsetsResponse> {
  const all = Array.from({ length: t.readPartitions }, (_, p) => p);
  const partitions = req.partitions.length === 0 ? all : [...new Set(req.partitions)].sort((a, b) => a - b);
  for (const p of partitions) {
    if (p >= t.readPartitions) {
      throw new RequestError(
        ErrorCode.INVALID_PARTITION,
        `topic ${t.name} has ${t.readPartitions} read partitions; there is no read partition ${p}`,
      );
    }
  }
  const current = await pointerCall(() => describeOrEmpty(pointers, req.group));
  if (current.members.length > 0) {
    throw new RequestError(
      ErrorCode.GROUP_NOT_EMPTY,
      `group ${req.group} has ${current.members.length} member(s) (${current.members.map((m) => m.clientId || m.memberId).join(', ')}); offsets can only be reset while it has none: stop its consumers first`,
    );
  }
  const plan = await pointerCall(() =>
    Promise.all(
      partitions.map(async (partition) => {
        const c = current.committed.find((x) => x.topic === t.name && x.partition === partition);
        const offset = await targetOffset(pointers, t.name, partition, req.target);
        const previous = c ? { offset: c.offset, messageIndex: c.messageIndex ?? 0 } : undefined;
        return previous ? { partition, previous, offset } : { partition, offset };
      }),
    ),
  );
  if (req.execute) {
    await pointerCall(() => pointers.resetOffsets(req.group, t.name, plan));
  }
  return { partitions: plan };
}

async function targetOffset(
  pointers: PointerQueue,
  topic: string,
  partition: number,
  target: ResetOffsetsRequest['target'],
): Promise<number> {
  const { low, high } = await pointers.watermarks(topic, partition);
  switch (target.to) {
    case 'earliest':
      return low;
    case 'latest':
      return high;
    case 'timestamp':
      return Math.max(low, await pointers.offsetForTimestamp(topic, partition, target.timestamp));
    case 'offset':
      return Math.min(Math.max(target.offset, low), high);
  }
}

async function describeOrEmpty(
  pointers: PointerQueue,
  group: string,
): Promise<Pick<GroupDescription, 'members' | 'committed'>> {
  try {
    return await pointers.describeGroup(group);
  } catch (e) {
    if (hasErrorCode(e, 'NOT_FOUND')) return { members: [], committed: [] };
    throw e;
  }
}

function checkGroupName(group: string): void {
  if (!GROUP_NAME.test(group)) {
    throw new RequestError(
      ErrorCode.INVALID_GROUP,
      `group name ${JSON.stringify(group.slice(0, 300))} is invalid: expected 1-249 characters of A-Z a-z 0-9 . _ - :`,
    );
  }
}

function unknownGroup(cause: unknown): RequestError {
  return new RequestError(ErrorCode.UNKNOWN_GROUP, errorMessage(cause), { cause });
}
