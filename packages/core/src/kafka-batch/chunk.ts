import type { ChunkMeta } from '../batch/chunk.js';
import { crc32 } from '../crc.js';
import { CorruptDataError, InvalidInputError } from '../errors.js';
import type { DecodedMessage } from '../message.js';
import { decompressKafkaRecords } from './compression.js';
import {
  checkRecordBatch,
  KAFKA_BATCH,
  type KafkaBatchHeader,
  type KafkaBatchView,
  kafkaBatchTimeRange,
  setBaseOffset,
  setPartitionLeaderEpoch,
  splitRecordBatches,
} from './header.js';
import { KafkaRecordReader } from './records.js';

/** The `kafka` chunk codec id (`CODEC.kafka`). */
const CODEC_KAFKA = 4;
const MAX_U32 = 0xffffffff;

/**
 * `ChunkMeta.producerId` of a kafka chunk: Kafka's producer id plus one, so that 0 stands for a
 * producer that is not idempotent (Kafka's -1) and every real Kafka id stays distinct. An id too
 * large for a safe integer (Kafka ids are int64) is also stored as 0.
 */
export function kafkaChunkProducerId(kafkaProducerId: number): number {
  return kafkaProducerId >= 0 && kafkaProducerId < Number.MAX_SAFE_INTEGER ? kafkaProducerId + 1 : 0;
}

/** `ChunkMeta.baseSequence` of a kafka chunk: the first batch's baseSequence, or 0 when it is -1. */
export function kafkaChunkBaseSequence(kafkaBaseSequence: number): number {
  return Math.max(0, kafkaBaseSequence);
}

/**
 * What a produced batch must be besides well framed: not a control batch (only brokers write
 * those), at least one record, and offset deltas 0..recordsCount-1 (Barge numbers messages
 * densely). Returns the problem, or undefined.
 */
export function producedBatchProblem(h: KafkaBatchHeader): string | undefined {
  if (h.isControl) return 'clients may not write control batches';
  if (h.recordsCount === 0) return 'a produced record batch must hold at least one record';
  if (h.lastOffsetDelta !== h.recordsCount - 1) {
    return `lastOffsetDelta ${h.lastOffsetDelta} does not match ${h.recordsCount} records`;
  }
  return undefined;
}

export interface KafkaChunk {
  /** The records bytes, unchanged: the chunk's stored bytes. */
  bytes: Buffer;
  meta: ChunkMeta;
  /** Each batch's header, in order, for the broker's producer-state checks. */
  batches: KafkaBatchHeader[];
}

/**
 * Builds a `kafka` chunk from a Produce request's records for one partition: one or more v2
 * batches, back to back, kept byte for byte. Checks framing, each batch's CRC-32C
 * (`CorruptDataError`; `UnsupportedKafkaMagicError` for an older format) and the producer rules
 * of `producedBatchProblem` (`InvalidInputError`). Never decompresses.
 */
export function kafkaChunkFromRecords(records: Buffer, where = 'records'): KafkaChunk {
  if (!Buffer.isBuffer(records)) throw new InvalidInputError(`${where} must be a Buffer`);
  if (records.length > MAX_U32) throw new InvalidInputError(`${where}: ${records.length} bytes is too large`);
  const views = splitRecordBatches(records, where);
  for (let i = 0; i < views.length; i++) {
    const v = views[i]!;
    checkRecordBatch(v, `${where}: batch ${i}`);
    const problem = producedBatchProblem(v.header);
    if (problem) throw new InvalidInputError(`${where}: batch ${i}: ${problem}`);
  }
  const batches = views.map((v) => v.header);
  return { bytes: records, meta: kafkaChunkMeta(records, batches, where), batches };
}

/** The metadata the batch headers give; `crc` when the caller already has the CRC-32 of `bytes`. */
function kafkaChunkMeta(
  bytes: Buffer,
  batches: readonly KafkaBatchHeader[],
  where: string,
  crc = crc32(bytes),
): ChunkMeta {
  let messageCount = 0;
  let minTimestamp = Number.POSITIVE_INFINITY;
  let maxTimestamp = Number.NEGATIVE_INFINITY;
  for (const h of batches) {
    messageCount += h.recordsCount;
    const t = kafkaBatchTimeRange(h);
    if (t.min < minTimestamp) minTimestamp = t.min;
    if (t.max > maxTimestamp) maxTimestamp = t.max;
  }
  if (messageCount > MAX_U32) throw new InvalidInputError(`${where}: ${messageCount} records are too many`);
  const first = batches[0]!;
  return {
    codec: CODEC_KAFKA,
    length: bytes.length,
    messageCount,
    uncompressedLength: bytes.length,
    crc32: crc,
    producerId: kafkaChunkProducerId(first.producerId),
    baseSequence: kafkaChunkBaseSequence(first.baseSequence),
    minTimestamp: messageCount === 0 ? 0 : minTimestamp,
    maxTimestamp: messageCount === 0 ? 0 : maxTimestamp,
  };
}

/**
 * The broker's content check of a `kafka` chunk (from `checkChunkContent`): framing, every
 * batch's CRC-32C, the producer rules, and metadata that matches the batch headers (message
 * count, timestamps, producer id and sequence, uncompressed length = length). Never
 * decompresses. Every failure is a `CorruptDataError` starting with `where`.
 */
