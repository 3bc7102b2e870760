export { ADMIN_EVENTS, Admin, type AdminEventPayloads, type AdminOptions } from './admin.js';
export {
  type AuditQuery,
  type AuditReport,
  analyzeAudit,
  type CoverageGap,
  type StreamAudit,
} from './audit/analyze.js';
export type { AuditOptions } from './audit/emitter.js';
export { countOf, formatRanges, type SeqRange } from './audit/ranges.js';
export {
  type AuditEnvelope,
  type AuditRecord,
  type ConsumedRecord,
  DEFAULT_AUDIT_TOPIC,
  type ProducedRecord,
  parseEnvelope,
} from './audit/record.js';
export {
  BatchReader,
  type DamagedChunk,
  type LoadedBatch,
  type ObjectSource,
  StorageObjectSource,
} from './batch-reader.js';
export { BrokerPool, type ConnectPolicy } from './broker-pool.js';
export type { CommonClientOptions } from './client-options.js';
export {
  BrokerConnection,
  BrokerUnreachableError,
  ConnectionClosedError,
  type ConnectionObserver,
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
export {
  CONSUMER_EVENTS,
  type CommitOffsetsPayload,
  type ConsumerEventPayloads,
  type CrashPayload,
  type GroupJoinPayload,
  type RebalancingPayload,
  type SkippedPayload,
} from './consumer-events.js';
export type { SubscribeInput, TopicPartitionOffsetInput } from './consumer-input.js';
export {
  type DamagedData,
  type DamagedDataCounts,
  DamagedDataError,
  type DamagedDataPolicy,
  damageOf,
  describeDamage,
} from './damaged-data.js';
export { type DedupOptions, DedupTracker, type StreamId } from './dedup.js';
export type {
  InstrumentationEvent,
  NetworkEventPayloads,
  RemoveInstrumentationEventListener,
  RequestEventPayload,
  RequestTimeoutEventPayload,
} from './instrumentation.js';
export {
  type LogCreator,
  type LogEntry,
  type LoggingOptions,
  type LogLevel,
  type LogLevelName,
  logLevel,
  type PinoLikeLogger,
} from './logger.js';
export { murmur2, partitionForKey, StickyPartitioner } from './partitioner.js';
export type { KafkaAcks } from './producer/acks.js';
export { type BatchAckedPayload, PRODUCER_EVENTS, type ProducerEventPayloads } from './producer/events.js';
export { ProduceError, Producer, type ProducerOptions, type SendOptions } from './producer.js';
export {
  openBrokerSources,
  ProxyObjectSource,
  RemotePointerConsumer,
  RemotePointerSource,
} from './remote.js';
export {
  backoffMs,
  isProgrammingError,
  isRetryableFailure,
  type ResolvedRetry,
  type RetryOptions,
  resolveRetry,
} from './retry.js';
export { resolveSaslOption, SaslCredentials, type SaslOptions } from './sasl-client.js';
export { type ClientTlsOptions, TlsHandshakeError, type TlsOption } from './tls.js';
export type {
  AckLevel,
  ConsumedMessage,
  HeaderInput,
  MessageHeader,
  PointerSource,
  ProducerMessage,
  RecordMetadata,
} from './types.js';
