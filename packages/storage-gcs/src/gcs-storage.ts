import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import {
  bodyLength,
  bodyParts,
  InvalidInputError,
  isConditionalPut,
  type ListOptions,
  type ListPage,
  mapLimit,
  normalizePrefix,
  type ObjectInfo,
  type ObjectStorage,
  PermanentError,
  PreconditionFailedError,
  type PutOptions,
  type PutResult,
  parseWithSchema,
  type StorageCapabilities,
  TransientError,
} from '@barge/core';
import {
  type Bucket,
  type File,
  IdempotencyStrategy,
  RETRYABLE_ERR_FN_DEFAULT,
  Storage,
  type StorageOptions,
} from '@google-cloud/storage';
import { type GcsStorageConfig, type GcsStorageOptions, gcsConfigSchema } from './config.js';
import { FastCrc32c } from './crc32c.js';
import { Downloader } from './download.js';
import { httpStatus, isFetchTimeout, isLostResumableSession, mapGcsError } from './errors.js';

const MAX_GCS_NAME_BYTES = 1024;

/** GCS deletes one object per request (`deleteConcurrency` at a time): any number of keys per call. */
const GCS_CAPABILITIES: StorageCapabilities = Object.freeze({
  etag: true,
  nestedKeys: true,
  maxDeleteBatch: Number.POSITIVE_INFINITY,
  conditionalPut: true,
});

/** What one put did, for tests and metrics. */
export interface GcsPutStats {
  mode: 'simple' | 'resumable';
}

/**
 * `ObjectStorage` on Google Cloud Storage, using `@google-cloud/storage` 7.x.
 *
 * - Bodies below `resumableThresholdBytes` go in one multipart request, larger ones through a
 *   resumable upload session. The body is streamed from the caller's buffers (never
 *   concatenated) and re-streamed when the client retries.
 * - Every request uses the client's retry (`maxRetries`), with the idempotency strategy set to
 *   "retry always": a put replaces the whole object with the same bytes, so repeating it is safe.
 * - Full downloads are CRC32C-validated by the client; every read also checks that the body has
 *   exactly the length the server announced (ranged reads carry no checksum). A short body is a
 *   `TransientError`, never data.
 *
 * - Conditional puts send `ifGenerationMatch` (0 for `ifNoneMatch: '*'`); the version token is
 *   the object's generation.
 *
 * Keys, ranges and the closed state are checked by core's `guardStorage` (the plugin's `create`
 * returns a guarded instance).
 */
export class GcsStorage implements ObjectStorage {
  readonly adapter = 'gcs';
  readonly location: string;
  readonly capabilities = GCS_CAPABILITIES;
  readonly config: GcsStorageConfig;
  readonly storage: Storage;
  readonly bucket: Bucket;
  /** Stats of the most recent put, for tests. */
  lastPut: GcsPutStats | undefined;

  private readonly base: string;
  private readonly downloader: Downloader;
  private bucketChecked = false;

  constructor(options: GcsStorageOptions, storage?: Storage) {
    this.config = parseWithSchema(gcsConfigSchema, options, 'storage');
    this.location = this.config.bucket;
    this.base = normalizePrefix(this.config.prefix);
    if (process.env.STORAGE_EMULATOR_HOST && !storage) {
      process.emitWarning(
        `STORAGE_EMULATOR_HOST=${process.env.STORAGE_EMULATOR_HOST} is set: @google-cloud/storage sends every request there, ignoring apiEndpoint`,
        { code: 'BARGE_GCS_EMULATOR_HOST' },
      );
    }
    this.storage = storage ?? new Storage(storageOptions(this.config));
    this.bucket = this.storage.bucket(this.config.bucket);
    this.downloader = new Downloader(this.storage, {
      maxRetries: this.config.maxRetries,
      maxRetryDelayMs: this.config.maxRetryDelaySeconds * 1000,
      timeoutMs: this.config.timeoutMs,
      validation: this.config.validation,
    });
  }

  /** The object name in the bucket: prefix + key. */
  storedKey(key: string): string {
    const stored = `${this.base}${key}`;
    const bytes = Buffer.byteLength(stored, 'utf8');
    if (bytes > MAX_GCS_NAME_BYTES) {
      throw new InvalidInputError(
        `object key ${JSON.stringify(key)} is ${bytes} bytes with the prefix ${JSON.stringify(this.base)}; GCS allows at most ${MAX_GCS_NAME_BYTES}: shorten the configured prefix`,
      );
    }
    return stored;
  }

