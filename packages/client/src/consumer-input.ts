import { ConfigError, InvalidInputError, validateTopicName } from '@barge/core';
import type { ConsumerOptions, RunOptions } from './consumer-types.js';

/**
 * What users pass to the consumer, checked before anything is sent: a wrong type or value
 * throws at once (`ConfigError` for options, `InvalidInputError` for calls), naming the field.
 */

/** What `subscribe` takes. */
export interface SubscribeInput {
  topic?: string;
  topics?: string[];
  fromBeginning?: boolean;
}

/** A position as `seek` and `commitOffsets` take it: offsets as numbers or, as kafkajs passes them, strings. */
export interface TopicPartitionOffsetInput {
  topic: string;
  partition: number;
  /** Pointer offset: a number or a string of digits. `seek` also takes -1 (latest) and -2 (earliest). */
  offset: number | string;
  /** Next message within that batch. Default 0. */
  messageIndex?: number | string;
}

/** A pointer offset, or kafkajs's special offsets -1 (the end: only new batches) and -2 (the beginning). */
export type SeekOffset = number | 'latest' | 'earliest';

function describe(v: unknown): string {
  if (v instanceof RegExp) return `the RegExp ${v}`;
  if (v === null || v === undefined || typeof v !== 'object') return JSON.stringify(v) ?? String(v);
  return `a ${v.constructor?.name ?? 'object'}`;
}

/** Checks the consumer's own options (the common ones are checked by `resolveCommonOptions`). */
export function checkConsumerOptions(options: ConsumerOptions): void {
  if (typeof options !== 'object' || options === null)
    throw new ConfigError('consumer options must be an object { brokers, groupId, ... }', '');
  if (typeof options.groupId !== 'string' || options.groupId === '')
    throw new ConfigError('consumer groupId must be a non-empty string', 'groupId');
  if (!options.pointers || !options.storage) {
    if (!Array.isArray(options.brokers) || options.brokers.length === 0) {
      throw new ConfigError(
        'consumer brokers must list at least one "host:port" unless both pointers and storage are given',
        'brokers',
      );
    }
  }
  for (const [k, min] of [
    ['sessionTimeoutMs', 1],
    ['heartbeatIntervalMs', 1],
    ['autoCommitIntervalMs', 0],
    ['autoCommitThreshold', 1],
    ['maxPollRecords', 1],
    ['pollTimeoutMs', 0],
    ['prefetchBatches', 1],
    ['prefetchBytes', 1],
    ['fromTime', 0],
  ] as const) {
    const v = options[k];
    if (v !== undefined && (!Number.isSafeInteger(v) || v < min)) {
      throw new ConfigError(`consumer ${k} must be an integer >= ${min}, got ${describe(v)}`, k);
    }
  }
  for (const k of ['fromBeginning', 'autoCommit'] as const) {
    const v = options[k];
    if (v !== undefined && typeof v !== 'boolean')
      throw new ConfigError(`consumer ${k} must be true or false, got ${describe(v)}`, k);
  }
  for (const k of ['onDamagedData', 'onCorruptBatch'] as const) {
    const v = options[k];
    if (v !== undefined && !['fail', 'skip'].includes(v))
      throw new ConfigError(`consumer ${k} must be fail or skip, got ${describe(v)}`, k);
  }
}

/** The topics of a `subscribe` call. A RegExp or any other non-name is refused with the reason. */
export function subscribedTopics(options: SubscribeInput): {
  topics: string[];
  fromBeginning: boolean | undefined;
} {
  if (typeof options !== 'object' || options === null)
    throw new InvalidInputError(`subscribe needs { topic } or { topics: [...] }, got ${describe(options)}`);
  const { topic, topics, fromBeginning } = options;
  const names: unknown[] = [];
  if (topics !== undefined) {
    if (!Array.isArray(topics))
      throw new InvalidInputError(
        `subscribe topics must be an array of topic names, got ${describe(topics)}`,
      );
    names.push(...topics);
  }
  if (topic !== undefined) names.push(topic);
  if (names.length === 0) throw new InvalidInputError('subscribe needs { topic } or { topics: [...] }');
  for (const name of names) {
    if (name instanceof RegExp)
      throw new InvalidInputError(
        `subscribe takes topic names; a RegExp (${name}) is not supported: list the topics, e.g. subscribe({ topics: ['a', 'b'] })`,
      );
    if (typeof name !== 'string')
      throw new InvalidInputError(
        `subscribe: a topic must be a topic name (a string), got ${describe(name)}`,
      );
    validateTopicName(name);
  }
  if (fromBeginning !== undefined && typeof fromBeginning !== 'boolean')
    throw new InvalidInputError(
      `subscribe fromBeginning must be true or false, got ${describe(fromBeginning)}`,
    );
  return { topics: [...new Set(names as string[])], fromBeginning };
}

