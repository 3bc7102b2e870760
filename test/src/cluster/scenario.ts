import type { TestContext } from 'node:test';
import { type Progress, reportLine } from '../faults/loss-checker.js';
import { waitFor } from '../harness.js';
import { assertClean, auditBatches, auditLine } from './batch-audit.js';
import { type ClusterOptions, TestCluster } from './cluster-harness.js';
import { ClusterStream } from './cluster-stream.js';

/** Waits until `n` messages were acked durable in total. */
export function acks(progress: Progress, n: number, timeoutMs = 60_000): Promise<boolean> {
  return waitFor(
    `${n} durable acks (now ${progress.ackedCount})`,
    () => progress.ackedCount >= n,
    timeoutMs,
    20,
  );
}

/**
 * Starts a cluster with one topic, runs `scenario` beside a stream to it (production stops when
 * the scenario returns), then reads everything back, audits the batch sequences, reports the
 * numbers with `t.diagnostic` and asserts `assertClean`. On failure the brokers' logs are saved
 * to a directory the output names.
 */
export async function withCluster(
  t: TestContext,
  options: ClusterOptions,
  scenario: (cluster: TestCluster, stream: ClusterStream, progress: Progress) => Promise<void>,
): Promise<void> {
  const [topic] = options.topics;
  if (!topic || options.topics.length !== 1) throw new Error('withCluster streams to exactly one topic');
  const cluster = await TestCluster.start(options);
  try {
    const stream = new ClusterStream(cluster, topic);
    await stream.connect();
    const started = Date.now();
    try {
      await stream.run((progress) => scenario(cluster, stream, progress));
    } finally {
      await stream.disconnect();
    }
    const report = await stream.check();
    const audit = await auditBatches(cluster, topic.name);
    t.diagnostic(reportLine(t.name.split(':')[0] ?? t.name, report, Date.now() - started).trim());
    t.diagnostic(auditLine(audit));
    if (report.failedSends > 0) t.diagnostic(`send errors: ${stream.sendErrors()}`);
    assertClean(report, audit);
  } catch (e) {
    t.diagnostic(`broker logs: ${await cluster.saveLogs()}`);
    throw e;
  } finally {
    await cluster.close();
  }
}