  private file(key: string): File {
    return this.bucket.file(this.storedKey(key));
  }

  async put(key: string, body: Buffer | readonly Buffer[], options: PutOptions = {}): Promise<PutResult> {
    const { signal } = options;
    signal?.throwIfAborted();
    const size = bodyLength(body);
    const parts = bodyParts(body).filter((p) => p.length > 0);
    const resumable = size >= this.config.resumableThresholdBytes && size > 0;
    const { kmsKeyName } = this.config;
    const file = this.bucket.file(this.storedKey(key), kmsKeyName ? { kmsKeyName } : {});
    // Resumable uploads go through the auth client (gaxios), which has no timeout by default: a
    // response cut short would hang. Each request gets one that allows for sending the body at
    // 1 MB/s. And the client does not cancel the request of an upload whose source fails (it
    // would wait for more bytes forever): with a signal, the upload gets its own agent, and an
    // abort destroys its sockets, which fails the request at once.
    let bodyEnded = false;
    const abortable =
      resumable && signal ? abortableAgent(this.storage.apiEndpoint, signal, () => bodyEnded) : undefined;
    if (resumable) {
      const timeout = this.config.timeoutMs + Math.ceil(size / 1000);
      file.interceptors.push({
        request: (reqOpts) =>
          Object.assign(reqOpts as RequestOptions, { timeout }, abortable ? { agent: abortable.agent } : {}),
      });
    }
    // A function source: the client calls it again for each retry, so the body is re-streamed.
    // An abort stops it between buffers; once it has ended, the upload may be committed at any
    // moment, so a later abort no longer cancels anything and the put completes.
    const source = async function* (): AsyncGenerator<Buffer> {
      bodyEnded = false;
      for (const p of parts) {
        signal?.throwIfAborted();
        yield p;
      }
      signal?.throwIfAborted();
      bodyEnded = true;
    };
    try {
      await file.save(source, {
        resumable,
        validation: this.config.validation ? 'crc32c' : false,
        contentType: options.contentType ?? 'application/octet-stream',
        metadata: { contentType: options.contentType ?? 'application/octet-stream' },
        ...(resumable && this.config.resumableChunkSize ? { chunkSize: this.config.resumableChunkSize } : {}),
        ...generationCondition(options),
      });
    } catch (e) {
      signal?.throwIfAborted();
      if (httpStatus(e) === 412 && isConditionalPut(options)) {
        throw new PreconditionFailedError(
          `gcs put gs://${this.config.bucket}/${file.name} ${options.ifNoneMatch ? 'if none match' : `if generation ${options.ifMatch}`}: the object ${options.ifNoneMatch ? 'already exists' : 'is missing or has another generation'} (HTTP 412)`,
          key,
          { cause: e },
        );
      }
      if (httpStatus(e) === 404) {
        // A missing bucket, or a resumable session that is gone (expired, or completed while
        // its answer was lost: the emulator then answers 404 to the retried request).
        this.bucketChecked = false;
        await this.ensureBucket('put', e);
        throw new TransientError(
          `gcs put gs://${this.config.bucket}/${file.name}: the upload session is gone (HTTP 404); the put can be retried`,
          { cause: e },
        );
      }
      throw mapGcsError(e, { op: 'put', bucket: this.config.bucket, key: file.name });
    } finally {
      abortable?.dispose();
    }
    this.lastPut = { mode: resumable ? 'resumable' : 'simple' };
    const meta = file.metadata as {
      size?: string | number;
      etag?: string;
      md5Hash?: string;
      generation?: string | number;
    };
    if (meta.size !== undefined && Number(meta.size) !== size) {
      throw new TransientError(
        `gcs put gs://${this.config.bucket}/${file.name}: server stored ${meta.size} bytes, sent ${size}`,
      );
    }
    const etag = meta.etag ?? meta.md5Hash;
    return { size, ...(etag ? { etag } : {}), ...versionOf(meta) };
  }

