/**
 * Per key (the producer's key is a `ProduceTarget`: topic, write partition and ack level),
 * collects messages into the chunk that will go out in one Produce request. Keys are compared as
 * `Map` keys are (objects by identity). A chunk closes when:
 *  - the next message would take it past `maxChunkBytes` (the open chunk closes first, the
 *    message starts a new one), or a single message alone reaches `maxChunkBytes`;
 *  - it holds `maxChunkMessages` messages;
 *  - `lingerMs` have passed since its first message (0: at the next turn of the event loop, so
 *    the messages of one `send()` call still share a chunk);
 *  - `flush()` is called.
 * The owner receives each closed chunk through `onClose`, synchronously, in closing order.
 */

export type CloseReason = 'size' | 'count' | 'linger' | 'flush';

export interface ClosedChunk<K, M> {
  /** The accumulator key the messages were appended under. */
  key: K;
  messages: M[];
  /** Sum of the sizes given to `append`. */
  bytes: number;
  reason: CloseReason;
}

/** Runs `fn` after `ms`; returns a function that cancels it. Injectable so tests need no clock. */
export type Scheduler = (fn: () => void, ms: number) => () => void;

export const realScheduler: Scheduler = (fn, ms) => {
  if (ms <= 0) {
    const h = setImmediate(fn);
    return () => clearImmediate(h);
  }
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
};

export interface AccumulatorOptions<K, M> {
  maxChunkBytes: number;
  maxChunkMessages: number;
  lingerMs: number;
  onClose: (chunk: ClosedChunk<K, M>) => void;
  scheduler?: Scheduler;
}

interface OpenChunk<M> {
  messages: M[];
  bytes: number;
  cancelLinger: (() => void) | undefined;
}

export class Accumulator<K, M> {
  private readonly open = new Map<K, OpenChunk<M>>();
  private readonly scheduler: Scheduler;
  private buffered = 0;

  constructor(private readonly options: AccumulatorOptions<K, M>) {
    this.scheduler = options.scheduler ?? realScheduler;
  }

  /** Bytes in chunks that have not closed yet. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Keys with an open, non-empty chunk. */
  openKeys(): K[] {
    return [...this.open.keys()];
  }

  append(key: K, message: M, size: number): void {
    const { maxChunkBytes, maxChunkMessages } = this.options;
    let chunk = this.open.get(key);
    if (chunk !== undefined && chunk.bytes + size > maxChunkBytes) {
      this.close(key, 'size');
      chunk = undefined;
    }
    if (chunk === undefined) {
      const fresh: OpenChunk<M> = { messages: [], bytes: 0, cancelLinger: undefined };
      this.open.set(key, fresh);
      fresh.cancelLinger = this.scheduler(() => {
        fresh.cancelLinger = undefined;
        if (this.open.get(key) === fresh) this.close(key, 'linger');
      }, this.options.lingerMs);
      chunk = fresh;
    }
    chunk.messages.push(message);
    chunk.bytes += size;
    this.buffered += size;
    if (chunk.bytes >= maxChunkBytes) this.close(key, 'size');
    else if (chunk.messages.length >= maxChunkMessages) this.close(key, 'count');
  }

  /** Closes the open chunk of `key`, or of every key. */
  flush(key?: K): void {
    if (key !== undefined) {
      if (this.open.has(key)) this.close(key, 'flush');
      return;
    }
    for (const k of [...this.open.keys()]) this.close(k, 'flush');
  }

  private close(key: K, reason: CloseReason): void {
    const chunk = this.open.get(key);
    if (chunk === undefined) return;
    this.open.delete(key);
    chunk.cancelLinger?.();
    chunk.cancelLinger = undefined;
    this.buffered -= chunk.bytes;
    if (chunk.messages.length === 0) return;
    this.options.onClose({ key, messages: chunk.messages, bytes: chunk.bytes, reason });
  }
}
