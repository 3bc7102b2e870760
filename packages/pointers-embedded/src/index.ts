export { assignRange, type ConsumerGroup, type GroupMemberInfo } from './group.js';
export { EmbeddedConsumer } from './group-member.js';
export {
  bargePlugin,
  bargePlugin as default,
  createEmbeddedPointerQueue,
  type EmbeddedPointerQueueConfig,
  embeddedConfigSchema,
} from './plugin.js';
export { EmbeddedPointerQueue, type EmbeddedPointerQueueOptions, MAX_READ_PARTITIONS } from './queue.js';
