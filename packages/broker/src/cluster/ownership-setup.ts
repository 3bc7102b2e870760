import { hostname } from 'node:os';
import { type BrokerConfig, type ClusterMember, ConfigError, type PointerQueue } from '@barge/core';
import type { HostPort } from '../server/listen.js';
import { ClusterNode, type ClusterNodeDeps } from './cluster-node.js';
import { SoloOwnership, type WriteOwnership } from './write-ownership.js';

/** The address clients reach this broker at: `broker.advertise`, else the bound address (the host name for a wildcard). */
export function advertisedMember(config: BrokerConfig, bound: HostPort): ClusterMember {
  const brokerId = config.broker.id;
  const advertise = config.broker.advertise;
  if (advertise) {
    const i = advertise.lastIndexOf(':');
    return { brokerId, host: advertise.slice(0, i), port: Number(advertise.slice(i + 1)) };
  }
  const wildcard = bound.host === '0.0.0.0' || bound.host === '::' || bound.host === '';
  return { brokerId, host: wildcard ? hostname() : bound.host, port: bound.port };
}

/**
 * Write ownership for this broker: a `ClusterNode` when the config has a `cluster` section (the
 * pointer queue must support clustering), else `SoloOwnership`.
 */
export function createOwnership(
  config: BrokerConfig,
  pointers: PointerQueue,
  bound: () => HostPort,
  deps: Omit<ClusterNodeDeps, 'settings' | 'self' | 'coordination'>,
): { ownership: WriteOwnership; node: ClusterNode | undefined } {
  const self = () => advertisedMember(config, bound());
  if (!config.cluster) {
    return { ownership: new SoloOwnership(config.broker.id, self, pointers), node: undefined };
  }
  if (!pointers.cluster) {
    throw new ConfigError(
      `cluster: the "${pointers.adapter}" pointer queue cannot coordinate a cluster of brokers; use pointers.adapter "kafka" or remove the cluster section`,
      'cluster',
    );
  }
  const node = new ClusterNode({ ...deps, settings: config.cluster, self, coordination: pointers.cluster });
  return { ownership: node, node };
}
