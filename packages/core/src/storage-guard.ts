/**
 * The storage contract's preamble, done once for every adapter: what the JSDoc of
 * `ObjectStorage` promises callers and what an adapter may then assume.
 */
import { mapLimit } from './adapter-kit.js';
import { InvalidInputError, PermanentError } from './errors.js';
import { validateKey, validatePrefix, validateRange } from './keys.js';
import {
  isConditionalPut,
  type ListOptions,
  type ListPage,
  type ObjectInfo,
  type ObjectStorage,
  type PutOptions,
  type PutResult,
  type StorageCapabilities,
} from './storage.js';

/**
 * Set to `true` on every guarded storage. A `Symbol.for` key, so a storage guarded by another
 * copy of `@barge/core` (a plugin's own) is recognised and not wrapped twice.
 */
export const GUARDED_STORAGE: unique symbol = Symbol.for('barge.storage.guarded');

/** Delete calls of one split bulk delete that run at the same time. */
const DELETE_BATCHES_IN_FLIGHT = 4;

/**
 * Wraps `adapter` so that every call follows the contract's preamble: keys, prefixes, ranges,
 * list options and bodies are checked (`InvalidInputError`, as a rejected promise), calls after
 * `close()` reject with `PermanentError`, a zero-length `getRange` is answered with `head` (so a
 * missing object is still a `NotFoundError`), `delete` drops duplicates, answers `[]` itself and
 * splits more than `capabilities.maxDeleteBatch` keys into several calls, and `close()` closes
 * the adapter once. Bodies are passed through as given, never copied.
 *
 * A storage that is already guarded (by this or another copy of core) is returned as is.
 * Throws `InvalidInputError` if `adapter.capabilities` is missing or malformed.
 */
export function guardStorage(adapter: ObjectStorage): ObjectStorage {
  if ((adapter as Partial<Record<typeof GUARDED_STORAGE, unknown>>)[GUARDED_STORAGE] === true) return adapter;
  return new GuardedStorage(adapter, checkCapabilities(adapter));
}

class GuardedStorage implements ObjectStorage {
  readonly [GUARDED_STORAGE] = true;
  readonly adapter: string;
  readonly location: string;
  readonly #inner: ObjectStorage;
  #closing: Promise<void> | undefined;

  readonly listIncompleteUploads: ObjectStorage['listIncompleteUploads'];
  readonly abortIncompleteUpload: ObjectStorage['abortIncompleteUpload'];

  constructor(
    inner: ObjectStorage,
    readonly capabilities: StorageCapabilities,
  ) {
    this.#inner = inner;
    this.adapter = inner.adapter;
    this.location = inner.location;
    const list = inner.listIncompleteUploads?.bind(inner);
    const abort = inner.abortIncompleteUpload?.bind(inner);
    if (list && abort) {
      this.listIncompleteUploads = async (prefix) => {
        this.#checkOpen();
        validatePrefix(prefix);
        return list(prefix);
      };
      this.abortIncompleteUpload = async (upload) => {
        this.#checkOpen();
        validateKey(upload.key);
        return abort(upload);
      };
    }
  }

  async put(key: string, body: Buffer | readonly Buffer[], options?: PutOptions): Promise<PutResult> {
    this.#checkOpen();
    validateKey(key);
    checkBody(body);
    if (isConditionalPut(options))
      checkConditions(this.adapter, this.capabilities, key, options as PutOptions);
    return this.#inner.put(key, body, options);
  }

  async get(key: string): Promise<Buffer> {
    this.#checkOpen();
    validateKey(key);
    return this.#inner.get(key);
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    this.#checkOpen();
    validateKey(key);
    validateRange(offset, length);
    if (length === 0) {
      await this.#inner.head(key);
      return Buffer.alloc(0);
    }
    return this.#inner.getRange(key, offset, length);
  }

  async head(key: string): Promise<ObjectInfo> {
    this.#checkOpen();
    validateKey(key);
    return this.#inner.head(key);
  }

