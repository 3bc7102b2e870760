import type { BrokerAddress, MetadataResponse } from '@barge/core';

/** `host:port` of a broker listed in Metadata v2; an IPv6 host in brackets, as `parseAddress` reads it. */
export function brokerAddress({ host, port }: Pick<BrokerAddress, 'host' | 'port'>): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The addresses of the brokers of a cluster, from a Metadata answer; undefined when the answer
 * does not come from a cluster (a v1 answer, or a broker without clustering: `clusterId` '').
 */
export function clusterBrokerAddresses(r: Pick<MetadataResponse, 'cluster'>): string[] | undefined {
  const c = r.cluster;
  if (c === undefined || c.clusterId === '') return undefined;
  return c.brokers.map(brokerAddress);
}
