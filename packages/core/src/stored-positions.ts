import { InvalidInputError, NotFoundError } from './errors.js';
import type { StoredPosition } from './pointer-queue.js';

/**
 * Longest `metadata` of a stored position, in UTF-8 bytes. Half of Kafka's default
 * `offset.metadata.max.bytes` (4096): the Kafka queue keeps the string inside its own commit
 * metadata (with the message index and the committing member), base64 at worst, and the whole
 * must fit Kafka's limit.
 */
export const MAX_POSITION_METADATA_BYTES = 2048;

/** A stored position after `checkStoredPositions`: `messageIndex` only when above 0, `metadata` never undefined. */
export interface CheckedStoredPosition {
  partition: number;
  offset: number;
  messageIndex?: number;
  metadata: string | null;
}

/** A UTF-16 surrogate without its pair: it has no UTF-8 form, so it would not come back as stored. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The checks of `PointerQueue.storePositions`, for adapters to run before writing anything:
 * `partitions` is the topic's read partition count, `high(p)` the high watermark of partition p
 * (called only for partitions in range). Throws `NotFoundError` for a partition the topic does
 * not have and `InvalidInputError` for anything else wrong, naming the position.
 */
export function checkStoredPositions(
  topic: string,
  positions: readonly StoredPosition[],
  partitions: number,
  high: (partition: number) => number,
): CheckedStoredPosition[] {
  if (!Array.isArray(positions)) throw new InvalidInputError('storePositions needs an array of positions');
  const seen = new Set<number>();
  return positions.map((pos, i) => {
    const what = `stored position ${i} (${topic}/${String(pos?.partition)})`;
    if (typeof pos !== 'object' || pos === null) throw new InvalidInputError(`${what} is not an object`);
    const { partition, offset, messageIndex, metadata } = pos;
    if (!Number.isSafeInteger(partition) || partition < 0) {
      throw new InvalidInputError(`${what}: partition must be an integer >= 0, got ${String(partition)}`);
    }
    if (partition >= partitions) {
      throw new NotFoundError(
        `${what}: topic ${topic} has read partitions 0..${partitions - 1}; there is no partition ${partition}`,
      );
    }
    if (seen.has(partition)) throw new InvalidInputError(`${what}: partition ${partition} is given twice`);
    seen.add(partition);
    const h = high(partition);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > h) {
      throw new InvalidInputError(
        `${what}: offset must be an integer in [0, ${h}] (the high watermark), got ${String(offset)}`,
      );
    }
    if (messageIndex !== undefined && (!Number.isSafeInteger(messageIndex) || messageIndex < 0)) {
      throw new InvalidInputError(
        `${what}: messageIndex must be an integer >= 0, got ${String(messageIndex)}`,
      );
    }
    if (messageIndex !== undefined && messageIndex > 0 && offset === h) {
      throw new InvalidInputError(
        `${what}: messageIndex ${messageIndex} at offset ${offset}, the high watermark, where no pointer is yet`,
      );
    }
    const out: CheckedStoredPosition = { partition, offset, metadata: checkMetadata(metadata, what) };
    if (messageIndex !== undefined && messageIndex > 0) out.messageIndex = messageIndex;
    return out;
  });
}

function checkMetadata(metadata: unknown, what: string): string | null {
  if (metadata === undefined || metadata === null) return null;
  if (typeof metadata !== 'string') {
    throw new InvalidInputError(`${what}: metadata must be a string or null, got ${typeof metadata}`);
  }
  const bytes = Buffer.byteLength(metadata, 'utf8');
  if (bytes > MAX_POSITION_METADATA_BYTES) {
    throw new InvalidInputError(
      `${what}: metadata is ${bytes} bytes (UTF-8); at most ${MAX_POSITION_METADATA_BYTES} are allowed`,
    );
  }
  if (LONE_SURROGATE.test(metadata)) {
    throw new InvalidInputError(`${what}: metadata holds an unpaired UTF-16 surrogate (not valid UTF-8)`);
  }
  return metadata;
}
