import {
  hasErrorCode,
  type ObjectStorage,
  PermanentError,
  type PutOptions,
  TransientError,
} from '@barge/core';

/** Attempts of one update before giving up with a `TransientError` (each lost to another writer). */
export const MAX_UPDATE_ATTEMPTS = 50;

/** What `change` decides: the bytes to store (and the caller's result), or nothing to store. */
export type DocumentChange<R> = { write: Buffer; result: R } | { write?: undefined; result: R };

/**
 * Read-modify-write of one small object in storage (a sequence lease, the users or the ACLs):
 * on a storage with `capabilities.conditionalPut` a compare-and-swap — `ifMatch` the version
 * read, or `ifNoneMatch: '*'` when there is none — re-read and retried when another writer won,
 * so concurrent writers (brokers, `barge users|acls` runs) never lose each other's updates.
 * Without the capability the write is a plain put and the last writer wins.
 *
 * `change` gets the stored bytes (undefined when the object does not exist) and may run several
 * times; its result from the attempt that was written is returned. A `PRECONDITION_FAILED` that
 * in fact follows our own write (an answer lost and the request retried) only costs a retry.
 */
export async function updateStoredDocument<R>(
  storage: ObjectStorage,
  key: string,
  what: string,
  change: (stored: Buffer | undefined) => DocumentChange<R>,
  putOptions: PutOptions = {},
): Promise<R> {
  const cas = storage.capabilities.conditionalPut === true;
  for (let attempt = 1; ; attempt++) {
    const stored = await readVersioned(storage, key, what, cas);
    const decided = change(stored?.bytes);
    if (decided.write === undefined) return decided.result;
    const condition: PutOptions = !cas ? {} : stored ? { ifMatch: stored.version } : { ifNoneMatch: '*' };
    try {
      await storage.put(key, decided.write, { ...putOptions, ...condition });
      return decided.result;
    } catch (e) {
      if (!hasErrorCode(e, 'PRECONDITION_FAILED')) throw e;
      if (attempt >= MAX_UPDATE_ATTEMPTS) {
        throw new TransientError(`${what}: lost ${attempt} compare-and-swaps in a row to other writers`, {
          cause: e,
        });
      }
      await new Promise((r) => setTimeout(r, Math.random() * 5 * Math.min(attempt, 10)));
    }
  }
}

/**
 * The stored bytes and, with `cas`, their version: `head` first, then `get`, so if the object
 * changes in between the version is the older one and the compare-and-swap fails. Undefined if
 * the object does not exist.
 */
async function readVersioned(
  storage: ObjectStorage,
  key: string,
  what: string,
  cas: boolean,
): Promise<{ bytes: Buffer; version: string } | undefined> {
  let version = '';
  try {
    if (cas) {
      const v = (await storage.head(key)).version;
      if (v === undefined) {
        throw new PermanentError(
          `${what}: the ${storage.adapter} storage declares conditionalPut but head returned no version`,
        );
      }
      version = v;
    }
    return { bytes: await storage.get(key), version };
  } catch (e) {
    // Missing: nothing stored yet (or deleted between head and get: the ifNoneMatch then fails and we read again).
    if (hasErrorCode(e, 'NOT_FOUND')) return undefined;
    throw e;
  }
}
