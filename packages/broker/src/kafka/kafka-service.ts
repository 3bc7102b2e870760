import type { BrokerConfig, ObjectStorage, PointerQueue } from '@barge/core';
import type { Logger } from 'pino';
import type { ByteBudget } from '../budget.js';
import { advertisedAddress } from '../cluster/ownership-setup.js';
import type { WriteOwnership } from '../cluster/write-ownership.js';
import { OffsetIndex } from '../kafka-offsets/index.js';
import type { BrokerMetrics } from '../metrics.js';
import { type HostPort, parseHostPort } from '../server/listen.js';
import type { TopicRegistry } from '../topics.js';
import type { PartitionWriters } from '../writers.js';
import { adminApis } from './admin-apis.js';
import { clusterApis } from './cluster-apis.js';
import { fetchApis } from './fetch-api.js';
import { groupApis } from './group-apis.js';
import { GroupCoordinator } from './group-coordinator.js';
import { routeGroupApis } from './group-routing.js';
import type { KafkaApi } from './kafka-api.js';
import type { KafkaBrokerView } from './kafka-context.js';
import { KafkaListener } from './kafka-listener.js';
import { KafkaMetrics } from './kafka-metrics.js';
import { groupCoordinator, kafkaNodes } from './kafka-placement.js';
import { KafkaRecordsReader } from './kafka-records.js';
import { type KafkaSecurity, kafkaListenerSecurity, securedApis } from './kafka-security.js';
import { offsetApis } from './offset-apis.js';
import { produceApi } from './produce-api.js';
import { ProducerIds } from './producer-ids.js';
import { producerRecovery } from './producer-recovery.js';
import { ProducerStates } from './producer-state.js';
import { PublishSignal } from './publish-signal.js';

export interface KafkaServiceDeps {
  config: BrokerConfig;
  kafka: NonNullable<BrokerConfig['kafka']>;
  topics: TopicRegistry;
  storage: ObjectStorage;
  pointers: PointerQueue;
  ownership: WriteOwnership;
  writers: PartitionWriters;
  budget: ByteBudget;
  metrics: BrokerMetrics;
  log: Logger;
  stopping(): boolean;
  /** TLS, authentication and ACLs (`security`); undefined: plain TCP, every client ANONYMOUS. */
  security?: KafkaSecurity;
}

/** The broker's Kafka-protocol side: the listener and every Kafka API it serves. */
export class KafkaService {
  readonly listener: KafkaListener;
  /** Wakes long-polling fetches when this broker publishes pointers (`published`). */
  readonly published = new PublishSignal();
  /** The classic consumer group coordinator of Kafka clients' groups. */
  readonly groups: GroupCoordinator;
  /** Idempotent producers per owned partition, rebuilt from recent batches after a start or takeover. */
  readonly #producers: ProducerStates;
  readonly #advertise: HostPort | undefined;

  constructor(deps: KafkaServiceDeps) {
    const { config, kafka } = deps;
    const log = deps.log.child({ listener: 'kafka' });
    this.#advertise = kafka.advertise ? parseHostPort(kafka.advertise) : undefined;
    const view: KafkaBrokerView = {
      brokerId: config.broker.id,
      advertised: () => this.advertised,
      clusterId: config.cluster?.id ?? `barge-${config.broker.id}`,
      topics: deps.topics,
      ownership: deps.ownership,
    };
    const offsets = new OffsetIndex(deps.pointers);
    this.#producers = new ProducerStates(
      producerRecovery({
        queue: deps.pointers,
        storage: deps.storage,
        fencedIn: (topic, wp) => deps.ownership.fencedIn(topic, wp, []),
        log,
      }),
    );
    this.groups = new GroupCoordinator({ initialRebalanceDelayMs: kafka.groupInitialRebalanceDelayMs });
    this.listener = new KafkaListener(
      log,
      {
        maxConnections: config.limits.maxConnections,
        maxFrameBytes: Math.max(config.limits.maxFrameBytes, 100 * 1024 * 1024),
        maxPendingRequests: 64,
        responseBacklogBytes: config.limits.responseBacklogBytes,
        ...kafkaListenerSecurity(deps.security),
      },
      new KafkaMetrics(deps.metrics.registry),
    );
    const apis: KafkaApi[] = [
      ...clusterApis(view, () => this.listener.apis),
      produceApi({
        view,
        writers: deps.writers,
        budget: deps.budget,
        producers: this.#producers,
        metrics: deps.metrics,
        stopping: deps.stopping,
      }),
      ...fetchApis({
        view,
        offsets,
        records: new KafkaRecordsReader(deps.storage),
        published: this.published,
        log,
      }),
      ...routeGroupApis(
        [
          ...groupApis(this.groups, deps.pointers),
          ...offsetApis({ view, groups: this.groups, offsets, pointers: deps.pointers, log }),
        ],
        (groupId) => groupCoordinator(kafkaNodes(view), groupId)?.nodeId === view.brokerId,
        this.groups,
      ),
      ...adminApis({
        view,
        producerIds: new ProducerIds(deps.storage),
        offsets,
        maxTopics: config.limits.maxTopics,
        log,
      }),
    ];
    for (const api of securedApis(apis, deps.security)) this.listener.register(api);
    deps.budget.onChange((over) => {
      for (const c of this.listener.connections)
        if (over) c.pause();
        else c.resume();
    });
  }

  /** Where Kafka clients are told to connect (the cluster shares the same address: `advertisedMember`). */
  get advertised(): HostPort {
    if (this.#advertise) return this.#advertise;
    const a = this.listener.address;
    if (!a) throw new Error('the Kafka listener is not started');
    return advertisedAddress(undefined, a);
  }

  start(listen: string): Promise<void> {
    return this.listener.start(listen);
  }

  async stop(): Promise<void> {
    await this.listener.stop();
  }

  /** Ends every group's pending joins and syncs (at shutdown, before connections close). */
  closeGroups(): Promise<void> {
    return this.groups.close();
  }

  /** The write partition changed hands: its idempotent producers are rebuilt before the next such batch. */
  forgetPartition(topic: string, writePartition: number): void {
    this.#producers.forget(topic, writePartition);
  }

  closeAll(): void {
    this.listener.closeAll();
  }
}
