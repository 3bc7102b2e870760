import { ConfigError } from '@barge/core';
import { type ObjectSource, StorageObjectSource } from './batch-reader.js';
import type { ResolvedCommonOptions } from './client-options.js';
import type { ConsumerReporter } from './consumer-reporter.js';
import type { ConsumerOptions } from './consumer-types.js';
import { openBrokerSources } from './remote.js';
import type { PointerSource } from './types.js';

/** Where a consumer reads: pointers and batch objects, given directly or served by a broker. */
export interface ConsumerSources {
  readonly objects: ObjectSource;
  readonly pointers: PointerSource;
  /** The broker connected to, if any. */
  readonly broker: string | undefined;
  /** Closes the broker connection, if any. */
  readonly close: (() => Promise<void>) | undefined;
}

/**
 * The consumer's sources: `storage` and `pointers` as given, and whatever is missing from a
 * broker of `brokers` (connecting within `connectionTimeout`, retrying unreachable brokers).
 */
export async function openConsumerSources(
  o: ConsumerOptions,
  clientId: string,
  common: ResolvedCommonOptions,
  report: ConsumerReporter,
): Promise<ConsumerSources> {
  const objects = o.storage ? new StorageObjectSource(o.storage) : undefined;
  if (objects && o.pointers) return { objects, pointers: o.pointers, broker: undefined, close: undefined };
  if (!o.brokers?.length)
    throw new ConfigError('consumer needs brokers, or both pointers and storage', 'brokers');
  const remote = await openBrokerSources({
    brokers: o.brokers,
    clientId,
    connectTimeoutMs: common.connectionTimeoutMs,
    requestTimeoutMs: common.requestTimeoutMs,
    tls: common.tls,
    sasl: common.sasl,
    heartbeatIntervalMs: o.heartbeatIntervalMs,
    retry: common.retry,
    observer: report.observer(),
    onConnectRetry: report.connectRetry,
    onJoin: (join) => report.joined(join),
  });
  return {
    objects: objects ?? remote.objects,
    pointers: o.pointers ?? remote.pointers,
    broker: remote.broker,
    close: remote.close,
  };
}
