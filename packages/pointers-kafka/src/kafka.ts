import { ConfigError, PermanentError, validateTopicName } from '@barge/core';
import { Kafka, type KafkaConfig, type logCreator, logLevel } from 'kafkajs';
import type { AdapterLog, KafkaPointersConfig } from './options.js';
import { resolveSasl, resolveSsl } from './security.js';

/** Kafka limits topic names to 249 characters. */
const MAX_KAFKA_TOPIC = 249;

/** The pointer topic that carries Barge topic `topic`. */
export function pointerTopicName(config: KafkaPointersConfig, topic: string): string {
  validateTopicName(topic);
  const name = `${config.topicPrefix}${topic}`;
  if (name.length > MAX_KAFKA_TOPIC || name === '.' || name === '..') {
    throw new ConfigError(
      `pointer topic name "${name}" (topicPrefix + topic) is invalid: Kafka allows at most ${MAX_KAFKA_TOPIC} characters`,
      'pointers.topicPrefix',
    );
  }
  return name;
}

/** The Barge topic of Kafka topic `kafkaTopic`; undefined for topics that are not pointer topics. */
export function bargeTopicName(config: KafkaPointersConfig, kafkaTopic: string): string | undefined {
  const prefix = config.topicPrefix;
  if (!kafkaTopic.startsWith(prefix) || kafkaTopic.length === prefix.length) return undefined;
  return kafkaTopic.slice(prefix.length);
}

export function consumerGroupId(config: KafkaPointersConfig, group: string): string {
  if (group.length === 0 || !/^[A-Za-z0-9._-]+$/.test(`${config.groupPrefix}${group}`)) {
    throw new ConfigError(
      `consumer group ${JSON.stringify(group)} is invalid: expected 1+ characters of A-Z a-z 0-9 . _ -`,
      'group',
    );
  }
  return `${config.groupPrefix}${group}`;
}

/**
 * A Kafka int64 (decimal string, as kafkajs gives them) as a JS number. Offsets and timestamps
 * above 2^53-1 cannot be represented exactly, so they are refused rather than rounded.
 */
export function toSafeNumber(value: string | number, what: string): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n)) {
    throw new PermanentError(
      `${what} ${String(value)} is not an integer a JS number holds exactly (|n| <= 2^53-1)`,
    );
  }
  return n;
}

const LEVELS = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
} as const;

/**
 * kafkajs messages that are expected with our settings and would only be noise:
 * - the idempotent-producer retry warning: we bound retries on purpose and replace the producer
 *   (new producer id) after any failed send, so a retried publication can never be taken for a
 *   duplicate by the broker's sequence check.
 */
const MUTED = [/^Limiting retries for the idempotent producer/];

function kafkaLogCreator(log: AdapterLog): logCreator {
  return () =>
    ({ namespace, level, log: entry }) => {
      const { message, timestamp: _t, logger: _l, ...fields } = entry as Record<string, unknown>;
      const text = typeof message === 'string' ? message : String(message);
      if (MUTED.some((re) => re.test(text))) return;
      let lvl: 'error' | 'warn' | 'info' =
        level <= logLevel.ERROR ? 'error' : level === logLevel.WARN ? 'warn' : 'info';
      // kafkajs logs every error answer of a request at ERROR, including expected ones (an unknown
      // topic while checking existence, REBALANCE_IN_PROGRESS on heartbeats). The operation that
      // failed reports the error itself, mapped to a core class.
      if (namespace === 'Connection' && text.startsWith('Response ')) lvl = 'info';
      // Cluster publication: a fenced publisher (expected when a write partition moved; reported as
      // NOT_OWNER), and CONCURRENT_TRANSACTIONS while the previous commit's markers are written
      // (kafkajs retries it; a failure that remains is reported by the publication).
      if (/with an old epoch|another concurrent operation on the same transaction/.test(text)) lvl = 'info';
      log(lvl, `kafkajs ${namespace}: ${text}`, fields);
    };
}

/** A kafkajs client configured from the adapter config. */
export function createKafka(config: KafkaPointersConfig, log: AdapterLog, clientId?: string): Kafka {
  const kc: KafkaConfig = {
    brokers: config.brokers,
    clientId: clientId ?? config.clientId,
    connectionTimeout: config.connectionTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    enforceRequestTimeout: true,
    retry: {
      retries: config.retries,
      initialRetryTime: config.initialRetryTimeMs,
      maxRetryTime: config.maxRetryTimeMs,
    },
    logLevel: LEVELS[config.logLevel],
    logCreator: kafkaLogCreator(log),
  };
  // Files and environment variables named by the config are read here, per client.
  const sasl = resolveSasl(config.sasl);
  const ssl = resolveSsl(config.ssl);
  if (sasl !== undefined) kc.sasl = sasl;
  if (ssl !== undefined) kc.ssl = ssl;
  return new Kafka(kc);
}
