import { createHash } from 'node:crypto';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  type DeleteObjectsCommandOutput,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  bodyLength,
  bodyParts,
  compareUtf8,
  destroyQuietly,
  etagVersion,
  type IncompleteUpload,
  InvalidInputError,
  type ListOptions,
  type ListPage,
  mapLimit,
  NotFoundError,
  normalizePrefix,
  type ObjectInfo,
  type ObjectStorage,
  PermanentError,
  type PutOptions,
  type PutResult,
  parseWithSchema,
  readExactly,
  type StorageCapabilities,
  TransientError,
} from '@barge/core';
import { clientConfig, installVectoredBodyMiddleware } from './client.js';
import { conditionFailure, conditionFields } from './conditions.js';
import { type S3StorageConfig, type S3StorageOptions, s3ConfigSchema } from './config.js';
import { sseFields } from './encryption.js';
import { mapS3Error } from './errors.js';
import { abortIncompleteUpload, type KeyLayout, listIncompleteUploads } from './incomplete-uploads.js';
import { putMultipart } from './multipart.js';
import { crc32Base64, VectoredBody } from './util.js';

const MAX_S3_KEY_BYTES = 1024;
const MAX_LIST_KEYS = 1000;
const HASH_BUCKETS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** One `DeleteObjects` request takes at most 1000 keys: core's guard splits bigger deletes. */
const S3_CAPABILITIES: StorageCapabilities = Object.freeze({
  etag: true,
  nestedKeys: true,
  maxDeleteBatch: 1000,
  conditionalPut: true,
});

/** What one put did, for tests and metrics: `single` PutObject or `multipart` with N parts. */
export interface S3PutStats {
  mode: 'single' | 'multipart';
  parts: number;
}

/**
 * `ObjectStorage` on Amazon S3 or an S3-compatible store, using `@aws-sdk/client-s3`.
 *
 * - Bodies below `multipartThresholdBytes` are one `PutObject`; larger ones a multipart upload
 *   whose parts are views into the caller's buffers (a part spanning several buffers is sent as
 *   several buffers, never concatenated), uploaded `partConcurrency` at a time. A failed
 *   multipart upload is aborted so no parts are left behind.
 * - Every request goes through the SDK's standard retry strategy (`maxAttempts`), including
 *   bodies made of several buffers: they are re-streamed for each attempt.
 * - Reads check that the body has exactly the announced length; a short body is a
 *   `TransientError`, never data.
 * - With `hashPrefix`, keys are stored as `<prefix>/<hh>/<key>` where `hh` is the first byte of
 *   SHA-256(key) in hex; `listPage` then lists the 256 hash prefixes and merges them, so it still
 *   returns keys in order (256 list requests per page: keep listings rare or disable hashPrefix).
 *
 * - Conditional puts send `If-None-Match: *` / `If-Match: "<etag>"` on PutObject, or on
 *   CompleteMultipartUpload for multipart bodies; the version token is the ETag.
 *
 * Keys, ranges and the closed state are checked by core's `guardStorage` (the plugin's `create`
 * returns a guarded instance); `delete` takes at most `capabilities.maxDeleteBatch` keys.
 */
export class S3Storage implements ObjectStorage {
  readonly adapter = 's3';
  readonly location: string;
  readonly capabilities = S3_CAPABILITIES;
  readonly config: S3StorageConfig;
  readonly client: S3Client;
  /** Stats of the most recent put, for tests. */
  lastPut: S3PutStats | undefined;

  private readonly base: string;
  private bucketChecked = false;

  constructor(options: S3StorageOptions, client?: S3Client) {
    this.config = parseWithSchema(s3ConfigSchema, options, 'storage');
    this.location = this.config.bucket;
    this.base = normalizePrefix(this.config.prefix);
    this.client = client ?? new S3Client(clientConfig(this.config));
    installVectoredBodyMiddleware(this.client);
  }

