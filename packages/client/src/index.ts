export { BatchReader, type LoadedBatch, type ObjectSource, StorageObjectSource } from './batch-reader.js';
export {
  BrokerConnection,
  BrokerPool,
  BrokerUnreachableError,
  ConnectionClosedError,
  type ConnectionOptions,
  parseAddress,
  RequestTimeoutError,
} from './connection.js';
export {
  Consumer,
  type ConsumerBatch,
  ConsumerCrashError,
  type ConsumerEvents,
  type ConsumerOptions,
  type EachBatchPayload,
  type EachMessagePayload,
  type RunOptions,
  type TopicPartitionOffset,
} from './consumer.js';
export { type DedupOptions, DedupTracker, type StreamId } from './dedup.js';
export { murmur2, partitionForKey, StickyPartitioner } from './partitioner.js';
export { ProduceError, Producer, type ProducerOptions, type SendOptions } from './producer.js';
export {
  openBrokerSources,
  ProxyObjectSource,
  RemotePointerConsumer,
  RemotePointerSource,
} from './remote.js';
export { backoffMs, type RetryOptions, resolveRetry } from './retry.js';
export type {
  AckLevel,
  ConsumedMessage,
  HeaderInput,
  MessageHeader,
  PointerSource,
  ProducerMessage,
  RecordMetadata,
} from './types.js';
