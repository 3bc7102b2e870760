import type { PointerQueue, PointerRecord } from '@barge/core';
import { READ_PAGE, readRange } from './tail.js';

/** The queue operations the index reads with. */
export type IndexQueue = Pick<PointerQueue, 'partitions' | 'watermarks' | 'readPartition'>;

/** A pointer of the partition with its dense offset (`baseOffset`, or derived for older pointers). */
export interface IndexedPointer {
  readonly record: PointerRecord;
  readonly baseOffset: number;
}

/**
 * Where a Kafka offset is: the pointer holding it and the message's index in the batch (an
 * offset in a gap left by an abandoned publication gives the next pointer, `messageIndex` 0),
 * or below the earliest retained offset, exactly the latest (the next offset to be written), or
 * above it.
 */
export type Located =
  | { readonly pointer: IndexedPointer; readonly messageIndex: number }
  | 'below-start'
  | 'at-end'
  | 'above-end';

/** A Barge position: the pointer queue offset (read partition) and the message within its batch. */
export interface BargePosition {
  readonly offset: number;
  readonly messageIndex: number;
}

export interface PartitionIndexOptions {
  /** Sparse entries kept before the index thins them out (keeps every other). Default 100,000. */
  maxEntries?: number;
  /** Most recent pointers kept whole, so reads near the end need no queue read. Default 256. */
  recentPointers?: number;
  /** Pointers per queue read. Default 500. */
  pageSize?: number;
}

/** A recent pointer, with the largest `lastTimestamp` up to it. */
interface Recent {
  readonly pointer: IndexedPointer;
  readonly maxTimestamp: number;
}

/** How pointers are numbered as they are read in offset order. */
interface Numbering {
  /** The offset the next pointer without `baseOffset` gets. */
  running: number;
  /** Sequence of the last pointer taken: a republished pointer comes again with one not above it. */
  lastSequence: number;
}

/**
 * Numbers one pointer read in offset order, or `undefined` when it belongs to another write
 * partition or repeats one taken (a publication retried after an unknown outcome: a sequence
 * not above the last one's, and for a stamped pointer offsets already covered). A pointer
 * without `baseOffset` (an older broker's) continues from the previous one; a stamped one below
 * that (not expected: a recovery that missed pointers) also does, so offsets stay increasing and
 * every message stays reachable.
 */
function numberPointer(n: Numbering, r: PointerRecord, writePartition: number): IndexedPointer | undefined {
  const p = r.pointer;
  if (p.writePartition !== writePartition) return undefined;
  const repeated = p.sequence <= n.lastSequence;
  if (repeated && (p.baseOffset === undefined || p.baseOffset < n.running)) return undefined;
  n.lastSequence = p.sequence;
  const baseOffset = p.baseOffset !== undefined && p.baseOffset >= n.running ? p.baseOffset : n.running;
  n.running = baseOffset + p.messageCount;
  return { record: r, baseOffset };
}

/**
 * The dense offsets of one Kafka partition (a write partition) over its read partition: a
 * bounded in-memory index from offset to pointer, built by reading the read partition from the
 * low watermark once and kept current by reading only what was appended since (`refresh`).
 *
 * Memory is bounded: sparse entries (offset, queue offset, sequence, running max timestamp) for
 * every `stride`-th pointer, at most `maxEntries` (over that every other entry goes and the
 * stride doubles), plus the last `recentPointers` pointers whole. A lookup between two entries
 * reads the queue from the earlier one (at most `stride` pointers of this partition).
 *
 * Retention moves the low watermark: entries below it go, and the earliest offset becomes that
 * of the first pointer still retained. Pointers without `baseOffset` (before brokers stamped
 * it) are numbered on from the previous pointer; when only such pointers were seen, they are
 * renumbered to end where the first stamped pointer starts (the writer started it at their
 * message count: `nextOffsetFromTail`).
 */
