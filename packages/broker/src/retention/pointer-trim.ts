import type { BatchPointer, PointerQueue } from '@barge/core';

const READ_PAGE = 1000;

/**
 * For queues whose retention the broker applies (those with `readPartition` and
 * `deleteBefore`, i.e. the embedded queue): moves each read partition's low watermark past its
 * leading pointers that `expired` says retention drops. It stops at the first pointer retention
 * keeps, so a partition stays a contiguous run of offsets. Returns how many pointers went.
 */
export async function trimPointers(
  pointers: PointerQueue,
  topic: string,
  expired: (pointer: BatchPointer) => boolean,
): Promise<number> {
  const read = pointers.readPartition?.bind(pointers);
  const deleteBefore = pointers.deleteBefore?.bind(pointers);
  if (!read || !deleteBefore) return 0;
  let trimmed = 0;
  const readPartitions = await pointers.partitions(topic);
  for (let rp = 0; rp < readPartitions; rp++) {
    const { low } = await pointers.watermarks(topic, rp);
    let cut = low;
    scan: for (;;) {
      const page = await read(topic, rp, cut, READ_PAGE);
      if (page.length === 0) break;
      for (const r of page) {
        if (!expired(r.pointer)) break scan;
        cut = r.offset + 1;
      }
    }
    if (cut > low) trimmed += await deleteBefore(topic, rp, cut);
  }
  return trimmed;
}
