/**
 * The contract every storage adapter implements. Semantics below are exactly what
 * `describeObjectStorage` in `@barge/testkit` checks.
 *
 * Keys: 1..1024 bytes of UTF-8, no NUL or control characters, no leading `/`, no `.` or `..`
 * path segments, no `//`. Adapters reject other keys with `InvalidInputError` (see `validateKey`).
 */
export interface ObjectStorage {
  /** Adapter name, e.g. `local`, `s3`; written into pointers. */
  readonly adapter: string;
  /** Bucket, container or root directory this instance writes to; written into pointers. */
  readonly location: string;

  /**
   * Store `body` under `key`, replacing any object already there (last writer wins). The write
   * is atomic: a reader sees the old object, or the whole new one, never a partial object.
   * `body` may be several buffers; they are written in order as one object, without being
   * concatenated first where the backend allows it.
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

  /** Size and metadata. Throws `NotFoundError` if the object does not exist. */
  head(key: string): Promise<ObjectInfo>;

  /** Delete keys; missing keys are ignored (idempotent). */
  delete(keys: readonly string[]): Promise<void>;

  /**
   * One page of keys starting with `prefix`, in ascending order of their UTF-8 bytes, strictly
   * after `startAfter` when given. `nextStartAfter` is set when more keys may follow.
   */
  listPage(prefix: string, options?: ListOptions): Promise<ListPage>;

  /** Release connections and handles. Idempotent. */
  close(): Promise<void>;
}

export interface PutOptions {
  contentType?: string;
  /** Abort the write (the object is then not created). */
  signal?: AbortSignal;
}

export interface PutResult {
  size: number;
  etag?: string;
}

export interface ObjectInfo {
  key: string;
  size: number;
  etag?: string;
  lastModified?: Date;
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
