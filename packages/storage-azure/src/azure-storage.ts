import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { TokenCredential } from '@azure/identity';
import {
  AnonymousCredential,
  BlobServiceClient,
  type BlockBlobClient,
  type ContainerClient,
  type StoragePipelineOptions,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import {
  bodyLength,
  bodyParts,
  compareUtf8,
  destroyQuietly,
  etagVersion,
  InvalidInputError,
  type ListOptions,
  type ListPage,
  mapLimit,
  normalizePrefix,
  type ObjectInfo,
  type ObjectStorage,
  type PutOptions,
  type PutResult,
  parseWithSchema,
  readExactly,
  type StorageCapabilities,
  sliceParts,
  TransientError,
} from '@barge/core';
import { accessConditions, conditionFailure } from './conditions.js';
import {
  type AzureStorageConfig,
  type AzureStorageOptions,
  authModeOf,
  azureConfigSchema,
} from './config.js';
import { azureErrorCode, azureStatus, mapAzureError } from './errors.js';
import { decodeBlobName, encodeBlobName } from './util.js';

const MAX_BLOB_NAME_CHARS = 1024;

/** Azure deletes one blob per request (`deleteConcurrency` at a time): any number of keys per call. */
const AZURE_CAPABILITIES: StorageCapabilities = Object.freeze({
  etag: true,
  nestedKeys: true,
  maxDeleteBatch: Number.POSITIVE_INFINITY,
  conditionalPut: true,
});

/** What one put did, for tests and metrics. */
export interface AzurePutStats {
  mode: 'single' | 'blocks';
  blocks: number;
}

/**
 * `ObjectStorage` on Azure Blob Storage (block blobs), using `@azure/storage-blob` 12.x.
 *
 * - Bodies up to `maxSingleShotSize` are one Put Blob; larger ones are staged as blocks of
 *   `blockSize` (views into the caller's buffers, `concurrency` at a time) and committed with one
 *   Put Block List, which makes the new blob visible atomically. Blocks of a failed upload are
 *   never committed; the service discards uncommitted blocks after a week.
 * - Bodies of several buffers are sent as a stream factory, so the SDK's retry policy re-streams
 *   them on each attempt; nothing is concatenated.
 * - Reads check the body length against the response. A body that ends early is a
 *   `TransientError`, never data. (The SDK resumes a body that ends cleanly but short, up to
 *   `maxDownloadRetries` times, pinned to the ETag; a dropped connection, which Node reports as
 *   "aborted", is not resumed by the SDK.)
 * - Conditional puts send `If-None-Match: *` / `If-Match: "<etag>"` on Put Blob or Put Block
 *   List; the version token is the ETag.
 *
 * Keys, ranges and the closed state are checked by core's `guardStorage` (the plugin's `create`
 * returns a guarded instance).
 */
export class AzureStorage implements ObjectStorage {
  readonly adapter = 'azure';
  readonly location: string;
  readonly capabilities = AZURE_CAPABILITIES;
  readonly config: AzureStorageConfig;
  readonly service: BlobServiceClient;
  readonly container: ContainerClient;
  /** Stats of the most recent put, for tests. */
  lastPut: AzurePutStats | undefined;

  private readonly base: string;

  constructor(options: AzureStorageOptions, service?: BlobServiceClient) {
    this.config = parseWithSchema(azureConfigSchema, options, 'storage');
    this.location = this.config.container;
    this.base = normalizePrefix(this.config.prefix);
    this.service = service ?? createServiceClient(this.config);
    this.container = this.service.getContainerClient(this.config.container);
  }

  /**
   * The blob name in the container: prefix + key, with the order-preserving escape of
   * `encodeBlobName` (only keys with U+D7FF or U+E000..U+FFFF change).
   */
  storedKey(key: string): string {
    const stored = encodeBlobName(`${this.base}${key}`);
    if (stored.length > MAX_BLOB_NAME_CHARS) {
      throw new InvalidInputError(
        `object key ${JSON.stringify(key)} is ${stored.length} characters as a blob name (with the prefix ${JSON.stringify(this.base)}); Azure allows at most ${MAX_BLOB_NAME_CHARS}: shorten the configured prefix`,
      );
    }
    return stored;
  }

  private blob(key: string): BlockBlobClient {
    return this.container.getBlockBlobClient(this.storedKey(key));
  }

  async put(key: string, body: Buffer | readonly Buffer[], options: PutOptions = {}): Promise<PutResult> {
    const { signal } = options;
    signal?.throwIfAborted();
    const size = bodyLength(body);
    const parts = bodyParts(body).filter((p) => p.length > 0);
    const blob = this.blob(key);
    const blobHTTPHeaders = { blobContentType: options.contentType ?? 'application/octet-stream' };
    const { encryptionScope } = this.config;
    const scope = encryptionScope !== undefined ? { encryptionScope } : {};
    try {
      if (size <= this.config.maxSingleShotSize) {
        // No abort signal: a Put Blob cancelled after its body was sent may still be stored, and
        // the caller would be told it was not. An abort is honoured before it starts.
        const out = await blob.upload(streamBody(parts), size, {
          ...scope,
          ...accessConditions(options),
          blobHTTPHeaders: this.config.transactionalMD5
            ? { ...blobHTTPHeaders, blobContentMD5: md5(parts) }
            : blobHTTPHeaders,
        });
        this.lastPut = { mode: 'single', blocks: 1 };
        return { size, ...etagVersion(out.etag) };
      }
      const blockSize = Math.max(this.config.blockSize, Math.ceil(size / 50_000));
      const count = Math.ceil(size / blockSize);
      // A random id per upload, so concurrent uploads to the same blob never mix blocks.
      const uploadId = randomBytes(8).toString('hex');
      const ids = Array.from({ length: count }, (_, i) =>
        Buffer.from(`${uploadId}-${String(i).padStart(6, '0')}`).toString('base64'),
      );
      const failFast = new AbortController();
      const blockSignal = signal ? AbortSignal.any([signal, failFast.signal]) : failFast.signal;
      await mapLimit(ids, this.config.concurrency, async (id, i) => {
        const slices = sliceParts(parts, i * blockSize, Math.min(size, (i + 1) * blockSize));
        const length = slices.reduce((n, s) => n + s.length, 0);
        try {
          await blob.stageBlock(id, streamBody(slices), length, {
            ...scope,
            abortSignal: blockSignal,
            ...(this.config.transactionalMD5 ? { transactionalContentMD5: md5(slices) } : {}),
          });
        } catch (e) {
          failFast.abort();
          throw e;
        }
      });
      // The last point where an abort can still guarantee that nothing is committed; the commit
      // itself is not cancelled (it may take effect even if its answer is lost).
      signal?.throwIfAborted();
      const out = await blob.commitBlockList(ids, {
        ...scope,
        blobHTTPHeaders,
        ...accessConditions(options),
      });
      this.lastPut = { mode: 'blocks', blocks: count };
      return { size, ...etagVersion(out.etag) };
    } catch (e) {
      signal?.throwIfAborted();
      const target = `${this.config.container}/${decodeBlobName(blob.name)}`;
      throw (
        conditionFailure(e, options, key, target) ??
        mapAzureError(e, this.ctx('put', decodeBlobName(blob.name)))
      );
    }
  }

  async get(key: string): Promise<Buffer> {
    const blob = this.blob(key);
    return this.read(blob, 0, undefined, 'get');
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    return this.read(this.blob(key), offset, length, 'getRange');
  }

  private async read(
    blob: BlockBlobClient,
    offset: number,
    count: number | undefined,
    op: string,
  ): Promise<Buffer> {
    const what = `azure ${op} ${this.config.container}/${decodeBlobName(blob.name)}${count === undefined ? '' : ` bytes=${offset}-${offset + count - 1}`}`;
    let body: NodeJS.ReadableStream | undefined;
    try {
      const res = await blob.download(offset, count, { maxRetryRequests: this.config.maxDownloadRetries });
      body = res.readableStreamBody;
      const announced = res.contentLength;
      if (announced === undefined) throw new TransientError(`${what}: response has no Content-Length`);
      if (count !== undefined && res.contentRange) {
        const m = /^bytes (\d+)-(-?\d+)\/(\d+|\*)$/.exec(res.contentRange.trim());
        const total = m?.[3] === '*' || !m ? Number.POSITIVE_INFINITY : Number(m[3]);
        if (offset >= total && announced === 0) {
          // Azurite answers a range of an empty blob with "bytes 0--1/0" instead of 416.
          destroyQuietly(body);
          return Buffer.alloc(0);
        }
        const expected = Math.min(count, total - offset);
        if (
          !m ||
          Number(m[1]) !== offset ||
          Number(m[2]) - offset + 1 !== expected ||
          announced !== expected
        ) {
          throw new TransientError(
            `${what}: server answered ${res.contentRange} with ${announced} bytes, expected ${expected} bytes from ${offset}`,
          );
        }
      }
      return await readExactly(body as AsyncIterable<Uint8Array> | undefined, announced, what);
    } catch (e) {
      destroyQuietly(body);
      if (azureStatus(e) === 416 || azureErrorCode(e) === 'InvalidRange') return Buffer.alloc(0);
      if (isTruncation(e)) {
        throw new TransientError(
          `${what}: response truncated and could not be resumed; the data was not returned`,
          {
            cause: e,
          },
        );
      }
      throw mapAzureError(e, this.ctx(op, decodeBlobName(blob.name)));
    }
  }

  async head(key: string): Promise<ObjectInfo> {
    const blob = this.blob(key);
    try {
      const p = await blob.getProperties();
      return {
        key,
        size: p.contentLength ?? 0,
        ...etagVersion(p.etag),
        ...(p.lastModified ? { lastModified: p.lastModified } : {}),
      };
    } catch (e) {
      throw mapAzureError(e, this.ctx('head', decodeBlobName(blob.name)));
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    const names = keys.map((k) => this.storedKey(k));
    await mapLimit(names, this.config.deleteConcurrency, async (name) => {
      const blob = this.container.getBlockBlobClient(name);
      try {
        await blob.delete({ deleteSnapshots: 'include' });
      } catch (e) {
        if (azureErrorCode(e) === 'BlobNotFound') return;
        throw mapAzureError(e, this.ctx('delete', decodeBlobName(blob.name)));
      }
    });
  }

  async listPage(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const limit = options.limit ?? 1000;
    const startAfter = options.startAfter === undefined ? undefined : this.base + options.startAfter;
    const objects: ObjectInfo[] = [];
    let more = false;
    try {
      const pages = this.container
        .listBlobsFlat({
          prefix: encodeBlobName(this.base + prefix),
          // (An empty startFrom is left out: Azurite then rejects the request signature.)
          ...(this.config.listStartFrom && startAfter ? { startFrom: encodeBlobName(startAfter) } : {}),
        })
        .byPage({ maxPageSize: Math.min(5000, limit + 1) });
      outer: for await (const page of pages) {
        for (const item of page.segment.blobItems) {
          const name = decodeBlobName(item.name);
          if (startAfter !== undefined && compareUtf8(name, startAfter) <= 0) continue;
          if (!name.startsWith(this.base)) continue;
          if (objects.length >= limit) {
            more = true;
            break outer;
          }
          objects.push({
            key: name.slice(this.base.length),
            size: item.properties.contentLength ?? 0,
            ...etagVersion(item.properties.etag),
            ...(item.properties.lastModified ? { lastModified: item.properties.lastModified } : {}),
          });
        }
        if (!page.continuationToken) break;
        if (objects.length >= limit) {
          more = true;
          break;
        }
      }
    } catch (e) {
      throw mapAzureError(e, this.ctx('list', this.base + prefix));
    }
    const last = objects[objects.length - 1];
    return more && last ? { objects, nextStartAfter: last.key } : { objects };
  }

  /** Nothing to release: the adapter keeps no handles of its own. */
  async close(): Promise<void> {}

  private ctx(op: string, key?: string): { op: string; container: string; account: string; key?: string } {
    return {
      op,
      container: this.config.container,
      account: this.service.accountName,
      ...(key ? { key } : {}),
    };
  }
}

/** A body the SDK can send again on retry: one buffer, or a factory of fresh streams over several. */
function streamBody(parts: readonly Buffer[]): Buffer | (() => NodeJS.ReadableStream) {
  if (parts.length === 0) return Buffer.alloc(0);
  if (parts.length === 1) return parts[0] as Buffer;
  return () => Readable.from(parts, { objectMode: false });
}

function md5(parts: readonly Buffer[]): Uint8Array {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest();
}

function isTruncation(e: unknown): boolean {
  const msg = (e as { message?: string })?.message ?? '';
  return (
    /received less data than required|premature close|aborted/i.test(msg) && azureStatus(e) === undefined
  );
}

function createServiceClient(c: AzureStorageConfig): BlobServiceClient {
  const pipeline: StoragePipelineOptions = {
    retryOptions: {
      maxTries: c.maxTries,
      retryDelayInMs: c.retryDelayMs,
      maxRetryDelayInMs: c.maxRetryDelayMs,
      ...(c.tryTimeoutMs ? { tryTimeoutInMs: c.tryTimeoutMs } : {}),
    },
    keepAliveOptions: { enable: true },
  };
  switch (authModeOf(c)) {
    case 'connectionString':
      return BlobServiceClient.fromConnectionString(c.connectionString as string, pipeline);
    case 'sasToken': {
      const url = new URL(c.accountUrl as string);
      url.search = (c.sasToken as string).replace(/^\?/, '');
      return new BlobServiceClient(url.toString(), new AnonymousCredential(), pipeline);
    }
    case 'accountKey':
      return new BlobServiceClient(
        c.accountUrl as string,
        new StorageSharedKeyCredential(c.accountName as string, c.accountKey as string),
        pipeline,
      );
    case 'defaultAzureCredential':
      return new BlobServiceClient(c.accountUrl as string, lazyDefaultCredential(), pipeline);
  }
}

/**
 * `DefaultAzureCredential`, loaded on first use so `@azure/identity` (and MSAL) is only imported
 * by deployments that use it.
 */
function lazyDefaultCredential(): TokenCredential {
  let cred: Promise<TokenCredential> | undefined;
  return {
    async getToken(scopes, options) {
      cred ??= import('@azure/identity').then((m) => new m.DefaultAzureCredential());
      return (await cred).getToken(scopes, options);
    },
  };
}
