import {
  type BatchHeader,
  type BatchPointer,
  type ChunkEntry,
  CODEC,
  decodeBatchHeader,
  errorMessage,
  hasErrorCode,
  KAFKA_BATCH_HEADER_BYTES,
  type KafkaBatchHeader,
  kafkaChunkProducerId,
  mapLimit,
  type ObjectStorage,
  readKafkaBatchHeader,
  readPartitionFor,
} from '@barge/core';
import type { Logger } from 'pino';
import { READ_PAGE, readRange, type TailQueue } from '../kafka-offsets/tail.js';
import {
  addSequence,
  MAX_PRODUCERS_PER_PARTITION,
  type ProducerRecovery,
  REMEMBERED_BATCHES,
  type RecoveredProducer,
} from './producer-state.js';

/** How far back a rebuild of a partition's idempotent producers reads (docs/kafka.md). */
export interface ProducerRecoveryBounds {
  /** Pointers of the write partition read back from the high watermark, at most. */
  readonly maxPointers: number;
  /**
   * Only batches closed within this long before the rebuild: a producer retries a batch for at
   * most its delivery timeout (Java 2 min, librdkafka 5 min by default).
   */
  readonly maxAgeMs: number;
  /** Producers kept per partition (the most recently active). */
  readonly maxProducers: number;
  /** Objects read at a time. */
  readonly parallelism: number;
}

export const DEFAULT_RECOVERY_BOUNDS: ProducerRecoveryBounds = {
  maxPointers: 1_000,
  maxAgeMs: 10 * 60_000,
  maxProducers: MAX_PRODUCERS_PER_PARTITION,
  parallelism: 8,
};

/** Chunk headers of one object are read with one ranged read when they lie within this span. */
const MAX_SPAN_BYTES = 4 * 1024 * 1024;

export interface ProducerRecoveryDeps {
  readonly queue: TailQueue;
  readonly storage: ObjectStorage;
  /** Resolves once this broker may publish the write partition: no earlier owner publishes any more. */
  fencedIn(topic: string, writePartition: number): Promise<void>;
  readonly log?: Logger;
  readonly bounds?: Partial<ProducerRecoveryBounds>;
  readonly now?: () => number;
}

/** The `ProducerRecovery` of `ProducerStates`: `recoverProducers` with these deps and bounds. */
export function producerRecovery(deps: ProducerRecoveryDeps): ProducerRecovery {
  const bounds = { ...DEFAULT_RECOVERY_BOUNDS, ...deps.bounds };
  return async (topic, writePartition) => {
    const started = Date.now();
    const found = await recoverProducers(deps, bounds, topic, writePartition);
    deps.log?.info(
      { topic, writePartition, producers: found.length, ms: Date.now() - started },
      'idempotent producers recovered from recent batches',
    );
    return found;
  };
}

/** What a rebuild learned about one producer so far (newest batch first). */
interface Found {
  readonly epoch: number;
  readonly batches: { firstSeq: number; lastSeq: number; offset: bigint }[];
  /** Its last `REMEMBERED_BATCHES` batches of `epoch` are known, or an older epoch was reached. */
  done: boolean;
}

/**
 * The idempotent producers of a write partition's recent batches: reads the pointers back from
 * the high watermark (within `bounds`, after `fencedIn`), then each batch's header and, for its
 * `kafka` chunks of idempotent producers, the first v2 record batch header of the chunk (61
 * bytes; records are never read or decompressed): producer id, epoch and base sequence; the
 * chunk's message count gives the sequence range and `baseOffset + firstMessageIndex` its Kafka
 * offset. Per producer: the epoch of its newest batch and up to `REMEMBERED_BATCHES` batches of
 * that epoch. A missing or unreadable object is skipped; other failures reject (retried later).
 */
export async function recoverProducers(
  deps: ProducerRecoveryDeps,
  bounds: ProducerRecoveryBounds,
  topic: string,
  writePartition: number,
): Promise<RecoveredProducer[]> {
  await deps.fencedIn(topic, writePartition);
  const now = deps.now?.() ?? Date.now();
  const pointers = await recentPointers(deps.queue, topic, writePartition, bounds, now);
  const found = new Map<number, Found>();
  for (let i = 0; i < pointers.length; i += bounds.parallelism) {
    const wave = pointers.slice(i, i + bounds.parallelism);
    const headers = await mapLimit(wave, bounds.parallelism, (p) => readHeader(deps, p));
    const wanted = wave.map((_, j) => wantedChunks(headers[j], found, bounds.maxProducers));
    const read = await mapLimit(wave, bounds.parallelism, (p, j) => readChunkHeaders(deps, p, wanted[j]!));
    wave.forEach((p, j) => {
      for (const c of wanted[j]!) {
        const h = read[j]!.get(c.index);
        if (h) remember(found, bounds.maxProducers, p, c, h);
      }
    });
  }
  return [...found.entries()]
    .reverse()
    .filter(([, f]) => f.batches.length > 0)
    .map(([producerId, f]) => ({ producerId, producerEpoch: f.epoch, batches: [...f.batches].reverse() }));
}

/**
 * The write partition's pointers with Kafka offsets, newest first, skipping republished copies:
 * at most `maxPointers`, and none closed more than `maxAgeMs` before `now`.
 */
