/** A broker's Prometheus /metrics as numbers, differences between two scrapes, histogram bounds. */

/** Every series of one scrape by its full name with labels, e.g. `barge_upload_hedges_total{event="started"}`. */
export type MetricsScrape = Map<string, number>;
/** Per series: the later scrape minus the earlier one, summed over brokers. */
export type MetricsDelta = Map<string, number>;

/** GET http://ADMIN/metrics, parsed. */
export async function scrape(admin: string): Promise<MetricsScrape> {
  const res = await fetch(`http://${admin}/metrics`);
  if (res.status !== 200) throw new Error(`GET http://${admin}/metrics answered ${res.status}`);
  const out: MetricsScrape = new Map();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

/** `after[i] - before[i]` per series, summed over i (one scrape per broker). */
export function metricsDelta(
  before: readonly MetricsScrape[],
  after: readonly MetricsScrape[],
): MetricsDelta {
  const out: MetricsDelta = new Map();
  after.forEach((scrapeAfter, i) => {
    for (const [k, v] of scrapeAfter) out.set(k, (out.get(k) ?? 0) + v - (before[i]?.get(k) ?? 0));
  });
  return out;
}

/**
 * The upper bound (seconds) of the `barge_pointer_publish_seconds` bucket holding quantile `q`
 * of the publish calls in `d` (bucket bounds, not interpolated); NaN without calls.
 */
export function publishQuantile(d: MetricsDelta, q: number): number {
  const prefix = 'barge_pointer_publish_seconds_bucket{le="';
  const buckets = [...d.entries()]
    .filter(([k]) => k.startsWith(prefix))
    .map(([k, count]) => ({ le: Number(k.slice(prefix.length, k.indexOf('"', prefix.length))), count }))
    .sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return Number.NaN;
  return buckets.find((b) => b.count >= q * total)?.le ?? Number.POSITIVE_INFINITY;
}

/** The sum of every series of metric `name` in `d` (all label values). */
export function total(d: MetricsDelta, name: string): number {
  let sum = 0;
  for (const [k, v] of d) if (k === name || k.startsWith(`${name}{`)) sum += v;
  return sum;
}
