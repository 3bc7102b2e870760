import { type Bytes, InvalidInputError, type Message, recordsSize } from '@barge/core';
import { partitionForKey } from '../partitioner.js';
import type { HeaderInput, ProducerMessage } from '../types.js';

/** A message of a `send` call, checked and sized; `writePartition` undefined: unkeyed, sticky choice. */
export interface PreparedMessage {
  message: Message;
  size: number;
  writePartition: number | undefined;
}

/**
 * Checks and normalizes the messages of one `send` call for a topic of `writePartitions` write
 * partitions: a pinned write partition must exist, a key picks its partition by hash.
 */
export function prepareMessages(
  topic: string,
  messages: readonly ProducerMessage[],
  writePartitions: number,
  now: number,
): { prepared: PreparedMessage[]; totalBytes: number } {
  const prepared: PreparedMessage[] = [];
  let totalBytes = 0;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    const message = toCoreMessage(m, i, now);
    const size = recordsSize([message]);
    let wp = m.writePartition;
    if (wp !== undefined && (!Number.isInteger(wp) || wp < 0 || wp >= writePartitions)) {
      throw new InvalidInputError(
        `message ${i}: writePartition ${wp} is outside [0, ${writePartitions}) of topic ${topic}`,
      );
    }
    if (wp === undefined && message.key !== null && message.key !== undefined) {
      wp = partitionForKey(message.key, writePartitions);
    }
    prepared.push({ message, size, writePartition: wp });
    totalBytes += size;
  }
  return { prepared, totalBytes };
}

function isBytes(v: unknown): v is Bytes {
  return typeof v === 'string' || v instanceof Uint8Array;
}

/** Normalizes a producer message to the core `Message` (headers as an ordered list, a timestamp). */
export function toCoreMessage(m: ProducerMessage, i: number, now: number): Message {
  if (typeof m !== 'object' || m === null) throw new InvalidInputError(`message ${i} must be an object`);
  if (!isBytes(m.value))
    throw new InvalidInputError(`message ${i}: value must be a Buffer, Uint8Array or string`);
  if (m.key !== undefined && m.key !== null && !isBytes(m.key)) {
    throw new InvalidInputError(`message ${i}: key must be a Buffer, Uint8Array, string or null`);
  }
  let headers: HeaderInput[] | undefined;
  const h = m.headers;
  if (Array.isArray(h)) {
    headers = h as HeaderInput[];
  } else if (h !== undefined && h !== null) {
    if (typeof h !== 'object')
      throw new InvalidInputError(`message ${i}: headers must be an array or an object`);
    headers = [];
    for (const [name, v] of Object.entries(h as Record<string, Bytes | readonly Bytes[] | undefined>)) {
      if (v === undefined) continue;
      for (const value of Array.isArray(v) ? v : [v]) {
        if (!isBytes(value))
          throw new InvalidInputError(`message ${i}: header ${name} must be bytes or a string`);
        headers.push({ name, value });
      }
    }
  }
  const timestamp = m.timestamp ?? now;
  if (!Number.isSafeInteger(timestamp))
    throw new InvalidInputError(`message ${i}: timestamp must be an integer (ms)`);
  return { key: m.key ?? null, value: m.value, headers, timestamp };
}
