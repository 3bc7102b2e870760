import type { ObjectStorage } from '@barge/core';
import { BATCH_PREFIX } from '../keys.js';

/**
 * Aborts the multipart uploads of `topic`'s batches started more than `olderThanMs` before
 * `now` and never finished (a broker killed mid-upload), on stores that list them (S3). No
 * pointer can reference an upload that is not an object; one still running would only fail its
 * PUT, which the writer retries. Returns the keys of the aborted uploads.
 */
export async function abortAbandonedUploads(
  storage: ObjectStorage,
  topic: string,
  now: number,
  olderThanMs: number,
): Promise<string[]> {
  const list = storage.listIncompleteUploads?.bind(storage);
  const abort = storage.abortIncompleteUpload?.bind(storage);
  if (!list || !abort) return [];
  const stale = (await list(`${BATCH_PREFIX}${topic}/`)).filter(
    (u) => now - u.startedAt.getTime() > olderThanMs,
  );
  for (const u of stale) await abort(u);
  return stale.map((u) => u.key);
}
