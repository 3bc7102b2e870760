/**
 * Consumer-side duplicate detection. Every message carries the producer id and a sequence number
 * that its producer assigned per (topic, write partition); a producer's retry re-sends the same
 * chunk with the same numbers. The tracker remembers, per (topic, write partition, producer),
 * which sequences were delivered, as a short list of merged ranges: for a stream read in order
 * that is one range `[first, highest]`, so "already delivered" means "at or below the highest
 * delivered sequence". Out-of-order arrival (a retried chunk landing after a later one) leaves a
 * gap that is filled when the retried chunk arrives, so it is delivered, not skipped.
 *
 * Memory is bounded: at most `maxRangesPerStream` ranges per stream (the oldest range is
 * forgotten first) and `maxStreams` streams (the least recently used stream is forgotten first).
 * Forgetting can only let a duplicate through, never drop a message.
 */

export interface DedupOptions {
  /** Default 64. */
  maxRangesPerStream?: number;
  /** Default 100,000. */
  maxStreams?: number;
}

/** Inclusive ranges, sorted, not touching. */
type Ranges = number[][];

export class DedupTracker {
  /** scope (topic + read partition) → stream key → ranges. Map order is recency (LRU). */
  private readonly scopes = new Map<string, Map<string, Ranges>>();
  private streams = 0;
  private readonly maxRanges: number;
  private readonly maxStreams: number;
  /** Messages reported as duplicates by `isDuplicate` and `accept`. */
  skipped = 0;
  /** The stream `delivered` touched last, and its ranges (see `accept`). */
  private last: (StreamId & { scope: string; ranges: Ranges }) | undefined;

  constructor(options: DedupOptions = {}) {
    this.maxRanges = Math.max(1, options.maxRangesPerStream ?? 64);
    this.maxStreams = Math.max(1, options.maxStreams ?? 100_000);
  }

  /** True if the message was already delivered (it is then counted in `skipped`). */
  isDuplicate(scope: string, stream: StreamId, sequence: number): boolean {
    const ranges = this.scopes.get(scope)?.get(streamKey(stream));
    if (ranges === undefined) return false;
    const dup = findRange(ranges, sequence) >= 0;
    if (dup) this.skipped++;
    return dup;
  }

  /** Record that the message was delivered (processed). */
  delivered(scope: string, stream: StreamId, sequence: number): void {
    let streams = this.scopes.get(scope);
    if (streams === undefined) {
      streams = new Map();
      this.scopes.set(scope, streams);
    }
    const key = streamKey(stream);
    let ranges = streams.get(key);
    if (ranges === undefined) {
      ranges = [];
      this.streams++;
      this.evictIfNeeded();
    } else {
      streams.delete(key); // re-insert below: most recently used last
    }
    streams.set(key, ranges);
    insert(ranges, sequence);
    if (ranges.length > this.maxRanges) ranges.shift();
    const { topic, writePartition, producerId } = stream;
    this.last = { scope, topic, writePartition, producerId, ranges };
  }

  /**
   * `isDuplicate`, then `delivered` when it is not: true for a message to deliver. Consecutive
   * messages of one stream (a chunk's) skip the lookups: the stream used last is remembered,
   * and it is already the most recently used of its scope.
   */
  accept(scope: string, stream: StreamId, sequence: number): boolean {
    const last = this.last;
    if (
      last === undefined ||
      last.scope !== scope ||
      last.topic !== stream.topic ||
      last.writePartition !== stream.writePartition ||
      last.producerId !== stream.producerId
    ) {
      if (this.isDuplicate(scope, stream, sequence)) return false;
      this.delivered(scope, stream, sequence);
      return true;
    }
    const ranges = last.ranges;
    const top = ranges[ranges.length - 1];
    if (top !== undefined && sequence === top[1]! + 1) {
      top[1] = sequence; // in order: the common case
      return true;
    }
    if (findRange(ranges, sequence) >= 0) {
      this.skipped++;
      return false;
    }
    insert(ranges, sequence);
    if (ranges.length > this.maxRanges) ranges.shift();
    return true;
  }

  /** Forget everything about a scope (after a seek, or when its partition is revoked). */
  forget(scope: string): void {
    if (this.last?.scope === scope) this.last = undefined;
    const streams = this.scopes.get(scope);
    if (streams === undefined) return;
    this.streams -= streams.size;
    this.scopes.delete(scope);
  }

  /** Number of streams tracked. */
  get size(): number {
    return this.streams;
  }

  private evictIfNeeded(): void {
    while (this.streams > this.maxStreams) {
      // evict from the scope holding the first (least recently used) entries
      for (const [scope, streams] of this.scopes) {
        const first = streams.keys().next();
        if (!first.done) {
          streams.delete(first.value);
          this.streams--;
        }
        if (streams.size === 0) this.scopes.delete(scope);
        break;
      }
    }
  }
}

export interface StreamId {
  topic: string;
  writePartition: number;
  producerId: number;
}

function streamKey(s: StreamId): string {
  return `${s.topic}\u0000${s.writePartition}\u0000${s.producerId}`;
}

/** Index of the range containing `v`, or `-(insertion point) - 1`. */
function findRange(ranges: Ranges, v: number): number {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const r = ranges[mid]!;
    if (v < r[0]!) hi = mid - 1;
    else if (v > r[1]!) lo = mid + 1;
    else return mid;
  }
  return -lo - 1;
}

function insert(ranges: Ranges, v: number): void {
  const last = ranges[ranges.length - 1];
  if (last !== undefined && v === last[1]! + 1) {
    last[1] = v; // the common case: in order
    return;
  }
  const i = findRange(ranges, v);
  if (i >= 0) return;
  const at = -i - 1;
  const prev = ranges[at - 1];
  const next = ranges[at];
  const joinsPrev = prev !== undefined && prev[1]! + 1 === v;
  const joinsNext = next !== undefined && next[0]! - 1 === v;
  if (joinsPrev && joinsNext) {
    prev[1] = next[1]!;
    ranges.splice(at, 1);
  } else if (joinsPrev) {
    prev[1] = v;
  } else if (joinsNext) {
    next[0] = v;
  } else {
    ranges.splice(at, 0, [v, v]);
  }
}
