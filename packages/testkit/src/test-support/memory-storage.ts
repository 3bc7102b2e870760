/**
 * An in-memory `ObjectStorage` used only to test the contract suite itself: the reference
 * implementation must pass it, and each mutant (one deliberate, realistic bug) must fail it.
 * Like every adapter it leaves the contract's preamble to core's guard; the mutants of that
 * preamble are `BrokenGuard`'s. Not exported from the package: adapters are tested against real
 * backends.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import {
  bodyParts,
  InvalidInputError,
  type ListOptions,
  type ListPage,
  NotFoundError,
  type ObjectInfo,
  type ObjectStorage,
  type PutOptions,
  type PutResult,
  type StorageCapabilities,
} from '@barge/core';

export const MUTANTS = [
  'utf16-order',
  'case-insensitive-order',
  'like-prefix',
  'startafter-inclusive',
  'ignore-limit',
  'skip-after-page',
  'no-next-start-after',
  'list-size-zero',
  'no-prefix-validation',
  'range-zero-pad',
  'range-past-end-throws',
  'negative-offset-clamped',
  'missing-empty-range',
  'plain-not-found',
  'not-found-without-key',
  'prefix-is-object',
  'delete-missing-throws',
  'lazy-delete-validation',
  'no-key-validation',
  'key-length-in-chars',
  'sync-throw',
  'torn-write',
  'keeps-caller-buffer',
  'shared-result-buffer',
  'drops-after-empty-part',
  'ignore-abort',
  'static-etag',
  'truncate-large',
  'close-throws-twice',
] as const;
export type Mutant = (typeof MUTANTS)[number];

/** The mutants of the contract's preamble (core's guard), made by `BrokenGuard`. */
export const GUARD_MUTANTS = [
  'no-prefix-validation',
  'negative-offset-clamped',
  'missing-empty-range',
  'lazy-delete-validation',
  'no-key-validation',
  'key-length-in-chars',
  'sync-throw',
  'close-throws-twice',
] as const satisfies readonly Mutant[];
export type GuardMutant = (typeof GUARD_MUTANTS)[number];
/** The mutants of the adapter's own work, made by `MemoryStorage`. */
export type StoreMutant = Exclude<Mutant, GuardMutant>;

export function isGuardMutant(m: Mutant): m is GuardMutant {
  return (GUARD_MUTANTS as readonly Mutant[]).includes(m);
}

interface Entry {
  data: Buffer;
  etag: string;
  lastModified: Date;
}

const utf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
let etagCounter = 0;

/** Deletes are split at 1000 keys, so the suite's bulk delete exercises the guard's splitting. */
const MEMORY_CAPABILITIES: StorageCapabilities = Object.freeze({
  etag: true,
  nestedKeys: true,
  maxDeleteBatch: 1000,
});

export class MemoryStorage implements ObjectStorage {
  readonly adapter = 'memory';
  readonly location = 'memory';
  readonly capabilities = MEMORY_CAPABILITIES;
  private readonly objects = new Map<string, Entry>();

  constructor(private readonly mutant?: StoreMutant) {}

  private is(m: StoreMutant): boolean {
    return this.mutant === m;
  }

  private notFound(key: string): Error {
    if (this.is('plain-not-found')) return new Error(`no such object ${key}`);
    if (this.is('not-found-without-key')) return new NotFoundError('object not found');
    return new NotFoundError(`object ${JSON.stringify(key)} not found`);
  }

  private entry(key: string): Entry {
    const e = this.objects.get(key);
    if (e) return e;
    if (this.is('prefix-is-object') && [...this.objects.keys()].some((k) => k.startsWith(`${key}/`))) {
      return { data: Buffer.alloc(0), etag: 'dir', lastModified: new Date() };
    }
    throw this.notFound(key);
  }

