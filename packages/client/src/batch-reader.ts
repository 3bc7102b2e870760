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
  type MessageFactory,
  type ObjectStorage,
  readChunk,
  toDecodedMessage,
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

  /**
   * Bytes `[offset, offset + length)`, in reads of at most `maxReadBytes` (sent together, so
   * they pipeline), each retried when transient. A read that comes back short throws
   * `CorruptDataError` (the object is shorter than its pointer says).
   */
  async read(pointer: BatchPointer, offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    const max = Math.max(1, this.source.maxReadBytes);
    const reads: Promise<Buffer>[] = [];
    for (let at = offset; at < offset + length; at += max) {
      const n = Math.min(max, offset + length - at);
      const read = withRetry(() => this.source.readRange(pointer, at, n), this.retry, { signal });
      read.catch(() => {}); // awaited below, in order
      reads.push(read);
    }
    const parts: Buffer[] = [];
    let got = 0;
    for (const read of reads) {
      const part = await read;
      const n = Math.min(max, length - got);
      if (part.length !== n) {
        const at = offset + got;
        const received = joinBuffers([...parts, part.subarray(0, Math.min(part.length, n))]);
        throw new ShortReadError(
          `batch ${pointer.storage.key}: read of ${n} bytes at ${at} returned ${part.length}; the pointer says the object has ${pointer.objectSize} bytes`,
          received,
        );
      }
      parts.push(part);
      got += n;
    }
    return joinBuffers(parts);
  }

  /**
   * The messages of the batch from message index `fromIndex` on. Small objects are read whole;
   * larger ones header first, then the chunks from the one holding `fromIndex` on (chunks before
   * it are not fetched), grouped into contiguous range reads of up to `maxReadBytes` that run
   * concurrently. Each chunk is verified and decoded on its own: one that fails its checks (or
   * that a short range read did not reach) is listed in `damaged`, with none of its messages, and
   * the other chunks' messages are still returned. A damaged header or a missing object throws.
   * Once `signal` aborts, failed reads are not retried.
   */
  async load(pointer: BatchPointer, fromIndex = 0, signal?: AbortSignal): Promise<LoadedBatch> {
    return this.decodeFetched(await this.fetch(pointer, fromIndex, signal));
  }

  /**
   * The I/O half of `load`: the verified header and the bytes of the chunks from the one holding
   * `fromIndex` on, not decoded yet (a prefetched batch holds its object's bytes, not one object
   * per message). Chunks a short read did not reach come with their error.
   */
  async fetch(pointer: BatchPointer, fromIndex = 0, signal?: AbortSignal): Promise<FetchedObject> {
    const whole = pointer.objectSize <= this.wholeObjectBytes;
    if (!whole && fromIndex === 0) return this.#fetchAll(pointer, signal);
    const prefix = await this.read(pointer, 0, whole ? pointer.objectSize : pointer.headerLength, signal);
    const header = decodeBatchHeader(prefix);
    checkHeaderMatchesPointer(header, pointer);
    const wanted = header.chunks.filter((c) => c.firstMessageIndex + c.messageCount > fromIndex);
    const chunks: FetchedChunk[] = whole
      ? wanted.map((chunk) => ({ chunk, bytes: prefix.subarray(chunk.offset, chunk.offset + chunk.length) }))
      : (
          await Promise.all(
            chunkRuns(wanted, Math.max(1, this.source.maxReadBytes)).map((run) =>
              this.#readRun(pointer, run, signal),
            ),
          )
        ).flat();
    return { header, fromIndex, chunks };
  }

  /**
   * A large object wanted from its first message: read all of it at once (in reads of at most
   * `maxReadBytes`, sent together) instead of header first. A short read (truncated object)
   * damages the chunks it did not reach, as when reading by chunk.
   */
  async #fetchAll(pointer: BatchPointer, signal: AbortSignal | undefined): Promise<FetchedObject> {
    let bytes: Buffer;
    let shortRead: CorruptDataError | undefined;
    try {
      bytes = await this.read(pointer, 0, pointer.objectSize, signal);
    } catch (e) {
      if (!(e instanceof ShortReadError) || e.received.length < pointer.headerLength) throw e;
      bytes = e.received;
      shortRead = e;
    }
    const header = decodeBatchHeader(bytes.subarray(0, pointer.headerLength));
    checkHeaderMatchesPointer(header, pointer);
    const chunks = header.chunks.map((chunk): FetchedChunk => {
      const end = chunk.offset + chunk.length;
      return end > bytes.length
        ? { chunk, error: shortRead! }
        : { chunk, bytes: bytes.subarray(chunk.offset, end) };
    });
    return { header, fromIndex: 0, chunks };
  }

  /**
   * The CPU half of `load`: verifies, decompresses and decodes each fetched chunk on its own,
   * each message built by `make` (a `DecodedMessage` by default).
   */
  decodeFetched<T = DecodedMessage>(f: FetchedObject, make?: MessageFactory<T>): LoadedBatch<T> {
    const { header, fromIndex } = f;
    const build = make ?? (toDecodedMessage as MessageFactory<unknown> as MessageFactory<T>);
    const messages: T[] = [];
    const damaged: DamagedChunk[] = [];
    for (const c of f.chunks) {
      if (c.bytes === undefined) {
        damaged.push({ ok: false, chunk: c.chunk, error: c.error });
        continue;
      }
      if (c.chunk.firstMessageIndex >= fromIndex) {
        const got = readChunk(header, c.chunk.index, c.bytes, this.decode, build);
        if (!got.ok) damaged.push(got);
        else for (const m of got.messages) messages.push(m);
        continue;
      }
      // The first chunk of a batch resumed mid-way: decoded as is, the messages kept built again.
      const got = readChunk(header, c.chunk.index, c.bytes, this.decode);
      if (!got.ok) damaged.push(got);
      else {
        for (const m of got.messages) {
          if (m.index >= fromIndex)
            messages.push(build(m.key, m.value, m.headers, m.timestamp, m.producerId, m.sequence, m.index));
        }
      }
    }
    return { header, messages, damaged };
  }

  /**
   * Fetches adjacent chunks with one range read (several when a chunk exceeds `maxReadBytes`),
   * each chunk a view of it. A read that comes back short (a truncated object) damages the
   * chunks it did not reach.
   */
  async #readRun(
    pointer: BatchPointer,
    run: readonly ChunkEntry[],
    signal: AbortSignal | undefined,
  ): Promise<FetchedChunk[]> {
    const start = run[0]!.offset;
    const last = run[run.length - 1]!;
    const length = last.offset + last.length - start;
    let bytes: Buffer;
    let shortRead: CorruptDataError | undefined;
    try {
      bytes = await this.read(pointer, start, length, signal);
    } catch (e) {
      if (!(e instanceof ShortReadError)) throw e;
      bytes = e.received;
      shortRead = e;
    }
    return run.map((chunk) => {
      const from = chunk.offset - start;
      if (from + chunk.length > bytes.length) return { chunk, error: shortRead! };
      return { chunk, bytes: bytes.subarray(from, from + chunk.length) };
    });
  }
}

