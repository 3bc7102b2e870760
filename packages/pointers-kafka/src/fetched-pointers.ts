import {
  CorruptDataError,
  decodePointer,
  errorMessage,
  InvalidInputError,
  type PointerRecord,
} from '@barge/core';
import type { KafkaMessage } from 'kafkajs';
import { toSafeNumber } from './kafka.js';

type Fetched = { record: PointerRecord; error?: undefined } | { error: CorruptDataError; offset: number };

/** Pausing and resuming fetches of partitions of the consumer's Kafka topic. */
export interface FetchFlow {
  pause(partitions: readonly number[]): void;
  /** Resumes `partitions`, or every partition of the topic. */
  resume(partitions?: readonly number[]): void;
}

/**
 * Pointers a consumer fetched and `poll` has not returned yet, per partition, at most `maxRecords`
 * in all: a partition whose batch did not fit is paused, and paused partitions resume once the
 * buffer is down to half. An unreadable pointer stays at its partition's head as an error.
 */
export class FetchedPointers {
  private readonly buffers = new Map<number, Fetched[]>();
  private count = 0;
  private readonly paused = new Set<number>();
  private rotation = 0;

  constructor(
    /** The Kafka topic, for errors. */
    private readonly kafkaTopic: string,
    private readonly maxRecords: number,
    private readonly flow: FetchFlow,
  ) {}

  /** Pointers held now. */
  get size(): number {
    return this.count;
  }

  /**
   * Keeps the messages of a fetched batch of `partition`, in order, while there is room; pauses
   * the partition if some did not fit or the buffer is full. Returns the offset of the last one
   * kept (the next fetch starts after it), undefined if none was.
   */
  add(partition: number, messages: readonly KafkaMessage[]): string | undefined {
    let buf = this.buffers.get(partition);
    if (!buf) {
      buf = [];
      this.buffers.set(partition, buf);
    }
    let last: string | undefined;
    let accepted = 0;
    for (const m of messages) {
      if (this.count >= this.maxRecords) break;
      const offset = toSafeNumber(m.offset, `offset in "${this.kafkaTopic}" partition ${partition}`);
      buf.push(this.decode(partition, offset, m.timestamp, m.value));
      this.count++;
      accepted++;
      last = m.offset;
    }
    if ((accepted < messages.length || this.count >= this.maxRecords) && !this.paused.has(partition)) {
      this.paused.add(partition);
      this.flow.pause([partition]);
    }
    return last;
  }

  /**
   * Up to `max` pointers of the `eligible` partitions, round-robin over them (starting one further
   * every call), in offset order per partition. A partition stops at an unreadable pointer; that
   * error is thrown when nothing else could be returned.
   */
  take(eligible: readonly number[], max: number): PointerRecord[] {
    const out: PointerRecord[] = [];
    const parts = eligible.filter((p) => (this.buffers.get(p)?.length ?? 0) > 0);
    if (parts.length === 0) return out;
    const start = this.rotation++ % parts.length;
    const order = [...parts.slice(start), ...parts.slice(0, start)];
    let corrupt: CorruptDataError | undefined;
    const active = new Set(order);
    while (out.length < max && active.size > 0) {
      for (const p of order) {
        if (out.length >= max) break;
        if (!active.has(p)) continue;
        const buf = this.buffers.get(p);
        const head = buf?.[0];
        if (!buf || !head) {
          active.delete(p);
          continue;
        }
        if (head.error) {
          corrupt ??= head.error;
          active.delete(p);
          continue;
        }
        buf.shift();
        this.count--;
        out.push(head.record);
      }
    }
    if (out.length === 0 && corrupt) throw corrupt;
    this.resumeIfRoom();
    return out;
  }

  /** Drops what is held of `partition` and resumes it if it was paused (a seek). */
  drop(partition: number): void {
    const buf = this.buffers.get(partition);
    if (buf) {
      this.count -= buf.length;
      this.buffers.delete(partition);
    }
    if (this.paused.delete(partition)) this.flow.resume([partition]);
  }

  /** Drops what is held of every partition not in `keep`. */
  retain(keep: ReadonlySet<number>): void {
    for (const [p, buf] of [...this.buffers]) {
      if (keep.has(p)) continue;
      this.count -= buf.length;
      this.buffers.delete(p);
    }
  }

  /** Drops everything; resumes paused partitions if `resume` (kafkajs refetches after a join). */
  clear(resume: boolean): void {
    this.buffers.clear();
    this.count = 0;
    if (this.paused.size === 0) return;
    this.paused.clear();
    if (resume) this.flow.resume();
  }

  private resumeIfRoom(): void {
    if (this.paused.size === 0 || this.count > this.maxRecords / 2) return;
    const partitions = [...this.paused];
    this.paused.clear();
    this.flow.resume(partitions);
  }

  private decode(partition: number, offset: number, timestamp: string, value: Buffer | null): Fetched {
    try {
      if (value === null) throw new InvalidInputError('record has no value');
      const pointer = decodePointer(value);
      return {
        record: { partition, offset, timestamp: toSafeNumber(timestamp, 'record timestamp'), pointer },
      };
    } catch (e) {
      return {
        offset,
        error: new CorruptDataError(
          `pointer at offset ${offset} of "${this.kafkaTopic}" partition ${partition} is unreadable: ${errorMessage(e)}; ` +
            `seek(${partition}, ${offset + 1}) skips it`,
          { cause: e },
        ),
      };
    }
  }
}
