import { Counter, Gauge, type Registry } from 'prom-client';

/** The Kafka listener's metrics, on the broker's registry (`docs/operations.md`). */
export class KafkaMetrics {
  readonly requests: Counter<'api'>;
  readonly closed: Counter<'reason'>;
  readonly connections: Gauge;

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: 'barge_kafka_requests_total',
      help: 'Kafka-protocol requests received, by API name',
      labelNames: ['api'] as const,
      registers: [registry],
    });
    this.closed = new Counter({
      name: 'barge_kafka_connections_closed_total',
      help: 'Kafka-protocol connections the broker closed, by reason (protocol: a request it could not serve; limit: too many connections)',
      labelNames: ['reason'] as const,
      registers: [registry],
    });
    this.connections = new Gauge({
      name: 'barge_kafka_connections',
      help: 'Open Kafka-protocol connections',
      registers: [registry],
    });
  }
}
