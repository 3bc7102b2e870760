/**
 * The contract every storage adapter implements. Semantics below are exactly what
 * `describeObjectStorage` in `@barge/testkit` checks.
 *
 * Keys: 1..1024 bytes of UTF-8, no NUL or control characters, no leading `/`, no `.` or `..`
 * path segments, no `//`. Invalid keys, prefixes and ranges reject with `InvalidInputError`
 * naming the problem (see `validateKey`, `validatePrefix`, `validateRange`). After `close()`
 * every operation rejects with `PermanentError`. Every failure is a rejected promise, never a
 * synchronous throw.
 *
 * Adapters do not check any of that themselves: `guardStorage` wraps an adapter and does it once
 * for all of them, and the broker, the registry and every built-in plugin's `create` apply it.
 * Through the guard an adapter's methods receive only valid keys, prefixes, ranges and list
 * options; `getRange` never receives a zero length (the guard answers it with `head`), `delete`
 * receives 1..`capabilities.maxDeleteBatch` distinct keys, nothing is called after `close()`,
 * and `close()` is called at most once.
 */
export interface ObjectStorage {
  /** Adapter name, e.g. `local`, `s3`; written into pointers. */
  readonly adapter: string;
  /** Bucket, container or root directory this instance writes to; written into pointers. */
  readonly location: string;
  /** How this backend legitimately differs from the default object-store behaviour. */
  readonly capabilities: StorageCapabilities;

  /**
   * Store `body` under `key`, replacing any object already there (last writer wins). The write
   * is atomic: a reader sees the old object, or the whole new one, never a partial object.
   * `body` may be several buffers; they are written in order as one object, without being
   * concatenated first where the backend allows it.
   *
   * Conditional puts (only with `capabilities.conditionalPut`; the guard rejects them otherwise
   * with `PermanentError`): `ifNoneMatch: '*'` writes only if no object exists at `key`;
   * `ifMatch: version` writes only if the object exists and its current version is `version`
   * (from `PutResult.version` or `ObjectInfo.version`). The check and the write are one atomic
   * step against other conditional puts of the key: of N concurrent conditional puts made with
   * the same expectation, exactly one succeeds. A failed condition rejects with
   * `PreconditionFailedError` and writes nothing. Because a request may be retried after its
   * answer was lost, a `PreconditionFailedError` can also mean "your own earlier attempt
   * succeeded": callers re-read the object before deciding.
   */
  put(key: string, body: Buffer | readonly Buffer[], options?: PutOptions): Promise<PutResult>;

  /** The whole object. Throws `NotFoundError` if it does not exist. */
  get(key: string): Promise<Buffer>;

  /**
   * Bytes `[offset, offset + length)`, truncated at the object's end; a range starting at or past
   * the end gives an empty buffer. Throws `NotFoundError` if the object does not exist and
   * `InvalidInputError` for a negative offset or length. A response shorter than promised by
   * the server is a `TransientError`, never returned as data.
   */
  getRange(key: string, offset: number, length: number): Promise<Buffer>;

  /**
   * Size and metadata, with the `version` that `ifMatch` takes when the adapter has
   * `capabilities.conditionalPut`. Throws `NotFoundError` if the object does not exist.
   */
  head(key: string): Promise<ObjectInfo>;

  /**
   * Delete keys; missing keys are ignored (idempotent), duplicates are deleted once. If any key
   * is invalid the whole call rejects with `InvalidInputError` and deletes nothing. More keys
   * than `capabilities.maxDeleteBatch` are deleted in several calls of the adapter, so a failure
   * may leave some of them deleted.
   */
  delete(keys: readonly string[]): Promise<void>;

  /**
   * One page of keys starting with `prefix`, in ascending order of their UTF-8 bytes, strictly
   * after `startAfter` when given. `nextStartAfter` is set when more keys may follow. A `limit`
   * that is not a positive integer, or a `startAfter` that is not a string, rejects with
   * `InvalidInputError`.
   */
  listPage(prefix: string, options?: ListOptions): Promise<ListPage>;

  /** Release connections and handles. Idempotent; operations called afterwards reject. */
  close(): Promise<void>;

  /**
   * Optional (stores whose multipart uploads outlive a writer killed mid-upload, e.g. S3): the
   * uploads of keys starting with `prefix` that were started and neither completed nor aborted.
   * They are not objects: `listPage` does not show them, but the store keeps (and bills) their parts.
   */
  listIncompleteUploads?(prefix: string): Promise<IncompleteUpload[]>;

