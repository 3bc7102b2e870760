/** The comparison as markdown: what ran where, the results table and the targets table (pure). */
import { cellPeakRssMiB, evaluateTargets, TARGETS, type TargetCheck } from './targets.js';
import { type Cell, type CompareRun, isBarge, SYSTEM_LABELS, SYSTEMS, type SystemId } from './types.js';

export const sizeLabel = (n: number) =>
  n < 1024 || n % 1024 !== 0
    ? `${n} B`
    : n % (1024 * 1024) === 0
      ? `${n / 1024 / 1024} MiB`
      : `${n / 1024} KiB`;

const NA = 'n/a';
const int = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? NA : Math.round(x).toLocaleString('en-US');
/** Three significant figures at most, at least a whole number: 0.123, 1.23, 12.3, 123, 1,234. */
const num = (x: number | null | undefined) => {
  if (x === null || x === undefined || !Number.isFinite(x)) return NA;
  if (Math.abs(x) >= 100) return int(x);
  return x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3);
};
const times = (x: number | null) => (x === null || !Number.isFinite(x) ? NA : `${x.toFixed(2)}x`);

function services(c: Cell): string {
  const s = c.produce?.serviceCpuSecondsPerGB ?? {};
  const parts = Object.entries(s).map(([k, v]) => `${k === 'kafka' ? 'Kafka' : 'moto'} ${num(v)}`);
  return parts.length === 0 ? '' : parts.join(', ');
}

const ratioTo = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? null : a / b;

/** One row per value size and system, in the order of SYSTEMS. */
export function resultsTable(run: CompareRun): string {
  const rows = [
    '| value | system | produce msgs/s | produce MB/s | p99 ack ms | consume MB/s | direct consume MB/s | broker CPU s/GB | Kafka / moto CPU s/GB | broker peak RSS MiB | produce / Java | consume / ConsumerPerformance |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const size of run.settings.sizes) {
    const java = run.cells.find((c) => c.system === 'kafka-java' && c.size === size && !c.error);
    for (const system of SYSTEMS) {
      const c = run.cells.find((x) => x.system === system && x.size === size);
      if (!c) continue;
      const label = SYSTEM_LABELS[system];
      if (c.error !== undefined) {
        rows.push(`| ${sizeLabel(size)} | ${label} | failed: ${oneLine(c.error)} |||||||||| |`);
        continue;
      }
      const p = c.produce;
      const isJava = system === 'kafka-java';
      rows.push(
        `| ${sizeLabel(size)} | ${label} | ${int(p?.messagesPerSecond)} | ${num(p?.mbPerSecond)} | ${num(p?.ackMs?.p99)} | ${num(c.consume?.mbPerSecond)} | ${c.consumeDirect ? num(c.consumeDirect.mbPerSecond) : ''} | ${num(p?.brokerCpuSecondsPerGB)} | ${services(c)} | ${int(isBarge(system) ? cellPeakRssMiB(c) : p?.brokerPeakRssMiB)} | ${isJava ? '1.00x' : times(ratioTo(p?.messagesPerSecond, java?.produce?.messagesPerSecond))} | ${isJava ? '1.00x' : times(ratioTo(c.consume?.mbPerSecond, java?.consume?.mbPerSecond))} |`,
      );
    }
  }
  return rows.join('\n');
}

const oneLine = (s: string) => (s.split('\n')[0] ?? '').replace(/\|/g, '/').slice(0, 120);

function shown(t: TargetCheck): string {
  if (t.value === null) return NA;
  const v =
    t.unit === 'ratio'
      ? `${t.value.toFixed(2)}x`
      : t.unit === 's/GB'
        ? `${num(t.value)} vs ${num(t.bound)} s/GB`
        : `${int(t.value)} ${t.unit}`;
  return `${v} ${t.met === null ? '' : t.met ? '✅' : '❌'}`.trim();
}

