import { type Bytes, InvalidInputError, type Message, recordsSize } from '@barge/core';
import { partitionForKey } from '../partitioner.js';
import type { HeaderInput, ProducerMessage } from '../types.js';

/** A message of a `send` call, checked and sized, before the topic's metadata is known. */
export interface PreparedMessage {
  message: Message;
  size: number;
  /** The write partition the message pins, if any. */
  pinned: number | undefined;
}

/**
 * Checks and normalizes the messages of one `send` call. Wrong types fail here, before any
 * request, with an `InvalidInputError` naming the message and the field.
 */
export function prepareMessages(
  messages: readonly ProducerMessage[],
  now: number,
): { prepared: PreparedMessage[]; totalBytes: number } {
  const prepared: PreparedMessage[] = [];
  let totalBytes = 0;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    const message = toCoreMessage(m, i, now);
    const size = recordsSize([message]);
    const pinned = m.writePartition;
    if (pinned !== undefined && (!Number.isSafeInteger(pinned) || pinned < 0)) {
      throw new InvalidInputError(
        `message ${i}: writePartition must be an integer >= 0, got ${describe(pinned)}`,
      );
    }
    prepared.push({ message, size, pinned });
    totalBytes += size;
  }
  return { prepared, totalBytes };
}

/**
 * The write partition of message `i` in a topic of `writePartitions` write partitions: the one it
 * pins (which must exist), its key's hash, or undefined for an unkeyed message (sticky choice).
 */
export function writePartitionOf(
  topic: string,
  p: PreparedMessage,
  i: number,
  writePartitions: number,
): number | undefined {
  if (p.pinned !== undefined) {
    if (p.pinned >= writePartitions)
      throw new InvalidInputError(
        `message ${i}: writePartition ${p.pinned} is outside [0, ${writePartitions}) of topic ${topic}`,
      );
    return p.pinned;
  }
  const key = p.message.key;
  return key !== null && key !== undefined ? partitionForKey(key, writePartitions) : undefined;
}

function isBytes(v: unknown): v is Bytes {
  return typeof v === 'string' || v instanceof Uint8Array;
}

/** e.g. `number 42`, `null`, `an object`: what was passed instead. */
function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'object') return `a ${v.constructor?.name ?? 'object'}`;
  return `${typeof v} ${String(v).slice(0, 40)}`;
}

/** Normalizes a producer message to the core `Message` (headers as an ordered list, a timestamp). */
export function toCoreMessage(m: ProducerMessage, i: number, now: number): Message {
  if (typeof m !== 'object' || m === null)
    throw new InvalidInputError(
      `message ${i} must be an object { key?, value, headers? }, got ${describe(m)}`,
    );
  if (!isBytes(m.value))
    throw new InvalidInputError(
      `message ${i}: value must be a Buffer, Uint8Array or string, got ${describe(m.value)}${m.value === null ? ' (Barge has no tombstones)' : ''}`,
    );
  if (m.key !== undefined && m.key !== null && !isBytes(m.key)) {
    throw new InvalidInputError(
      `message ${i}: key must be a Buffer, Uint8Array, string or null, got ${describe(m.key)}`,
    );
  }
  let headers: HeaderInput[] | undefined;
  const h = m.headers;
  if (Array.isArray(h)) {
    for (const [j, header] of h.entries()) {
      if (typeof header?.name !== 'string' || !isBytes(header.value))
        throw new InvalidInputError(
          `message ${i}: header ${j} must be { name: string, value: Buffer | Uint8Array | string }`,
        );
    }
    headers = h as HeaderInput[];
  } else if (h !== undefined && h !== null) {
    if (typeof h !== 'object')
      throw new InvalidInputError(`message ${i}: headers must be an array or an object, got ${describe(h)}`);
    headers = [];
    for (const [name, v] of Object.entries(h as Record<string, Bytes | readonly Bytes[] | undefined>)) {
      if (v === undefined) continue;
      for (const value of Array.isArray(v) ? v : [v]) {
        if (!isBytes(value))
          throw new InvalidInputError(
            `message ${i}: header ${name} must be a Buffer, Uint8Array or string (or an array of them), got ${describe(value)}`,
          );
        headers.push({ name, value });
      }
    }
  }
  const timestamp = parseTimestamp(m.timestamp, now);
  if (timestamp === undefined)
    throw new InvalidInputError(
      `message ${i}: timestamp must be an integer of ms since the epoch (a number or a string of digits), got ${describe(m.timestamp)}`,
    );
  return { key: m.key ?? null, value: m.value, headers, timestamp };
}

/** kafkajs users pass timestamps as strings (`Date.now().toString()`); a string of digits is read as a number. */
function parseTimestamp(v: unknown, now: number): number | undefined {
  if (v === undefined || v === null) return now;
  const n = typeof v === 'string' && /^\d{1,16}$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) ? n : undefined;
}
