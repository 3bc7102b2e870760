import { randomBytes } from 'node:crypto';

/** Prefix of every batch object the broker writes; the read proxy serves only keys under it. */
export const BATCH_PREFIX = 'topics/';
/** Broker metadata: topics, sequence leases, orphan markers. */
export const META_PREFIX = '_meta/';
export const TOPICS_META_PREFIX = '_meta/topics/';
export const SEQUENCES_META_PREFIX = '_meta/sequences/';
export const ORPHANS_META_PREFIX = '_meta/orphans/';
export const OFFSETS_META_PREFIX = '_meta/offsets/';

/** Digits of the zero-padded sequence in batch keys (2^53 has 16 digits). */
const SEQUENCE_DIGITS = 16;

/**
 * `topics/<topic>/<writePartition>/<sequence, 16 digits>-<brokerId>-<random>`; keys of one write
 * partition list in sequence order. A hedged attempt appends `-h<n>`.
 */
export function batchKey(topic: string, writePartition: number, sequence: number, brokerId: number): string {
  const seq = String(sequence).padStart(SEQUENCE_DIGITS, '0');
  return `${BATCH_PREFIX}${topic}/${writePartition}/${seq}-${brokerId}-${randomBytes(6).toString('hex')}`;
}

export function hedgeKey(key: string, n: number): string {
  return `${key}-h${n}`;
}

export function topicMetaKey(topic: string): string {
  return `${TOPICS_META_PREFIX}${topic}.json`;
}

export function sequenceMetaKey(topic: string, writePartition: number): string {
  return `${SEQUENCES_META_PREFIX}${topic}/${writePartition}.json`;
}

/** The dense-offset ceiling of a write partition (`kafka-offsets/offset-ceiling.ts`). */
export function offsetMetaKey(topic: string, writePartition: number): string {
  return `${OFFSETS_META_PREFIX}${topic}/${writePartition}.json`;
}

export function orphanMetaKey(key: string): string {
  return `${ORPHANS_META_PREFIX}${key}`;
}
