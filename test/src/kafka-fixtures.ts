import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
// @aws-sdk/client-s3 and kafkajs resolve through the dependencies of @barge/storage-s3 and
// @barge/pointers-kafka (hoisted to the root node_modules); they are only used for what the
// adapters never do: create and delete the test bucket, delete the run's pointer topics.
import { CreateBucketCommand, DeleteBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { ConsumedMessage, ProducerMessage } from '@barge/client';
import { listAll } from '@barge/core';
import { S3Storage } from '@barge/storage-s3';
import { serviceEnv } from '@barge/testkit';
import { Kafka, logLevel } from 'kafkajs';
import { makeMessage, prng, verifyMessage } from './workload.js';

const MiB = 1024 * 1024;

/** A short random id of [a-z0-9], unique per run: topic, group, bucket and Kafka prefix names. */
export function runId(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** The moto endpoint of `scripts/services.sh start s3`. */
export function s3Endpoint(): string {
  return serviceEnv('s3');
}

/** The shared test Kafka of `scripts/services.sh start kafka`. */
export function kafkaBrokers(): string[] {
  return serviceEnv('kafka')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Settings of the S3 adapter for moto (keys as in `@barge/storage-s3`'s `s3ConfigSchema`). */
export function s3Options(bucket: string, extra: Record<string, unknown> = {}) {
  return {
    bucket,
    endpoint: s3Endpoint(),
    forcePathStyle: true,
    region: 'us-east-1',
    accessKeyId: 'test',
    secretAccessKey: 'test',
    ...extra,
  };
}

/** A bucket created for one test file; `remove()` deletes every object, then the bucket. */
export interface TestBucket {
  readonly name: string;
  /** A new adapter instance on the bucket (close it). */
  storage(): S3Storage;
  remove(): Promise<void>;
}

export async function freshBucket(prefix: string): Promise<TestBucket> {
  const name = `${prefix}-${runId()}`;
  const admin = new S3Client({
    endpoint: s3Endpoint(),
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  await admin.send(new CreateBucketCommand({ Bucket: name }));
  return {
    name,
    storage: () => new S3Storage(s3Options(name)),
    async remove() {
      const s = new S3Storage(s3Options(name));
      try {
        const keys: string[] = [];
        for await (const o of listAll(s, '')) keys.push(o.key);
        for (let i = 0; i < keys.length; i += 500) await s.delete(keys.slice(i, i + 500));
        await admin.send(new DeleteBucketCommand({ Bucket: name }));
      } finally {
        await s.close();
        admin.destroy();
      }
    },
  };
}

/** YAML lines of a `storage:` section for moto. */
export function s3Yaml(bucket: string, extra: Record<string, string | number | boolean> = {}): string[] {
  const o: Record<string, unknown> = { ...s3Options(bucket), ...extra };
  return ['storage:', '  adapter: s3', ...Object.entries(o).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`)];
}

/**
 * YAML lines of a `pointers:` section for Kafka with short test timeouts. `run` makes the
 * pointer topics and consumer groups of this run unique (`topicPrefix`, `groupPrefix`).
 */
export function kafkaYaml(
  brokers: readonly string[],
  run: string,
  extra: Record<string, string | number | boolean> = {},
): string[] {
  const o: Record<string, unknown> = {
    ...kafkaQueueOptions(brokers, run),
    ...extra,
  };
  return [
    'pointers:',
    '  adapter: kafka',
    ...Object.entries(o).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`),
  ];
}

/** `@barge/pointers-kafka` options matching `kafkaYaml` (for consumers reading Kafka directly). */
export function kafkaQueueOptions(brokers: readonly string[], run: string) {
  return {
    brokers: [...brokers],
    clientId: `barge-e2e-${run}`,
    topicPrefix: `barge.e2e.${run}.`,
    groupPrefix: `barge.e2e.${run}.`,
    connectionTimeoutMs: 2000,
    requestTimeoutMs: 10_000,
    publishTimeoutMs: 10_000,
    retries: 2,
    initialRetryTimeMs: 100,
    maxRetryTimeMs: 1000,
    // Kafka's group.min.session.timeout.ms is 6000 by default.
    sessionTimeoutMs: 6000,
    heartbeatIntervalMs: 1000,
    maxWaitTimeMs: 300,
    logLevel: 'error' as const,
  };
}

/** Bytes of messages above 1 MiB (which `workload.makeMessage` cannot make): seeded, 3 MiB + 1 KiB. */
const BIG_FILL = (() => {
  const r = prng(4242);
  const b = Buffer.allocUnsafe(3 * MiB + 1024);
  for (let i = 0; i < b.length; i += 4) b.writeUInt32LE(Math.floor(r() * 0x100000000), i);
  return b;
})();

/** `makeMessage` for sizes up to 1 MiB; above, a value of up to 3 MiB from another seeded fill. */
export function makeAnyMessage(id: number, size: number): ProducerMessage {
  if (size <= MiB) return makeMessage(id, size);
  if (size > 3 * MiB) throw new Error(`message ${id}: at most 3 MiB, asked for ${size}`);
  const value = BIG_FILL.subarray(id % 1024, (id % 1024) + size);
  return {
    key: Buffer.from(`key-${id % 997}`),
    value,
    headers: [
      { name: 'id', value: Buffer.from(String(id)) },
      { name: 'crc', value: Buffer.from(String(crc32(value))) },
      { name: 'big', value: Buffer.from('1') },
    ],
  };
}

/** The id of a message made by `makeAnyMessage`, after checking key, CRC header and every byte. */
export function verifyAnyMessage(m: ConsumedMessage): number {
  if (!m.headers.some((h) => h.name === 'big')) return verifyMessage(m);
  const id = Number(m.headers.find((h) => h.name === 'id')?.value.toString());
  const crc = Number(m.headers.find((h) => h.name === 'crc')?.value.toString());
  if (!Number.isInteger(id))
    throw new Error(`big message without an id header at ${m.partition}/${m.offset}`);
  if (crc32(m.value) !== crc) throw new Error(`message ${id}: value does not match its CRC-32 header`);
  if (m.key?.toString() !== `key-${id % 997}`) throw new Error(`message ${id}: wrong key`);
  if (!BIG_FILL.subarray(id % 1024, (id % 1024) + m.value.length).equals(m.value)) {
    throw new Error(`message ${id}: wrong value bytes`);
  }
  return id;
}

/**
 * What one consumer group received: every id once or more, byte-verified, and the order of
 * producer sequences per (producer, write partition).
 */
export class Tally {
  readonly counts: Uint16Array;
  delivered = 0;
  duplicates = 0;
  readonly orderViolations: string[] = [];
  readonly failures: unknown[] = [];
  readonly #lastSeq = new Map<string, number>();

  constructor(readonly total: number) {
    this.counts = new Uint16Array(total);
  }

  add(m: ConsumedMessage): void {
    try {
      const id = verifyAnyMessage(m);
      if (id < 0 || id >= this.total) throw new Error(`unexpected id ${id}`);
      const k = `${m.producerId}/${m.writePartition}`;
      const prev = this.#lastSeq.get(k) ?? -1;
      if (m.sequence <= prev && this.orderViolations.length < 5) {
        this.orderViolations.push(`${k}: sequence ${m.sequence} after ${prev} (id ${id})`);
      }
      this.#lastSeq.set(k, Math.max(prev, m.sequence));
      if (this.counts[id]! > 0) this.duplicates++;
      this.counts[id]!++;
      this.delivered++;
    } catch (e) {
      this.failures.push(e);
    }
  }

  /** Distinct ids seen. */
  get distinct(): number {
    let n = 0;
    for (const c of this.counts) if (c > 0) n++;
    return n;
  }

  /** The first ids never seen. */
  missing(limit = 10): number[] {
    const out: number[] = [];
    for (let id = 0; id < this.total && out.length < limit; id++) if (this.counts[id] === 0) out.push(id);
    return out;
  }

  /** Write partitions seen (as `producer/writePartition`). */
  get streams(): number {
    return this.#lastSeq.size;
  }
}

/** Waits until `child` exits; resolves to the exit code (null after a signal). */
export function exitOf(child: import('node:child_process').ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once('exit', (code) => r(code)));
}

/** Deletes this run's pointer topics from the shared Kafka (best effort). */
export async function deletePointerTopics(brokers: string[], prefix: string): Promise<void> {
  const admin = new Kafka({ brokers, clientId: 'barge-e2e-cleanup', logLevel: logLevel.NOTHING }).admin();
  try {
    await admin.connect();
    const topics = (await admin.listTopics()).filter((x) => x.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 10_000 });
  } catch (e) {
    process.stderr.write(`kafka cleanup of ${prefix}*: ${String(e)}\n`);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
