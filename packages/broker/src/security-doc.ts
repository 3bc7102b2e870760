/**
 * A JSON document of security metadata in the broker's storage (`_meta/security/…`, e.g. the
 * users of `auth/credentials.ts`), read at start and re-read every `security.refreshMs`, so that
 * every broker sharing the storage converges on what `barge users|acls` last wrote. Reusable as
 * is for the ACLs (`acls.json`): give it the key, a parser and the empty value.
 */
import { bargeErrorCode, errorMessage, type ObjectStorage } from '@barge/core';
import type { Logger } from 'pino';

/** Checks a parsed JSON document and turns it into its in-memory form; throws on invalid content. */
export type DocParser<T> = (json: unknown) => T;

/** The document at `key` (`empty` when there is none). Throws on unreadable storage or invalid content. */
export async function readSecurityDoc<T>(
  storage: ObjectStorage,
  key: string,
  parse: DocParser<T>,
  empty: T,
): Promise<T> {
  let bytes: Buffer;
  try {
    bytes = await storage.get(key);
  } catch (e) {
    if (bargeErrorCode(e) === 'NOT_FOUND') return empty;
    throw e;
  }
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

/** Replaces the document at `key` (last writer wins: storage has no conditional writes). */
export async function writeSecurityDoc(storage: ObjectStorage, key: string, json: unknown): Promise<void> {
  await storage.put(key, Buffer.from(`${JSON.stringify(json, null, 2)}\n`), {
    contentType: 'application/json',
  });
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