  async delete(keys: readonly string[]): Promise<void> {
    this.#checkOpen();
    if (!Array.isArray(keys)) throw new InvalidInputError('delete: keys must be an array of keys');
    for (const k of keys) validateKey(k);
    const unique = [...new Set(keys)];
    const max = this.capabilities.maxDeleteBatch;
    if (unique.length === 0) return;
    if (unique.length <= max) return this.#inner.delete(unique);
    const batches: string[][] = [];
    for (let i = 0; i < unique.length; i += max) batches.push(unique.slice(i, i + max));
    await mapLimit(batches, DELETE_BATCHES_IN_FLIGHT, (batch) => this.#inner.delete(batch));
  }

  async listPage(prefix: string, options?: ListOptions): Promise<ListPage> {
    this.#checkOpen();
    validatePrefix(prefix);
    checkListOptions(options);
    return this.#inner.listPage(prefix, options);
  }

  close(): Promise<void> {
    this.#closing ??= this.#closeInner();
    return this.#closing;
  }

  async #closeInner(): Promise<void> {
    await this.#inner.close();
  }

  #checkOpen(): void {
    if (this.#closing) {
      throw new PermanentError(`${this.adapter} storage ${JSON.stringify(this.location)} is closed`);
    }
  }
}

function checkCapabilities(adapter: ObjectStorage): StorageCapabilities {
  const c = (adapter as { capabilities?: Partial<StorageCapabilities> }).capabilities;
  const max = c?.maxDeleteBatch;
  if (
    typeof c?.etag !== 'boolean' ||
    typeof c.nestedKeys !== 'boolean' ||
    (c.conditionalPut !== undefined && typeof c.conditionalPut !== 'boolean') ||
    typeof max !== 'number' ||
    !(max === Number.POSITIVE_INFINITY || (Number.isSafeInteger(max) && max >= 1))
  ) {
    throw new InvalidInputError(
      `storage adapter ${JSON.stringify(adapter.adapter)} must declare capabilities { etag: boolean, nestedKeys: boolean, maxDeleteBatch: a positive integer or Infinity, conditionalPut?: boolean }, got ${describeCapabilities(c)}`,
    );
  }
  return c as StorageCapabilities;
}

/** A conditional put needs the capability, exactly one condition, and a well-formed one. */
function checkConditions(
  adapter: string,
  capabilities: StorageCapabilities,
  key: string,
  o: PutOptions,
): void {
  if (capabilities.conditionalPut !== true) {
    throw new PermanentError(
      `put ${JSON.stringify(key)}: the ${adapter} storage adapter does not support conditional puts (capabilities.conditionalPut)`,
    );
  }
  if (o.ifNoneMatch !== undefined && o.ifMatch !== undefined) {
    throw new InvalidInputError(`put ${JSON.stringify(key)}: give ifNoneMatch or ifMatch, not both`);
  }
  if (o.ifNoneMatch !== undefined && o.ifNoneMatch !== '*') {
    throw new InvalidInputError(`put ${JSON.stringify(key)}: ifNoneMatch must be '*'`);
  }
  if (o.ifMatch !== undefined && (typeof o.ifMatch !== 'string' || o.ifMatch === '')) {
    throw new InvalidInputError(`put ${JSON.stringify(key)}: ifMatch must be a non-empty version string`);
  }
}

function checkBody(body: Buffer | readonly Buffer[]): void {
  if (Buffer.isBuffer(body)) return;
  if (!Array.isArray(body)) throw new InvalidInputError('put: body must be a Buffer or an array of Buffers');
  for (const [i, p] of body.entries()) {
    if (!(p instanceof Uint8Array)) throw new InvalidInputError(`put: body part ${i} is not a Buffer`);
  }
}

function checkListOptions(options: ListOptions | undefined): void {
  const limit = options?.limit;
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) {
    throw new InvalidInputError(`listPage: limit must be a positive integer, got ${limit}`);
  }
  const startAfter = options?.startAfter;
  if (startAfter !== undefined && typeof startAfter !== 'string') {
    throw new InvalidInputError(`listPage: startAfter must be a string, got ${typeof startAfter}`);
  }
}

function describeCapabilities(v: unknown): string {
  if (v === undefined) return 'none';
  return JSON.stringify(v, (_k, x) => (x === Number.POSITIVE_INFINITY ? 'Infinity' : x));
}
