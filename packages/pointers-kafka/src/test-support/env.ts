import { randomId, serviceEnv } from '@barge/testkit';
import { Kafka, type KafkaConfig, logLevel } from 'kafkajs';
import type { KafkaPointerQueueOptions } from '../options.js';

/** The brokers of the test Kafka started by `scripts/services.sh start kafka`. */
export function kafkaBrokers(): string[] {
  return serviceEnv('kafka')
    .split(',')
    .map((s) => s.trim());
}

/** Queue options for tests: short timeouts, random topic and group prefixes, quiet kafkajs. */
export function testOptions(brokers: string[], overrides: Partial<KafkaPointerQueueOptions> = {}) {
  const run = randomId('t');
  return {
    brokers,
    clientId: 'barge-test',
    topicPrefix: `barge.test.${run}.`,
    groupPrefix: `barge.test.${run}.`,
    connectionTimeoutMs: 2000,
    requestTimeoutMs: 10_000,
    publishTimeoutMs: 15_000,
    retries: 2,
    initialRetryTimeMs: 100,
    maxRetryTimeMs: 1000,
    sessionTimeoutMs: 6000,
    heartbeatIntervalMs: 500,
    maxWaitTimeMs: 500,
    logLevel: 'error',
    log: (level, msg, fields) => {
      if (level === 'error')
        process.stderr.write(`[kafka test] ${msg} ${fields ? JSON.stringify(fields) : ''}\n`);
    },
    ...overrides,
  } satisfies KafkaPointerQueueOptions;
}

/** A plain kafkajs client for checks from outside the adapter (`extra`: e.g. `ssl`, `sasl`). */
export function rawKafka(brokers: string[], extra: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    brokers,
    clientId: 'barge-test-raw',
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 100 },
    ...extra,
  });
}
