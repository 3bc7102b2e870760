import {
  type BrokerConfig,
  type ErrorCode,
  errorCodeName,
  guardStorage,
  type ObjectStorage,
  type PointerQueue,
} from '@barge/core';
import { type Logger, pino } from 'pino';
import { Authenticator } from './auth/authenticator.js';
import { Authorization } from './auth/authorization.js';

export type { BrokerOptions } from './broker-options.js';

import { Backpressure } from './backpressure.js';
import { type BrokerOptions, type Tunables, tunables } from './broker-options.js';
import type { ByteBudget } from './budget.js';
import { BatchCloseTiming } from './close-timing.js';
import type { ClusterNode } from './cluster/cluster-node.js';
import { createOwnership } from './cluster/ownership-setup.js';
import type { WriteOwnership } from './cluster/write-ownership.js';
import { checkExposure } from './exposure.js';
import { GroupCoordinator } from './groups.js';
import { adminGroupHandlers } from './handlers/admin-groups.js';
import { groupHandlers } from './handlers/groups.js';
import { ProduceHandler } from './handlers/produce.js';
import { readHandlers } from './handlers/read.js';
import { topicHandlers } from './handlers/topics.js';
import { KafkaService } from './kafka/kafka-service.js';
import { OffsetCeiling } from './kafka-offsets/offset-ceiling.js';
import { OffsetStamper } from './kafka-offsets/offset-stamper.js';
import { BrokerMetrics } from './metrics.js';
import { OrphanRecorder } from './orphans.js';
import { ensurePointerTopics } from './pointer-topics.js';
import { QuotaManager } from './quotas/quota-manager.js';
import { TopicQuota } from './quotas/topic-quota.js';
import { raceTimeout } from './race-timeout.js';
import { READ_RESPONSE_OVERHEAD, ReadProxy } from './read-proxy.js';
import { brokerSweeper, type RetentionSweeper } from './retention/index.js';
import { SequenceAllocator } from './sequences.js';
import { AdminServer, type HealthStatus } from './server/admin-http.js';
import type { HostPort } from './server/listen.js';
import { RequestRouter } from './server/router.js';
import { TcpServer } from './server/tcp-server.js';
import { TlsContext } from './server/tls-context.js';
import { retryStartupStep, type StartupRetryPolicy, startupRetryPolicy } from './startup-retry.js';
import { TopicRegistry } from './topics.js';
import { UploadPipeline } from './upload.js';
import { PartitionWriters } from './writers.js';

/**
 * The Barge broker: wires the client listener, request handlers, one `PartitionWriter` (topic
 * processor) per write partition, the upload pipeline, consumer groups and the read proxy, plus
 * the optional admin endpoint (`/health`, `/metrics`), and runs their lifecycle.
 *
 * Constructible without DI: `new Broker(config, storage, pointers, logger)`, then `start()`;
 * `stop()` flushes open batches, waits for their acks, and closes the adapters.
 */
export class Broker {
  readonly log: Logger;
  readonly metrics: BrokerMetrics;
  readonly storage: ObjectStorage;
  readonly topics: TopicRegistry;
  readonly groups: GroupCoordinator;
  readonly retention: RetentionSweeper;
  readonly #backpressure: Backpressure;
  readonly #uploads: UploadPipeline;
  readonly #orphans: OrphanRecorder;
  readonly #writers: PartitionWriters;
  readonly #ownership: WriteOwnership;
  /** This broker's membership of its cluster; undefined without a `cluster` section. */
  readonly #node: ClusterNode | undefined;
  readonly #server: TcpServer;
  /** The Kafka-protocol listener (`kafka.listen`); undefined when off. */
  readonly #kafka: KafkaService | undefined;
  readonly #admin: AdminServer | undefined;
  readonly #authorization: Authorization;
  readonly #authenticator: Authenticator;
  readonly #tls: TlsContext | undefined;
  readonly #options: Tunables;
  #started = false;
  #stopping: Promise<void> | undefined;
  #abandonAt = Number.POSITIVE_INFINITY;
  #wake = new AbortController();
  /** Aborted by `stop()`: start-up retries end. */
  readonly #startAbort = new AbortController();

