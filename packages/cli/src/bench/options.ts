import type { AckLevel } from '@barge/client';
import { type CodecName, codecNames, parseSize } from '@barge/core';
import { brokerAddress } from '../connect.js';
import { CliError, parseHostPort } from '../fail.js';

export type BenchKind = 'produce' | 'consume' | 'e2e';
export const ACK_LEVELS: readonly AckLevel[] = ['none', 'received', 'durable'];
/** The codecs `--codec` names; those this build cannot write are refused with the list it can. */
export const BENCH_CODECS = ['none', 'gzip', 'lz4', 'zstd'] as const;
/** The admin endpoint's conventional port (docs/config.md), used when `--admin` is not given. */
export const DEFAULT_ADMIN_PORT = 7071;
/** Bytes an e2e value carries before the payload: send time (float64 ms) and the run's nonce. */
export const E2E_HEADER_BYTES = 16;
const DEFAULT_COUNT = 1_000_000;

/** The flags of `barge bench`, as commander hands them over (strings, unchecked). */
export interface BenchFlags {
  broker?: string;
  topic: string;
  partitions?: string;
  size: string;
  keySize: string;
  count?: string;
  duration?: string;
  producers: string;
  acks: string;
  codec?: string;
  lingerMs?: string;
  maxChunkBytes?: string;
  maxChunkMessages?: string;
  maxInFlight?: string;
  bufferBytes?: string;
  sendMessages?: string;
  rate?: string;
  admin?: string;
  json?: string;
  svg?: string;
  quiet?: boolean;
  group?: string;
  fromBeginning: boolean;
  direct?: boolean;
  config?: string;
  data?: string;
  idle: string;
}

/** Producer settings given on the command line; anything absent keeps the client's default. */
export interface ProducerTuning {
  compression?: CodecName;
  lingerMs?: number;
  maxChunkBytes?: number;
  maxChunkMessages?: number;
  maxInFlight?: number;
  bufferBytes?: number;
}

/** Every setting of one `barge bench` run, checked. */
export interface BenchOptions {
  readonly kind: BenchKind;
  readonly broker: string;
  readonly topic: string;
  /** Write and read partitions asked for; undefined: an existing topic as it is, a new one with 4. */
  readonly partitions: number | undefined;
  readonly messageBytes: number;
  readonly keyBytes: number;
  /** Messages to move; undefined with `--duration` (consume: read until idle). */
  readonly count: number | undefined;
  readonly durationSeconds: number | undefined;
  readonly producers: number;
  readonly acks: AckLevel;
  readonly codec: CodecName | 'zstd' | undefined;
  readonly tuning: ProducerTuning;
  /** Messages per `send` call; undefined: sized from the message size. */
  readonly sendMessages: number | undefined;
  /** Target messages/s over all producers; 0: as fast as possible. */
  readonly rate: number;
  /** Base URL of the broker's admin endpoint, e.g. http://127.0.0.1:7071. */
  readonly admin: string;
  readonly json: string | undefined;
  readonly svg: string | undefined;
  readonly quiet: boolean;
  readonly group: string | undefined;
  readonly fromBeginning: boolean;
  readonly direct: boolean;
  readonly config: string | undefined;
  readonly data: string | undefined;
  /** Consumers stop after this long without a message. */
  readonly idleSeconds: number;
}

const usage = (message: string) => new CliError(message, 2);

function size(value: string, flag: string, min: number): number {
  let n: number;
  try {
    n = parseSize(value, flag);
  } catch {
    throw usage(`${flag} must be a size in bytes such as 100, 1KiB or 64KiB (got "${value}")`);
  }
  if (n < min) throw usage(`${flag} must be at least ${min} bytes (got "${value}")`);
  return n;
}

function int(value: string, flag: string, min: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw usage(`${flag} must be an integer >= ${min} (got "${value}")`);
  }
  return n;
}

function seconds(value: string, flag: string): number {
  const n = Number(value.replace(/s$/, ''));
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw usage(`${flag} must be a number of seconds > 0, e.g. 30 or 2.5 (got "${value}")`);
  }
  return n;
}

function adminUrl(flag: string | undefined, broker: string): string {
  const given = flag ?? process.env.BARGE_ADMIN;
  if (given === undefined) return `http://${parseHostPort(broker, '--broker').host}:${DEFAULT_ADMIN_PORT}`;
  const withScheme = /^https?:\/\//.test(given) ? given : `http://${given}`;
  try {
    const url = new URL(withScheme);
    if (url.port === '' && !/^https?:\/\/[^/]+:\d+/.test(withScheme)) throw new Error('no port');
    return url.origin;
  } catch {
    throw usage(`--admin must be http://HOST:PORT or HOST:PORT, e.g. http://127.0.0.1:7071 (got "${given}")`);
  }
}

