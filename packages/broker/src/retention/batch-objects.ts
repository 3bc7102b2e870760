import { listAll, type ObjectStorage } from '@barge/core';
import { BATCH_PREFIX, ORPHANS_META_PREFIX } from '../keys.js';

/** One stored batch object of a topic, as the listing shows it. */
export interface BatchObject {
  readonly key: string;
  readonly writePartition: number;
  readonly sequence: number;
  readonly size: number;
  /** When the store says the object was written (ms since the epoch); undefined if it does not say. */
  readonly storedAt: number | undefined;
}

/** `topics/<topic>/<wp>/<16-digit sequence>-<brokerId>-<random>[-h<n>]` (see `batchKey`). */
const BATCH_KEY_TAIL = /^(\d+)\/(\d{16})-\d+-[0-9a-f]+(?:-h\d+)?$/;

/** The write partition and sequence of a batch key of `topic`; undefined for any other key. */
export function parseBatchKey(
  topic: string,
  key: string,
): { writePartition: number; sequence: number } | undefined {
  const prefix = `${BATCH_PREFIX}${topic}/`;
  if (!key.startsWith(prefix)) return undefined;
  const m = BATCH_KEY_TAIL.exec(key.slice(prefix.length));
  if (!m) return undefined;
  return { writePartition: Number(m[1]), sequence: Number(m[2]) };
}

/** Every batch object of `topic` (keys that are not batch keys are left alone). */
export async function listBatchObjects(storage: ObjectStorage, topic: string): Promise<BatchObject[]> {
  const out: BatchObject[] = [];
  for await (const o of listAll(storage, `${BATCH_PREFIX}${topic}/`)) {
    const parsed = parseBatchKey(topic, o.key);
    if (!parsed) continue;
    out.push({ key: o.key, ...parsed, size: o.size, storedAt: o.lastModified?.getTime() });
  }
  return out;
}

/** The orphan markers (`_meta/orphans/<key>`) of `topic`'s batch objects: object key to marker write time. */
export async function listOrphanMarkers(
  storage: ObjectStorage,
  topic: string,
): Promise<Map<string, number | undefined>> {
  const out = new Map<string, number | undefined>();
  for await (const o of listAll(storage, `${ORPHANS_META_PREFIX}${BATCH_PREFIX}${topic}/`)) {
    out.set(o.key.slice(ORPHANS_META_PREFIX.length), o.lastModified?.getTime());
  }
  return out;
}