  constructor(
    readonly config: BrokerConfig,
    storage: ObjectStorage,
    readonly pointers: PointerQueue,
    logger?: Logger,
    options: BrokerOptions = {},
  ) {
    this.storage = guardStorage(storage);
    this.log = (logger ?? pino({ level: 'info' })).child({ broker: config.broker.id });
    this.metrics = (options.metrics ?? new BrokerMetrics()).bind(this);
    this.#options = tunables(config, options);
    const countError = (code: ErrorCode) => this.metrics.requestErrors.inc({ error: errorCodeName(code) });
    const quotas = new QuotaManager(config.security.quotas, this.metrics);
    this.#tls = config.security.tls ? new TlsContext(config.security.tls, this.log) : undefined;
    this.#server = new TcpServer(
      this.log,
      { ...config.limits, maxFrameBytes: this.maxFrameBytes },
      {
        request: (conn, header, body) => router.route(conn, header, body),
        opened: (conn) => this.#authenticator.opened(conn),
        closed: (conn) => {
          this.#backpressure.closed(conn);
          quotas.closed(conn);
          void this.groups.ownerClosed(conn);
        },
        countError,
        connectionCount: (n) => this.metrics.connections.set(n),
        closedBy: (reason) => this.metrics.connectionsClosed.inc({ reason }),
        frameBufferBytes: (n) => this.metrics.frameBufferBytes.set(n),
      },
      this.#tls,
    );
    this.#backpressure = new Backpressure(
      config.upload.inFlightBytes,
      () => this.#server.connections,
      this.metrics,
      this.log,
    );
    this.topics = new TopicRegistry(this.storage, pointers, this.log);
    this.#orphans = new OrphanRecorder(this.storage, this.log, this.metrics);
    this.#uploads = new UploadPipeline(
      this.storage,
      {
        parallelism: config.upload.parallelism,
        maxAttempts: config.upload.maxAttempts,
        backoffBaseMs: config.upload.backoffBaseMs,
        backoffMaxMs: config.upload.backoffMaxMs,
        hedgeAfterMs: config.upload.hedgeAfterMs,
        attemptTimeoutMs: this.#options.uploadAttemptTimeoutMs,
      },
      this.metrics,
      this.#orphans,
      this.log,
    );
    this.groups = new GroupCoordinator(
      pointers,
      this.topics,
      this.log,
      this.metrics,
      this.#options.defaultSessionTimeoutMs,
    );
    const sequences = new SequenceAllocator(this.storage, this.#options.sequenceBlockSize);
    const offsets = new OffsetStamper(
      pointers,
      (topic, wp) => this.#ownership.fencedIn(topic, wp, []),
      new OffsetCeiling(this.storage),
    );
    ({ ownership: this.#ownership, node: this.#node } = createOwnership(
      config,
      pointers,
      () => this.address,
      {
        knownTopics: () => this.topics.list(),
        listTopics: async () => {
          await this.topics.load([]);
          return this.topics.list();
        },
        drain: (topic, wp) => this.#writers.drain(topic, wp),
        forgetSequences: (topic, wp) => {
          sequences.forget(topic, wp);
          offsets.forget(topic, wp);
          this.#kafka?.forgetPartition(topic, wp);
        },
        staleSequencesBelow: (topic, wp) => sequences.staleBelow(topic, wp),
        log: this.log,
      },
      () => this.kafkaAddress,
    ));
    this.retention = brokerSweeper(this, (t) => this.#ownership.sweeps(t), this.#options);
    this.#writers = new PartitionWriters({
      brokerId: config.broker.id,
      storage: this.storage,
      publish: async (topic, wp, batch) => {
        const published = await this.#ownership.publish(topic, wp, batch);
        this.#kafka?.published.published(topic, wp);
        return published;
      },
      fencedIn: (topic, wp, batches) => this.#ownership.fencedIn(topic, wp, batches),
      offsets,
      topics: this.topics,
      closeTiming: new BatchCloseTiming(),
      uploads: this.#uploads,
      sequences,
      orphans: this.#orphans,
      budget: this.#backpressure.budget,
      metrics: this.metrics,
      log: this.log,
      backoffBaseMs: config.upload.backoffBaseMs,
      backoffMaxMs: config.upload.backoffMaxMs,
      maxAttempts: config.upload.maxAttempts,
      pointerRetryBudgetMs: this.#options.pointerRetryBudgetMs,
      pointerUnavailableAfterMs: this.#options.pointerUnavailableAfterMs,
      abandonAt: () => this.#abandonAt,
      wake: () => this.#wake.signal,
    });
    this.#authenticator = new Authenticator(config.security, this.storage, this.log);
    this.#authorization = new Authorization(config.security, {
      storage: this.storage,
      metrics: this.metrics,
      log: this.log,
      member: (id) => this.groups.scopeOf(id),
    });
    this.#kafka = config.kafka
      ? new KafkaService({
          config,
          kafka: config.kafka,
          topics: this.topics,
          storage: this.storage,
          pointers,
          ownership: this.#ownership,
          writers: this.#writers,
          budget: this.#backpressure.budget,
          metrics: this.metrics,
          log: this.log,
          stopping: () => this.#stopping !== undefined,
          security: {
            tls: this.#tls,
            authenticator: this.#authenticator,
            access: this.#authorization.access,
            metrics: this.metrics,
          },
        })
      : undefined;
    const router = new RequestRouter({
      access: this.#authorization.access,
      brokerId: config.broker.id,
      log: this.log,
      countError,
      metrics: this.metrics,
      quotas,
      produce: new ProduceHandler({
        topics: this.topics,
        writers: this.#writers,
        ownership: this.#ownership,
        backpressure: this.#backpressure,
        metrics: this.metrics,
        quotas,
        maxMessagesPerRequest: config.limits.maxMessagesPerRequest,
        validateChunks: config.limits.validateChunks,
        stopping: () => this.#stopping !== undefined,
        countError,
      }),
      handlers: this.#authorization.visible({
        ...topicHandlers({
          brokerId: config.broker.id,
          topics: this.topics,
          pointers,
          storage: this.storage,
          maxFrameBytes: this.maxFrameBytes,
          maxReadBytes: this.maxReadBytes,
          maxMessagesPerRequest: config.limits.maxMessagesPerRequest,
          maxTopics: config.limits.maxTopics,
          topicQuota: new TopicQuota(quotas, this.topics, this.storage),
          ownership: this.#ownership,
        }),
        ...groupHandlers(this.groups, this.maxFrameBytes - 1024),
        ...adminGroupHandlers({ topics: this.topics, pointers }),
        ...readHandlers(new ReadProxy(this.storage, this.maxReadBytes, this.metrics, this.log), quotas),
        ...this.#authenticator.handlers(),
      }),
    });
    this.#admin = config.broker.admin
      ? new AdminServer(() => this.#health(), this.metrics.registry, this.#tls)
      : undefined;
  }

  /** Largest request frame accepted (the length field value). */
  get maxFrameBytes(): number {
    return Math.min(this.config.limits.maxFrameBytes, 0xffffffff);
  }

  /** Largest `data` in one ReadObject response. */
  get maxReadBytes(): number {
    return Math.max(1, this.maxFrameBytes - READ_RESPONSE_OVERHEAD - 34);
  }

  /** The in-flight byte budget that drives back-pressure. */
  get budget(): ByteBudget {
    return this.#backpressure.budget;
  }

  /** The bound TCP address (useful with port 0). */
  get address(): HostPort {
    const a = this.#server.address;
    if (!a) throw new Error('broker is not started');
    return a;
  }

  /** The bound Kafka-protocol listener address; undefined when `kafka.listen` is not set. */
  get kafkaAddress(): HostPort | undefined {
    return this.#kafka?.listener.address;
  }

  get adminAddress(): HostPort | undefined {
    return this.#admin?.address;
  }

  get connectionCount(): number {
    return this.#server.connections.size;
  }

  /** Connections not being read because of back-pressure. */
  get pausedConnections(): number {
    return this.#backpressure.pausedConnections;
  }

  get healthy(): boolean {
    return this.#health() === 'ok';
  }

  #health(): HealthStatus {
    if (this.#stopping) return 'stopping';
    return this.#started ? 'ok' : 'starting';
  }

  /**
   * Loads topics (persisted ones, then the config file's), makes sure the pointer queue has
   * them (without waiting for an unreachable queue: publication retries later), and starts
   * listening. Loading topics is retried while storage fails transiently, until `deadline`
   * (default: `startupTimeoutMs` from now); see `retryStartupStep`.
   */
  async start(deadline = Date.now() + this.#options.startupTimeoutMs): Promise<void> {
    if (this.#started) return;
    checkExposure(this.config);
    await retryStartupStep(
      `load topic metadata from ${this.storage.adapter} storage ${this.storage.location}`,
      () => this.topics.load(this.config.topics),
      this.#startupRetry(deadline),
    );
    await retryStartupStep(
      `load users from ${this.storage.adapter} storage ${this.storage.location}`,
      () => this.#authenticator.start(),
      this.#startupRetry(deadline),
    );
    await retryStartupStep(
      `load ACLs from ${this.storage.adapter} storage ${this.storage.location}`,
      () => this.#authorization.start(),
      this.#startupRetry(deadline),
    );
    await ensurePointerTopics(this.topics, this.config.topics, this.log);
    await this.#server.start(this.config.broker.listen);
    if (this.#kafka && this.config.kafka) await this.#kafka.start(this.config.kafka.listen);
    await this.#node?.join(
      this.#startupRetry(deadline),
      `${this.pointers.adapter} ${this.pointers.location}`,
    );
    if (this.#admin && this.config.broker.admin) await this.#admin.start(this.config.broker.admin);
    this.retention.start();
    this.#started = true;
    const admin = this.adminAddress;
    this.log.info(
      {
        listen: `${this.address.host}:${this.address.port}`,
        kafka: this.kafkaAddress ? `${this.kafkaAddress.host}:${this.kafkaAddress.port}` : undefined,
        admin: admin ? `${admin.host}:${admin.port}` : undefined,
        storage: { adapter: this.storage.adapter, location: this.storage.location },
        pointers: this.pointers.adapter,
        topics: this.topics.list().map((t) => t.name),
      },
      'broker started',
    );
  }

  /**
   * Graceful shutdown: stops accepting connections and produce requests, closes every open
   * batch, waits (up to `shutdownTimeoutMs`) until their objects are stored and pointers
   * published and the acks sent, then closes connections, groups and adapters. Idempotent.
   */
  stop(): Promise<void> {
    this.#startAbort.abort();
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /**
   * Re-reads the `security.tls` files (SIGHUP): new connections get the new certificate, open ones
   * keep theirs; a bad file is logged and the current certificate stays. False when TLS is off or
   * the reload failed.
   */
  reloadTls(): boolean {
    return this.#tls?.reload() ?? false;
  }

  /** Closes every open batch now (tests, shutdown). */
  flush(): void {
    this.#writers.flush();
  }

  /** Resolves when no batch is open or in flight. */
  whenIdle(): Promise<void> {
    return this.#writers.whenIdle();
  }

  async #stop(): Promise<void> {
    const started = Date.now();
    this.log.info({ pendingBatches: this.#writers.pendingBatches }, 'broker stopping: flushing open batches');
    this.#abandonAt = started + this.#options.shutdownTimeoutMs;
    this.#wake.abort();
    this.#wake = new AbortController();
    const serverClosed = this.#server.stopAccepting();
    const kafkaClosed = this.#kafka?.stop();
    await this.retention.stop();
    this.flush();
    const outcome = await raceTimeout(
      this.whenIdle().then(() => 'idle' as const),
      this.#options.shutdownTimeoutMs + 5000,
    );
    if (outcome === 'timeout') {
      this.log.error(
        { pendingBatches: this.#writers.pendingBatches },
        'shutdown deadline passed with batches in flight',
      );
    }
    // Leave only now: until here this broker owned its write partitions and published their batches.
    await this.#node?.stop();
    this.#authorization.stop();
    this.#authenticator.stop();
    await this.groups.closeAll();
    await this.#kafka?.closeGroups();
    this.#server.closeAll(200);
    this.#kafka?.closeAll();
    await raceTimeout(Promise.all([serverClosed, kafkaClosed]), 1500);
    this.#server.destroyAll();
    // Losing hedged uploads still running, then the deletes and orphan markers they cause.
    await raceTimeout(this.#uploads.drain(), 2000);
    await this.#orphans.drain();
    if (this.#options.closeAdapters) {
      await Promise.allSettled([this.storage.close(), this.pointers.close()]);
    }
    // Last: until here /health answers 503 "stopping", so probes see the drain, not a refusal.
    await this.#admin?.close();
    this.log.info({ ms: Date.now() - started }, 'broker stopped');
  }

  #startupRetry(deadline: number): StartupRetryPolicy {
    return {
      ...startupRetryPolicy(this.config, this.log, deadline, this.#startAbort.signal),
      timeoutMs: this.#options.startupTimeoutMs,
    };
  }
}
