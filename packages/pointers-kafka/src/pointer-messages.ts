import {
  type BatchPointer,
  encodePointer,
  InvalidInputError,
  type PublishedPointer,
  pointerKey,
  readPartitionFor,
  TransientError,
} from '@barge/core';
import type { Message, RecordMetadata } from 'kafkajs';
import { toSafeNumber } from './kafka.js';

/** Most pointer bytes sent in one produce request; bigger publishes go out in several, in order. */
export const MAX_SEND_BYTES = 512 * 1024;

/** The Kafka records of `pointers` (all of Barge topic `topic`), each on its read partition. */
export function pointerMessages(
  topic: string,
  pointers: readonly BatchPointer[],
  readPartitions: number,
): Message[] {
  return pointers.map((p, i) => {
    if (p.topic !== topic) {
      throw new InvalidInputError(`pointers[${i}] is for topic "${p.topic}", not "${topic}"`);
    }
    return {
      key: pointerKey(topic, p.writePartition),
      value: encodePointer(p),
      partition: readPartitionFor(p.writePartition, readPartitions),
      timestamp: String(p.createdAt),
    };
  });
}

/** The position of each of `messages` from Kafka's answer to one send of them to `kt`. */
export function publishedPositions(
  kt: string,
  messages: readonly Message[],
  res: readonly RecordMetadata[],
  what: string,
): PublishedPointer[] {
  const base = new Map<number, number>();
  for (const r of res) {
    const offset = r.baseOffset ?? r.offset;
    if (offset === undefined || r.errorCode !== 0) {
      throw new TransientError(
        `${what}: Kafka answered error code ${r.errorCode} for partition ${r.partition}`,
      );
    }
    base.set(r.partition, toSafeNumber(offset, `base offset of "${kt}" partition ${r.partition}`));
  }
  const next = new Map<number, number>();
  return messages.map((m) => {
    const partition = m.partition as number;
    const b = base.get(partition);
    if (b === undefined)
      throw new TransientError(`${what}: Kafka did not acknowledge partition ${partition}`);
    const i = next.get(partition) ?? 0;
    next.set(partition, i + 1);
    return { partition, offset: b + i };
  });
}
