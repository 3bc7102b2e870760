import type { TopicConfig } from '@barge/core';
import { PartitionWriter, type WriterContext } from './partition-writer.js';

/** The broker's partition writers, one per (topic, write partition), created on first use. */
export class PartitionWriters {
  readonly #writers = new Map<string, PartitionWriter>();
  readonly #roundRobin = new Map<string, number>();

  constructor(private readonly ctx: WriterContext) {}

  get(topic: string, writePartition: number): PartitionWriter {
    const id = `${topic}/${writePartition}`;
    let w = this.#writers.get(id);
    if (!w) {
      w = new PartitionWriter(topic, writePartition, this.ctx);
      this.#writers.set(id, w);
    }
    return w;
  }

  /** The write partition for a request that lets the broker choose: round robin over `candidates` (those it owns). */
  nextRoundRobin(topic: TopicConfig, candidates: readonly number[]): number | undefined {
    if (candidates.length === 0) return undefined;
    const n = this.#roundRobin.get(topic.name) ?? 0;
    this.#roundRobin.set(topic.name, n + 1);
    return candidates[n % candidates.length];
  }

  /** Closes the write partition's open batch; resolves once none of its batches is in flight. */
  async drain(topic: string, writePartition: number): Promise<void> {
    const w = this.#writers.get(`${topic}/${writePartition}`);
    if (!w) return;
    w.flush();
    await w.whenIdle();
  }

  /** Closes every open batch now. */
  flush(): void {
    for (const w of this.#writers.values()) w.flush();
  }

  /** Resolves when no batch is open or in flight. */
  async whenIdle(): Promise<void> {
    await Promise.all([...this.#writers.values()].map((w) => w.whenIdle()));
  }

  /** Batches open, closed or being published, over every write partition. */
  get pendingBatches(): number {
    let n = 0;
    for (const w of this.#writers.values()) n += w.pendingBatches;
    return n;
  }
}
