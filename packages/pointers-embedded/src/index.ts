export { assignRange, type ConsumerGroup, EmbeddedConsumer, type GroupMemberInfo } from './group.js';
export {
  bargePlugin,
  bargePlugin as default,
  createEmbeddedPointerQueue,
  type EmbeddedPointerQueueConfig,
  embeddedConfigSchema,
} from './plugin.js';
export { EmbeddedPointerQueue, type EmbeddedPointerQueueOptions, MAX_READ_PARTITIONS } from './queue.js';
