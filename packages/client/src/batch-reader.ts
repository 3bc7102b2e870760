import {
  type BatchHeader,
  type BatchPointer,
  CorruptDataError,
  checkHeaderMatchesPointer,
  type DecodedMessage,
  decodeBatchHeader,
  guardStorage,
  InvalidInputError,
  iterateChunk,
  type ObjectStorage,
} from '@barge/core';
import { type ResolvedRetry, resolveRetry, withRetry } from './retry.js';

/**
 * Where batch bytes come from: object storage directly (`StorageObjectSource`) or the broker's
 * read proxy (`ProxyObjectSource`). `readRange` returns bytes `[offset, offset + length)` of the
 * object the pointer names, truncated at the object's end, and is never asked for more than
 * `maxReadBytes` at once.
 */
export interface ObjectSource {
  readonly maxReadBytes: number;
  readRange(pointer: BatchPointer, offset: number, length: number): Promise<Buffer>;
}

/** Reads batches straight from object storage (the consumer has credentials for the bucket). */
export class StorageObjectSource implements ObjectSource {
  readonly maxReadBytes = Number.MAX_SAFE_INTEGER;

  readonly #storage: ObjectStorage;

  /** `storage` is guarded (`guardStorage`): keys and ranges from pointers are checked in core. */
  constructor(storage: ObjectStorage) {
    this.#storage = guardStorage(storage);
  }

  async readRange(pointer: BatchPointer, offset: number, length: number): Promise<Buffer> {
    const s = pointer.storage;
    if (s.adapter !== this.#storage.adapter || s.location !== this.#storage.location) {
      throw new InvalidInputError(
        `batch ${s.key} is in ${s.adapter} storage at ${JSON.stringify(s.location)}, but the consumer's storage is ${this.#storage.adapter} at ${JSON.stringify(this.#storage.location)}`,
      );
    }
    if (offset === 0 && length >= pointer.objectSize) return this.#storage.get(s.key);
    return this.#storage.getRange(s.key, offset, length);
  }
}

export interface BatchReaderOptions {
  /** Objects up to this size are fetched in one read; larger ones header first, then chunk by chunk. Default 1 MiB. */
  wholeObjectBytes?: number;
  /** Retries of transient read failures. */
  retry?: ResolvedRetry;
  /** Largest uncompressed chunk accepted. */
  maxUncompressedBytes?: number;
}

/**
 * Reads the messages of one batch: the header (prefix `[0, headerLength)`, checked against the
 * pointer), then the chunks the caller needs by byte range, each verified (length, CRC-32) and
 * decompressed by the core decoders. Small objects are fetched whole in one read.
 */
export class BatchReader {
  private readonly wholeObjectBytes: number;
  private readonly retry: ResolvedRetry;

  constructor(
    readonly source: ObjectSource,
    private readonly options: BatchReaderOptions = {},
  ) {
    this.wholeObjectBytes = options.wholeObjectBytes ?? 1024 * 1024;
    this.retry = options.retry ?? resolveRetry({ retries: 5 });
  }

  /** Bytes `[offset, offset + length)`, in reads of at most `maxReadBytes`, retried when transient. */
  async read(pointer: BatchPointer, offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    const max = Math.max(1, this.source.maxReadBytes);
    const parts: Buffer[] = [];
    let got = 0;
    while (got < length) {
      const n = Math.min(max, length - got);
      const at = offset + got;
      const part = await withRetry(() => this.source.readRange(pointer, at, n), this.retry, { signal });
      if (part.length !== n) {
        throw new CorruptDataError(
          `batch ${pointer.storage.key}: read of ${n} bytes at ${at} returned ${part.length}; the pointer says the object has ${pointer.objectSize} bytes`,
        );
      }
      parts.push(part);
      got += n;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, length);
  }

  /**
   * The messages of the batch from message index `fromIndex` on, chunk by chunk. Chunks before
   * the one holding `fromIndex` are not fetched. Once `signal` aborts, failed reads are not retried.
   */
  async load(pointer: BatchPointer, fromIndex = 0, signal?: AbortSignal): Promise<LoadedBatch> {
    const whole = pointer.objectSize <= this.wholeObjectBytes;
    const prefix = await this.read(pointer, 0, whole ? pointer.objectSize : pointer.headerLength, signal);
    const header = decodeBatchHeader(prefix);
    checkHeaderMatchesPointer(header, pointer);
    const messages: DecodedMessage[] = [];
    const opts = { maxUncompressedBytes: this.options.maxUncompressedBytes };
    for (const c of header.chunks) {
      if (c.firstMessageIndex + c.messageCount <= fromIndex) continue;
      const bytes = whole
        ? prefix.subarray(c.offset, c.offset + c.length)
        : await this.read(pointer, c.offset, c.length, signal);
      for (const m of iterateChunk(header, c.index, bytes, opts)) {
        if (m.index >= fromIndex) messages.push(m);
      }
    }
    return { header, messages };
  }
}

export interface LoadedBatch {
  header: BatchHeader;
  messages: DecodedMessage[];
}
