import { ProtocolError, type Reader, type Writer } from './wire.js';

/** `owners` value of a write partition whose owner is not known (the cluster is rebalancing). */
export const NO_OWNER = 0xffffffff;

/** A broker of the cluster, as clients reach it. */
export interface BrokerAddress {
  brokerId: number;
  host: string;
  port: number;
}

/**
 * Version 2 of the Metadata response (`docs/protocol.md`): where each write partition is
 * served. A broker without clustering lists itself as the only broker and owner of everything.
 */
export interface ClusterMetadata {
  /** The `cluster.id`, or '' for a broker without clustering. */
  clusterId: string;
  /** Every broker of the cluster. */
  brokers: BrokerAddress[];
  /** Owner broker id of each write partition, one list per topic of the response, in its order; `NO_OWNER` when unknown. */
  owners: number[][];
}

/** Present in Metadata v2 responses. */
export interface WithClusterMetadata {
  /** v2: brokers and write-partition owners; absent in v1. */
  cluster?: ClusterMetadata;
}

interface Codec<T> {
  write(w: Writer, v: T): void;
  read(r: Reader): T;
}

/** The v2 codec of the Metadata response: the v1 body, then the cluster section. */
export function withClusterMetadata<T extends WithClusterMetadata & { topics: readonly unknown[] }>(
  v1: Codec<T>,
): Codec<T> {
  return {
    write: (w, v) => {
      v1.write(w, v);
      const c = v.cluster ?? { clusterId: '', brokers: [], owners: v.topics.map(() => []) };
      if (c.owners.length !== v.topics.length) {
        throw new ProtocolError(`cluster.owners has ${c.owners.length} lists for ${v.topics.length} topics`);
      }
      w.str16(c.clusterId, 'cluster.id').u32(c.brokers.length, 'brokers.count');
      for (const b of c.brokers) w.u32(b.brokerId, 'brokerId').str16(b.host, 'host').u16(b.port, 'port');
      for (const owners of c.owners) {
        w.u32(owners.length, 'owners.count');
        for (const o of owners) w.u32(o, 'owner');
      }
    },
    read: (r) => {
      const body = v1.read(r);
      const clusterId = r.str16('cluster.id');
      const n = r.count('brokers', 4 + 2 + 2);
      const brokers: BrokerAddress[] = [];
      for (let i = 0; i < n; i++) {
        brokers.push({ brokerId: r.u32('brokerId'), host: r.str16('host'), port: r.u16('port') });
      }
      const owners: number[][] = [];
      for (let t = 0; t < body.topics.length; t++) {
        const k = r.count('owners', 4);
        const list: number[] = [];
        for (let i = 0; i < k; i++) list.push(r.u32('owner'));
        owners.push(list);
      }
      return { ...body, cluster: { clusterId, brokers, owners } };
    },
  };
}
