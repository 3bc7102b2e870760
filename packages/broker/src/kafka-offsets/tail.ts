import { PermanentError, type PointerQueue, type PointerRecord, readPartitionFor } from '@barge/core';

/** Pointers read per call when scanning a read partition. */
export const READ_PAGE = 500;

/** The queue operations dense offsets are recovered with. */
export type TailQueue = Pick<PointerQueue, 'partitions' | 'watermarks' | 'readPartition'>;

/**
 * The dense offset the next batch of a write partition gets, from what its read partition
 * holds: `baseOffset + messageCount` of the write partition's last pointer (the largest such
 * end among the pointers of the last page that has any, so a duplicated publication near the
 * tail does not matter). The read goes back from the high watermark one page at a time; when
 * the read partition carries only this write partition (Kafka-visible topics) the first page
 * ends with it, so it costs a watermarks call and one read.
 *
 * A tail pointer without `baseOffset` (written by an older broker) makes it read the write
 * partition's pointers once from the low watermark and count: `next = (p.baseOffset ?? next) +
 * p.messageCount` in offset order, skipping republished duplicates (a sequence not above the
 * last one). That numbering is the one `OffsetIndex` gives unstamped pointers, so the first
 * stamped batch continues it.
 *
 * `undefined` when no pointer of the write partition is retained (never written, or retention
 * removed them all: the offsets it reached are then unknown here, see `OffsetCeiling`).
 */
export async function tailOffset(
  queue: TailQueue,
  topic: string,
  writePartition: number,
  pageSize = READ_PAGE,
): Promise<number | undefined> {
  if (!queue.readPartition) {
    throw new PermanentError(
      `the pointer queue cannot read a partition outside a consumer group, so the dense offsets of ${topic}/${writePartition} cannot be recovered`,
    );
  }
  const rp = readPartitionFor(writePartition, await queue.partitions(topic));
  const { low, high } = await queue.watermarks(topic, rp);
  for (let end = high; end > low; ) {
    const start = Math.max(low, end - pageSize);
    const mine = (await readRange(queue, topic, rp, start, end)).filter(
      (r) => r.pointer.writePartition === writePartition,
    );
    if (mine.length > 0) {
      if (mine.some((r) => r.pointer.baseOffset === undefined)) {
        return countFrom(queue, topic, rp, writePartition, low, pageSize);
      }
      return Math.max(...mine.map((r) => endOf(r, 0)));
    }
    end = start;
  }
  return undefined;
}

/** `tailOffset`, 0 when the read partition holds no pointer of the write partition. */
export async function nextOffsetFromTail(
  queue: TailQueue,
  topic: string,
  writePartition: number,
  pageSize = READ_PAGE,
): Promise<number> {
  return (await tailOffset(queue, topic, writePartition, pageSize)) ?? 0;
}

/** Offset after the pointer, whose first message gets `derived` when it has no `baseOffset`. */
function endOf(r: PointerRecord, derived: number): number {
  return (r.pointer.baseOffset ?? derived) + r.pointer.messageCount;
}

/** Pointers of `[start, end)` of a read partition (fewer when retention removes some meanwhile). */
export async function readRange(
  queue: TailQueue,
  topic: string,
  rp: number,
  start: number,
  end: number,
): Promise<PointerRecord[]> {
  const out: PointerRecord[] = [];
  for (let from = start; from < end; ) {
    const page = await queue.readPartition!(topic, rp, from, end - from);
    for (const r of page) if (r.offset < end) out.push(r);
    if (page.length === 0) break;
    from = page.at(-1)!.offset + 1;
  }
  return out;
}

/** The write partition's next offset counted over every retained pointer (the unstamped case). */
async function countFrom(
  queue: TailQueue,
  topic: string,
  rp: number,
  writePartition: number,
  low: number,
  pageSize: number,
): Promise<number> {
  let next = 0;
  let lastSequence = -1;
  for (let from = low; ; ) {
    const page = await queue.readPartition!(topic, rp, from, pageSize);
    if (page.length === 0) return next;
    for (const r of page) {
      if (r.pointer.writePartition !== writePartition || r.pointer.sequence <= lastSequence) continue;
      lastSequence = r.pointer.sequence;
      next = Math.max(next, endOf(r, next));
    }
    from = page.at(-1)!.offset + 1;
  }
}