/** Checks `run`'s options: exactly one of `eachMessage` and `eachBatch`, a function. */
export function checkRunOptions(options: RunOptions): void {
  if (typeof options !== 'object' || options === null)
    throw new InvalidInputError(`run needs { eachMessage } or { eachBatch }, got ${describe(options)}`);
  if (!options.eachMessage === !options.eachBatch)
    throw new InvalidInputError('run needs exactly one of eachMessage or eachBatch');
  const [name, handler] = options.eachMessage
    ? ['eachMessage', options.eachMessage]
    : ['eachBatch', options.eachBatch];
  if (typeof handler !== 'function')
    throw new InvalidInputError(`run ${name} must be an async function, got ${describe(handler)}`);
}

/** A non-negative integer, given as a number or a string of digits; undefined if `v` is neither. */
function count(v: unknown): number | undefined {
  const n = typeof v === 'string' && /^-?\d{1,16}$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) ? n : undefined;
}

/** The partition of a position: an integer >= 0. */
function partitionOf(call: string, p: TopicPartitionOffsetInput): number {
  if (typeof p !== 'object' || p === null)
    throw new InvalidInputError(`${call} needs { topic, partition, offset }, got ${describe(p)}`);
  if (typeof p.topic !== 'string')
    throw new InvalidInputError(`${call} topic must be a topic name (a string), got ${describe(p.topic)}`);
  if (!Number.isSafeInteger(p.partition) || p.partition < 0)
    throw new InvalidInputError(`${call} partition must be an integer >= 0, got ${describe(p.partition)}`);
  return p.partition;
}

function messageIndexOf(call: string, p: TopicPartitionOffsetInput): number {
  if (p.messageIndex === undefined) return 0;
  const n = count(p.messageIndex);
  if (n === undefined || n < 0)
    throw new InvalidInputError(
      `${call} messageIndex must be an integer >= 0 (a number or a string of digits), got ${describe(p.messageIndex)}`,
    );
  return n;
}

/** A `seek` target: offsets as numbers or strings, -1 latest, -2 earliest. */
export function seekTarget(p: TopicPartitionOffsetInput): {
  topic: string;
  partition: number;
  offset: SeekOffset;
  messageIndex: number;
} {
  const partition = partitionOf('seek', p);
  const n = count(p.offset);
  const offset = n === -1 ? 'latest' : n === -2 ? 'earliest' : n;
  if (offset === undefined || (typeof offset === 'number' && offset < 0))
    throw new InvalidInputError(
      `seek offset must be a pointer offset (an integer >= 0, as a number or a string of digits), or -1 (latest) or -2 (earliest); got ${describe(p.offset)}`,
    );
  const messageIndex = messageIndexOf('seek', p);
  if (typeof offset === 'string' && messageIndex !== 0)
    throw new InvalidInputError(
      `seek messageIndex must be 0 (or absent) with offset ${p.offset} (${offset})`,
    );
  return { topic: p.topic, partition, offset, messageIndex };
}

/** A `commitOffsets` position: a pointer offset (number or string) and message index. */
export function commitPosition(p: TopicPartitionOffsetInput): {
  topic: string;
  partition: number;
  offset: number;
  messageIndex: number;
} {
  const partition = partitionOf('commitOffsets', p);
  const offset = count(p.offset);
  if (offset === undefined || offset < 0)
    throw new InvalidInputError(
      `commitOffsets offset must be a pointer offset: an integer >= 0, as a number or a string of digits; got ${describe(p.offset)}${offset === -1 || offset === -2 ? ' (latest/earliest can be sought with seek, not committed)' : ''}`,
    );
  return { topic: p.topic, partition, offset, messageIndex: messageIndexOf('commitOffsets', p) };
}
