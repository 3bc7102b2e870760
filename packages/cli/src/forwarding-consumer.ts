import type { CommitPosition, PointerConsumer, PointerRecord, RevokeListener } from '@barge/core';

/**
 * A `PointerConsumer` that passes every call on to `inner`: the base of the CLI's wrappers
 * (`--partition`, `--exit-at-end` on a cluster's topic), which override only what they change.
 */
export class ForwardingConsumer implements PointerConsumer {
  readonly group: string;
  readonly topic: string;

  constructor(protected readonly inner: PointerConsumer) {
    this.group = inner.group;
    this.topic = inner.topic;
  }

  assignment(): readonly number[] {
    return this.inner.assignment();
  }

  poll(options?: { maxRecords?: number; timeoutMs?: number }): Promise<PointerRecord[]> {
    return this.inner.poll(options);
  }

  commit(positions: readonly CommitPosition[]): Promise<void> {
    return this.inner.commit(positions);
  }

  committed(partitions: readonly number[]): Promise<(CommitPosition | undefined)[]> {
    return this.inner.committed(partitions);
  }

  seek(partition: number, offset: number): void {
    this.inner.seek(partition, offset);
  }

  onAssignment(listener: (partitions: readonly number[]) => void): void {
    this.inner.onAssignment(listener);
  }

  onRevoke(listener: RevokeListener): void {
    this.inner.onRevoke(listener);
  }

  revoking(): readonly number[] {
    return this.inner.revoking();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
