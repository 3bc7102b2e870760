/**
 * Parsers of the stdout of Kafka's `org.apache.kafka.tools.ProducerPerformance` and
 * `ConsumerPerformance`. Both tools count MB as 2^20 bytes; the figures here keep their units
 * (`mib`), the callers convert to the 10^6-byte MB of the report.
 */

export interface ProducerPerfLine {
  records: number;
  recordsPerSecond: number;
  mibPerSecond: number;
  avgLatencyMs: number;
  maxLatencyMs: number;
}

export interface ProducerPerfSummary extends ProducerPerfLine {
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  p999Ms: number;
}

export interface ProducerPerfOutput {
  /** The progress lines (every 5 s by default). */
  intervals: ProducerPerfLine[];
  /** The final line, with percentiles. */
  summary: ProducerPerfSummary;
}

const NUM = String.raw`(\d+(?:\.\d+)?)`;
const LINE = new RegExp(
  String.raw`^${NUM} records sent, ${NUM} records/sec \(${NUM} MB/sec\), ${NUM} ms avg latency, ${NUM} ms max latency`,
);
const PERCENTILES = new RegExp(
  String.raw`, ${NUM} ms 50th, ${NUM} ms 95th, ${NUM} ms 99th, ${NUM} ms 99\.9th\.?$`,
);

export function parseProducerPerformance(stdout: string): ProducerPerfOutput {
  const intervals: ProducerPerfLine[] = [];
  let summary: ProducerPerfSummary | undefined;
  for (const raw of stdout.split('\n')) {
    const line = raw.trim();
    const m = LINE.exec(line);
    if (!m) continue;
    const base: ProducerPerfLine = {
      records: Number(m[1]),
      recordsPerSecond: Number(m[2]),
      mibPerSecond: Number(m[3]),
      avgLatencyMs: Number(m[4]),
      maxLatencyMs: Number(m[5]),
    };
    const p = PERCENTILES.exec(line);
    if (p) {
      summary = {
        ...base,
        p50Ms: Number(p[1]),
        p95Ms: Number(p[2]),
        p99Ms: Number(p[3]),
        p999Ms: Number(p[4]),
      };
    } else {
      intervals.push(base);
    }
  }
  if (!summary) throw new Error(`no ProducerPerformance summary line (with percentiles) in:\n${stdout}`);
  return { intervals, summary };
}

export interface ConsumerPerfSummary {
  startTime: string;
  endTime: string;
  mib: number;
  /** MiB over the whole run, group join (rebalance) included. */
  mibPerSecond: number;
  messages: number;
  messagesPerSecond: number;
  rebalanceMs: number;
  /** The run without the group join: what `fetch.*` figures are over. */
  fetchMs: number;
  fetchMibPerSecond: number;
  fetchMessagesPerSecond: number;
  /** The tool's warning when it stopped on its `--timeout` before reading `--messages`. */
  warning: string | null;
}

const COLUMNS = {
  'start.time': 'startTime',
  'end.time': 'endTime',
  'data.consumed.in.MB': 'mib',
  'MB.sec': 'mibPerSecond',
  'data.consumed.in.nMsg': 'messages',
  'nMsg.sec': 'messagesPerSecond',
  'rebalance.time.ms': 'rebalanceMs',
  'fetch.time.ms': 'fetchMs',
  'fetch.MB.sec': 'fetchMibPerSecond',
  'fetch.nMsg.sec': 'fetchMessagesPerSecond',
} as const;

/** Parses the header line and the one summary line (the tool run without --show-detailed-stats). */
export function parseConsumerPerformance(stdout: string): ConsumerPerfSummary {
  const lines = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const headerAt = lines.findIndex((l) => l.startsWith('start.time,'));
  if (headerAt < 0) throw new Error(`no ConsumerPerformance header line in:\n${stdout}`);
  const header = lines[headerAt]!.split(',').map((s) => s.trim());
  const warning = lines.find((l) => l.startsWith('WARNING:')) ?? null;
  const data = lines.slice(headerAt + 1).find((l) => /^\d{4}-\d\d-\d\d /.test(l));
  if (!data) throw new Error(`no ConsumerPerformance data line in:\n${stdout}`);
  const cells = data.split(',').map((s) => s.trim());
  if (cells.length !== header.length) {
    throw new Error(
      `ConsumerPerformance: ${header.length} columns in the header, ${cells.length} in "${data}"`,
    );
  }
  const out: Record<string, string | number | null> = { warning };
  header.forEach((name, i) => {
    const key = (COLUMNS as Record<string, string>)[name];
    if (key === undefined) return;
    out[key] = key === 'startTime' || key === 'endTime' ? cells[i]! : Number(cells[i]);
  });
  for (const key of Object.values(COLUMNS)) {
    if (out[key] === undefined || Number.isNaN(out[key])) {
      throw new Error(`ConsumerPerformance: no valid "${key}" column in:\n${stdout}`);
    }
  }
  return out as unknown as ConsumerPerfSummary;
}
