import type { PointerQueue } from '@barge/core';

/** What counting messages needs of one pointer: where it is and how many messages its batch has. */
export interface CountedPointer {
  readonly offset: number;
  readonly messageCount: number;
}

/** Messages behind a committed position; `estimated` when only part of the pointers was read. */
export interface MessageLag {
  readonly messages: number;
  readonly estimated: boolean;
}

/** The pointers read after a committed position, and whether they reach the end of the partition. */
export interface PointersAfter {
  readonly pointers: readonly CountedPointer[];
  readonly complete: boolean;
}

/**
 * Messages not yet consumed after `committed`: every message of the pointers read (from
 * `committed.offset` on, in offset order), less the `messageIndex` first ones of the pointer at
 * `committed.offset` when it is still there (trimmed pointers count nothing). When the read
 * stopped short of `high`, the offsets left count the average messages per pointer read
 * (an estimate; Kafka commit markers among them count as pointers).
 */
export function messageLag(
  committed: { readonly offset: number; readonly messageIndex: number },
  read: PointersAfter,
  high: number,
): MessageLag {
  let messages = 0;
  for (const p of read.pointers) if (p.offset >= committed.offset) messages += p.messageCount;
  const first = read.pointers[0];
  if (first?.offset === committed.offset) messages -= Math.min(committed.messageIndex, first.messageCount);
  const last = read.pointers.at(-1);
  if (read.complete || !last) return { messages, estimated: false };
  const left = Math.max(0, high - (last.offset + 1));
  if (left === 0) return { messages, estimated: false };
  let all = 0;
  for (const p of read.pointers) all += p.messageCount;
  return { messages: messages + Math.round((all / read.pointers.length) * left), estimated: true };
}

/** Pointers read per call to the queue. */
const PAGE = 1000;

/**
 * Reads the message counts of the pointers of one partition from `from` up to `high`, at most
 * `max` of them (the rest is estimated by `messageLag`). A read that returns nothing before
 * `high` is the end: only commit markers or aborted pointers are left.
 */
export async function readPointersAfter(
  read: NonNullable<PointerQueue['readPartition']>,
  topic: string,
  partition: number,
  from: number,
  high: number,
  max: number,
): Promise<PointersAfter> {
  const pointers: CountedPointer[] = [];
  let next = from;
  while (next < high) {
    if (pointers.length >= max) return { pointers, complete: false };
    const page = await read(topic, partition, next, Math.min(PAGE, max - pointers.length));
    if (page.length === 0) break;
    for (const r of page)
      if (r.offset < high) pointers.push({ offset: r.offset, messageCount: r.pointer.messageCount });
    next = page[page.length - 1]!.offset + 1;
  }
  return { pointers, complete: true };
}
