export { Broker, type BrokerOptions } from './broker.js';
export { type RunningBroker, type StartOptions, startBrokerFromConfig } from './compose.js';
export { envOverrides, loadConfigFile } from './config-file.js';
export {
  type BargePosition,
  type IndexedPointer,
  type Located,
  nextOffsetFromTail,
  OffsetIndex,
  type OffsetIndexOptions,
} from './kafka-offsets/index.js';
export {
  BATCH_PREFIX,
  batchKey,
  hedgeKey,
  META_PREFIX,
  ORPHANS_META_PREFIX,
  orphanMetaKey,
  SEQUENCES_META_PREFIX,
  TOPICS_META_PREFIX,
} from './keys.js';
export { BrokerMetrics } from './metrics.js';
export { RetentionSweeper, type SweeperDeps, type TopicSweep } from './retention/index.js';
export { readSecurityDoc, updateSecurityDoc } from './security-doc.js';
export { SequenceAllocator } from './sequences.js';
