import { InvalidInputError } from './errors.js';

/**
 * What a reader needs to find and check one batch object without opening it. Serialized as
 * JSON (`encodePointer`) so it is readable in any Kafka tool.
 */
export interface BatchPointer {
  /** Pointer format version; 1. */
  readonly v: 1;
  readonly topic: string;
  readonly writePartition: number;
  /**
   * Batch sequence within the write partition: increasing in publication order, gaps allowed
   * (the broker leases blocks of sequence numbers; a restart skips the rest of its block).
   */
  readonly sequence: number;
  readonly brokerId: number;
  readonly storage: { readonly adapter: string; readonly location: string; readonly key: string };
  /** Object size in bytes (header plus chunks). */
  readonly objectSize: number;
  /** Length of the batch header: read `[0, headerLength)` to get the chunk index. */
  readonly headerLength: number;
  readonly messageCount: number;
  readonly chunkCount: number;
  /** Smallest and largest message timestamps in the batch, ms since the epoch. */
  readonly firstTimestamp: number;
  readonly lastTimestamp: number;
  /** When the broker closed the batch, ms since the epoch. */
  readonly createdAt: number;
  /** CRC-32 of the batch header (which holds every chunk's CRC-32), as an unsigned integer. */
  readonly headerCrc: number;
  /**
   * Dense (Kafka) offset of the batch's first message within its write partition: message `i`
   * has offset `baseOffset + i`. Stamped by the write partition's single writer at publication;
   * absent in pointers written before brokers stamped it.
   */
  readonly baseOffset?: number;
}

export const MAX_POINTER_BYTES = 64 * 1024;

export function encodePointer(p: BatchPointer): Buffer {
  return Buffer.from(JSON.stringify(p), 'utf8');
}

/** Parses and validates a pointer; throws `InvalidInputError` naming the bad field. */
export function decodePointer(bytes: Buffer | string): BatchPointer {
  const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.length;
  if (size > MAX_POINTER_BYTES) {
    throw new InvalidInputError(`pointer is ${size} bytes; at most ${MAX_POINTER_BYTES} are allowed`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch (e) {
    throw new InvalidInputError(`pointer is not valid JSON: ${(e as Error).message}`);
  }
  return validatePointer(raw);
}

const uint = (v: unknown, max = Number.MAX_SAFE_INTEGER): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;

export function validatePointer(raw: unknown): BatchPointer {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidInputError('pointer must be a JSON object');
  }
  const o = raw as Record<string, unknown>;
  const fail = (field: string, expected: string): never => {
    throw new InvalidInputError(
      `pointer field "${field}" must be ${expected}, got ${describeValue(fieldValue(o, field))}`,
    );
  };
  if (o.v !== 1) fail('v', 'the number 1');
  if (typeof o.topic !== 'string' || o.topic.length === 0) fail('topic', 'a non-empty string');
  if (!uint(o.writePartition, 0xffffffff)) fail('writePartition', 'an integer in [0, 2^32)');
  if (!uint(o.sequence)) fail('sequence', 'a non-negative safe integer');
  if (!uint(o.brokerId, 0xffffffff)) fail('brokerId', 'an integer in [0, 2^32)');
  const s = o.storage as Record<string, unknown> | undefined;
  if (typeof s !== 'object' || s === null || Array.isArray(s)) fail('storage', 'an object');
  const st = s as Record<string, unknown>;
  if (typeof st.adapter !== 'string' || st.adapter === '') fail('storage.adapter', 'a non-empty string');
  if (typeof st.location !== 'string') fail('storage.location', 'a string');
  if (typeof st.key !== 'string' || st.key === '') fail('storage.key', 'a non-empty string');
  if (!uint(o.objectSize)) fail('objectSize', 'a non-negative safe integer');
  if (!uint(o.headerLength) || (o.headerLength as number) > (o.objectSize as number)) {
    fail('headerLength', 'a non-negative integer not above objectSize');
  }
  if (!uint(o.messageCount, 0xffffffff)) fail('messageCount', 'an integer in [0, 2^32)');
  if (!uint(o.chunkCount, 0xffffffff)) fail('chunkCount', 'an integer in [0, 2^32)');
  for (const f of ['firstTimestamp', 'lastTimestamp', 'createdAt'] as const) {
    if (typeof o[f] !== 'number' || !Number.isSafeInteger(o[f])) fail(f, 'an integer (ms since the epoch)');
  }
  if (!uint(o.headerCrc, 0xffffffff)) fail('headerCrc', 'an unsigned 32-bit integer');
  if (o.baseOffset !== undefined && !uint(o.baseOffset)) {
    fail('baseOffset', 'a non-negative safe integer when present');
  }
  const pointer: BatchPointer = {
    v: 1,
    topic: o.topic as string,
    writePartition: o.writePartition as number,
    sequence: o.sequence as number,
    brokerId: o.brokerId as number,
    storage: { adapter: st.adapter as string, location: st.location as string, key: st.key as string },
    objectSize: o.objectSize as number,
    headerLength: o.headerLength as number,
    messageCount: o.messageCount as number,
    chunkCount: o.chunkCount as number,
    firstTimestamp: o.firstTimestamp as number,
    lastTimestamp: o.lastTimestamp as number,
    createdAt: o.createdAt as number,
    headerCrc: o.headerCrc as number,
  };
  return o.baseOffset === undefined ? pointer : { ...pointer, baseOffset: o.baseOffset as number };
}

function describeValue(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  try {
    return JSON.stringify(v) ?? 'nothing';
  } catch {
    return typeof v;
  }
}

function fieldValue(o: Record<string, unknown>, path: string): unknown {
  let cur: unknown = o;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** The key that keeps one write partition's pointers in order on one read partition. */
export function pointerKey(topic: string, writePartition: number): string {
  return `${topic}/${writePartition}`;
}
