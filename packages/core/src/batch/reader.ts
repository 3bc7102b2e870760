import { CODEC, DEFAULT_MAX_UNCOMPRESSED_BYTES, decompress } from '../codecs.js';
import { CorruptDataError, InvalidInputError } from '../errors.js';
import { KafkaChunkReader, kafkaReadProducerId } from '../kafka-batch/chunk.js';
import { type DecodedMessage, type MessageFactory, RecordReader } from '../message.js';
import { isCodecUnavailable } from '../zstd.js';
import { verifyChunk } from './chunk.js';
import { type BatchHeader, type ChunkEntry, decodeBatchHeader, type HeaderDecodeOptions } from './header.js';

export interface DecodeOptions extends HeaderDecodeOptions {
  /** Largest uncompressed chunk accepted (default 256 MiB). */
  maxUncompressedBytes?: number;
}

/** The byte range `[offset, offset + length)` of chunk `index`, for a ranged read. */
export function chunkRange(header: BatchHeader, index: number): { offset: number; length: number } {
  const c = chunkEntry(header, index);
  return { offset: c.offset, length: c.length };
}

function chunkEntry(header: BatchHeader, index: number): ChunkEntry {
  const c = Number.isInteger(index) ? header.chunks[index] : undefined;
  if (c === undefined) {
    throw new InvalidInputError(
      `chunk index ${index} is out of range; the batch has ${header.chunkCount} chunks`,
    );
  }
  return c;
}

/** Reads one chunk's messages in order (`RecordReader`, or `KafkaChunkReader` for codec kafka). */
export interface ChunkReader<T = DecodedMessage> {
  /** The next message, or `undefined` after the last one. */
  next(): T | undefined;
  /** Messages not read yet. */
  readonly remaining: number;
}

/**
 * Verifies (length, CRC-32) and decompresses chunk `index` from its stored bytes, fetched by
 * `chunkRange`. Returns a reader over its records. Throws `CorruptDataError`
 * (`UnsupportedCodecError` for a codec this reader does not know), or `CodecUnavailableError`
 * for a zstd chunk on a runtime without zstd (the chunk is fine; the runtime is too old).
 * A `kafka` chunk is read batch by batch, each decompressed when reached, so those errors
 * can also come from `next()`. `make` builds each message returned (`MessageFactory`).
 */
export function openChunk<T = DecodedMessage>(
  header: BatchHeader,
  index: number,
  chunkBytes: Buffer,
  options: DecodeOptions = {},
  make?: MessageFactory<T>,
): ChunkReader<T> {
  const c = chunkEntry(header, index);
  if (!Buffer.isBuffer(chunkBytes)) throw new InvalidInputError('chunk bytes must be a Buffer');
  const where = `batch ${header.topic}/${header.writePartition}/${header.sequence} chunk ${index}`;
  verifyChunk(chunkBytes, c, where);
  const max = options.maxUncompressedBytes ?? DEFAULT_MAX_UNCOMPRESSED_BYTES;
  if (c.codec === CODEC.kafka) {
    const ctx = {
      firstMessageIndex: c.firstMessageIndex,
      messageCount: c.messageCount,
      producerId: kafkaReadProducerId(header.sequence),
      maxUncompressedBytes: max,
    };
    const reader = new KafkaChunkReader(chunkBytes, ctx, where);
    return make ? madeBy(reader, make) : (reader as ChunkReader<unknown> as ChunkReader<T>);
  }
  let records: Buffer;
  try {
    records = decompress(c.codec, chunkBytes, c.uncompressedLength, max);
  } catch (e) {
    if (e instanceof CorruptDataError || isCodecUnavailable(e)) e.message = `${where}: ${e.message}`;
    throw e;
  }
  return new RecordReader(records, c, where, make);
}

/** `reader`'s messages, each built again by `make`. */
function madeBy<T>(reader: ChunkReader, make: MessageFactory<T>): ChunkReader<T> {
  return {
    next() {
      const m = reader.next();
      return m && make(m.key, m.value, m.headers, m.timestamp, m.producerId, m.sequence, m.index);
    },
    get remaining() {
      return reader.remaining;
    },
  };
}

