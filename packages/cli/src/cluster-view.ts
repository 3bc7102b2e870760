import { type MetadataResponse, NO_OWNER } from '@barge/core';
import { parseHostPort } from './fail.js';
import { formatTable } from './text-table.js';

/** A broker of the cluster and how many of the listed write partitions it owns. */
export interface ClusterBrokerView {
  brokerId: number;
  host: string;
  port: number;
  /** Write partitions of the listed topics this broker owns. */
  writePartitions: number;
  /** Whether this broker answered the Metadata request. */
  answered: boolean;
}

export interface ClusterTopicView {
  name: string;
  writePartitions: number;
  /** Owner broker id of each write partition (index = write partition); null while it has none. */
  owners: (number | null)[];
}

/** What `barge cluster describe --json` prints. */
export interface ClusterView {
  /** The `cluster.id`; null for a broker without clustering. */
  clusterId: string | null;
  /** The broker that answered. */
  answeredBy: number;
  brokers: ClusterBrokerView[];
  topics: ClusterTopicView[];
  /** Some write partition has no owner now: the cluster is rebalancing. */
  rebalancing: boolean;
}

/**
 * The cluster as a Metadata response shows it, brokers by id. A version 1 answer (a broker without clustering
 * support) is a single broker owning everything, reached at the address the CLI connected to.
 */
export function clusterView(r: MetadataResponse, address: string): ClusterView {
  const cluster = r.cluster ?? {
    clusterId: '',
    brokers: [{ brokerId: r.brokerId, ...parseHostPort(address, '--broker') }],
    owners: r.topics.map((t) => Array.from({ length: t.writePartitions }, () => r.brokerId)),
  };
  const topics = r.topics.map((t, i) => {
    const listed = cluster.owners[i] ?? [];
    const owners = Array.from({ length: t.writePartitions }, (_, wp) => {
      const o = listed[wp] ?? NO_OWNER;
      return o === NO_OWNER ? null : o;
    });
    return { name: t.name, writePartitions: t.writePartitions, owners };
  });
  const owned = new Map<number, number>();
  for (const t of topics) for (const o of t.owners) if (o !== null) owned.set(o, (owned.get(o) ?? 0) + 1);
  return {
    clusterId: cluster.clusterId === '' ? null : cluster.clusterId,
    answeredBy: r.brokerId,
    brokers: [...cluster.brokers]
      .sort((x, y) => x.brokerId - y.brokerId)
      .map((b) => ({
        brokerId: b.brokerId,
        host: b.host,
        port: b.port,
        writePartitions: owned.get(b.brokerId) ?? 0,
        answered: b.brokerId === r.brokerId,
      })),
    topics,
    rebalancing: topics.some((t) => t.owners.includes(null)),
  };
}

/** The text of `barge cluster describe`: a summary line, the brokers, then the owners per topic. */
export function clusterText(v: ClusterView): string {
  const wps = v.topics.reduce((n, t) => n + t.writePartitions, 0);
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  let out = `cluster ${v.clusterId ?? '(none)'}: ${plural(v.brokers.length, 'broker')}, ${plural(wps, 'write partition')} in ${plural(v.topics.length, 'topic')}; answered by broker ${v.answeredBy}\n\n`;
  out += formatTable([
    ['BROKER', 'ADDRESS', 'WRITE-PARTITIONS', 'ANSWERED'],
    ...v.brokers.map((b) => [
      String(b.brokerId),
      `${b.host}:${b.port}`,
      String(b.writePartitions),
      b.answered ? 'yes' : '',
    ]),
  ]);
  if (v.topics.length > 0) {
    out += `\n${formatTable([
      ['TOPIC', 'WRITE-PARTITIONS', 'OWNERS (broker of write partition 0, 1, …)'],
      ...v.topics.map((t) => [
        t.name,
        String(t.writePartitions),
        t.owners.map((o) => (o === null ? '-' : String(o))).join(','),
      ]),
    ])}`;
  }
  if (v.rebalancing) {
    out +=
      '\n-: no owner now: the cluster is rebalancing; producers retry until it is done (run again in a few seconds)\n';
  }
  return out;
}