export function checkKafkaChunkContent(bytes: Buffer, meta: ChunkMeta, where = 'chunk'): void {
  const views = splitRecordBatches(bytes, where);
  for (let i = 0; i < views.length; i++) {
    const v = views[i]!;
    checkRecordBatch(v, `${where}: batch ${i}`);
    const problem = producedBatchProblem(v.header);
    if (problem) throw new CorruptDataError(`${where}: batch ${i}: ${problem}`);
  }
  let expected: ChunkMeta;
  try {
    expected = kafkaChunkMeta(
      bytes,
      views.map((v) => v.header),
      where,
      meta.crc32,
    );
  } catch (e) {
    throw new CorruptDataError((e as Error).message, { cause: e });
  }
  for (const field of [
    'messageCount',
    'uncompressedLength',
    'minTimestamp',
    'maxTimestamp',
    'producerId',
    'baseSequence',
  ] as const) {
    if (meta[field] !== expected[field]) {
      throw new CorruptDataError(
        `${where}: metadata says ${field} ${meta[field]}; the record batch headers say ${expected[field]}`,
      );
    }
  }
}

/**
 * Fetch side: stamps Kafka offsets into a kafka chunk's batches, in place: batch i gets
 * `baseOffset + ` the records of the batches before it (control batches count, as they take
 * offsets), and every batch `partitionLeaderEpoch`. Both fields are outside the CRC-32C, so the
 * batches stay valid; the chunk's Barge CRC-32 does not (stamp a copy, not the stored bytes).
 * Returns the offset after the chunk's last record.
 */
export function stampKafkaChunk(bytes: Buffer, baseOffset: number, partitionLeaderEpoch: number): number {
  let next = baseOffset;
  for (const v of splitRecordBatches(bytes, 'kafka chunk')) {
    setBaseOffset(v.bytes, next);
    setPartitionLeaderEpoch(v.bytes, partitionLeaderEpoch);
    next += v.header.recordsCount;
  }
  return next;
}

/** Where a kafka chunk sits in its Barge batch, and how readers number its messages. */
export interface KafkaChunkContext {
  readonly firstMessageIndex: number;
  /** The chunk's `messageCount`: the batches' recordsCount must add up to it. */
  readonly messageCount: number;
  /**
   * `producerId` its messages get. Kafka's own ids and sequences cannot serve Barge's
   * consumer-side dedup (sequences restart with each producer epoch, wrap at 2^31, and are -1 or
   * 0 for every batch of a producer that is not idempotent), so readers give each message an
   * identity unique to where it is stored: `kafkaReadProducerId(batch sequence)` and
   * `sequence = index`.
   */
  readonly producerId: number;
  /** Largest total of decompressed record bytes held for the chunk (default 256 MiB). */
  readonly maxUncompressedBytes: number;
}

/** The producer id readers give the messages of kafka chunks in the Barge batch `batchSequence`. */
export function kafkaReadProducerId(batchSequence: number): number {
  return Number.MAX_SAFE_INTEGER - batchSequence;
}

/**
 * Reads a kafka chunk's messages one at a time, batch by batch, decompressing each batch when
 * the reading reaches it (within `maxUncompressedBytes` for the whole chunk). Control batches are
 * skipped; their records still take their indexes, as they take Kafka offsets. Every problem is
 * a `CorruptDataError`, except zstd on a runtime without it (`CodecUnavailableError`). The
 * chunk's CRC-32 is the caller's check (`verifyChunk`); the CRC-32C is not recomputed.
 */
export class KafkaChunkReader {
  readonly #views: KafkaBatchView[];
  #batch = 0;
  #index: number;
  #records: KafkaRecordReader | undefined;
  #decompressed = 0;
  #left: number;

  constructor(
    bytes: Buffer,
    private readonly ctx: KafkaChunkContext,
    private readonly where = 'chunk',
  ) {
    this.#views = splitRecordBatches(bytes, where);
    this.#index = ctx.firstMessageIndex;
    let total = 0;
    for (const v of this.#views) total += v.header.recordsCount;
    if (total !== ctx.messageCount) {
      throw new CorruptDataError(
        `${where}: the record batches hold ${total} records; the chunk says ${ctx.messageCount}`,
      );
    }
    this.#left = total;
  }

  /** Records not read yet (control records included). */
  get remaining(): number {
    return this.#left;
  }

  next(): DecodedMessage | undefined {
    for (;;) {
      if (this.#records) {
        const m = this.#records.next();
        if (m !== undefined) {
          this.#left--;
          return m;
        }
        this.#records = undefined;
      }
      if (this.#batch >= this.#views.length) return undefined;
      const view = this.#views[this.#batch++]!;
      const h = view.header;
      const at = `${this.where}: batch ${this.#batch - 1}`;
      const firstIndex = this.#index;
      this.#index += h.recordsCount;
      if (h.isControl) {
        this.#left -= h.recordsCount;
        continue;
      }
      this.#records = this.#open(view, at, firstIndex);
    }
  }

  #open(view: KafkaBatchView, at: string, firstIndex: number): KafkaRecordReader {
    const h = view.header;
    const body = view.bytes.subarray(KAFKA_BATCH.records);
    const budget = this.ctx.maxUncompressedBytes - this.#decompressed;
    const records = decompressKafkaRecords(h.compression, body, budget, at);
    if (h.compression !== 0) this.#decompressed += records.length;
    return new KafkaRecordReader(
      records,
      h,
      { firstIndex, producerId: this.ctx.producerId, baseSequence: firstIndex },
      at,
    );
  }
}