  async put(key: string, body: Buffer | readonly Buffer[], options: PutOptions = {}): Promise<PutResult> {
    const signal = this.is('ignore-abort') ? undefined : options.signal;
    signal?.throwIfAborted();
    let parts = bodyParts(body);
    if (this.is('drops-after-empty-part')) {
      const i = parts.findIndex((p, n) => n > 0 && p.length === 0);
      if (i >= 0) parts = parts.slice(0, i);
    }
    const etag = this.is('static-etag') ? 'etag' : `e${++etagCounter}`;
    if (this.is('torn-write')) {
      const done: Buffer[] = [];
      for (const p of parts) {
        done.push(p);
        this.objects.set(key, { data: Buffer.concat(done), etag, lastModified: new Date() });
        await yieldToLoop();
      }
      return { size: Buffer.concat(done).length, etag };
    }
    let data = Buffer.isBuffer(body) && this.is('keeps-caller-buffer') ? body : Buffer.concat(parts);
    if (this.is('truncate-large')) data = data.subarray(0, 64 * 1024 * 1024);
    await yieldToLoop();
    signal?.throwIfAborted();
    this.objects.set(key, { data, etag, lastModified: new Date() });
    return { size: data.length, etag };
  }

  async get(key: string): Promise<Buffer> {
    await yieldToLoop();
    const data = this.entry(key).data;
    return this.is('shared-result-buffer') ? data : Buffer.from(data);
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    await yieldToLoop();
    const data = this.entry(key).data;
    if (this.is('range-past-end-throws') && offset >= data.length && data.length > 0) {
      throw new InvalidInputError(`range starts past the end`);
    }
    const out = Buffer.from(data.subarray(offset, offset + length));
    if (this.is('range-zero-pad') && out.length < length) {
      return Buffer.concat([out, Buffer.alloc(Math.min(length, 4096) - Math.min(out.length, 4096))]);
    }
    return out;
  }

  async head(key: string): Promise<ObjectInfo> {
    await yieldToLoop();
    const e = this.entry(key);
    return { key, size: e.data.length, etag: e.etag, lastModified: e.lastModified };
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0 || keys.length > this.capabilities.maxDeleteBatch) {
      throw new Error(
        `the guard passed ${keys.length} keys to delete; it must split them into 1..${this.capabilities.maxDeleteBatch}`,
      );
    }
    await yieldToLoop();
    for (const k of keys) {
      if (!this.objects.delete(k) && this.is('delete-missing-throws')) throw this.notFound(k);
    }
  }

  async listPage(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const limit = options.limit ?? 1000;
    await yieldToLoop();
    let match = (k: string) => k.startsWith(prefix);
    if (this.is('like-prefix')) {
      const re = new RegExp(
        `^${prefix
          .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
          .replace(/%/g, '.*')
          .replace(/_/g, '.')}`,
        'u',
      );
      match = (k) => re.test(k);
    }
    let compare = utf8;
    if (this.is('utf16-order')) compare = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
    if (this.is('case-insensitive-order')) {
      compare = (a, b) => utf8(a.toLowerCase(), b.toLowerCase()) || utf8(a, b);
    }
    const after = options.startAfter;
    const keys = [...this.objects.keys()]
      .filter(match)
      .sort(compare)
      .filter((k) => {
        if (after === undefined) return true;
        const c = compare(k, after);
        return this.is('startafter-inclusive') ? c >= 0 : c > 0;
      });
    const page = this.is('ignore-limit') ? keys : keys.slice(0, limit);
    const objects = page.map((key) => {
      const e = this.objects.get(key) as Entry;
      return {
        key,
        size: this.is('list-size-zero') ? 0 : e.data.length,
        etag: e.etag,
        lastModified: e.lastModified,
      };
    });
    if (page.length === keys.length || this.is('no-next-start-after')) return { objects };
    const nextStartAfter = this.is('skip-after-page') ? keys[page.length] : page.at(-1);
    return { objects, nextStartAfter };
  }

  async close(): Promise<void> {}
}