function codec(value: string | undefined): BenchOptions['codec'] {
  if (value === undefined) return undefined;
  if (!(BENCH_CODECS as readonly string[]).includes(value)) {
    throw usage(`--codec must be one of ${BENCH_CODECS.join(', ')} (got "${value}")`);
  }
  if (!(codecNames as readonly string[]).includes(value)) {
    throw usage(`--codec ${value} is not supported by this build (it supports ${codecNames.join(', ')})`);
  }
  return value as CodecName;
}

/** Checks the flags of `barge bench <kind>`, naming the flag of the first bad value (exit code 2). */
export function benchOptions(kind: BenchKind, f: BenchFlags): BenchOptions {
  const broker = brokerAddress(f.broker);
  if (f.count !== undefined && f.duration !== undefined) {
    throw usage('--count and --duration cannot be combined: give one');
  }
  const messageBytes = size(f.size, '--size', kind === 'e2e' ? E2E_HEADER_BYTES : 0);
  const acks = f.acks as AckLevel;
  if (!ACK_LEVELS.includes(acks)) {
    throw usage(`--acks must be one of ${ACK_LEVELS.join(', ')} (got "${f.acks}")`);
  }
  const chosen = codec(f.codec);
  const tuning: ProducerTuning = {};
  if (chosen !== undefined) tuning.compression = chosen as CodecName;
  if (f.lingerMs !== undefined) tuning.lingerMs = int(f.lingerMs, '--linger-ms', 0);
  if (f.maxChunkBytes !== undefined) tuning.maxChunkBytes = size(f.maxChunkBytes, '--max-chunk-bytes', 1);
  if (f.maxChunkMessages !== undefined)
    tuning.maxChunkMessages = int(f.maxChunkMessages, '--max-chunk-messages', 1);
  if (f.maxInFlight !== undefined) tuning.maxInFlight = int(f.maxInFlight, '--max-in-flight', 1);
  if (f.bufferBytes !== undefined) tuning.bufferBytes = size(f.bufferBytes, '--buffer-bytes', 1);
  if (kind === 'consume' && f.duration !== undefined) {
    throw usage('--duration is for produce and e2e: consume reads --count messages, or until idle');
  }
  // Without --count or --duration: a million messages (consume: until --idle passes without one).
  const count =
    f.count !== undefined
      ? int(f.count, '--count', 1)
      : f.duration === undefined && kind !== 'consume'
        ? DEFAULT_COUNT
        : undefined;
  return {
    kind,
    broker,
    topic: f.topic,
    partitions: f.partitions === undefined ? undefined : int(f.partitions, '--partitions', 1),
    messageBytes,
    keyBytes: size(f.keySize, '--key-size', 0),
    count,
    durationSeconds: f.duration === undefined ? undefined : seconds(f.duration, '--duration'),
    producers: int(f.producers, '--producers', 1),
    acks,
    codec: chosen,
    tuning,
    sendMessages: f.sendMessages === undefined ? undefined : int(f.sendMessages, '--send-messages', 1),
    rate: f.rate === undefined ? 0 : int(f.rate, '--rate', 0),
    admin: adminUrl(f.admin, broker),
    json: f.json,
    svg: f.svg,
    quiet: f.quiet === true,
    group: f.group,
    fromBeginning: f.fromBeginning,
    direct: f.direct === true,
    config: f.config,
    data: f.data,
    idleSeconds: seconds(f.idle, '--idle'),
  };
}

/** The options as the JSON summary's `settings` records them. */
export function settingsOf(o: BenchOptions): Record<string, unknown> {
  const producing =
    o.kind === 'consume'
      ? {}
      : {
          size: o.messageBytes,
          keySize: o.keyBytes,
          durationSeconds: o.durationSeconds ?? null,
          producers: o.producers,
          acks: o.acks,
          codec: o.codec ?? 'topic default',
          ...o.tuning,
          sendMessages: o.sendMessages ?? 'auto',
          rate: o.rate,
        };
  const consuming =
    o.kind === 'produce'
      ? {}
      : {
          group: o.group ?? null,
          fromBeginning: o.fromBeginning,
          direct: o.direct,
          ...(o.direct ? { config: o.config ?? null, data: o.data ?? null } : {}),
          idleSeconds: o.idleSeconds,
        };
  return {
    kind: o.kind,
    broker: o.broker,
    topic: o.topic,
    partitions: o.partitions ?? null,
    count: o.count ?? null,
    ...producing,
    ...consuming,
    admin: o.admin,
  };
}
