/**
 * A storage guarded by core's `guardStorage` except for one bug in the contract's preamble,
 * which it lets through to the storage below. It carries the guard's mark, so the suite tests it
 * as it is: each one must fail the suite, as a broken guard would.
 */
import {
  GUARDED_STORAGE,
  guardStorage,
  type ListOptions,
  type ListPage,
  MAX_KEY_BYTES,
  type ObjectInfo,
  type ObjectStorage,
  type PutOptions,
  type PutResult,
  type StorageCapabilities,
  validateKey,
  validateRange,
} from '@barge/core';
import type { GuardMutant } from './memory-storage.js';

export class BrokenGuard implements ObjectStorage {
  readonly [GUARDED_STORAGE] = true;
  readonly adapter: string;
  readonly location: string;
  readonly capabilities: StorageCapabilities;
  readonly #raw: ObjectStorage;
  readonly #guarded: ObjectStorage;
  #closes = 0;

  constructor(
    raw: ObjectStorage,
    private readonly mutant: GuardMutant,
  ) {
    this.#raw = raw;
    this.#guarded = guardStorage(raw);
    this.adapter = raw.adapter;
    this.location = raw.location;
    this.capabilities = raw.capabilities;
  }

  put(key: string, body: Buffer | readonly Buffer[], options?: PutOptions): Promise<PutResult> {
    return this.#forKey(key).put(key, body, options);
  }

  get(key: string): Promise<Buffer> {
    if (this.mutant === 'sync-throw') validateKey(key);
    return this.#forKey(key).get(key);
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    if (this.mutant === 'negative-offset-clamped') {
      return this.#guarded.getRange(key, Math.max(0, offset || 0), Math.max(0, length || 0));
    }
    if (this.mutant === 'missing-empty-range' && length === 0) {
      validateKey(key);
      validateRange(offset, length);
      return Buffer.alloc(0);
    }
    return this.#forKey(key).getRange(key, offset, length);
  }

  head(key: string): Promise<ObjectInfo> {
    return this.#forKey(key).head(key);
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (this.mutant === 'lazy-delete-validation') {
      for (const k of keys) await this.#guarded.delete([k]);
      return;
    }
    return keys.some((k) => this.#skipsValidation(k)) ? this.#raw.delete(keys) : this.#guarded.delete(keys);
  }

  listPage(prefix: string, options?: ListOptions): Promise<ListPage> {
    return (this.mutant === 'no-prefix-validation' ? this.#raw : this.#guarded).listPage(prefix, options);
  }

  async close(): Promise<void> {
    if (this.mutant === 'close-throws-twice' && ++this.#closes > 1) throw new Error('already closed');
    return this.#guarded.close();
  }

  /** The guard for keys it validates, the storage below for keys the bug lets through. */
  #forKey(key: string): ObjectStorage {
    return this.#skipsValidation(key) ? this.#raw : this.#guarded;
  }

  #skipsValidation(key: unknown): boolean {
    switch (this.mutant) {
      case 'no-key-validation':
        return !isValidKey(key);
      case 'key-length-in-chars':
        return (
          typeof key === 'string' && key.length <= MAX_KEY_BYTES && Buffer.byteLength(key) > MAX_KEY_BYTES
        );
      default:
        return false;
    }
  }
}

function isValidKey(key: unknown): boolean {
  try {
    validateKey(key);
    return true;
  } catch {
    return false;
  }
}
