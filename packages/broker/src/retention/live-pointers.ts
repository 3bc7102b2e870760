import { type PointerQueue, readPartitionFor } from '@barge/core';
import type { BatchObject } from './batch-objects.js';

const READ_PAGE = 1000;

/**
 * What the pointer queue says about which batch objects of a topic a pointer still in the queue
 * (a live pointer) can reach. Built after the sweep's start time, so it sees every pointer of
 * every object that was settled then (see `RetentionSweeper` for the argument).
 */
export interface LivePointers {
  /** The objects among `settled` that no live pointer can reach. */
  unreachable(settled: readonly BatchObject[]): Promise<Set<string>>;
  /**
   * The smallest sequence of a live pointer of write partition `wp`; undefined when there is
   * none, or when the queue cannot be read without a group (then orphans are told by markers only).
   */
  minLiveSequence(writePartition: number): number | undefined;
}

/** Reads the live pointers of a topic where the queue can (`readPartition`), else relies on the low watermarks. */
export async function livePointers(
  pointers: PointerQueue,
  topic: string,
  horizonMs: number,
): Promise<LivePointers> {
  const readPartitions = await pointers.partitions(topic);
  if (pointers.readPartition) return ScannedPointers.read(pointers, topic, readPartitions);
  return new WatermarkCut(pointers, topic, readPartitions, horizonMs);
}

/** Every live pointer's key, read from each partition's low watermark to its end. */
class ScannedPointers implements LivePointers {
  private constructor(
    private readonly keys: ReadonlySet<string>,
    private readonly minSequence: ReadonlyMap<number, number>,
  ) {}

  static async read(pointers: PointerQueue, topic: string, readPartitions: number): Promise<ScannedPointers> {
    const read = pointers.readPartition!.bind(pointers);
    const keys = new Set<string>();
    const minSequence = new Map<number, number>();
    for (let rp = 0; rp < readPartitions; rp++) {
      let from = (await pointers.watermarks(topic, rp)).low;
      for (;;) {
        const page = await read(topic, rp, from, READ_PAGE);
        if (page.length === 0) break;
        for (const { pointer } of page) {
          keys.add(pointer.storage.key);
          const min = minSequence.get(pointer.writePartition);
          if (min === undefined || pointer.sequence < min)
            minSequence.set(pointer.writePartition, pointer.sequence);
        }
        from = page[page.length - 1]!.offset + 1;
      }
    }
    return new ScannedPointers(keys, minSequence);
  }

  async unreachable(settled: readonly BatchObject[]): Promise<Set<string>> {
    return new Set(settled.filter((o) => !this.keys.has(o.key)).map((o) => o.key));
  }

  minLiveSequence(writePartition: number): number | undefined {
    return this.minSequence.get(writePartition);
  }
}

/**
 * Without reading pointers: an object stored at `t` had its pointer appended (if ever) before
 * `t + horizon` by every clock; once the first pointer stamped at or after `t + horizon + 1` is
 * below the low watermark (or every pointer is), that pointer is gone with everything before it.
 */
class WatermarkCut implements LivePointers {
  constructor(
    private readonly pointers: PointerQueue,
    private readonly topic: string,
    private readonly readPartitions: number,
    private readonly horizonMs: number,
  ) {}

  async unreachable(settled: readonly BatchObject[]): Promise<Set<string>> {
    const byPartition = new Map<number, BatchObject[]>();
    for (const o of settled) {
      if (o.storedAt === undefined) continue;
      const rp = readPartitionFor(o.writePartition, this.readPartitions);
      byPartition.set(rp, [...(byPartition.get(rp) ?? []), o]);
    }
    const out = new Set<string>();
    for (const [rp, objects] of byPartition) {
      objects.sort((a, b) => a.storedAt! - b.storedAt!);
      const { low } = await this.pointers.watermarks(this.topic, rp);
      const cut = async (o: BatchObject) =>
        (await this.pointers.offsetForTimestamp(this.topic, rp, o.storedAt! + this.horizonMs + 1)) <= low;
      // The test is monotone in storedAt: find the first object that fails it.
      let lo = 0;
      let hi = objects.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (await cut(objects[mid]!)) lo = mid + 1;
        else hi = mid;
      }
      for (const o of objects.slice(0, lo)) out.add(o.key);
    }
    return out;
  }

  minLiveSequence(): undefined {
    return undefined;
  }
}