async function recentPointers(
  queue: TailQueue,
  topic: string,
  writePartition: number,
  bounds: ProducerRecoveryBounds,
  now: number,
): Promise<BatchPointer[]> {
  if (!queue.readPartition) return [];
  const rp = readPartitionFor(writePartition, await queue.partitions(topic));
  const { low, high } = await queue.watermarks(topic, rp);
  const cutoff = now - bounds.maxAgeMs;
  const out: BatchPointer[] = [];
  const seen = new Set<number>();
  for (let end = high; end > low; ) {
    const start = Math.max(low, end - READ_PAGE);
    const page = await readRange(queue, topic, rp, start, end);
    for (let i = page.length - 1; i >= 0; i--) {
      const p = page[i]!.pointer;
      if (p.createdAt < cutoff) return out;
      if (p.writePartition !== writePartition || p.baseOffset === undefined || seen.has(p.sequence)) continue;
      seen.add(p.sequence);
      out.push(p);
      if (out.length >= bounds.maxPointers) return out;
    }
    end = start;
  }
  return out;
}

/** The batch's header; undefined when the object is gone (retention) or unreadable. */
async function readHeader(deps: ProducerRecoveryDeps, p: BatchPointer): Promise<BatchHeader | undefined> {
  try {
    return decodeBatchHeader(await deps.storage.getRange(p.storage.key, 0, p.headerLength));
  } catch (e) {
    if (!hasErrorCode(e, 'NOT_FOUND', 'CORRUPT')) throw e;
    deps.log?.warn({ key: p.storage.key, err: errorMessage(e) }, 'producer recovery skips a batch');
    return undefined;
  }
}

/**
 * The batch's `kafka` chunks of idempotent producers whose last batches are not all known yet,
 * newest first (a wave may read a few more than needed: they are ignored).
 */
function wantedChunks(
  header: BatchHeader | undefined,
  found: ReadonlyMap<number, Found>,
  maxProducers: number,
): ChunkEntry[] {
  if (!header) return [];
  const out: ChunkEntry[] = [];
  for (let i = header.chunks.length - 1; i >= 0; i--) {
    const c = header.chunks[i]!;
    if (c.codec !== CODEC.kafka || c.producerId === 0 || c.messageCount === 0) continue;
    const f = found.get(c.producerId - 1);
    if (f?.done || (!f && found.size >= maxProducers)) continue;
    out.push(c);
  }
  return out;
}

/** The first v2 batch header of each chunk, by chunk index; chunks whose header is unreadable are left out. */
async function readChunkHeaders(
  deps: ProducerRecoveryDeps,
  p: BatchPointer,
  chunks: readonly ChunkEntry[],
): Promise<Map<number, KafkaBatchHeader>> {
  const out = new Map<number, KafkaBatchHeader>();
  if (chunks.length === 0) return out;
  const headBytes = (c: ChunkEntry) => Math.min(c.length, KAFKA_BATCH_HEADER_BYTES);
  const start = Math.min(...chunks.map((c) => c.offset));
  const end = Math.max(...chunks.map((c) => c.offset + headBytes(c)));
  const ranges =
    end - start <= MAX_SPAN_BYTES
      ? [{ start, length: end - start }]
      : chunks.map((c) => ({ start: c.offset, length: headBytes(c) }));
  try {
    for (const r of ranges) {
      const bytes = await deps.storage.getRange(p.storage.key, r.start, r.length);
      for (const c of chunks) {
        if (c.offset < r.start || c.offset + headBytes(c) > r.start + r.length) continue;
        const at = c.offset - r.start;
        const h = chunkHeader(bytes.subarray(at, at + headBytes(c)), c);
        if (h) out.set(c.index, h);
        else deps.log?.warn({ key: p.storage.key, chunk: c.index }, 'producer recovery skips a chunk');
      }
    }
  } catch (e) {
    if (!hasErrorCode(e, 'NOT_FOUND')) throw e;
  }
  return out;
}

/** The chunk's first batch header when it agrees with the chunk's metadata. */
function chunkHeader(bytes: Buffer, c: ChunkEntry): KafkaBatchHeader | undefined {
  try {
    const h = readKafkaBatchHeader(bytes, 0, 'kafka chunk');
    const agrees =
      kafkaChunkProducerId(h.producerId) === c.producerId &&
      h.baseSequence === c.baseSequence &&
      h.producerEpoch >= 0;
    return agrees ? h : undefined;
  } catch {
    return undefined;
  }
}

/** Adds a chunk (visited newest first) to what is known of its producer. */
function remember(
  found: Map<number, Found>,
  maxProducers: number,
  p: BatchPointer,
  c: ChunkEntry,
  h: KafkaBatchHeader,
): void {
  let f = found.get(h.producerId);
  if (!f) {
    if (found.size >= maxProducers) return;
    f = { epoch: h.producerEpoch, batches: [], done: false };
    found.set(h.producerId, f);
  }
  if (f.done) return;
  if (h.producerEpoch !== f.epoch) {
    f.done = true; // an older epoch: its sequences no longer count
    return;
  }
  const firstSeq = h.baseSequence;
  const lastSeq = addSequence(firstSeq, c.messageCount - 1);
  // A batch stored twice (a copy from before idempotence was tracked) keeps its newest offset.
  if (f.batches.some((b) => b.firstSeq === firstSeq && b.lastSeq === lastSeq)) return;
  f.batches.push({ firstSeq, lastSeq, offset: BigInt(p.baseOffset! + c.firstMessageIndex) });
  if (f.batches.length >= REMEMBERED_BATCHES) f.done = true;
}