/** One row per target and value size, one column per Barge system. */
export function targetsTable(run: CompareRun, checks: readonly TargetCheck[] = evaluateTargets(run)): string {
  const systems = run.settings.systems.filter(isBarge);
  if (systems.length === 0) return 'No Barge system in this run: no targets to check.';
  const rows = [
    `| target | value | ${systems.map((s) => SYSTEM_LABELS[s]).join(' | ')} |`,
    `| --- | --- | ${systems.map(() => '---:').join(' | ')} |`,
  ];
  for (const target of Object.values(TARGETS)) {
    for (const size of run.settings.sizes) {
      const here = checks.filter((t) => t.target === target && t.size === size);
      if (here.length === 0) continue;
      const cells = systems.map((s: SystemId) => {
        const t = here.find((x) => x.system === s);
        return t ? shown(t) : '';
      });
      rows.push(`| ${target} | ${sizeLabel(size)} | ${cells.join(' | ')} |`);
    }
  }
  const met = checks.filter((t) => t.met === true).length;
  const checked = checks.filter((t) => t.met !== null).length;
  const unchecked = checks.length - checked;
  return `${rows.join('\n')}\n\n${met} of ${checked} targets met${unchecked > 0 ? `; ${unchecked} could not be checked (n/a: a cell missing or failed)` : ''}.`;
}

const when = (iso: string) => `${iso.slice(0, 16).replace('T', ' ')} UTC`;
const loads = (l: number[]) => l.map((x) => x.toFixed(1)).join(' / ');

/** Machine, date, load and settings of the run, as a short list. */
export function runHeader(run: CompareRun, command: string): string {
  const m = run.machine;
  const s = run.settings;
  const minutes = (Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 60_000;
  const amounts = s.sizes
    .map((z) => `${sizeLabel(z)}: ${int(s.messagesPerSize[z])} messages (${num(s.mbPerSize[z])} MB)`)
    .join('; ');
  return [
    `- Command: \`${command}\``,
    `- Machine: ${m.cores} x ${m.cpuModel}, ${m.memoryGiB} GiB RAM, Linux ${m.kernel}; Node ${m.node}, ${m.java}, Kafka ${m.kafka}.`,
    `- Run: ${when(run.startedAt)}, ${minutes.toFixed(1)} minutes; load average (1/5/15 min) ${loads(run.loadAverage.start)} at the start, ${loads(run.loadAverage.end)} at the end.`,
    `- Per cell (every system moves the same messages): ${amounts}; ${s.partitions} partitions, no compression, no keys. Each Barge cell runs on a freshly started \`barge broker\`; Kafka is the shared test service (not restarted per cell).`,
    `- Barge: \`barge bench produce|consume\` with the client's default settings, acks \`${s.barge.acks}\` (object fsync'd or stored, pointer committed); broker defaults (\`batch.maxDelayMs\` ${s.barge.maxDelayMs}, \`upload.inFlightBytes\` ${s.barge.inFlightBytes / 1024 / 1024} MiB). Kafka Java producer: ${Object.entries(
      s.kafkaProducer,
    )
      .map(([k, v]) => `${k}=${v}`)
      .join(
        ', ',
      )}, \`--throughput -1\` (Kafka does not fsync by default). kafkajs: \`sendBatch\` of up to ${s.kafkajs.batchMessages} messages (about 2 MiB at most), acks ${s.kafkajs.acks}, 4 calls open at once; \`eachBatch\` consumer.`,
  ].join('\n');
}

export interface MarkdownLinks {
  svg?: string;
  json?: string;
}

/** The whole section: header, results, targets, notes on reading it, links. */
export function renderMarkdown(run: CompareRun, command: string, links: MarkdownLinks = {}): string {
  const parts = [
    runHeader(run, command),
    resultsTable(run),
    [
      'MB = 10^6 bytes of values. p99 ack: per `send()` for Barge, per record for the Java producer, per',
      '`sendBatch` for kafkajs. Consume rates: kafkajs from its first batch, ConsumerPerformance its',
      '`fetch.MB.sec` (both without the group join); Barge from `consumer.run()`, so its group join counts',
      '(with Kafka pointers about 1 s of it: see the notes below). Broker CPU: the `barge broker` process (from its admin',
      "endpoint) or the Kafka JVM (from /proc) over the produce phase; the Kafka / moto column is the test services'",
      "CPU under Barge. Kafka's RSS is the JVM's high-water mark since the service started.",
    ].join('\n'),
    '### Targets',
    targetsTable(run),
  ];
  if (links.svg) parts.push(`![produce and consume MB/s per system and value size](${links.svg})`);
  if (links.json)
    parts.push(`All raw results (every tool's own output included): [${links.json}](${links.json}).`);
  return `${parts.join('\n\n')}\n`;
}
