import {
  type BatchHeader,
  type BatchPointer,
  type ChunkEntry,
  type ChunkOutcome,
  CorruptDataError,
  checkHeaderMatchesPointer,
  type DecodedMessage,
  type DecodeOptions,
  decodeBatchHeader,
  guardStorage,
  InvalidInputError,
  type ObjectStorage,
  readChunk,
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
 * pointer), then the chunks the caller needs by byte range, each verified (length, CRC-32),
 * decompressed and decoded on its own by the core decoders. Small objects are fetched whole in one read.
 */
export class BatchReader {
  private readonly wholeObjectBytes: number;
  private readonly retry: ResolvedRetry;
  private readonly decode: DecodeOptions;

  constructor(
    readonly source: ObjectSource,
    options: BatchReaderOptions = {},
  ) {
    this.wholeObjectBytes = options.wholeObjectBytes ?? 1024 * 1024;
    this.retry = options.retry ?? resolveRetry({ retries: 5 });
    this.decode = { maxUncompressedBytes: options.maxUncompressedBytes };
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
   * the one holding `fromIndex` are not fetched. Each chunk is read and decoded on its own: one
   * that fails its checks (or whose range read comes back short) is listed in `damaged`, with
   * none of its messages, and the other chunks' messages are still returned. A damaged header
   * or a missing object throws. Once `signal` aborts, failed reads are not retried.
   */
  async load(pointer: BatchPointer, fromIndex = 0, signal?: AbortSignal): Promise<LoadedBatch> {
    const whole = pointer.objectSize <= this.wholeObjectBytes;
    const prefix = await this.read(pointer, 0, whole ? pointer.objectSize : pointer.headerLength, signal);
    const header = decodeBatchHeader(prefix);
    checkHeaderMatchesPointer(header, pointer);
    const messages: DecodedMessage[] = [];
    const damaged: DamagedChunk[] = [];
    for (const c of header.chunks) {
      if (c.firstMessageIndex + c.messageCount <= fromIndex) continue;
      const got = whole
        ? readChunk(header, c.index, prefix.subarray(c.offset, c.offset + c.length), this.decode)
        : await this.#readChunk(pointer, header, c, signal);
      if (!got.ok) {
        damaged.push(got);
        continue;
      }
      for (const m of got.messages) if (m.index >= fromIndex) messages.push(m);
    }
    return { header, messages, damaged };
  }

  /** Fetches one chunk by range and decodes it; a short read is that chunk's damage. */
  async #readChunk(
    pointer: BatchPointer,
    header: BatchHeader,
    c: ChunkEntry,
    signal: AbortSignal | undefined,
  ): Promise<ChunkOutcome> {
    let bytes: Buffer;
    try {
      bytes = await this.read(pointer, c.offset, c.length, signal);
    } catch (e) {
      if (e instanceof CorruptDataError) return { ok: false, chunk: c, error: e };
      throw e;
    }
    return readChunk(header, c.index, bytes, this.decode);
  }
}

/** A chunk that could not be read, and why. */
export type DamagedChunk = Extract<ChunkOutcome, { ok: false }>;

export interface LoadedBatch {
  header: BatchHeader;
  /** The messages of the chunks that could be read, in order. */
  messages: DecodedMessage[];
  /** The chunks that could not, in order: none of their messages are in `messages`. */
  damaged: DamagedChunk[];
}
