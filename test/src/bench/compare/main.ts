/**
 * `test/bench/compare`: Barge (embedded default; local storage + Kafka pointers; S3 on moto +
 * Kafka pointers) against Kafka's Java perf tools and kafkajs, produce and consume, at each value
 * size, in one run; writes JSON, markdown and an SVG chart (and with --write-doc the section of
 * docs/benchmarks.md). Options: options.ts (`--help`).
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '../../harness.js';
import { kafkaBrokers, runId } from '../../kafka-fixtures.js';
import { BARGE_DEFAULTS, runBargeCell } from './barge-cell.js';
import { replaceSection } from './doc-section.js';
import { checkToolsJar, JAVA_PRODUCER_PROPS, runKafkaJavaCell } from './kafka-java-cell.js';
import { KAFKAJS_SETTINGS, runKafkajsCell } from './kafkajs-cell.js';
import { loadAverage, machine } from './machine.js';
import { type CompareOptions, messagesFor, parseOptions, USAGE } from './options.js';
import { renderMarkdown } from './report-markdown.js';
import { renderSvg } from './report-svg.js';
import { servicePids } from './service-cpu.js';
import type { Cell, CompareRun, Settings } from './types.js';

/** Longest one measuring process may run before the cell counts as failed. */
const PROCESS_TIMEOUT_MS = 20 * 60_000;

const log = (line: string) =>
  process.stderr.write(`[compare ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

function kafkaLibs(): string {
  const cache = process.env.BARGE_SERVICES_CACHE || join(repoRoot, '.cache', 'services');
  return join(cache, `kafka-${process.env.KAFKA_VERSION ?? '4.1.2'}`, 'libs');
}

function settingsOf(o: CompareOptions): Settings {
  const perSize = (f: (size: number) => number) => Object.fromEntries(o.sizes.map((s) => [String(s), f(s)]));
  return {
    sizes: o.sizes,
    systems: o.systems,
    mbPerSize: perSize((s) => (messagesFor(o, s) * s) / 1e6),
    messagesPerSize: perSize((s) => messagesFor(o, s)),
    partitions: 4,
    compression: 'none',
    barge: { ...BARGE_DEFAULTS, acks: 'durable' },
    kafkaProducer: JAVA_PRODUCER_PROPS,
    kafkajs: { batchMessages: KAFKAJS_SETTINGS.batchMessages, acks: KAFKAJS_SETTINGS.acks },
  };
}

async function writeOutputs(run: CompareRun, o: CompareOptions, command: string): Promise<string> {
  await mkdir(o.out, { recursive: true });
  const json = `${JSON.stringify(run, null, 2)}\n`;
  const svg = renderSvg(run);
  const markdown = renderMarkdown(run, command, { svg: 'compare.svg', json: 'compare.json' });
  await writeFile(join(o.out, 'compare.json'), json);
  await writeFile(join(o.out, 'compare.svg'), svg);
  await writeFile(join(o.out, 'compare.md'), markdown);
  if (o.writeDoc) {
    const docs = join(repoRoot, 'docs');
    await mkdir(join(docs, 'bench'), { recursive: true });
    await writeFile(join(docs, 'bench', 'compare.json'), json);
    await writeFile(join(docs, 'bench', 'compare.svg'), svg);
    const doc = join(docs, 'benchmarks.md');
    const section = renderMarkdown(run, command, { svg: 'bench/compare.svg', json: 'bench/compare.json' });
    await writeFile(doc, replaceSection(await readFile(doc, 'utf8'), section));
    log('updated docs/benchmarks.md, docs/bench/compare.json and docs/bench/compare.svg');
  }
  return markdown;
}

async function main(argv: string[]): Promise<void> {
  const o = parseOptions(argv);
  if (o === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const command = ['test/bench/compare', ...argv].join(' ');
  if (o.fromJson !== undefined) {
    const run = JSON.parse(await readFile(o.fromJson, 'utf8')) as CompareRun;
    process.stdout.write(await writeOutputs(run, o, run.command ?? command));
    return;
  }
  const libs = kafkaLibs();
  const needKafka = o.systems.some((s) => s !== 'barge-embedded');
  if (o.systems.includes('kafka-java')) checkToolsJar(libs);
  const pids = servicePids();
  if (needKafka && pids.kafka === undefined) {
    throw new Error('the test Kafka is not running: scripts/services.sh start kafka s3');
  }
  if (o.systems.includes('barge-s3-kafka') && pids.moto === undefined) {
    throw new Error('moto (S3) is not running: scripts/services.sh start kafka s3');
  }
  const ctx = {
    run: runId(),
    kafkaBrokers: needKafka ? kafkaBrokers() : [],
    pids,
    log,
    timeoutMs: PROCESS_TIMEOUT_MS,
    halfRateSeconds: o.quick ? 3 : 20,
  };
  const run: CompareRun = {
    command,
    startedAt: new Date().toISOString(),
    finishedAt: '',
    loadAverage: { start: loadAverage(), end: [] },
    machine: machine(libs),
    settings: settingsOf(o),
    cells: [],
  };
  log(
    `run ${ctx.run}: ${o.systems.join(', ')} at ${o.sizes.join(', ')} B; load ${run.loadAverage.start.join(' ')}`,
  );
  await mkdir(o.out, { recursive: true });
  for (const size of o.sizes) {
    const messages = messagesFor(o, size);
    for (const system of o.systems) {
      let cell: Cell;
      if (system === 'kafka-java') cell = await runKafkaJavaCell(libs, size, messages, ctx);
      else if (system === 'kafkajs') cell = await runKafkajsCell(size, messages, ctx);
      else cell = await runBargeCell(system, size, messages, ctx);
      run.cells.push(cell);
      const p = cell.produce;
      if (p) {
        log(
          `${system} ${size} B: produce ${Math.round(p.messagesPerSecond)} msgs/s ${p.mbPerSecond.toFixed(1)} MB/s, consume ${cell.consume?.mbPerSecond.toFixed(1) ?? 'n/a'} MB/s`,
        );
      }
      // Partial results survive an interrupted run.
      await writeFile(join(o.out, 'compare.partial.json'), `${JSON.stringify(run, null, 2)}\n`);
    }
  }
  run.finishedAt = new Date().toISOString();
  run.loadAverage.end = loadAverage();
  const markdown = await writeOutputs(run, o, command);
  await rm(join(o.out, 'compare.partial.json'), { force: true });
  process.stdout.write(markdown);
  log(`wrote ${join(o.out, 'compare.json')}, compare.md and compare.svg`);
  const failed = run.cells.filter((c) => c.error !== undefined);
  if (failed.length > 0) {
    log(`${failed.length} cell(s) failed: ${failed.map((c) => `${c.system} ${c.size} B`).join(', ')}`);
    process.exitCode = 1;
  }
}

try {
  await main(process.argv.slice(2));
} catch (e) {
  log(e instanceof Error ? e.message : String(e));
  process.exitCode = 1;
}
