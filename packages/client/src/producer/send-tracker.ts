import type { Message } from '@barge/core';
import type { RecordMetadata } from '../types.js';

/** One pending `send` call: resolves with every message's metadata, or rejects at the first failure. */
export class SendTracker {
  readonly results: RecordMetadata[];
  private remaining: number;
  private failed = false;
  readonly promise: Promise<RecordMetadata[]>;
  private resolveFn!: (r: RecordMetadata[]) => void;
  private rejectFn!: (e: unknown) => void;

  constructor(count: number) {
    this.results = new Array(count);
    this.remaining = count;
    this.promise = new Promise((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
    if (count === 0) this.resolveFn([]);
  }

  done(index: number, meta: RecordMetadata): void {
    if (this.failed) return;
    this.results[index] = meta;
    if (--this.remaining === 0) this.resolveFn(this.results);
  }

  fail(e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.rejectFn(e);
  }
}

/** A message on its way: accumulated, then in a chunk, until its `send` call hears about it. */
export interface PendingMessage {
  message: Message;
  /** Its share of the producer's byte budget. */
  size: number;
  tracker: SendTracker;
  /** Position in its `send` call. */
  index: number;
}
