import { CorruptDataError, errorMessage, hasErrorCode, type ObjectStorage } from '@barge/core';
import { offsetMetaKey } from '../keys.js';
import { updateStoredDocument } from '../stored-document.js';

/** Offsets a ceiling write makes room for: one storage write per this many messages of a write partition. */
export const OFFSET_BLOCK = 2 ** 24;

/**
 * A durable bound above every dense offset a write partition has handed out:
 * `_meta/offsets/<topic>/<wp>.json` holds `{"ceiling": C}`, raised (never lowered: a
 * compare-and-swap keeps the larger value) before any offset at or above the old ceiling is
 * stamped. It matters only when retention removed every pointer of the write partition: the
 * tail then says nothing, and the next ownership period starts at the ceiling (a gap) instead
 * of at 0 (reused offsets).
 */
export class OffsetCeiling {
  constructor(private readonly storage: ObjectStorage) {}

  /** The stored ceiling; 0 when none was written. */
  async read(topic: string, writePartition: number): Promise<number> {
    const key = offsetMetaKey(topic, writePartition);
    try {
      return parseCeiling(key, await this.storage.get(key));
    } catch (e) {
      if (hasErrorCode(e, 'NOT_FOUND')) return 0;
      throw e;
    }
  }

  /** Raises the stored ceiling to at least `target` (never lowers it); resolves to the ceiling stored. */
  raise(topic: string, writePartition: number, target: number): Promise<number> {
    const key = offsetMetaKey(topic, writePartition);
    return updateStoredDocument(
      this.storage,
      key,
      `offset ceiling ${key}`,
      (stored) => {
        const current = stored === undefined ? 0 : parseCeiling(key, stored);
        if (current >= target) return { result: current };
        return {
          write: Buffer.from(JSON.stringify({ ceiling: target, topic, writePartition })),
          result: target,
        };
      },
      { contentType: 'application/json' },
    );
  }
}

function parseCeiling(key: string, bytes: Buffer): number {
  let ceiling: unknown;
  try {
    ceiling = (JSON.parse(bytes.toString('utf8')) as { ceiling?: unknown }).ceiling;
  } catch (e) {
    throw new CorruptDataError(`offset ceiling ${key} is unreadable: ${errorMessage(e)}`, { cause: e });
  }
  if (typeof ceiling !== 'number' || !Number.isSafeInteger(ceiling) || ceiling < 0) {
    throw new CorruptDataError(
      `offset ceiling ${key} is unreadable: "ceiling" is ${JSON.stringify(ceiling)}`,
    );
  }
  return ceiling;
}
