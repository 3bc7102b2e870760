import {
  type BatchHeader,
  type BatchPointer,
  type ChunkEntry,
  CODEC,
  decodeBatchHeader,
  decodeChunk,
  encodeKafkaBatch,
  type ObjectStorage,
  stampKafkaChunk,
  verifyChunk,
} from '@barge/core';

/** The leader epoch Barge reports for every partition (Metadata) and stamps into fetched batches. */
export const LEADER_EPOCH = 0;

/** A small LRU of values by key, bounded by count. */
class Lru<V> {
  readonly #map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(k: string): V | undefined {
    const v = this.#map.get(k);
    if (v !== undefined) {
      this.#map.delete(k);
      this.#map.set(k, v);
    }
    return v;
  }
  set(k: string, v: V): void {
    this.#map.delete(k);
    this.#map.set(k, v);
    if (this.#map.size > this.max) this.#map.delete(this.#map.keys().next().value!);
  }
}

/**
 * Reads the Kafka record batches of a stored Barge batch for Fetch answers: `kafka` chunks as
 * the producer sent them with only base offset and leader epoch set (outside their CRC-32C, so
 * compressed batches pass through), and chunks from Barge producers converted to one v2 batch
 * each (cached per object and chunk, as every Kafka reader of a partition asks for the same).
 */
export class KafkaRecordsReader {
  readonly #headers = new Lru<BatchHeader>(1024);
  readonly #converted = new Lru<Buffer>(256);

  constructor(private readonly storage: ObjectStorage) {}

  /**
   * Record batches of the batch `pointer` (its first message has Kafka offset `baseOffset`)
   * from the chunk holding message `fromIndex` on, about `maxBytes` of them (at least one chunk).
   */
  async read(
    pointer: BatchPointer,
    baseOffset: number,
    fromIndex: number,
    maxBytes: number,
  ): Promise<Buffer[]> {
    const header = await this.#header(pointer);
    const first = header.chunks.findIndex((c) => c.firstMessageIndex + c.messageCount > fromIndex);
    if (first < 0) return [];
    let last = first;
    let bytes = header.chunks[first]!.length;
    while (last + 1 < header.chunks.length && bytes + header.chunks[last + 1]!.length <= maxBytes) {
      last++;
      bytes += header.chunks[last]!.length;
    }
    const start = header.chunks[first]!.offset;
    const stored = await this.storage.getRange(pointer.storage.key, start, bytes);
    const out: Buffer[] = [];
    for (let i = first; i <= last; i++) {
      const c = header.chunks[i]!;
      // A Barge producer may write a chunk without messages: it has no offsets to return.
      if (c.messageCount === 0) continue;
      const chunkBytes = stored.subarray(c.offset - start, c.offset - start + c.length);
      const where = `batch ${pointer.storage.key} chunk ${i}`;
      verifyChunk(chunkBytes, c, where);
      const offset = baseOffset + c.firstMessageIndex;
      if (c.codec === CODEC.kafka) {
        // Base offsets and leader epoch sit outside the batches' CRC-32C: set in place on the read copy.
        stampKafkaChunk(chunkBytes, offset, LEADER_EPOCH);
        out.push(chunkBytes);
      } else out.push(this.#convert(pointer, header, c, chunkBytes, offset));
    }
    return out;
  }

  async #header(pointer: BatchPointer): Promise<BatchHeader> {
    const key = pointer.storage.key;
    const cached = this.#headers.get(key);
    if (cached) return cached;
    const header = decodeBatchHeader(await this.storage.getRange(key, 0, pointer.headerLength));
    this.#headers.set(key, header);
    return header;
  }

  #convert(pointer: BatchPointer, header: BatchHeader, c: ChunkEntry, bytes: Buffer, offset: number): Buffer {
    const k = `${pointer.storage.key}#${c.index}`;
    let batch = this.#converted.get(k);
    if (!batch) {
      batch = encodeKafkaBatch(decodeChunk(header, c.index, bytes), {
        baseOffset: offset,
        partitionLeaderEpoch: LEADER_EPOCH,
      });
      this.#converted.set(k, batch);
    }
    return batch;
  }
}
