/**
 * A JSON document of security metadata in the broker's storage (`_meta/security/…`, e.g. the
 * users of `auth/credentials.ts`), read at start and re-read every `security.refreshMs`, so that
 * every broker sharing the storage converges on what `barge users|acls` last wrote. Reusable as
 * is for the ACLs (`acls.json`): give it the key, a parser and the empty value.
 */
import { bargeErrorCode, errorMessage, type ObjectStorage } from '@barge/core';
import type { Logger } from 'pino';
import { updateStoredDocument } from './stored-document.js';

/** Checks a parsed JSON document and turns it into its in-memory form; throws on invalid content. */
export type DocParser<T> = (json: unknown) => T;

/** The document at `key` (`empty` when there is none). Throws on unreadable storage or invalid content. */
export async function readSecurityDoc<T>(
  storage: ObjectStorage,
  key: string,
  parse: DocParser<T>,
  empty: T,
): Promise<T> {
  try {
    return parseSecurityDoc(key, await storage.get(key), parse);
  } catch (e) {
    if (bargeErrorCode(e) === 'NOT_FOUND') return empty;
    throw e;
  }
}

function parseSecurityDoc<T>(key: string, bytes: Buffer, parse: DocParser<T>): T {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new Error(`${key} is not valid JSON: ${errorMessage(e)}`);
  }
  try {
    return parse(json);
  } catch (e) {
    throw new Error(`${key} is invalid: ${errorMessage(e)}`);
  }
}

/**
 * Reads the document at `key`, lets `change` decide its new JSON (undefined: leave it), and writes
 * it as a compare-and-swap where the storage offers conditional puts, so two `barge users|acls`
 * runs at the same moment never lose each other's change (`change` then runs again on the
 * winner's version). Returns what `change` said with the version that was written.
 */
export async function updateSecurityDoc<T, R>(
  storage: ObjectStorage,
  key: string,
  parse: DocParser<T>,
  empty: T,
  change: (current: T) => { json?: unknown; result: R },
): Promise<R> {
  return updateStoredDocument(
    storage,
    key,
    key,
    (stored) => {
      const { json, result } = change(stored === undefined ? empty : parseSecurityDoc(key, stored, parse));
      if (json === undefined) return { result };
      return { write: Buffer.from(`${JSON.stringify(json, null, 2)}\n`), result };
    },
    { contentType: 'application/json' },
  );
}

/** A document kept in memory and refreshed in the background; the last good version stays on failure. */
export class SecurityDoc<T> {
  readonly #empty: T;
  #value: T;
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;

  constructor(
    private readonly storage: ObjectStorage,
    readonly key: string,
    private readonly parse: DocParser<T>,
    empty: T,
    private readonly refreshMs: number,
    private readonly log: Logger,
  ) {
    this.#value = empty;
    this.#empty = empty;
  }

  get current(): T {
    return this.#value;
  }

  /** Reads the document (throwing what fails), then re-reads it every `refreshMs` until `stop()`. */
  async start(): Promise<void> {
    this.#value = await readSecurityDoc(this.storage, this.key, this.parse, this.#empty);
    this.#timer ??= setInterval(() => void this.refresh(), this.refreshMs).unref();
  }

  /** Re-reads the document now; a failure is logged and the previous version kept. */
  refresh(): Promise<void> {
    this.#refreshing ??= readSecurityDoc(this.storage, this.key, this.parse, this.#empty)
      .then(
        (v) => {
          this.#value = v;
        },
        (e: unknown) => {
          this.log.warn(
            { key: this.key, err: errorMessage(e) },
            'cannot refresh security metadata; keeping the previous version',
          );
        },
      )
      .finally(() => {
        this.#refreshing = undefined;
      });
    return this.#refreshing;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
