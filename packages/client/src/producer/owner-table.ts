import { type MetadataResponse, NO_OWNER } from '@barge/core';
import { brokerAddress } from '../cluster-brokers.js';

/**
 * Who owns each write partition, from the latest Metadata v2 answers: the cluster's brokers
 * (id → address) and, per topic, the owner id of every write partition. Pure bookkeeping.
 *
 * `ownerOf` names a broker only when there is somewhere better to send than the bootstrap
 * connection: the answers come from a cluster of several brokers and name a known owner.
 * Otherwise (a v1 answer, a broker without clustering, a one-broker cluster, `NO_OWNER` while
 * the cluster rebalances, a topic not described yet) it answers undefined.
 */
export class OwnerTable {
  /** Broker id → `host:port`, from the latest clustered answer; empty when not clustered. */
  private brokers = new Map<number, string>();
  private readonly owners = new Map<string, readonly number[]>();

  /** Takes in a Metadata answer: its broker list replaces the last one; its topics' owners replace theirs. */
  update(r: Pick<MetadataResponse, 'topics' | 'cluster'>): void {
    const c = r.cluster;
    if (c === undefined || c.clusterId === '') {
      this.brokers.clear();
      this.owners.clear();
      return;
    }
    this.brokers = new Map(c.brokers.map((b) => [b.brokerId, brokerAddress(b)]));
    r.topics.forEach((t, i) => {
      this.owners.set(t.name, c.owners[i] ?? []);
    });
  }

  /** Whether the answers come from a cluster of more than one broker. */
  get routes(): boolean {
    return this.brokers.size > 1;
  }

  /** Address of the owner of a write partition, or undefined: send to the bootstrap connection. */
  ownerOf(topic: string, writePartition: number): string | undefined {
    if (!this.routes) return undefined;
    const id = this.owners.get(topic)?.[writePartition];
    if (id === undefined || id === NO_OWNER) return undefined;
    return this.brokers.get(id);
  }

  /** Drops a topic's owners (they moved); `ownerOf` answers undefined for it until the next answer. */
  forget(topic: string): void {
    this.owners.delete(topic);
  }
}
