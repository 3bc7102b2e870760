import { hostname } from 'node:os';
import { type BrokerConfig, type ClusterMember, ConfigError, type PointerQueue } from '@barge/core';
import { type HostPort, parseHostPort } from '../server/listen.js';
import { ClusterNode, type ClusterNodeDeps } from './cluster-node.js';
import { SoloOwnership, type WriteOwnership } from './write-ownership.js';

/** Where clients are told to connect: `advertise` when set, else the bound address (the host name for a wildcard). */
export function advertisedAddress(advertise: string | undefined, bound: HostPort): HostPort {
  if (advertise) return parseHostPort(advertise);
  const wildcard = bound.host === '0.0.0.0' || bound.host === '::' || bound.host === '';
  return { host: wildcard ? hostname() : bound.host, port: bound.port };
}

/**
 * This broker as the cluster sees it: its Barge address (`broker.advertise`, else the bound
 * listener) and, when it runs one, its Kafka listener's (`kafka.advertise`, else the bound one).
 */
export function advertisedMember(
  config: BrokerConfig,
  bound: HostPort,
  kafkaBound?: HostPort | undefined,
): ClusterMember {
  const { host, port } = advertisedAddress(config.broker.advertise, bound);
  const member: ClusterMember = { brokerId: config.broker.id, host, port };
  if (config.kafka && kafkaBound) member.kafka = advertisedAddress(config.kafka.advertise, kafkaBound);
  return member;
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
  kafkaBound: () => HostPort | undefined = () => undefined,
): { ownership: WriteOwnership; node: ClusterNode | undefined } {
  const self = () => advertisedMember(config, bound(), kafkaBound());
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
