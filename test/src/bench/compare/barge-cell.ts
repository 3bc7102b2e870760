/**
 * One Barge cell: a fresh `barge broker` process for one system and value size, then
 * `barge bench produce`, `barge bench consume` (through the broker, then straight from storage)
 * and, for the embedded default, a produce at half the measured peak rate, each as its own
 * process writing the JSON summary.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, repoRoot, startBroker, tempDir } from '../../harness.js';
import { freshBucket, s3Yaml, type TestBucket } from '../../kafka-fixtures.js';
import { consumeMeasure, produceMeasure, readBenchSummary } from './bench-summary.js';
import { deleteTopics } from './kafka-admin.js';
import { loadAverage } from './machine.js';
import { runProcess } from './run-process.js';
import { type ServiceName, type ServicePids, sampleCpu } from './service-cpu.js';
import type { Cell, SystemId } from './types.js';

/** The broker settings every Barge cell runs with (the defaults; the targets refer to them). */
export const BARGE_DEFAULTS = { maxDelayMs: 250, inFlightBytes: 256 * 1024 * 1024 } as const;
export const TOPIC = 'bench';
const HALF_TOPIC = 'bench-half';
const PARTITIONS = 4;
export const BARGE = join(repoRoot, 'packages', 'cli', 'bin', 'barge.js');

export interface BargeCellContext {
  run: string;
  kafkaBrokers: readonly string[];
  pids: ServicePids;
  log: (line: string) => void;
  /** Longest a single bench process may take. */
  timeoutMs: number;
  /** How long the produce at half the peak rate runs: long enough that start-up does not set its p99. */
  halfRateSeconds: number;
}

function pointersYaml(brokers: readonly string[], prefix: string): string[] {
  return [
    'pointers:',
    '  adapter: kafka',
    `  brokers: ${JSON.stringify(brokers)}`,
    `  clientId: ${JSON.stringify(`barge-compare-${prefix}`)}`,
    `  topicPrefix: ${JSON.stringify(`${prefix}.`)}`,
    `  groupPrefix: ${JSON.stringify(`${prefix}.`)}`,
  ];
}

export function configYaml(system: SystemId, dataDir: string, admin: string, extra: string[]): string {
  const topics = system === 'barge-embedded' ? [TOPIC, HALF_TOPIC] : [TOPIC];
  return [
    `broker: { dataDir: ${JSON.stringify(dataDir)}, admin: "${admin}" }`,
    ...extra,
    'topics:',
    ...topics.map(
      (t) =>
        `  - { name: ${t}, writePartitions: ${PARTITIONS}, readPartitions: ${PARTITIONS}, compression: none }`,
    ),
    '',
  ].join('\n');
}

/** The services a system leans on, whose CPU is sampled next to the broker's. */
const SERVICES: Partial<Record<SystemId, ServiceName[]>> = {
  'barge-embedded': [],
  'barge-kafka': ['kafka'],
  'barge-s3-kafka': ['kafka', 'moto'],
};

export async function runBargeCell(
  system: SystemId,
  size: number,
  messages: number,
  ctx: BargeCellContext,
): Promise<Cell> {
  const cell: Cell = { system, size, startedAt: new Date().toISOString(), loadAverage: loadAverage() };
  const dir = await tempDir('barge-compare-');
  const prefix = `barge.compare.${ctx.run}.${system}-${size}B`;
  let bucket: TestBucket | undefined;
  let broker: Awaited<ReturnType<typeof startBroker>> | undefined;
  try {
    const extra: string[] = [];
    if (system === 'barge-s3-kafka') {
      bucket = await freshBucket('barge-compare');
      extra.push(...s3Yaml(bucket.name));
    }
    if (system !== 'barge-embedded') extra.push(...pointersYaml(ctx.kafkaBrokers, prefix));
    const admin = `127.0.0.1:${await freePort()}`;
    const config = join(dir.path, 'barge.yaml');
    await writeFile(config, configYaml(system, join(dir.path, 'data'), admin, extra));
    broker = await startBroker(['--config', config], {}, dir.path);
    const common = ['--broker', broker.address, '--admin', `http://${admin}`, '--quiet'];
    const bench = async (kind: 'produce' | 'consume', name: string, args: string[]) => {
      const json = join(dir.path, `${name}.json`);
      ctx.log(`${system} ${size} B: ${name}`);
      await runProcess(process.execPath, [BARGE, 'bench', kind, ...common, ...args, '--json', json], {
        timeoutMs: ctx.timeoutMs,
      });
      return readBenchSummary(json);
    };
    const produceArgs = ['--topic', TOPIC, '--size', String(size), '--key-size', '0', '--acks', 'durable'];

    const cpu = sampleCpu(ctx.pids, SERVICES[system] ?? []);
    const produced = await bench('produce', 'produce', [...produceArgs, '--count', String(messages)]);
    cell.produce = produceMeasure(produced, cpu.perGB(produced.bytes));

    const consumeArgs = ['--topic', TOPIC, '--count', String(produced.messages), '--idle', '60'];
    cell.consume = consumeMeasure(await bench('consume', 'consume', consumeArgs));
    cell.consumeDirect = consumeMeasure(
      await bench('consume', 'consume-direct', [...consumeArgs, '--direct', '--config', config]),
    );
    for (const [how, m] of [
      ['through the broker', cell.consume],
      ['from storage', cell.consumeDirect],
    ] as const) {
      if (m.messages < produced.messages) {
        throw new Error(`consumed ${m.messages} of ${produced.messages} messages ${how} (stopped on --idle)`);
      }
    }

    if (system === 'barge-embedded') {
      const rate = Math.max(1, Math.round(produced.messagesPerSecond / 2));
      const half = await bench('produce', 'produce-half-rate', [
        ...produceArgs.map((a) => (a === TOPIC ? HALF_TOPIC : a)),
        '--duration',
        String(ctx.halfRateSeconds),
        '--rate',
        String(rate),
      ]);
      cell.halfRate = { ...produceMeasure(half, {}), rate };
    }
  } catch (e) {
    cell.error = e instanceof Error ? e.message : String(e);
    ctx.log(`${system} ${size} B failed: ${cell.error}`);
  } finally {
    await broker?.stop();
    await dir.remove();
    await bucket?.remove().catch((e: unknown) => ctx.log(`bucket cleanup: ${String(e)}`));
    if (system !== 'barge-embedded') await deleteTopics(ctx.kafkaBrokers, prefix);
  }
  return cell;
}
