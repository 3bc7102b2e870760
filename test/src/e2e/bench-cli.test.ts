import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BenchSummary, Percentiles } from '@barge/cli';
import { type BrokerProcess, freePort, runCli, startBroker, tempDir } from '../harness.js';

/** The `barge bench --json` summary (the type the CLI writes). */
type Summary = BenchSummary;

function ordered(p: Percentiles | null, what: string): void {
  assert.ok(p, `${what} is missing`);
  assert.ok(p.p50 > 0, `${what} p50 ${p.p50}`);
  assert.ok(
    p.p50 <= p.p99 && p.p99 <= p.p999 && p.p999 <= p.max,
    `${what} out of order: ${JSON.stringify(p)}`,
  );
}

describe('barge bench against a broker process on the embedded default', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let broker: BrokerProcess;
  let flags: string[];

  before(async () => {
    dir = await tempDir('barge-bench-cli-');
    const admin = `127.0.0.1:${await freePort()}`;
    broker = await startBroker(['--data', join(dir.path, 'data'), '--admin', admin]);
    flags = ['--broker', broker.address, '--admin', `http://${admin}`, '--quiet'];
  });
  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });

  const bench = async (args: string[]): Promise<Summary> => {
    const run = await runCli(['bench', ...args, ...flags, '--json', '-'], { timeoutMs: 30_000 });
    assert.equal(run.code, 0, run.stderr);
    return JSON.parse(run.stdout.toString()) as Summary;
  };

  it('produce: counts, throughput, ack latency, broker figures, timeline, an SVG chart', async () => {
    const svg = join(dir.path, 'produce.svg');
    const s = await bench(['produce', '--topic', 'bench', '--count', '20000', '--size', '100', '--svg', svg]);
    assert.equal(s.kind, 'produce');
    assert.equal(s.topic, 'bench');
    assert.equal(s.messageBytes, 100);
    assert.equal(s.keyBytes, 0);
    assert.equal(s.messages, 20_000);
    assert.equal(s.bytes, 20_000 * 100);
    assert.ok(s.seconds > 0 && s.messagesPerSecond > 0 && s.mbPerSecond > 0, JSON.stringify(s));
    ordered(s.ackLatencyMs, 'ackLatencyMs');
    assert.equal(s.endToEndMs, null);
    assert.ok(s.broker, 'no broker figures: the admin endpoint was not scraped');
    assert.ok(s.broker.objectsWritten >= 1, `objectsWritten ${s.broker.objectsWritten}`);
    assert.ok(s.broker.bytesPerObject > 0);
    assert.ok(s.broker.storageRequests >= s.broker.objectsWritten);
    assert.ok(s.broker.cpuSeconds > 0, `cpuSeconds ${s.broker.cpuSeconds}`);
    assert.ok(s.broker.peakRssMiB > 10, `peakRssMiB ${s.broker.peakRssMiB}`);
    assert.ok(s.timeline.length > 0);
    assert.ok(s.timeline.every((p) => p.t > 0 && p.messagesPerSecond >= 0));
    assert.equal(s.settings.writePartitions, 4);
    assert.equal(s.settings.readPartitions, 4);
    assert.ok(!Number.isNaN(Date.parse(s.startedAt)));
    assert.equal(s.loadAverage.length, 3);
    const chart = await readFile(svg, 'utf8');
    assert.match(chart, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(chart, /<path d="M[\d.]+,[\d.]+/);
    assert.match(chart, /throughput \(MB\/s\)/);
    assert.match(chart, /<\/svg>\n$/);
  });

  it('consume reads back every message produced', async () => {
    const s = await bench(['consume', '--topic', 'bench', '--count', '20000']);
    assert.equal(s.kind, 'consume');
    assert.equal(s.messages, 20_000);
    assert.equal(s.bytes, 20_000 * 100);
    assert.equal(s.messageBytes, 100);
    assert.ok(s.mbPerSecond > 0);
    assert.equal(s.ackLatencyMs, null);
    assert.ok(s.broker && s.broker.storageRequests >= 1, JSON.stringify(s.broker));
  });

  it('consume --direct reads the batches from storage, not through the broker', async () => {
    const s = await bench([
      'consume',
      '--topic',
      'bench',
      '--count',
      '20000',
      '--direct',
      '--data',
      join(dir.path, 'data'),
    ]);
    assert.equal(s.messages, 20_000);
    assert.equal(s.settings.direct, true);
    assert.equal(s.broker?.storageRequests, 0);
  });

  it('e2e: each message of the run is consumed, with its end-to-end latency', async () => {
    const s = await bench([
      'e2e',
      '--topic',
      'bench-e2e',
      '--count',
      '5000',
      '--size',
      '256',
      '--key-size',
      '8',
    ]);
    assert.equal(s.kind, 'e2e');
    assert.equal(s.messages, 5000);
    assert.equal(s.bytes, 5000 * (256 + 8));
    ordered(s.ackLatencyMs, 'ackLatencyMs');
    ordered(s.endToEndMs, 'endToEndMs');
  });

  it('a bad flag value exits 2 naming the flag', async () => {
    const bad = await runCli(['bench', 'produce', '--topic', 'bench', '--size', '-3', ...flags]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--size/);
    const combined = await runCli([
      'bench',
      'produce',
      '--topic',
      'bench',
      '--count',
      '5',
      '--duration',
      '1',
    ]);
    assert.equal(combined.code, 2);
    assert.match(combined.stderr, /--count and --duration/);
  });
});