/** A chunk's stored bytes, or why they could not be read. */
export type FetchedChunk =
  | { readonly chunk: ChunkEntry; readonly bytes: Buffer; readonly error?: undefined }
  | { readonly chunk: ChunkEntry; readonly bytes?: undefined; readonly error: CorruptDataError };

/** A batch object read but not decoded (`BatchReader.fetch`). */
export interface FetchedObject {
  readonly header: BatchHeader;
  /** Messages before this index are left out when decoding. */
  readonly fromIndex: number;
  /** The chunks holding messages from `fromIndex` on, in order. */
  readonly chunks: readonly FetchedChunk[];
}

/**
 * Splits `chunks` (in object order) into runs of adjacent chunks spanning at most `maxBytes`
 * each, so every run is one range read; a chunk larger than `maxBytes` is a run of its own.
 */
export function chunkRuns(chunks: readonly ChunkEntry[], maxBytes: number): ChunkEntry[][] {
  const runs: ChunkEntry[][] = [];
  let run: ChunkEntry[] = [];
  for (const c of chunks) {
    const first = run[0];
    const prev = run[run.length - 1];
    const adjacent = prev !== undefined && prev.offset + prev.length === c.offset;
    if (first !== undefined && (!adjacent || c.offset + c.length - first.offset > maxBytes)) {
      runs.push(run);
      run = [];
    }
    run.push(c);
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

/** A range read returned fewer bytes than asked: the object is shorter than its pointer says. */
class ShortReadError extends CorruptDataError {
  constructor(
    message: string,
    /** The bytes that did arrive, from the start of the range. */
    readonly received: Buffer,
  ) {
    super(message);
  }
}

function joinBuffers(parts: readonly Buffer[]): Buffer {
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** A chunk that could not be read, and why. */
export type DamagedChunk = Extract<ChunkOutcome, { ok: false }>;

export interface LoadedBatch<T = DecodedMessage> {
  header: BatchHeader;
  /** The messages of the chunks that could be read, in order. */
  messages: T[];
  /** The chunks that could not, in order: none of their messages are in `messages`. */
  damaged: DamagedChunk[];
}
