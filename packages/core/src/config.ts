import { z } from 'zod';
import { sizeSchema } from './adapter-kit.js';
import { ConfigError } from './errors.js';
import { securitySchema } from './security.js';

const TOPIC_NAME = /^[A-Za-z0-9._-]{1,200}$/;
export const MAX_TOPIC_NAME_LENGTH = 200;

const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected HOST:PORT, e.g. "127.0.0.1:7070"');

/** `zstd` needs a runtime whose zlib has it (Node.js >= 22.15): see `zstdAvailable`. */
export const codecNames = ['none', 'gzip', 'lz4', 'zstd'] as const;
export type CodecName = (typeof codecNames)[number];

export const batchSettingsSchema = z.strictObject({
  maxBytes: sizeSchema.default(8 * 1024 * 1024),
  maxMessages: z.number().int().positive().default(100_000),
  maxDelayMs: z.number().int().nonnegative().default(250),
});

export const topicSchema = z.strictObject({
  name: z.string().regex(TOPIC_NAME, 'expected 1-200 characters of A-Z a-z 0-9 . _ -'),
  writePartitions: z.number().int().min(1).max(1024).default(1),
  readPartitions: z.number().int().min(1).max(10_000).default(1),
  batch: batchSettingsSchema.prefault({}),
  compression: z.enum(codecNames).default('none'),
  /** Delete the topic's batch objects older than `ms` or beyond the newest `bytes` (docs/operations.md); absent: keep forever. */
  retention: z
    .strictObject({ ms: z.number().int().min(1).optional(), bytes: sizeSchema.optional() })
    .optional(),
});

/** Adapter sections keep their own keys; each adapter validates them with its own schema. */
const adapterSection = z.looseObject({ adapter: z.string().min(1) });

export const brokerConfigSchema = z.strictObject({
  broker: z
    .strictObject({
      id: z.number().int().min(0).max(0xffffffff).default(1),
      listen: hostPort.default('127.0.0.1:7070'),
      /** HOST:PORT clients use to reach this broker (cluster Metadata); default: the listen address (the host name when listening on all interfaces). */
      advertise: hostPort.optional(),
      admin: hostPort.optional(),
      dataDir: z.string().default('./barge-data'),
      shutdownTimeoutMs: z.number().int().min(0).default(30_000),
      startupTimeoutMs: z.number().int().min(0).default(120_000),
    })
    .prefault({}),
  storage: adapterSection.default({ adapter: 'local' }),
  pointers: adapterSection.default({ adapter: 'embedded' }),
  topics: z.array(topicSchema).default([]),
  upload: z
    .strictObject({
      parallelism: z.number().int().min(1).max(256).default(8),
      maxAttempts: z.number().int().min(1).max(100).default(8),
      backoffBaseMs: z.number().int().min(1).default(50),
      backoffMaxMs: z.number().int().min(1).default(5000),
      hedgeAfterMs: z.number().int().min(1).optional(),
      inFlightBytes: sizeSchema.default(256 * 1024 * 1024),
      pointerRetryBudgetMs: z.number().int().min(0).default(300_000),
      pointerUnavailableAfterMs: z.number().int().min(0).default(3000),
    })
    .prefault({}),
  limits: z
    .strictObject({
      maxFrameBytes: sizeSchema.default(16 * 1024 * 1024),
      maxMessagesPerRequest: z.number().int().min(1).default(100_000),
      maxConnections: z.number().int().min(1).default(1024),
      maxConnectionsPerAddress: z.number().int().min(1).default(256),
      idleTimeoutMs: z.number().int().min(0).default(600_000),
      requestReadTimeoutMs: z.number().int().min(0).default(30_000),
      frameBufferBytes: sizeSchema.default(32 * 1024 * 1024),
      responseBacklogBytes: sizeSchema.default(32 * 1024 * 1024),
      maxTopics: z.number().int().min(1).default(10_000),
      /** Decompress and walk every produced chunk's records before acking it (docs/format.md). */
      validateChunks: z.boolean().default(true),
    })
    .prefault({}),
  security: securitySchema,
  /** The retention and orphan sweeper (docs/operations.md). */
  retention: z
    .strictObject({
      intervalMs: z.number().int().min(100).default(300_000),
      /** Objects younger than this are never deleted (their pointer may still be on its way). */
      orphanGraceMs: z.number().int().min(1).default(3_600_000),
      /** How far apart the clocks of brokers, storage and pointer queue may be. */
      clockSkewMs: z.number().int().min(0).default(60_000),
    })
    .prefault({}),
  /** The Kafka-protocol listener (docs/kafka.md): Kafka clients produce and consume Barge topics. Off when absent. */
  kafka: z
    .strictObject({
      listen: hostPort,
      /** HOST:PORT Kafka clients are told to use (Metadata, FindCoordinator); default: the listen address. */
      advertise: hostPort.optional(),
      /** Without security.authentication the listener serves loopback only unless this is true. */
      allowRemote: z.boolean().default(false),
      /** How long a new consumer group waits for more members before its first rebalance (Kafka's group.initial.rebalance.delay.ms). */
      groupInitialRebalanceDelayMs: z.number().int().min(0).max(300_000).default(3000),
    })
    .optional(),
  /** Several brokers with the same id, storage and (Kafka) pointer queue share the write partitions. */
  cluster: z
    .strictObject({
      // A number is taken as its digits (BARGE_CLUSTER_ID=7 arrives as one).
      id: z.preprocess(
        (v) => (typeof v === 'number' ? String(v) : v),
        z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'expected 1-100 characters of A-Z a-z 0-9 . _ -'),
      ),
      /** A broker that stops heartbeating is removed after this long and its write partitions move. */
      sessionTimeoutMs: z.number().int().min(1000).max(300_000).default(10_000),
      heartbeatIntervalMs: z.number().int().min(100).default(1000),
      /** How long a rebalance waits for every member to rejoin. */
      rebalanceTimeoutMs: z.number().int().min(1000).default(10_000),
      /** How long a broker that loses a write partition may take to publish its open batches; the new owner waits as long before fencing it. */
      drainTimeoutMs: z.number().int().min(0).default(3000),
    })
    .optional(),
});