  /**
   * Optional, with `listIncompleteUploads`: discards one incomplete upload and its parts. An
   * upload still running then fails its `put` (which the writer retries); no object changes.
   */
  abortIncompleteUpload?(upload: IncompleteUpload): Promise<void>;
}

/** A multipart upload started and not finished (see `listIncompleteUploads`). */
export interface IncompleteUpload {
  readonly key: string;
  /** The store's id of the upload. */
  readonly uploadId: string;
  readonly startedAt: Date;
}

/**
 * The ways a backend may legitimately differ from the default (cloud object store) behaviour,
 * declared by each adapter on its instance. Core reacts to them (`guardStorage`) and the
 * contract suite switches groups of assertions by them; none just skips.
 */
export interface StorageCapabilities {
  /**
   * `put` returns an `etag`, `head` returns the same one (and `listPage` too when it reports
   * etags), and writing different content to the key changes it. `false` only for a backend
   * with no version identifier at all (`ObjectInfo.etag` is optional).
   */
  readonly etag: boolean;
  /**
   * A key may also be a `/`-prefix of other keys: `a/b` and `a/b/c` can both exist, as in every
   * object store. File-system backends map `/` to directories, where a path is a file or a
   * directory but not both; with `false` such a `put` rejects with `PermanentError` and changes
   * nothing, and the key becomes writable once the conflicting keys are deleted.
   */
  readonly nestedKeys: boolean;
  /**
   * The most keys one `delete` call of the adapter takes (a positive integer, or `Infinity`),
   * e.g. 1000 for S3 `DeleteObjects`. `guardStorage` splits bigger deletes into calls of at
   * most this many keys.
   */
  readonly maxDeleteBatch: number;
  /**
   * `put` honours `ifNoneMatch: '*'` and `ifMatch` atomically, and `put` and `head` return a
   * `version` that changes on every write that changes the bytes (S3 ETags are content hashes). Absent means `false`: conditional puts are then
   * refused by the guard, and features that need them (leases shared by several brokers)
   * must refuse to run on this storage.
   */
  readonly conditionalPut?: boolean;
}

export interface PutOptions {
  contentType?: string;
  /** Abort the write (the object is then not created). */
  signal?: AbortSignal;
  /** `'*'`: create only if no object exists at the key (needs `capabilities.conditionalPut`). */
  ifNoneMatch?: '*';
  /**
   * Replace only if the object's current `version` is this one (needs
   * `capabilities.conditionalPut`). Not together with `ifNoneMatch`.
   */
  ifMatch?: string;
}

export interface PutResult {
  size: number;
  etag?: string;
  /**
   * Opaque token of the version just written, for a later `ifMatch`: the ETag on S3, Azure and
   * local disk, the generation on GCS. Set when the adapter has `capabilities.conditionalPut`.
   */
  version?: string;
}

export interface ObjectInfo {
  key: string;
  size: number;
  etag?: string;
  /** The current version's token for `ifMatch` (see `PutResult.version`); `head` sets it. */
  version?: string;
  lastModified?: Date;
}

/** True if `options` asks for a conditional put. */
export function isConditionalPut(options: PutOptions | undefined): boolean {
  return options?.ifNoneMatch !== undefined || options?.ifMatch !== undefined;
}

export interface ListOptions {
  startAfter?: string;
  /** Page size; adapters may return fewer. Default 1000. */
  limit?: number;
}

export interface ListPage {
  objects: ObjectInfo[];
  nextStartAfter?: string;
}

/** Every object under `prefix`, page by page. */
export async function* listAll(
  storage: ObjectStorage,
  prefix: string,
  options: ListOptions = {},
): AsyncGenerator<ObjectInfo> {
  let startAfter = options.startAfter;
  for (;;) {
    const page = await storage.listPage(prefix, { ...options, startAfter });
    yield* page.objects;
    if (page.nextStartAfter === undefined) return;
    startAfter = page.nextStartAfter;
  }
}

export function bodyLength(body: Buffer | readonly Buffer[]): number {
  if (Buffer.isBuffer(body)) return body.length;
  let n = 0;
  for (const b of body) n += b.length;
  return n;
}

export function bodyParts(body: Buffer | readonly Buffer[]): readonly Buffer[] {
  return Buffer.isBuffer(body) ? [body] : body;
}
