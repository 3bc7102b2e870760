import {
  ApiKey,
  ErrorCode,
  errorMessage,
  type PointerQueue,
  supportedVersionEntries,
  type TopicConfig,
} from '@barge/core';
import type { WriteOwnership } from '../cluster/write-ownership.js';
import { pointerErrorCode, RequestError } from '../errors.js';
import { principalName } from '../quotas/principal.js';
import type { TopicQuota } from '../quotas/topic-quota.js';
import { checkTopicName, type TopicRegistry, topicInfo } from '../topics.js';
import type { HandlerTable } from './types.js';

export interface TopicHandlerDeps {
  brokerId: number;
  topics: TopicRegistry;
  pointers: PointerQueue;
  storage: { adapter: string; location: string };
  maxFrameBytes: number;
  maxReadBytes: number;
  maxMessagesPerRequest: number;
  /** CreateTopic beyond this many topics answers TOO_MANY_TOPICS (`limits.maxTopics`). */
  maxTopics: number;
  /** The principal's `topics` quota; created topics record their creator. */
  topicQuota: TopicQuota;
  /** Brokers and write-partition owners (Metadata v2). */
  ownership: WriteOwnership;
}

/** Handshake, metadata, topic admin and pointer positions (watermarks, offset for a timestamp). */
export function topicHandlers(d: TopicHandlerDeps): HandlerTable {
  const requireTopic = async (name: string): Promise<TopicConfig> => {
    checkTopicName(name);
    return d.topics.require(name);
  };
  /** Names being created: they count against `maxTopics` before they are stored. */
  const creating = new Set<string>();
  return {
    [ApiKey.ApiVersions]: (conn, body) => {
      if (body.clientId) conn.log.debug({ clientId: body.clientId }, 'client handshake');
      return { brokerId: d.brokerId, versions: supportedVersionEntries() };
    },
    [ApiKey.Metadata]: async (_conn, body) => {
      const topics = [];
      if (body.topics.length === 0) topics.push(...d.topics.list());
      else for (const name of body.topics) topics.push(await requireTopic(name));
      return {
        brokerId: d.brokerId,
        storage: { adapter: d.storage.adapter, location: d.storage.location },
        pointers: { adapter: d.pointers.adapter },
        maxFrameBytes: d.maxFrameBytes,
        maxReadBytes: d.maxReadBytes,
        maxMessagesPerRequest: d.maxMessagesPerRequest,
        topics: topics.map(topicInfo),
        cluster: d.ownership.metadata(topics),
      };
    },
    [ApiKey.CreateTopic]: async (conn, body) => {
      const { ifNotExists, ...settings } = body;
      if (!d.topics.get(body.name) && !creating.has(body.name)) {
        const count = d.topics.list().length + creating.size;
        if (count >= d.maxTopics) {
          throw new RequestError(
            ErrorCode.TOO_MANY_TOPICS,
            `the broker has ${count} topics, its limit (raise limits.maxTopics to create more)`,
          );
        }
      }
      creating.add(body.name);
      try {
        const principal = principalName(conn);
        const r = await d.topicQuota.guard(principal, body.name, () =>
          d.topics.create(settings, ifNotExists ?? false, principal),
        );
        return { created: r.created, topic: topicInfo(r.topic) };
      } finally {
        creating.delete(body.name);
      }
    },
    [ApiKey.ListTopics]: () => ({ topics: d.topics.list().map(topicInfo) }),
    [ApiKey.DescribeTopic]: async (_conn, body) => {
      const t = await requireTopic(body.name);
      const partitions = [];
      try {
        await d.topics.ensurePointerTopic(t);
        for (let p = 0; p < t.readPartitions; p++) {
          partitions.push({ partition: p, ...(await d.pointers.watermarks(t.name, p)) });
        }
      } catch (e) {
        throw new RequestError(
          ErrorCode.POINTER_QUEUE_UNAVAILABLE,
          `cannot read watermarks: ${errorMessage(e)}`,
        );
      }
      return { topic: topicInfo(t), partitions };
    },
    [ApiKey.OffsetForTimestamp]: async (_conn, body) => {
      const t = await requireTopic(body.topic);
      checkReadPartition(t, body.partition);
      return {
        offset: await pointerCall(() =>
          d.pointers.offsetForTimestamp(t.name, body.partition, body.timestamp),
        ),
      };
    },
    [ApiKey.Watermarks]: async (_conn, body) => {
      const t = await requireTopic(body.topic);
      checkReadPartition(t, body.partition);
      return pointerCall(() => d.pointers.watermarks(t.name, body.partition));
    },
  };
}

/** Runs a pointer-queue call, mapping its failure to a protocol error code. */
export async function pointerCall<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw new RequestError(pointerErrorCode(e), errorMessage(e), { cause: e });
  }
}

function checkReadPartition(t: TopicConfig, p: number): void {
  if (p >= t.readPartitions) {
    throw new RequestError(
      ErrorCode.INVALID_PARTITION,
      `topic ${t.name} has ${t.readPartitions} read partitions; there is no read partition ${p}`,
    );
  }
}