export class PartitionOffsetIndex {
  /** Sparse entries, ascending: dense offset, queue offset, sequence, max lastTimestamp so far. */
  #bases: number[] = [];
  #queueOffsets: number[] = [];
  #sequences: number[] = [];
  #maxTimestamps: number[] = [];
  #stride = 1;
  #sinceKept = 0;
  #recent: Recent[] = [];
  #numbering: Numbering = { running: 0, lastSequence: -1 };
  #maxTimestamp = Number.NEGATIVE_INFINITY;
  /** Only unstamped pointers seen so far: renumbered at the first stamped one. */
  #unstampedOnly = true;
  /** Queue offset read up to (exclusive), and the low watermark last seen. */
  #readTo = 0;
  #low = 0;
  #refreshing: Promise<void> | undefined;
  #refreshedAt = Number.NEGATIVE_INFINITY;
  readonly #maxEntries: number;
  readonly #recentPointers: number;
  readonly #pageSize: number;

  constructor(
    private readonly queue: IndexQueue,
    readonly topic: string,
    /** The Kafka partition: the write partition whose pointers are indexed. */
    readonly writePartition: number,
    /** The read partition carrying them (`readPartitionFor`). */
    readonly readPartition: number,
    options: PartitionIndexOptions = {},
  ) {
    this.#maxEntries = Math.max(2, options.maxEntries ?? 100_000);
    this.#recentPointers = Math.max(1, options.recentPointers ?? 256);
    this.#pageSize = Math.max(1, options.pageSize ?? READ_PAGE);
  }

  /** The earliest retained offset (= `latest` when nothing is retained). */
  get earliest(): number {
    return this.#bases[0] ?? this.#numbering.running;
  }

  /** The next offset to be written: the last pointer's `baseOffset + messageCount`. */
  get latest(): number {
    return this.#numbering.running;
  }

  /** Number of sparse entries held (tests). */
  get entries(): number {
    return this.#bases.length;
  }

