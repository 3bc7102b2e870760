import { apiName, isApiKey } from '@barge/core';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Broker } from './broker.js';
import { BYTE_BUCKETS, COUNT_BUCKETS, LATENCY_BUCKETS, metricsOn } from './metrics/define.js';
import { GroupLagGauges } from './metrics/group-lag-gauges.js';
import { HELP } from './metrics/help.js';
import { BuildInfo, registerProcessMetrics } from './metrics/process-metrics.js';

/**
 * The broker's Prometheus metrics, on a registry of its own (several brokers can share a process;
 * the process and Node.js metrics are the same objects in every broker's registry).
 * `docs/operations.md` lists them all.
 */
export class BrokerMetrics {
  readonly registry = new Registry();
  readonly produceRequests = new Counter({
    name: 'barge_produce_requests_total',
    help: 'Produce requests accepted, by topic',
    labelNames: ['topic'] as const,
    registers: [this.registry],
  });
  readonly produceBytes = new Counter({
    name: 'barge_produce_bytes_total',
    help: 'Chunk bytes accepted, by topic',
    labelNames: ['topic'] as const,
    registers: [this.registry],
  });
  readonly produceMessages = new Counter({
    name: 'barge_produce_messages_total',
    help: 'Messages accepted, by topic',
    labelNames: ['topic'] as const,
    registers: [this.registry],
  });
  readonly requestErrors = new Counter({
    name: 'barge_request_errors_total',
    help: 'Error responses (and unanswered failures of acks=none requests), by error code name',
    labelNames: ['error'] as const,
    registers: [this.registry],
  });
  readonly batchesClosed = new Counter({
    name: 'barge_batches_closed_total',
    help: 'Batches closed, by reason (bytes, messages, delay, shutdown)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly batchesUploaded = new Counter({
    name: 'barge_batches_uploaded_total',
    help: 'Batch objects stored',
    registers: [this.registry],
  });
  readonly batchesFailed = new Counter({
    name: 'barge_batches_failed_total',
    help: 'Batches negatively acknowledged, by stage (upload, publish)',
    labelNames: ['stage'] as const,
    registers: [this.registry],
  });
  readonly uploadBytes = new Counter({
    name: 'barge_upload_bytes_total',
    help: 'Bytes of batch objects stored',
    registers: [this.registry],
  });
  readonly uploadSeconds = new Histogram({
    name: 'barge_upload_seconds',
    help: 'Time to store one batch object, retries and hedges included',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly uploadRetries = new Counter({
    name: 'barge_upload_retries_total',
    help: 'Upload attempts retried after a transient error',
    registers: [this.registry],
  });
  readonly hedges = new Counter({
    name: 'barge_upload_hedges_total',
    help: 'Hedged upload attempts started, and which attempt won (primary, hedge)',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });
  readonly inFlightBytes = new Gauge({
    name: 'barge_inflight_bytes',
    help: 'Chunk bytes accepted and not yet acknowledged durable or abandoned',
    registers: [this.registry],
  });
  readonly pausedSockets = new Gauge({
    name: 'barge_paused_sockets',
    help: 'Producer connections not being read because the in-flight byte budget is exhausted',
    registers: [this.registry],
  });
  readonly connections = new Gauge({
    name: 'barge_connections',
    help: 'Open client connections',
    registers: [this.registry],
  });
  readonly connectionsClosed = new Counter({
    name: 'barge_connections_closed_total',
    help: 'Connections the broker refused or closed on its own, by reason (max_connections, max_connections_per_address, idle, read_timeout, write_stalled, tls_required, tls_handshake, client_certificate)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly frameBufferBytes = new Gauge({
    name: 'barge_frame_buffer_bytes',
    help: 'Bytes reserved by large request frames being received (limits.frameBufferBytes)',
    registers: [this.registry],
  });
  readonly publishSeconds = new Histogram({
    name: 'barge_pointer_publish_seconds',
    help: 'Time to publish pointers (one call, possibly several pointers)',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly publishFailures = new Counter({
    name: 'barge_pointer_publish_failures_total',
    help: 'Pointer publish calls that failed (each is retried until the retry budget is spent)',
    registers: [this.registry],
  });
  readonly orphans = new Counter({
    name: 'barge_orphans_total',
    help: 'Objects recorded for the retention sweeper (abandoned batches, losing hedges that could not be deleted)',
    registers: [this.registry],
  });
  readonly unreadableReads = new Counter({
    name: 'barge_read_unreadable_total',
    help: 'ReadObject requests for batch objects that are missing or shorter than their size, by reason (not_found, truncated)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly quotaBytes = new Counter({
    name: 'barge_quota_bytes_total',
    help: 'Bytes counted against a byte-rate quota (security.quotas), by principal and kind (produce, read); only principals with that quota',
    labelNames: ['principal', 'kind'] as const,
    registers: [this.registry],
  });
  readonly quotaRate = new Gauge({
    name: 'barge_quota_rate_bytes_per_second',
    help: 'Byte rate a quota measured at the last request, by principal and kind (produce, read)',
    labelNames: ['principal', 'kind'] as const,
    registers: [this.registry],
  });
  readonly quotaThrottleMs = new Counter({
    name: 'barge_quota_throttle_ms_total',
    help: 'Throttle time sent to clients that passed a byte-rate quota (their connection is not read meanwhile), by principal and kind',
    labelNames: ['principal', 'kind'] as const,
    registers: [this.registry],
  });
  readonly quotaExceeded = new Counter({
    name: 'barge_quota_exceeded_total',
    help: 'Connections and CreateTopic requests refused with QUOTA_EXCEEDED, by principal and kind (connections, topics)',
    labelNames: ['principal', 'kind'] as const,
    registers: [this.registry],
  });
  readonly authorizationDenied = new Counter({
    name: 'barge_authorization_denied_total',
    help: 'Requests refused AUTHORIZATION_FAILED (no ACL allows, or one denies), by operation and resource type',
    labelNames: ['operation', 'resource_type'] as const,
    registers: [this.registry],
  });
  readonly groupMembers = new Gauge({
    name: 'barge_group_members',
    help: 'Consumer-group members served by this broker',
    registers: [this.registry],
  });
  readonly #define = metricsOn(this.registry);
  readonly batchBytes = this.#define.histogram('barge_batch_bytes', HELP.batchBytes, BYTE_BUCKETS);
  readonly batchMessages = this.#define.histogram('barge_batch_messages', HELP.batchMessages, COUNT_BUCKETS);
  readonly chunkBytes = this.#define.histogram('barge_chunk_bytes', HELP.chunkBytes, BYTE_BUCKETS);
  readonly storagePutSeconds = this.#define.histogram(
    'barge_storage_put_seconds',
    HELP.storagePut,
    LATENCY_BUCKETS,
    ['adapter'],
  );
  readonly pointerQueuePublishSeconds = this.#define.histogram(
    'barge_pointer_queue_publish_seconds',
    HELP.pointerQueuePublish,
    LATENCY_BUCKETS,
    ['adapter'],
  );
  readonly readProxyBytes = this.#define.histogram(
    'barge_read_proxy_bytes',
    HELP.readProxyBytes,
    BYTE_BUCKETS,
  );
  readonly readProxySeconds = this.#define.histogram(
    'barge_read_proxy_seconds',
    HELP.readProxy,
    LATENCY_BUCKETS,
  );
  readonly requestSeconds = this.#define.histogram('barge_request_seconds', HELP.request, LATENCY_BUCKETS, [
    'api',
  ]);
  // Retention and orphan collection (packages/broker/src/retention), by topic.
  readonly retentionDeletedObjects = this.#define.counter(
    'barge_retention_deleted_objects_total',
    HELP.retentionObjects,
    ['topic'],
  );
  readonly retentionDeletedBytes = this.#define.counter(
    'barge_retention_deleted_bytes_total',
    HELP.retentionBytes,
    ['topic'],
  );
  readonly orphansCollectedObjects = this.#define.counter(
    'barge_orphans_collected_objects_total',
    HELP.collectedObjects,
    ['topic'],
  );
  readonly orphansCollectedBytes = this.#define.counter(
    'barge_orphans_collected_bytes_total',
    HELP.collectedBytes,
    ['topic'],
  );
  readonly orphanObjects = this.#define.gauge('barge_orphan_objects', HELP.orphanObjects, ['topic']);
  readonly orphanBytes = this.#define.gauge('barge_orphan_bytes', HELP.orphanBytes, ['topic']);
  readonly groupLag = new GroupLagGauges(this.registry);
  readonly buildInfo = new BuildInfo(this.registry);
  readonly #requestSeconds = new Map<number, Histogram.Internal<'api'>>();
  #pointerQueueAdapter = 'unknown';

  constructor() {
    registerProcessMetrics(this.registry);
  }

  /**
   * Tells the metrics which broker they belong to: the build-info labels, the adapter label of
   * pointer publication, and the pointer queue whose groups' lag is exported on scrape.
   */
  bind(broker: Pick<Broker, 'config' | 'storage' | 'pointers' | 'log'>): this {
    const { storage, pointers } = broker;
    this.buildInfo.set({
      brokerId: broker.config.broker.id,
      storage: storage.adapter,
      pointers: pointers.adapter,
    });
    this.#pointerQueueAdapter = pointers.adapter;
    this.groupLag.watch(pointers, broker.log);
    return this;
  }

  /** A batch closed: why, and its chunk bytes and messages. */
  batchClosed(reason: string, bytes: number, messages: number): void {
    this.batchesClosed.inc({ reason });
    this.batchBytes.observe(bytes);
    this.batchMessages.observe(messages);
  }

  /** A pointer publish call succeeded after `seconds`. */
  pointersPublished(seconds: number): void {
    this.publishSeconds.observe(seconds);
    this.pointerQueuePublishSeconds.observe({ adapter: this.#pointerQueueAdapter }, seconds);
  }

  /** A request with api key `apiKey` was answered (or failed) `seconds` after its frame arrived. */
  requestDone(apiKey: number, seconds: number): void {
    let h = this.#requestSeconds.get(apiKey);
    if (!h) {
      h = this.requestSeconds.labels({ api: isApiKey(apiKey) ? apiName(apiKey) : 'unknown' });
      if (isApiKey(apiKey)) this.#requestSeconds.set(apiKey, h);
    }
    h.observe(seconds);
  }
}
