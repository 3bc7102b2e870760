import { type Bytes, crc32 } from '@barge/core';

/**
 * Audit records: what producers had acknowledged and what consumers delivered, as ranges of
 * producer sequence numbers of one stream (topic, write partition, producer id), with a content
 * hash. Emitters send them to an ordinary topic in envelopes, JSON, one envelope per message.
 */

/** Records of one emitter (a producer or consumer instance), numbered 0, 1, 2, … in the order it made them. */
export interface AuditEnvelope {
  readonly v: 1;
  /** Random id of the emitting client instance. */
  readonly emitter: string;
  readonly role: 'producer' | 'consumer';
  readonly clientId: string;
  /** A consumer's group. */
  readonly group?: string;
  /** Records this emitter could not send so far (buffer full, audit topic unreachable); their numbers are skipped. */
  readonly dropped: number;
  /** The latest dropped record numbers (at most 32 runs), with when they were dropped. */
  readonly drops: readonly DroppedRecords[];
  /** The number the emitter's next record gets: records numbered below it were made before this envelope. */
  readonly next: number;
  /** Sent by `disconnect`: every record made so far was sent (or counted in `dropped`). */
  readonly closed?: true;
  readonly records: readonly AuditRecord[];
}

/** Record numbers `first`..`last` of an emitter, dropped at `at` (ms since the epoch). */
export interface DroppedRecords {
  readonly first: number;
  readonly last: number;
  readonly at: number;
}

interface RecordBase {
  /** Number within its emitter. */
  readonly n: number;
  /** ms since the epoch: when the producer got the ack, or the consumer handed the messages out. */
  readonly at: number;
  readonly topic: string;
  readonly writePartition: number;
  readonly producerId: number;
  /** Inclusive sequence range; `count` = last - first + 1. */
  readonly first: number;
  readonly last: number;
  /** `rangeHash` of the messages, 8 hex digits. */
  readonly hash: string;
}

/** A chunk the producer had acknowledged. */
export interface ProducedRecord extends RecordBase {
  readonly kind: 'produced';
}

/** Consecutive messages of one stream a consumer delivered from one batch. */
export interface ConsumedRecord extends RecordBase {
  readonly kind: 'consumed';
  readonly group: string;
  /** Read partition and pointer offset of the batch. */
  readonly partition: number;
  readonly offset: number;
}

export type AuditRecord = ProducedRecord | ConsumedRecord;

/** Default audit topic, created (with the broker's default settings) when missing. */
export const DEFAULT_AUDIT_TOPIC = '__barge_audit';

const bytesOf = (b: Bytes): Uint8Array => (typeof b === 'string' ? Buffer.from(b) : b);

/**
 * Hash of one message: CRC-32 of its sequence number, key (with a null marker) and value.
 * Headers and timestamps are not covered.
 */
export function messageHash(sequence: number, key: Bytes | null | undefined, value: Bytes): number {
  const head = Buffer.alloc(12);
  head.writeUInt32BE(Math.floor(sequence / 2 ** 32), 0);
  head.writeUInt32BE(sequence % 2 ** 32, 4);
  const k = key === null || key === undefined ? undefined : bytesOf(key);
  head.writeInt32BE(k === undefined ? -1 : k.length, 8);
  let c = crc32(head);
  if (k !== undefined) c = crc32(k, c);
  return crc32(bytesOf(value), c);
}

/**
 * Hash of consecutive messages: the sum (mod 2^32) of their `messageHash`es, so the hash of a
 * range is the sum of the hashes of any ranges that tile it.
 */
export function rangeHash(
  firstSequence: number,
  messages: readonly { readonly key?: Bytes | null; readonly value: Bytes }[],
): number {
  let h = 0;
  messages.forEach((m, i) => {
    h = (h + messageHash(firstSequence + i, m.key, m.value)) >>> 0;
  });
  return h;
}

export const hashHex = (h: number): string => h.toString(16).padStart(8, '0');

/** Sum of hashes given as hex (see `rangeHash`). */
export function sumHashes(hashes: readonly string[]): string {
  let h = 0;
  for (const x of hashes) h = (h + Number.parseInt(x, 16)) >>> 0;
  return hashHex(h);
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function isRecord(r: unknown): r is AuditRecord {
  if (typeof r !== 'object' || r === null) return false;
  const x = r as Record<string, unknown>;
  const base =
    isInt(x.n) &&
    isInt(x.at) &&
    typeof x.topic === 'string' &&
    isInt(x.writePartition) &&
    isInt(x.producerId) &&
    isInt(x.first) &&
    isInt(x.last) &&
    x.last >= x.first &&
    typeof x.hash === 'string' &&
    /^[0-9a-f]{8}$/.test(x.hash);
  if (!base) return false;
  if (x.kind === 'produced') return true;
  return x.kind === 'consumed' && typeof x.group === 'string' && isInt(x.partition) && isInt(x.offset);
}

/** The envelope in an audit message's value, or undefined for anything else (other versions too). */
export function parseEnvelope(value: Uint8Array): AuditEnvelope | undefined {
  let x: Record<string, unknown>;
  try {
    x = JSON.parse(Buffer.from(value).toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof x !== 'object' || x === null || x.v !== 1) return undefined;
  if (typeof x.emitter !== 'string' || (x.role !== 'producer' && x.role !== 'consumer')) return undefined;
  if (x.group !== undefined && typeof x.group !== 'string') return undefined;
  if (typeof x.clientId !== 'string' || !isInt(x.dropped) || !isInt(x.next)) return undefined;
  if (!Array.isArray(x.records) || !x.records.every(isRecord)) return undefined;
  const isDrop = (d: { first?: unknown; last?: unknown; at?: unknown }) =>
    typeof d === 'object' && d !== null && isInt(d.first) && isInt(d.last) && isInt(d.at);
  if (!Array.isArray(x.drops) || !x.drops.every(isDrop)) return undefined;
  return x as unknown as AuditEnvelope;
}
