import type { MetricValueWithName, Registry } from 'prom-client';

/**
 * What the dashboard's page polls (`GET /ui/data`): the totals of a few of the broker's
 * Prometheus metrics right now, summed over their labels. The page turns two snapshots into
 * rates and percentiles. Read from the registry as `/metrics` would, so the page shows nothing
 * `/metrics` does not, and the cost is a scrape of these metrics (no per-message work).
 */
export interface DashboardSnapshot {
  /** Milliseconds since the epoch when the snapshot was taken. */
  time: number;
  /** `barge_build_info` labels, when present. */
  build: Record<string, string> | null;
  counters: Record<CounterKey, number | null>;
  gauges: Record<GaugeKey, number | null>;
  histograms: Record<HistogramKey, HistogramTotals | null>;
  /** Consumer lag per group (summed over its topics and read partitions). */
  lag: GroupLag[];
}

/** A histogram summed over its labels: cumulative counts per finite upper bound, then count and sum. */
export interface HistogramTotals {
  buckets: [le: number, cumulative: number][];
  count: number;
  sum: number;
}

export interface GroupLag {
  group: string;
  pointers: number | null;
  messages: number | null;
}

/** Metric names by the key the page uses; a name not registered (yet) gives `null`. */
const COUNTERS = {
  produceMessages: 'barge_produce_messages_total',
  produceBytes: 'barge_produce_bytes_total',
  produceRequests: 'barge_produce_requests_total',
  batchesUploaded: 'barge_batches_uploaded_total',
  uploadBytes: 'barge_upload_bytes_total',
  requestErrors: 'barge_request_errors_total',
  batchesFailed: 'barge_batches_failed_total',
  publishFailures: 'barge_pointer_publish_failures_total',
  uploadRetries: 'barge_upload_retries_total',
  unreadableReads: 'barge_read_unreadable_total',
} as const;

const GAUGES = {
  connections: 'barge_connections',
  inFlightBytes: 'barge_inflight_bytes',
  pausedSockets: 'barge_paused_sockets',
  groupMembers: 'barge_group_members',
  orphanBytes: 'barge_orphan_bytes',
} as const;

const HISTOGRAMS = {
  uploadSeconds: 'barge_upload_seconds',
  storagePutSeconds: 'barge_storage_put_seconds',
  batchBytes: 'barge_batch_bytes',
  batchMessages: 'barge_batch_messages',
  readProxyBytes: 'barge_read_proxy_bytes',
} as const;

const LAG = { pointers: 'barge_group_lag_pointers', messages: 'barge_group_lag_messages' } as const;

type CounterKey = keyof typeof COUNTERS;
type GaugeKey = keyof typeof GAUGES;
type HistogramKey = keyof typeof HISTOGRAMS;

export async function dashboardSnapshot(registry: Registry): Promise<DashboardSnapshot> {
  const values = (name: string) => valuesOf(registry, name);
  const [counters, gauges, histograms, build, lagPointers, lagMessages] = await Promise.all([
    mapValues(COUNTERS, async (name) => sumOf(await values(name))),
    mapValues(GAUGES, async (name) => sumOf(await values(name))),
    mapValues(HISTOGRAMS, async (name) => histogramOf(await values(name))),
    values('barge_build_info'),
    values(LAG.pointers),
    values(LAG.messages),
  ]);
  return {
    time: Date.now(),
    build: build?.[0] ? stringLabels(build[0].labels) : null,
    counters,
    gauges,
    histograms,
    lag: lagByGroup(lagPointers ?? [], lagMessages ?? []),
  };
}

async function valuesOf(registry: Registry, name: string): Promise<MetricValueWithName<string>[] | null> {
  const metric = registry.getSingleMetric(name);
  return metric ? (await metric.get()).values : null;
}

async function mapValues<K extends string, T>(
  names: Record<K, string>,
  read: (name: string) => Promise<T>,
): Promise<Record<K, T>> {
  const keys = Object.keys(names) as K[];
  const read$ = await Promise.all(keys.map((k) => read(names[k])));
  return Object.fromEntries(keys.map((k, i) => [k, read$[i]])) as Record<K, T>;
}

function sumOf(values: MetricValueWithName<string>[] | null): number | null {
  return values ? values.reduce((total, v) => total + v.value, 0) : null;
}

function histogramOf(values: MetricValueWithName<string>[] | null): HistogramTotals | null {
  if (!values) return null;
  const buckets = new Map<number, number>();
  let count = 0;
  let sum = 0;
  for (const v of values) {
    const suffix = v.metricName?.slice(v.metricName.lastIndexOf('_'));
    if (suffix === '_count') count += v.value;
    else if (suffix === '_sum') sum += v.value;
    else if (suffix === '_bucket') {
      const le = Number(v.labels.le);
      if (Number.isFinite(le)) buckets.set(le, (buckets.get(le) ?? 0) + v.value);
    }
  }
  return { buckets: [...buckets].sort((a, b) => a[0] - b[0]), count, sum };
}

function lagByGroup(
  pointers: MetricValueWithName<string>[],
  messages: MetricValueWithName<string>[],
): GroupLag[] {
  const groups = new Map<string, GroupLag>();
  const add = (values: MetricValueWithName<string>[], key: 'pointers' | 'messages') => {
    for (const v of values) {
      const group = String(v.labels.group ?? '');
      const row = groups.get(group) ?? { group, pointers: null, messages: null };
      row[key] = (row[key] ?? 0) + v.value;
      groups.set(group, row);
    }
  };
  add(pointers, 'pointers');
  add(messages, 'messages');
  return [...groups.values()].sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
}

function stringLabels(labels: Partial<Record<string, string | number>>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)]));
}