  /** The key as stored in the bucket: prefix, optional hash prefix, key. */
  storedKey(key: string): string {
    const stored = this.config.hashPrefix ? `${this.base}${hashOf(key)}/${key}` : `${this.base}${key}`;
    const bytes = Buffer.byteLength(stored, 'utf8');
    if (bytes > MAX_S3_KEY_BYTES) {
      throw new InvalidInputError(
        `object key ${JSON.stringify(key)} is ${bytes} bytes as stored (${JSON.stringify(stored.slice(0, stored.length - key.length))} + key); S3 allows at most ${MAX_S3_KEY_BYTES}: shorten the configured prefix`,
      );
    }
    return stored;
  }

  async put(key: string, body: Buffer | readonly Buffer[], options: PutOptions = {}): Promise<PutResult> {
    options.signal?.throwIfAborted();
    const size = bodyLength(body);
    const parts = bodyParts(body).filter((p) => p.length > 0);
    const Key = this.storedKey(key);
    if (size >= this.config.multipartThresholdBytes && size > 0) {
      const out = await putMultipart(this.client, this.config, Key, parts, size, options).catch((e) => {
        throw conditionFailure(e, options, key, `s3://${this.config.bucket}/${Key}`) ?? e;
      });
      this.lastPut = { mode: 'multipart', parts: out.parts };
      return { size, ...etagVersion(out.etag) };
    }
    const checksums = this.config.checksums;
    let Body: Buffer | VectoredBody;
    if (parts.length === 1) Body = parts[0] as Buffer;
    else if (parts.length === 0) Body = Buffer.alloc(0);
    else Body = new VectoredBody(parts);
    try {
      const out = await this.client.send(
        new PutObjectCommand({
          Bucket: this.config.bucket,
          Key,
          Body: Body as Buffer,
          ContentLength: size,
          ContentType: options.contentType ?? 'application/octet-stream',
          ...sseFields(this.config),
          ...conditionFields(options),
          // Our own CRC over the buffers: the SDK cannot checksum a body of several buffers.
          ...(checksums && Body instanceof VectoredBody ? { ChecksumCRC32: crc32Base64(parts) } : {}),
        }),
        // No abort signal: a PutObject cancelled after its body was sent may still be stored,
        // and the caller would be told it was not. An abort is honoured before it starts.
      );
      this.lastPut = { mode: 'single', parts: 1 };
      return { size, ...etagVersion(out.ETag) };
    } catch (e) {
      const failed = conditionFailure(e, options, key, `s3://${this.config.bucket}/${Key}`);
      throw failed ?? mapS3Error(e, { op: 'put', bucket: this.config.bucket, key: Key });
    }
  }