  async get(key: string): Promise<Buffer> {
    const name = this.storedKey(key);
    try {
      const r = await this.downloader.download(
        this.config.bucket,
        name,
        undefined,
        `gcs get gs://${this.config.bucket}/${name}`,
      );
      return r.data;
    } catch (e) {
      throw await this.mapReadError(e, 'get', name);
    }
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    const name = this.storedKey(key);
    const end = offset + length - 1; // inclusive
    try {
      const r = await this.downloader.download(
        this.config.bucket,
        name,
        { start: offset, end },
        `gcs getRange gs://${this.config.bucket}/${name} bytes=${offset}-${end}`,
      );
      return r.data; // empty for 416: the range starts at or past the end
    } catch (e) {
      throw await this.mapReadError(e, 'getRange', name);
    }
  }

  private async mapReadError(e: unknown, op: string, name: string): Promise<Error> {
    if (httpStatus(e) === 404) {
      await this.ensureBucket(op, e);
    }
    return mapGcsError(e, { op, bucket: this.config.bucket, key: name });
  }

  async head(key: string): Promise<ObjectInfo> {
    const file = this.file(key);
    try {
      const [meta] = await file.getMetadata();
      return {
        key,
        size: Number(meta.size ?? 0),
        ...(meta.etag ? { etag: meta.etag } : {}),
        ...versionOf(meta),
        ...(meta.updated ? { lastModified: new Date(meta.updated) } : {}),
      };
    } catch (e) {
      throw await this.mapReadError(e, 'head', file.name);
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    let missing = 0;
    const names = keys.map((k) => this.storedKey(k));
    await mapLimit(names, this.config.deleteConcurrency, async (name) => {
      const file = this.bucket.file(name);
      try {
        await file.delete();
      } catch (e) {
        if (httpStatus(e) === 404) {
          missing++;
          return;
        }
        throw mapGcsError(e, { op: 'delete', bucket: this.config.bucket, key: file.name });
      }
    });
    // A missing bucket also answers 404: do not let that pass as "already deleted".
    if (missing > 0) await this.ensureBucket('delete');
  }

  async listPage(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const limit = options.limit ?? 1000;
    const startAfter = options.startAfter === undefined ? undefined : this.base + options.startAfter;
    const objects: ObjectInfo[] = [];
    let pageToken: string | undefined;
    let more = false;
    for (;;) {
      let files: File[];
      let next: { pageToken?: string } | null | undefined;
      try {
        [files, next] = (await this.bucket.getFiles({
          prefix: this.base + prefix,
          // One extra: `startOffset` is inclusive and the key equal to `startAfter` is skipped.
          maxResults: Math.min(1000, limit - objects.length + 1),
          autoPaginate: false,
          ...(pageToken ? { pageToken } : startAfter !== undefined ? { startOffset: startAfter } : {}),
        })) as unknown as [File[], { pageToken?: string } | null];
      } catch (e) {
        if (httpStatus(e) === 404) throw this.missingBucket('list', e);
        throw mapGcsError(e, { op: 'list', bucket: this.config.bucket, key: this.base + prefix });
      }
      for (const f of files) {
        if (startAfter !== undefined && compareStored(f.name, startAfter) <= 0) continue;
        if (!f.name.startsWith(this.base)) continue;
        if (objects.length >= limit) {
          more = true;
          break;
        }
        const meta = f.metadata;
        objects.push({
          key: f.name.slice(this.base.length),
          size: Number(meta.size ?? 0),
          ...(meta.etag ? { etag: meta.etag } : {}),
          ...(meta.updated ? { lastModified: new Date(meta.updated) } : {}),
        });
      }
      pageToken = next?.pageToken;
      if (more || !pageToken) break;
      if (objects.length >= limit) {
        more = true;
        break;
      }
    }
    const last = objects[objects.length - 1];
    return more && last ? { objects, nextStartAfter: last.key } : { objects };
  }

  async close(): Promise<void> {
    this.downloader.close();
  }

  private missingBucket(op: string, cause: unknown): PermanentError {
    return new PermanentError(`gcs ${op}: bucket "${this.config.bucket}" does not exist`, { cause });
  }

  /**
   * GCS answers 404 for a missing bucket and a missing object alike (the emulator even with the
   * same message), so the first 404 is followed by a bucket check; a bucket seen once is trusted.
   */
  private async ensureBucket(op: string, cause?: unknown): Promise<void> {
    if (this.bucketChecked) return;
    let exists: boolean;
    try {
      [exists] = await this.bucket.exists();
    } catch (e) {
      const status = httpStatus(e);
      // Without storage.buckets.get (roles/storage.objectAdmin lacks it) the check cannot tell:
      // keep the original answer rather than turning a missing object into an AuthError.
      if (status === 401 || status === 403) {
        this.bucketChecked = true;
        return;
      }
      throw mapGcsError(e, { op, bucket: this.config.bucket });
    }
    if (!exists) throw this.missingBucket(op, cause);
    this.bucketChecked = true;
  }
}

/** What the client's request interceptors return. */
type RequestOptions = ReturnType<File['interceptors'][number]['request']>;

/** An agent whose sockets are destroyed with the signal's reason when it aborts before `committing()`. */
function abortableAgent(
  endpoint: string,
  signal: AbortSignal,
  committing: () => boolean,
): { agent: http.Agent; dispose(): void } {
  const sockets = new Set<Duplex>();
  const agent = endpoint.startsWith('http:')
    ? new http.Agent({ keepAlive: false })
    : new https.Agent({ keepAlive: false });
  const create = (
    agent as unknown as { createConnection: (...args: unknown[]) => Duplex }
  ).createConnection.bind(agent);
  (agent as unknown as { createConnection: (...args: unknown[]) => Duplex }).createConnection = (...args) => {
    const socket = create(...args);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    if (signal.aborted && !committing()) socket.destroy(abortReason(signal));
    return socket;
  };
  const onAbort = () => {
    if (committing()) return;
    for (const socket of sockets) socket.destroy(abortReason(signal));
  };
  signal.addEventListener('abort', onAbort, { once: true });
  return {
    agent,
    dispose() {
      signal.removeEventListener('abort', onAbort);
      agent.destroy();
    },
  };
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error
    ? signal.reason
    : new DOMException('The operation was aborted', 'AbortError');
}

/** The generation as the `version` token: it changes on every write of the object, content or not. */
function versionOf(meta: { generation?: string | number }): { version?: string } {
  return meta.generation !== undefined ? { version: String(meta.generation) } : {};
}

/** `ifGenerationMatch`: 0 means "no live object", as GCS defines it. */
function generationCondition(o: PutOptions): { preconditionOpts?: { ifGenerationMatch: number } } {
  if (o.ifNoneMatch !== undefined) return { preconditionOpts: { ifGenerationMatch: 0 } };
  if (o.ifMatch === undefined) return {};
  // A token that is not a generation matches no object: -1 is never one.
  const generation = /^[1-9]\d{0,17}$/.test(o.ifMatch) ? Number(o.ifMatch) : -1;
  return { preconditionOpts: { ifGenerationMatch: generation } };
}

function compareStored(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function storageOptions(c: GcsStorageConfig): StorageOptions {
  return {
    ...(c.projectId ? { projectId: c.projectId } : {}),
    ...(c.apiEndpoint ? { apiEndpoint: c.apiEndpoint.replace(/\/+$/, '') } : {}),
    ...(c.useAuthWithCustomEndpoint !== undefined
      ? { useAuthWithCustomEndpoint: c.useAuthWithCustomEndpoint }
      : {}),
    ...(c.keyFilename ? { keyFilename: c.keyFilename } : {}),
    // Per attempt, until the response has been read; the client's default is 60 s.
    timeout: c.timeoutMs,
    ...(c.credentials ? { credentials: c.credentials } : {}),
    // ~15× faster than the client's own CRC32C, which would cap validated transfers at ~55 MB/s.
    crc32cGenerator: () => new FastCrc32c(),
    retryOptions: {
      autoRetry: c.maxRetries > 0,
      maxRetries: c.maxRetries,
      maxRetryDelay: c.maxRetryDelaySeconds,
      idempotencyStrategy: IdempotencyStrategy.RetryAlways,
      // A resumable session that lost bytes the client already streamed cannot resume; the
      // client then gives up with a RangeError. Retrying starts a new session with a fresh
      // stream of the same buffers, which is safe. Timeouts are retried too.
      retryableErrorFn: (err) =>
        RETRYABLE_ERR_FN_DEFAULT(err) || isLostResumableSession(err) || isFetchTimeout(err),
    },
  };
}
