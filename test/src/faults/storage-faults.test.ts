import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type FaultKind, type FaultPlan, type FaultProxy, startFaultProxy } from '@barge/testkit';
import { type BrokerProcess, freePort, startBroker, tempDir, waitFor } from '../harness.js';
import { freshBucket, s3Endpoint, s3Options, type TestBucket } from '../kafka-fixtures.js';
import { prng } from '../workload.js';
import { assertNoLoss, LossChecker, type Progress, reportLine } from './loss-checker.js';

const TOPIC = 'storage-faults';
const WRITE_PARTITIONS = 4;
/** An upper bound: production stops when the fault schedule ends. */
const MAX_IDS = 100_000;
const PHASE_MS = 3_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * S3 (the moto test server) behind the testkit fault proxy: phases of 5xx bursts, latency,
 * connection resets, truncated bodies (with a broker SIGKILL and a restart that must read its
 * metadata through them), a blackhole and a refused port, while a durable producer sends.
 */
describe('fault: storage errors and outages on S3 through the fault proxy', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let bucket: TestBucket;
  let proxy: FaultProxy | undefined;
  let proxyPort: number;
  let config: string;
  let listen: string;
  let broker: BrokerProcess | undefined;
  const faulted = new Map<FaultKind, number>();

  before(async () => {
    dir = await tempDir('barge-storage-faults-');
    bucket = await freshBucket('faults');
    proxyPort = await freePort();
    proxy = await startFaultProxy({ target: s3Endpoint(), port: proxyPort });
    listen = `127.0.0.1:${await freePort()}`;
    config = join(dir.path, 'barge.yaml');
    // Short SDK timeouts and attempts, so the broker's own retries meet every fault.
    const storage = {
      adapter: 's3',
      ...s3Options(bucket.name, {
        endpoint: proxy.url,
        maxAttempts: 2,
        requestTimeoutMs: 1500,
        connectionTimeoutMs: 1000,
      }),
    };
    await writeFile(
      config,
      [
        `broker: { dataDir: ${JSON.stringify(join(dir.path, 'data'))} }`,
        `storage: ${JSON.stringify(storage)}`,
        'upload: { backoffMaxMs: 1000 }',
        'topics:',
        `  - { name: ${TOPIC}, writePartitions: ${WRITE_PARTITIONS}, readPartitions: 2, batch: { maxBytes: 1MiB, maxDelayMs: 20 } }`,
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    await broker?.stop();
    await proxy?.close();
    await bucket?.remove();
    await dir?.remove();
  });

  /** Applies `plan` for a phase, then counts what the proxy faulted. */
  const phase = async (plan: FaultPlan, ms = PHASE_MS, meanwhile?: () => Promise<void>) => {
    proxy?.clearRequests();
    proxy?.setFaults(plan);
    await Promise.all([sleep(ms), meanwhile?.()]);
    proxy?.clearFaults();
    for (const r of proxy?.requests() ?? [])
      if (r.fault) faulted.set(r.fault, (faulted.get(r.fault) ?? 0) + 1);
  };

  it('loses no durable-acked message, and producers resume once the faults clear', async () => {
    const started = Date.now();
    broker = await startBroker(['--config', config, '--listen', listen]);
    const checker = new LossChecker(TOPIC, WRITE_PARTITIONS, MAX_IDS, {
      brokers: [listen],
      lingerMs: 2,
      requestTimeoutMs: 10_000,
      retry: { retries: 100, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    await checker.connect();
    const random = prng(42);
    const some = (share: number) => () => random() < share;
    let ackedBeforeFaults = 0;
    let ackedWhenCleared = 0;
    const schedule = async (progress: Progress) => {
      await waitFor('acks before the faults', () => progress.ackedCount >= 2_000, 60_000, 20);
      ackedBeforeFaults = progress.ackedCount;
      // 5xx bursts: 40% of requests answered 503 SlowDown or 500 InternalError.
      await phase([
        { match: some(0.25), fault: { kind: 'status', status: 503, body: 's3' } },
        { match: some(0.2), fault: { kind: 'status', status: 500, body: 's3' } },
      ]);
      // Latency: every request waits before it is forwarded or before its body.
      await phase([
        { match: some(0.5), fault: { kind: 'delay', ms: 400 } },
        { fault: { kind: 'delay', ms: 150, phase: 'body' } },
      ]);
      // Resets: before forwarding, and after S3 stored the object (the reply is lost).
      await phase([
        { match: some(0.2), fault: { kind: 'reset', phase: 'request' } },
        { match: some(0.2), fault: { kind: 'reset', phase: 'response' } },
      ]);
      // Truncated bodies and resets mid-body, with a SIGKILL: the restart reads its metadata
      // (topics, sequence leases) through cut responses.
      await phase(
        [
          { match: { method: 'GET' }, times: 3, fault: { kind: 'truncate', afterBytes: 8 } },
          { match: (r) => r.method === 'GET' && random() < 0.3, fault: { kind: 'truncate', afterBytes: 8 } },
          { match: some(0.2), fault: { kind: 'reset', phase: 'body', afterBytes: 4 } },
        ],
        PHASE_MS,
        async () => {
          await broker?.kill();
          broker = await startBroker(['--config', config, '--listen', listen]);
        },
      );
      // Outage: no answer at all (the SDK's request timeout fires), then a refused port.
      await phase({ fault: { kind: 'delay', ms: 10_000 } });
      await proxy?.close();
      await sleep(2_000);
      proxy = await startFaultProxy({ target: s3Endpoint(), port: proxyPort });
      ackedWhenCleared = progress.ackedCount;
      await waitFor(
        'acks after the faults',
        () => progress.ackedCount >= ackedWhenCleared + 2_000,
        90_000,
        20,
      );
    };
    await checker.produce({ from: 0, to: MAX_IDS, during: schedule, stopWithFaults: true });
    await checker.disconnect();
    assert.ok(checker.ackedCount >= ackedWhenCleared + 2_000, 'producers resumed once the faults cleared');
    for (const kind of ['status', 'delay', 'reset', 'truncate'] as const)
      assert.ok((faulted.get(kind) ?? 0) > 0, `the proxy applied ${kind} faults`);

    const report = await checker.check([listen], 'after-storage-faults');
    const faults = [...faulted].map(([k, n]) => `${k} ${n}`).join(', ');
    process.stderr.write(
      reportLine(
        'fault storage (S3 proxy)',
        report,
        Date.now() - started,
        `${ackedBeforeFaults} acked before the faults, ${ackedWhenCleared} when they cleared; requests faulted: ${faults}; 1 SIGKILL; send errors: ${[...checker.sendErrors.keys()].slice(0, 2).join(' | ')}`,
      ),
    );
    assertNoLoss(report);
  });
});