/** All messages of chunk `index` (see `openChunk`). */
export function decodeChunk<T = DecodedMessage>(
  header: BatchHeader,
  index: number,
  chunkBytes: Buffer,
  options: DecodeOptions = {},
  make?: MessageFactory<T>,
): T[] {
  const r = openChunk(header, index, chunkBytes, options, make);
  const out: T[] = [];
  for (let m = r.next(); m !== undefined; m = r.next()) out.push(m);
  return out;
}

/**
 * The messages of chunk `index`, decoded one at a time as they are consumed. The chunk is
 * verified and decompressed on the first `next()`.
 */
export function* iterateChunk(
  header: BatchHeader,
  index: number,
  chunkBytes: Buffer,
  options: DecodeOptions = {},
): Generator<DecodedMessage, void, undefined> {
  const r = openChunk(header, index, chunkBytes, options);
  for (let m = r.next(); m !== undefined; m = r.next()) yield m;
}

/**
 * One chunk of a batch, decoded on its own: all its messages, or why none of them can be read.
 * A failing chunk says nothing about the other chunks of its batch (each has its own CRC-32).
 */
export type ChunkOutcome<T = DecodedMessage> =
  | { readonly ok: true; readonly chunk: ChunkEntry; readonly messages: T[] }
  | { readonly ok: false; readonly chunk: ChunkEntry; readonly error: CorruptDataError };

/**
 * Decodes chunk `index` whole (`decodeChunk`); a chunk that fails any of its checks (length,
 * CRC-32, codec, decompression, records) is returned as `{ ok: false, error }` instead of thrown,
 * with none of its messages. A bad `index` still throws (`InvalidInputError`: the caller's mistake),
 * and so does a zstd chunk on a runtime without zstd (`CodecUnavailableError`): it is not damaged,
 * so a reader that skips damaged chunks must not skip it.
 */
export function readChunk<T = DecodedMessage>(
  header: BatchHeader,
  index: number,
  chunkBytes: Buffer,
  options: DecodeOptions = {},
  make?: MessageFactory<T>,
): ChunkOutcome<T> {
  const chunk = chunkEntry(header, index);
  try {
    return { ok: true, chunk, messages: decodeChunk(header, index, chunkBytes, options, make) };
  } catch (e) {
    if (e instanceof CorruptDataError) return { ok: false, chunk, error: e };
    throw e;
  }
}

function checkWhole(object: Buffer, options: DecodeOptions): BatchHeader {
  const header = decodeBatchHeader(object, options);
  if (object.length !== header.objectSize) {
    throw new CorruptDataError(
      `batch ${header.topic}/${header.writePartition}/${header.sequence} is ${object.length} bytes; its header says ${header.objectSize}`,
    );
  }
  return header;
}

/** Decodes a whole batch object: header and every message, all verified. Throws at the first failing chunk. */
export function decodeBatch(
  object: Buffer,
  options: DecodeOptions = {},
): { header: BatchHeader; messages: DecodedMessage[] } {
  const header = checkWhole(object, options);
  const messages: DecodedMessage[] = [];
  for (const c of header.chunks) {
    const r = openChunk(header, c.index, object.subarray(c.offset, c.offset + c.length), options);
    for (let m = r.next(); m !== undefined; m = r.next()) messages.push(m);
  }
  return { header, messages };
}

/**
 * Decodes a whole batch object chunk by chunk, each on its own (`readChunk`): a damaged chunk is
 * one failed outcome, and the other chunks' messages are still returned. The header and the
 * object's length are checked first; if they fail, nothing can be trusted and it throws
 * `CorruptDataError` as `decodeBatch` does.
 */
export function decodeBatchChunks(
  object: Buffer,
  options: DecodeOptions = {},
): { header: BatchHeader; chunks: ChunkOutcome[] } {
  const header = checkWhole(object, options);
  const chunks = header.chunks.map((c) =>
    readChunk(header, c.index, object.subarray(c.offset, c.offset + c.length), options),
  );
  return { header, chunks };
}

/**
 * The messages of a whole batch object, decoded lazily chunk by chunk. The header is decoded and
 * verified before the first message; each chunk when the iteration reaches it.
 */
export function* iterateBatch(
  object: Buffer,
  options: DecodeOptions = {},
): Generator<DecodedMessage, void, undefined> {
  const header = checkWhole(object, options);
  for (const c of header.chunks) {
    yield* iterateChunk(header, c.index, object.subarray(c.offset, c.offset + c.length), options);
  }
}
