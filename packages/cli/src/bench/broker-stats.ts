import { MetricSums, parsePrometheusText } from './prometheus-text.js';

/** What the JSON summary's `broker` object holds: the broker's work over the run, from its /metrics. */
export interface BrokerStats {
  cpuSeconds: number;
  cpuSecondsPerGB: number;
  peakRssMiB: number;
  objectsWritten: number;
  bytesPerObject: number;
  storageRequests: number;
  storageRequestsPerGB: number;
}

const RSS_SAMPLE_MS = 500;
const SCRAPE_TIMEOUT_MS = 2000;
const MiB = 1024 * 1024;

/** Counters whose change over the run is reported. */
const CPU = 'process_cpu_seconds_total';
const RSS = 'process_resident_memory_bytes';
/** The broker process's peak RSS since it started (present on brokers that export it). */
const MAX_RSS = 'barge_process_max_resident_memory_bytes';
const UPLOADED = 'barge_batches_uploaded_total';
const UPLOAD_BYTES = 'barge_upload_bytes_total';
/** Storage calls: one put per object written, one get per read the read proxy serves. */
const STORAGE_CALLS = ['barge_storage_put_seconds_count', 'barge_read_proxy_seconds_count'];

async function scrape(base: string): Promise<MetricSums> {
  const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
  if (!res.ok) throw new Error(`GET ${base}/metrics: HTTP ${res.status}`);
  return new MetricSums(parsePrometheusText(await res.text()));
}

/**
 * Watches a broker through its admin endpoint: /metrics before the run, its RSS every 500 ms
 * during it, and /metrics after. The run's peak RSS is the broker's own lifetime peak
 * (`barge_process_max_resident_memory_bytes`) when that grew during the run (exact, between
 * samples too), else the largest sample (the lifetime peak was reached before the run).
 * `start` resolves to an error when the endpoint cannot be scraped: the summary then has no
 * broker figures.
 */
export class BrokerProbe {
  #before: MetricSums | undefined;
  #peakRss = 0;
  #timer: NodeJS.Timeout | undefined;

  private constructor(readonly admin: string) {}

  static async start(admin: string): Promise<BrokerProbe | { error: string }> {
    const probe = new BrokerProbe(admin);
    try {
      probe.#before = await scrape(admin);
    } catch (e) {
      return { error: `cannot read ${admin}/metrics (${(e as Error).message}); no broker figures` };
    }
    probe.#sample(probe.#before);
    probe.#timer = setInterval(() => {
      scrape(admin).then(
        (m) => probe.#sample(m),
        () => {},
      );
    }, RSS_SAMPLE_MS);
    probe.#timer.unref();
    return probe;
  }

  #sample(m: MetricSums): void {
    this.#peakRss = Math.max(this.#peakRss, m.get(RSS) ?? 0);
  }

  /** Stops sampling and computes the figures for `bytes` moved; null when the last scrape fails. */
  async stop(bytes: number): Promise<BrokerStats | null> {
    clearInterval(this.#timer);
    const before = this.#before!;
    let after: MetricSums;
    try {
      after = await scrape(this.admin);
    } catch {
      return null;
    }
    this.#sample(after);
    const delta = (name: string) => Math.max(0, (after.get(name) ?? 0) - (before.get(name) ?? 0));
    const gb = bytes / 1e9;
    const perGB = (x: number) => (gb > 0 ? x / gb : 0);
    const cpuSeconds = delta(CPU);
    const objectsWritten = delta(UPLOADED);
    const storageRequests = STORAGE_CALLS.reduce((sum, name) => sum + delta(name), 0);
    const maxBefore = before.get(MAX_RSS) ?? 0;
    const maxAfter = after.get(MAX_RSS) ?? 0;
    const peakRss = maxAfter > maxBefore ? Math.max(maxAfter, this.#peakRss) : this.#peakRss;
    return {
      cpuSeconds: round(cpuSeconds, 3),
      cpuSecondsPerGB: round(perGB(cpuSeconds), 3),
      peakRssMiB: round(peakRss / MiB, 1),
      objectsWritten,
      bytesPerObject: objectsWritten > 0 ? Math.round(delta(UPLOAD_BYTES) / objectsWritten) : 0,
      storageRequests,
      storageRequestsPerGB: round(perGB(storageRequests), 1),
    };
  }
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