  /**
   * Reads what the read partition gained since the last refresh and applies retention (one
   * watermarks call, plus reads of new pointers). Concurrent calls share one refresh; with
   * `maxAgeMs`, a refresh started less than that ago is reused.
   */
  refresh(maxAgeMs = 0): Promise<void> {
    if (this.#refreshing) return this.#refreshing;
    if (performance.now() - this.#refreshedAt < maxAgeMs) return Promise.resolve();
    this.#refreshedAt = performance.now();
    this.#refreshing = this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #refresh(): Promise<void> {
    const { low, high } = await this.queue.watermarks(this.topic, this.readPartition);
    if (high < this.#readTo) this.#reset(); // the queue lost pointers (e.g. a pointer topic re-created)
    if (this.#readTo < low) this.#readTo = low;
    for (let from = this.#readTo; from < high; ) {
      const page = await this.queue.readPartition!(
        this.topic,
        this.readPartition,
        from,
        Math.min(this.#pageSize, high - from),
      );
      if (page.length === 0) break;
      for (const r of page) this.#append(r);
      from = page.at(-1)!.offset + 1;
      this.#readTo = from;
    }
    if (low > this.#low) await this.#retain(low);
  }

  #reset(): void {
    this.#bases = [];
    this.#queueOffsets = [];
    this.#sequences = [];
    this.#maxTimestamps = [];
    this.#stride = 1;
    this.#sinceKept = 0;
    this.#recent = [];
    this.#numbering = { running: 0, lastSequence: -1 };
    this.#maxTimestamp = Number.NEGATIVE_INFINITY;
    this.#unstampedOnly = true;
    this.#readTo = 0;
    this.#low = 0;
  }

  #append(r: PointerRecord): void {
    if (r.pointer.writePartition !== this.writePartition) return;
    if (this.#unstampedOnly && r.pointer.baseOffset !== undefined) {
      this.#unstampedOnly = false;
      // Never below 0: a stamped pointer below the renumbered end is then numbered on (`numberPointer`).
      const delta = Math.max(r.pointer.baseOffset - this.latest, -this.earliest);
      this.#shift(delta);
    }
    const x = numberPointer(this.#numbering, r, this.writePartition);
    if (!x) return;
    this.#maxTimestamp = Math.max(this.#maxTimestamp, r.pointer.lastTimestamp);
    this.#recent.push({ pointer: x, maxTimestamp: this.#maxTimestamp });
    if (this.#recent.length >= 2 * this.#recentPointers)
      this.#recent = this.#recent.slice(-this.#recentPointers);
    if (this.#bases.length > 0 && ++this.#sinceKept < this.#stride) return;
    this.#sinceKept = 0;
    this.#bases.push(x.baseOffset);
    this.#queueOffsets.push(r.offset);
    this.#sequences.push(r.pointer.sequence);
    this.#maxTimestamps.push(this.#maxTimestamp);
    if (this.#bases.length > this.#maxEntries) this.#thin();
  }

  /** Keeps every other entry (and the last), doubling the stride. */
  #thin(): void {
    const last = this.#bases.length - 1;
    const keep = (_: number, i: number) => i % 2 === 0 || i === last;
    this.#bases = this.#bases.filter(keep);
    this.#queueOffsets = this.#queueOffsets.filter(keep);
    this.#sequences = this.#sequences.filter(keep);
    this.#maxTimestamps = this.#maxTimestamps.filter(keep);
    this.#stride *= 2;
  }

  /** Renumbers every offset held by `delta` (unstamped pointers meeting the first stamped one). */
  #shift(delta: number): void {
    if (delta === 0) return;
    this.#bases = this.#bases.map((b) => b + delta);
    this.#recent = this.#recent.map((r) => ({
      pointer: { record: r.pointer.record, baseOffset: r.pointer.baseOffset + delta },
      maxTimestamp: r.maxTimestamp,
    }));
    this.#numbering.running += delta;
  }

  /**
   * Retention moved the low watermark to `low`: drops the entries below it, and makes the
   * first pointer of the partition still retained the first entry (the earliest offset).
   * Runs inside `refresh`, so nothing else changes the entries meanwhile.
   */
  async #retain(low: number): Promise<void> {
    this.#low = low;
    const cut = lowerBound(this.#queueOffsets, low);
    for (const a of [this.#bases, this.#queueOffsets, this.#sequences, this.#maxTimestamps]) a.splice(0, cut);
    this.#recent = this.#recent.filter((r) => r.pointer.record.offset >= low);
    const firstEntry = this.#queueOffsets[0];
    if (firstEntry === low) return;
    const head: PointerRecord[] = [];
    let lastSequence = -1;
    for (const r of await readRange(
      this.queue,
      this.topic,
      this.readPartition,
      low,
      firstEntry ?? this.#readTo,
    )) {
      if (r.pointer.writePartition !== this.writePartition || r.pointer.sequence <= lastSequence) continue;
      lastSequence = r.pointer.sequence;
      head.push(r);
    }
    if (head.length === 0) return;
    // Numbered back from the first entry (or the end), as numbering forward would have.
    let base = this.#bases[0] ?? this.latest;
    for (let i = head.length - 1; i >= 0; i--) {
      const { baseOffset, messageCount } = head[i]!.pointer;
      base = baseOffset !== undefined && baseOffset <= base - messageCount ? baseOffset : base - messageCount;
    }
    const first = head[0]!;
    this.#bases.unshift(base);
    this.#queueOffsets.unshift(first.offset);
    this.#sequences.unshift(first.pointer.sequence);
    this.#maxTimestamps.unshift(first.pointer.lastTimestamp);
  }

  /** Where `offset` is (see `Located`), from what the last refresh saw. */
  async locate(offset: number): Promise<Located> {
    if (offset < this.earliest) return 'below-start';
    if (offset === this.latest) return 'at-end';
    if (offset > this.latest) return 'above-end';
    const holds = (x: IndexedPointer) => x.baseOffset + x.record.pointer.messageCount > offset;
    const found =
      this.#recentFind((r) => holds(r.pointer)) ??
      (await this.#scan(upperBound(this.#bases, offset) - 1, holds));
    if (!found) return offset < this.earliest ? 'below-start' : 'at-end';
    return { pointer: found, messageIndex: Math.max(0, offset - found.baseOffset) };
  }

  /**
   * The first offset whose pointer holds a message with a timestamp at or after `timestamp`, at
   * pointer granularity: the `baseOffset` of the first pointer whose `lastTimestamp` (or an
   * earlier pointer's) reaches it; `undefined` when none does.
   */
  async offsetForTimestamp(timestamp: number): Promise<number | undefined> {
    if (this.#maxTimestamp < timestamp || this.#bases.length === 0) return undefined;
    const i = lowerBound(this.#maxTimestamps, timestamp);
    if (i === 0) return this.#bases[0];
    // Scanning from an entry whose running maximum is below `timestamp`, the first pointer that
    // reaches it is the first whose running maximum does.
    const reaches = (x: IndexedPointer) => x.record.pointer.lastTimestamp >= timestamp;
    return (this.#recentFind((r) => r.maxTimestamp >= timestamp) ?? (await this.#scan(i - 1, reaches)))
      ?.baseOffset;
  }

  /** The Barge position of a Kafka offset: the pointer's queue offset and the message index. */
  async toPosition(offset: number): Promise<BargePosition | 'below-start' | 'above-end'> {
    const at = await this.locate(offset);
    if (at === 'below-start' || at === 'above-end') return at;
    if (at === 'at-end') return { offset: this.#readTo, messageIndex: 0 };
    return { offset: at.pointer.record.offset, messageIndex: at.messageIndex };
  }

  /**
   * The Kafka offset of a Barge position: message `messageIndex` of the pointer at queue offset
   * `position.offset` (the end of the batch when the index is past it), or the first offset of
   * the partition's next pointer when that queue offset holds none of it; `latest` at or past
   * the end; 'below-start' when retention removed the pointer.
   */
  async fromPosition(position: BargePosition): Promise<number | 'below-start'> {
    if (position.offset >= this.#readTo) return this.latest;
    if (position.offset < this.#low) return 'below-start';
    const from = (x: IndexedPointer) => x.record.offset >= position.offset;
    const found =
      this.#recentFind((r) => from(r.pointer)) ??
      (await this.#scan(Math.max(0, upperBound(this.#queueOffsets, position.offset) - 1), from));
    if (!found) return this.latest;
    if (found.record.offset !== position.offset) return found.baseOffset;
    return found.baseOffset + Math.min(Math.max(0, position.messageIndex), found.record.pointer.messageCount);
  }

  /**
   * The first recent pointer `match` accepts (`match` must be false then true along the
   * partition), when the answer is among the recent pointers: the last one matches, and the
   * first one does not or is the partition's first.
   */
  #recentFind(match: (r: Recent) => boolean): IndexedPointer | undefined {
    const recent = this.#recent;
    if (recent.length === 0 || !match(recent.at(-1)!)) return undefined;
    if (match(recent[0]!) && recent[0]!.pointer.record.offset !== this.#queueOffsets[0]) return undefined;
    let lo = 0;
    let hi = recent.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (match(recent[mid]!)) hi = mid;
      else lo = mid + 1;
    }
    return recent[lo]!.pointer;
  }

  /**
   * Reads the read partition from entry `i` (numbering as when it was appended) up to where the
   * index has read, and returns the first pointer `match` accepts.
   */
  async #scan(i: number, match: (x: IndexedPointer) => boolean): Promise<IndexedPointer | undefined> {
    const start = this.#queueOffsets[i];
    if (start === undefined) return undefined;
    const numbering: Numbering = { running: this.#bases[i]!, lastSequence: this.#sequences[i]! - 1 };
    const end = this.#readTo;
    // The answer is within two strides of the entry (more reads only on a shared read partition).
    const pageSize = Math.min(this.#pageSize, 2 * this.#stride);
    for (let from = Math.max(start, this.#low); from < end; ) {
      const page = await this.queue.readPartition!(
        this.topic,
        this.readPartition,
        from,
        Math.min(pageSize, end - from),
      );
      if (page.length === 0) return undefined;
      for (const r of page) {
        if (r.offset >= end) return undefined;
        const x = numberPointer(numbering, r, this.writePartition);
        if (x && match(x)) return x;
      }
      from = page.at(-1)!.offset + 1;
    }
    return undefined;
  }
}

/** First index whose value is at least `v` (ascending array). */
function lowerBound(a: readonly number[], v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose value is above `v` (ascending array). */
function upperBound(a: readonly number[], v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