export type BrokerConfig = z.output<typeof brokerConfigSchema>;
export type BrokerConfigInput = z.input<typeof brokerConfigSchema>;
export type TopicConfig = z.output<typeof topicSchema>;
export type BatchSettings = z.output<typeof batchSettingsSchema>;
export type AdapterSection = z.output<typeof adapterSection>;

/** Validates with any zod schema and turns the first problems into a `ConfigError` naming the field. */
export function parseWithSchema<S extends z.ZodType>(schema: S, input: unknown, root = ''): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const lines = r.error.issues.slice(0, 5).map((i) => {
    const path = formatPath(root, i.path);
    const got = i.code === 'unrecognized_keys' ? '' : describeReceived(input, i.path);
    return `${path || '(root)'}: ${i.message}${got}`;
  });
  const first = r.error.issues[0];
  throw new ConfigError(`invalid configuration: ${lines.join('; ')}`, formatPath(root, first?.path ?? []));
}

export function parseBrokerConfig(input: unknown): BrokerConfig {
  const cfg = parseWithSchema(brokerConfigSchema, input ?? {});
  if (cfg.cluster && cfg.pointers.adapter === 'embedded') {
    throw new ConfigError(
      'cluster: the embedded pointer queue serves a single broker; a cluster needs a shared pointer queue (pointers.adapter "kafka"), or remove the cluster section',
      'cluster',
    );
  }
  if (cfg.cluster && cfg.cluster.heartbeatIntervalMs * 3 > cfg.cluster.sessionTimeoutMs) {
    throw new ConfigError(
      `cluster.heartbeatIntervalMs: ${cfg.cluster.heartbeatIntervalMs} ms is more than a third of cluster.sessionTimeoutMs (${cfg.cluster.sessionTimeoutMs} ms)`,
      'cluster.heartbeatIntervalMs',
    );
  }
  checkKafkaListener(cfg);
  const seen = new Set<string>();
  cfg.topics.forEach((t, i) => {
    if (seen.has(t.name))
      throw new ConfigError(`topics[${i}].name: duplicate topic "${t.name}"`, `topics[${i}].name`);
    seen.add(t.name);
  });
  return cfg;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/;

/**
 * The Kafka listener runs on one broker or on each broker of a cluster. It authenticates clients and checks ACLs when
 * `security.authentication` is on (with TLS when `security.tls` is set; PLAIN needs TLS anyway);
 * without authentication anyone who reaches it may do anything, so it listens on loopback unless
 * opened explicitly with `kafka.allowRemote`.
 */
function checkKafkaListener(cfg: BrokerConfig): void {
  const kafka = cfg.kafka;
  if (!kafka) return;
  // With a cluster section too, each broker shares its Kafka listener's address with the cluster (docs/kafka.md#cluster).
  const host = kafka.listen.slice(0, kafka.listen.lastIndexOf(':'));
  const authenticated = cfg.security.authentication.length > 0;
  if (!LOOPBACK.test(host) && !authenticated && !kafka.allowRemote) {
    throw new ConfigError(
      `kafka.listen: ${kafka.listen} is not a loopback address and security.authentication is off, so the Kafka listener would serve anyone; set security.authentication (docs/security.md), listen on 127.0.0.1, or set kafka.allowRemote: true`,
      'kafka.listen',
    );
  }
}

function formatPath(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const p of path) {
    out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  }
  return out;
}

/** Config keys whose values are secrets: never echoed in a validation error. */
const SECRET_KEY = /pass(word|phrase)|secret|token|credential|connectionString|^(private)?key$/i;

function describeReceived(input: unknown, path: readonly PropertyKey[]): string {
  if (path.some((p) => typeof p === 'string' && SECRET_KEY.test(p))) return '';
  let cur: unknown = input;
  for (const p of path) {
    if (typeof cur !== 'object' || cur === null) return '';
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  if (cur === undefined) return ' (missing)';
  let s: string | undefined;
  try {
    s = JSON.stringify(cur, (k, v) => (k !== '' && SECRET_KEY.test(k) ? '[redacted]' : v));
  } catch {
    // A BigInt, or a cycle (a YAML alias to its own ancestor): name the field without the value.
    return '';
  }
  return s === undefined ? '' : ` (got ${s.length > 80 ? `${s.slice(0, 77)}...` : s})`;
}

export function validateTopicName(name: string): void {
  if (!TOPIC_NAME.test(name)) {
    throw new ConfigError(
      `topic name ${JSON.stringify(name)} is invalid: expected 1-200 characters of A-Z a-z 0-9 . _ -`,
      'topic',
    );
  }
}
