export { parseMessageIndex } from './commit-metadata.js';
export { KafkaPointerConsumer } from './consumer.js';
export { isRebalanceError, mapKafkaError } from './errors.js';
export {
  type KafkaPointerQueueOptions,
  type KafkaPointersConfig,
  type KafkaPointersConfigInput,
  kafkaPointersConfigSchema,
  parseKafkaPointersConfig,
} from './options.js';
export { bargePlugin, createKafkaPointerQueue } from './plugin.js';
export { KafkaPointerQueue } from './queue.js';