  async get(key: string): Promise<Buffer> {
    const Key = this.storedKey(key);
    const what = `s3 get s3://${this.config.bucket}/${Key}`;
    let body: unknown;
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.config.bucket,
          Key,
          ...(this.config.checksums ? { ChecksumMode: 'ENABLED' as const } : {}),
        }),
      );
      body = out.Body;
      if (out.ContentLength === undefined)
        throw new TransientError(`${what}: response has no Content-Length`);
      return await readExactly(out.Body as AsyncIterable<Uint8Array> | undefined, out.ContentLength, what);
    } catch (e) {
      destroyQuietly(body);
      throw mapS3Error(e, { op: 'get', bucket: this.config.bucket, key: Key });
    }
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    const Key = this.storedKey(key);
    const what = `s3 getRange s3://${this.config.bucket}/${Key} bytes=${offset}-${offset + length - 1}`;
    let body: unknown;
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.config.bucket,
          Key,
          Range: `bytes=${offset}-${offset + length - 1}`,
        }),
      );
      body = out.Body;
      const announced = out.ContentLength;
      if (announced === undefined) throw new TransientError(`${what}: response has no Content-Length`);
      const range = out.ContentRange ? parseContentRange(out.ContentRange) : undefined;
      if (range) {
        const expected = Math.min(length, range.total - offset);
        if (range.start !== offset || range.end - range.start + 1 !== expected || announced !== expected) {
          throw new TransientError(
            `${what}: server answered ${out.ContentRange} with ${announced} bytes, expected ${expected} bytes from ${offset}`,
          );
        }
        return await readExactly(out.Body as AsyncIterable<Uint8Array> | undefined, announced, what);
      }
      // No Content-Range: the server ignored the range and sent the whole object.
      const whole = await readExactly(out.Body as AsyncIterable<Uint8Array> | undefined, announced, what);
      return whole.subarray(Math.min(offset, whole.length), Math.min(offset + length, whole.length));
    } catch (e) {
      destroyQuietly(body);
      if (isInvalidRange(e)) return Buffer.alloc(0);
      throw mapS3Error(e, { op: 'getRange', bucket: this.config.bucket, key: Key });
    }
  }

  async head(key: string): Promise<ObjectInfo> {
    const Key = this.storedKey(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.config.bucket, Key }));
      return {
        key,
        size: out.ContentLength ?? 0,
        ...etagVersion(out.ETag),
        ...(out.LastModified ? { lastModified: out.LastModified } : {}),
      };
    } catch (e) {
      const mapped = mapS3Error(e, { op: 'head', bucket: this.config.bucket, key: Key });
      // HEAD responses have no body, so a missing bucket also looks like a plain 404.
      if (mapped.name === 'NotFoundError' && !this.bucketChecked) await this.checkBucket('head');
      throw mapped;
    }
  }

  /** Throws `PermanentError` if the bucket does not exist; remembers a bucket that does. */
  private async checkBucket(op: string): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.config.bucket }));
      this.bucketChecked = true;
    } catch (e) {
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404) {
        throw new PermanentError(`s3 ${op}: bucket "${this.config.bucket}" does not exist (NoSuchBucket)`, {
          cause: e,
        });
      }
      // Without s3:ListBucket the check cannot tell: keep the original NotFoundError.
      if (status === 401 || status === 403) {
        this.bucketChecked = true;
        return;
      }
      throw mapS3Error(e, { op, bucket: this.config.bucket });
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    const stored = keys.map((k) => this.storedKey(k));
    // DeleteObjects is an XML body, which cannot carry U+FFFE, U+FFFF or lone surrogates: such
    // keys are deleted one request each.
    const single = stored.filter((k) => NOT_XML.test(k));
    const batched = stored.filter((k) => !NOT_XML.test(k));
    if (batched.length > 0) await this.deleteBatch(batched);
    await mapLimit(single, 8, async (Key) => {
      try {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key }));
      } catch (e) {
        const mapped = mapS3Error(e, { op: 'delete', bucket: this.config.bucket, key: Key });
        if (!(mapped instanceof NotFoundError) || (e as { name?: string }).name === 'NoSuchBucket')
          throw mapped;
      }
    });
  }

  private async deleteBatch(batch: string[]): Promise<void> {
    let out: DeleteObjectsCommandOutput;
    try {
      out = await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.config.bucket,
          Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
        }),
      );
    } catch (e) {
      throw mapS3Error(e, { op: 'delete', bucket: this.config.bucket });
    }
    // DeleteObjects answers 200 and lists the keys it could not delete.
    const errors = (out.Errors ?? []).filter((err) => err.Code !== 'NoSuchKey');
    const first = errors[0];
    if (first) {
      const err = Object.assign(new Error(first.Message ?? first.Code ?? 'delete failed'), {
        name: first.Code ?? 'DeleteError',
      });
      const mapped = mapS3Error(err, { op: 'delete', bucket: this.config.bucket, key: first.Key });
      mapped.message += errors.length > 1 ? ` (and ${errors.length - 1} more keys failed)` : '';
      throw mapped;
    }
  }

  async listPage(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const limit = options.limit ?? 1000;
    if (!this.config.hashPrefix) {
      const r = await this.listRaw(this.base, prefix, options.startAfter, limit);
      return pageOf(r.objects, limit, r.truncated);
    }
    const perBucket = Math.min(limit, MAX_LIST_KEYS);
    const results = await mapLimit(HASH_BUCKETS, this.config.listConcurrency, (hh) =>
      this.listRaw(`${this.base}${hh}/`, prefix, options.startAfter, perBucket, true),
    );
    const merged = results.flatMap((r) => r.objects).sort((a, b) => compareUtf8(a.key, b.key));
    const truncated = results.some((r) => r.truncated);
    return pageOf(merged, limit, truncated);
  }

  /**
   * Keys under `root + prefix` after `root + startAfter`, with `root` removed, up to `limit`
   * (following continuation tokens), or one request of at most 1000 keys when `single`.
   */
  private async listRaw(
    root: string,
    prefix: string,
    startAfter: string | undefined,
    limit: number,
    single = false,
  ): Promise<{ objects: ObjectInfo[]; truncated: boolean }> {
    const objects: ObjectInfo[] = [];
    let token: string | undefined;
    for (;;) {
      let out: ListObjectsV2CommandOutput;
      try {
        out = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.config.bucket,
            Prefix: root + prefix,
            MaxKeys: Math.min(MAX_LIST_KEYS, limit - objects.length),
            // URL-encoded keys survive characters that XML 1.0 cannot carry (U+FFFF, ...).
            EncodingType: 'url',
            ...(token
              ? { ContinuationToken: token }
              : startAfter !== undefined
                ? { StartAfter: root + startAfter }
                : {}),
          }),
        );
      } catch (e) {
        throw mapS3Error(e, { op: 'list', bucket: this.config.bucket, key: root + prefix });
      }
      const encoded = out.EncodingType === 'url';
      for (const o of out.Contents ?? []) {
        if (o.Key === undefined) continue;
        const key = encoded ? decodeUrlKey(o.Key) : o.Key;
        if (!key.startsWith(root)) continue;
        objects.push({
          key: key.slice(root.length),
          size: o.Size ?? 0,
          ...etagVersion(o.ETag),
          ...(o.LastModified ? { lastModified: o.LastModified } : {}),
        });
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
      if (!token) return { objects, truncated: false };
      if (single || objects.length >= limit) return { objects, truncated: true };
    }
  }

  listIncompleteUploads(prefix: string): Promise<IncompleteUpload[]> {
    return listIncompleteUploads(this.client, this.#layout(), prefix);
  }

  abortIncompleteUpload(upload: IncompleteUpload): Promise<void> {
    return abortIncompleteUpload(this.client, this.#layout(), this.storedKey(upload.key), upload);
  }

  #layout(): KeyLayout {
    return { bucket: this.config.bucket, base: this.base, hashPrefix: this.config.hashPrefix };
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

function pageOf(objects: ObjectInfo[], limit: number, truncated: boolean): ListPage {
  const page = objects.slice(0, limit);
  const more = truncated || objects.length > limit;
  const last = page[page.length - 1];
  return more && last ? { objects: page, nextStartAfter: last.key } : { objects: page };
}

/** Characters XML 1.0 cannot represent (control characters are already invalid in keys). */
const NOT_XML = /[\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Decodes a key from a listing with `encoding-type=url` (`+` may stand for a space, as in forms). */
function decodeUrlKey(k: string): string {
  return decodeURIComponent(k.replace(/\+/g, ' '));
}

function hashOf(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 2);
}

function parseContentRange(v: string): { start: number; end: number; total: number } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(v.trim());
  if (!m) return undefined;
  const total = m[3] === '*' ? Number.POSITIVE_INFINITY : Number(m[3]);
  return { start: Number(m[1]), end: Number(m[2]), total };
}

function isInvalidRange(e: unknown): boolean {
  const err = e as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return (
    err?.name === 'InvalidRange' || err?.Code === 'InvalidRange' || err?.$metadata?.httpStatusCode === 416
  );
}
