import type { PointerSource } from '@barge/client';
import type { PointerConsumer, PointerRecord, RevokeListener, SubscribeOptions } from '@barge/core';
import { ForwardingConsumer } from './forwarding-consumer.js';

/**
 * `consume --partition`: pointers of the chosen read partitions only. The member of a group of
 * its own owns every read partition of the topic; this source hides the others from the consumer,
 * so it never fetches their batches. (Their pointers still arrive and are dropped: they are small.)
 * Only for a group nobody else uses and nothing is committed in.
 */
export class PartitionFilter implements PointerSource {
  constructor(
    private readonly inner: PointerSource,
    private readonly partitions: ReadonlySet<number>,
  ) {}

  async subscribe(options: SubscribeOptions): Promise<PointerConsumer> {
    return new FilteredConsumer(await this.inner.subscribe(options), this.partitions);
  }

  offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<number> {
    return this.inner.offsetForTimestamp(topic, partition, timestamp);
  }

  watermarks(topic: string, partition: number): Promise<{ low: number; high: number }> {
    return this.inner.watermarks(topic, partition);
  }
}

class FilteredConsumer extends ForwardingConsumer {
  constructor(
    inner: PointerConsumer,
    private readonly partitions: ReadonlySet<number>,
  ) {
    super(inner);
  }

  #chosen(partitions: readonly number[]): number[] {
    return partitions.filter((p) => this.partitions.has(p));
  }

  override assignment(): readonly number[] {
    return this.#chosen(this.inner.assignment());
  }

  override async poll(options?: { maxRecords?: number; timeoutMs?: number }): Promise<PointerRecord[]> {
    return (await this.inner.poll(options)).filter((r) => this.partitions.has(r.partition));
  }

  override onAssignment(listener: (partitions: readonly number[]) => void): void {
    this.inner.onAssignment((partitions) => listener(this.#chosen(partitions)));
  }

  override onRevoke(listener: RevokeListener): void {
    this.inner.onRevoke((partitions) => {
      const chosen = this.#chosen(partitions);
      return chosen.length > 0 ? listener(chosen) : undefined;
    });
  }

  override revoking(): readonly number[] {
    return this.#chosen(this.inner.revoking());
  }
}
