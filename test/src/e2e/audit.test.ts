import assert from 'node:assert/strict';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Consumer, Producer, type ProducerOptions } from '@barge/client';
import { decodeBatchChunks } from '@barge/core';
import { type BrokerProcess, runCli, startBroker, tempDir, waitFor } from '../harness.js';

// Issue 13, loss audit: producers and consumers with `audit` on record what was acknowledged and
// what was handed to the application in the audit topic; `barge audit` compares them. Against a
// real `barge broker` process on the embedded default: a batch object deleted behind the broker's
// back is reported as lost with its producer id and exactly its sequence range (exit 3); without
// a deletion the report says 0 lost (exit 0); a long settle time calls the missing range in flight;
// audit records a producer could not send make the report say coverage INCOMPLETE (exit 4).

const FLUSH = { flushIntervalMs: 100 };

describe('barge audit (broker process, embedded default)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let broker: BrokerProcess;
  let data: string;
  before(async () => {
    dir = await tempDir('barge-e2e-audit-');
    data = join(dir.path, 'data');
    broker = await startBroker(['--data', data]);
  });
  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });

  const cli = async (args: string[], expectCode: number) => {
    const r = await runCli([...args, '--broker', broker.address], { timeoutMs: 90_000 });
    assert.equal(r.code, expectCode, `barge ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  const audit = (topic: string, group: string, extra: string[], expectCode: number) =>
    cli(['audit', '--topic', topic, '--group', group, '--since', '10m', ...extra], expectCode);

  /** Three sends of ten messages, each acknowledged before the next: three batch objects. */
  async function produceThree(topic: string, options: Partial<ProducerOptions> = {}): Promise<number> {
    await cli(['topics', 'create', topic, '--partitions', '1', '--read-partitions', '1'], 0);
    const producer = new Producer({ brokers: [broker.address], audit: FLUSH, ...options });
    try {
      for (const b of ['a', 'b', 'c']) {
        const messages = Array.from({ length: 10 }, (_, i) => ({ key: `${b}${i}`, value: `${b}-${i}` }));
        await producer.send({ topic, messages });
      }
    } finally {
      await producer.disconnect();
    }
    return producer.producerId;
  }

  /**
   * Reads `expected` messages with a group that skips missing data, audit on; then runs `meanwhile`
   * (if given) before disconnecting. Returns the values.
   */
  async function consume(
    topic: string,
    group: string,
    expected: number,
    skippedBatches = 0,
    meanwhile?: (values: readonly string[]) => Promise<void>,
  ): Promise<string[]> {
    const consumer = new Consumer({
      brokers: [broker.address],
      groupId: group,
      fromBeginning: true,
      onDamagedData: 'skip',
      audit: FLUSH,
    });
    const values: string[] = [];
    try {
      await consumer.connect();
      await consumer.subscribe({ topic });
      await consumer.run({
        eachMessage: async ({ message }) => {
          values.push(message.value.toString());
        },
      });
      await waitFor(
        `${expected} messages and ${skippedBatches} skipped batches`,
        () => values.length >= expected && consumer.skippedDamaged.batches >= skippedBatches,
        30_000,
      );
      await meanwhile?.(values);
    } finally {
      await consumer.disconnect();
    }
    return values;
  }

  async function objectFiles(topic: string): Promise<string[]> {
    const partitionDir = join(data, 'objects', 'topics', topic, '0');
    return (await readdir(partitionDir))
      .filter((f) => !f.endsWith('.tmp'))
      .sort()
      .map((f) => join(partitionDir, f));
  }

  it('a deleted batch object is reported lost with its producer and exactly its sequence range', async () => {
    const topic = 'audited-deleted';
    const producerId = await produceThree(topic);
    const files = await objectFiles(topic);
    assert.equal(files.length, 3, files.join(', '));
    // What the deleted object held, read from the object itself.
    const { chunks } = decodeBatchChunks(await readFile(files[1]!));
    const held = chunks.flatMap((c) => (c.ok ? c.messages : []));
    assert.deepEqual(
      [...new Set(held.map((m) => m.producerId))],
      [producerId],
      'the object holds the producer’s messages',
    );
    const first = Math.min(...held.map((m) => m.sequence));
    const last = Math.max(...held.map((m) => m.sequence));
    assert.deepEqual([first, last, held.length], [10, 19, 10]);
    await rm(files[1]!);

    const values = await consume(topic, 'readers', 20, 1);
    assert.deepEqual(values.length, 20);

    const text = await audit(topic, 'readers', ['--settle', '0s'], 3);
    const out = text.stdout.toString();
    assert.ok(
      out.includes(
        `lost: write partition 0, producer ${producerId}: sequences ${first}-${last} (10 messages)`,
      ),
      out,
    );
    assert.match(out, /coverage complete/);
    assert.match(out, /^LOSS: 10 messages lost$/m);

    const json = JSON.parse(
      (await audit(topic, 'readers', ['--settle', '0s', '--json'], 3)).stdout.toString(),
    );
    assert.equal(json.streams.length, 1);
    assert.equal(json.streams[0].producerId, producerId);
    assert.deepEqual(json.streams[0].lost, [{ first, last }]);
    assert.equal(json.streams[0].produced, 30);
    assert.equal(json.streams[0].consumed, 20);
    assert.deepEqual(json.streams[0].duplicated, []);
    assert.deepEqual(json.streams[0].mismatched, []);
    assert.equal(json.coverage.complete, true);
    assert.equal(json.exitCode, 3);

    // Acked within the settle time: in flight, not lost.
    const settling = JSON.parse(
      (await audit(topic, 'readers', ['--settle', '1h', '--json'], 0)).stdout.toString(),
    );
    assert.deepEqual(settling.streams[0].inFlight, [{ first, last }]);
    assert.deepEqual(settling.streams[0].lost, []);
    // Another group consumed nothing: everything is lost for it.
    const other = JSON.parse(
      (await audit(topic, 'nobody', ['--settle', '0s', '--json'], 3)).stdout.toString(),
    );
    assert.deepEqual(other.streams[0].lost, [{ first: 0, last: 29 }]);
  });

  it('without a deletion the report says 0 lost (the consumer still running)', async () => {
    const topic = 'audited-clean';
    const producerId = await produceThree(topic);
    // Audited while the consumer still runs, after a batch that arrived once it was idle: its
    // records are sent within its flush interval, with nothing delivered after them.
    let out = '';
    await consume(topic, 'readers', 30, 0, async (values) => {
      await new Promise((r) => setTimeout(r, 5 * FLUSH.flushIntervalMs));
      const late = new Producer({ brokers: [broker.address], audit: FLUSH });
      await late.send({ topic, messages: [{ value: 'late-0' }, { value: 'late-1' }] });
      await late.disconnect();
      await waitFor('the late batch', () => values.length >= 32);
      await new Promise((r) => setTimeout(r, 5 * FLUSH.flushIntervalMs));
      out = (await audit(topic, 'readers', ['--settle', '0s'], 0)).stdout.toString();
    });
    assert.match(
      out,
      /produced 32, consumed 32, lost 0, in flight 0, duplicated 0, mismatched 0, unaudited 0/,
    );
    assert.match(out, /^OK: 0 lost$/m);
    assert.match(out, new RegExp(`^0 +${producerId} +30 +30 +0 +0 +0 +0$`, 'm'));
    assert.match(out, /^0 +\d+ +2 +2 +0 +0 +0 +0$/m);
  });

  it('audit records a producer could not send make coverage incomplete, not loss', async () => {
    const topic = 'audited-dropping';
    // One pending record at most and a long flush interval: the 2nd and 3rd acks' records are dropped.
    await produceThree(topic, { audit: { flushIntervalMs: 60_000, maxPendingRecords: 1 } });
    await consume(topic, 'readers', 30);
    const r = await audit(topic, 'readers', ['--settle', '0s'], 4);
    const out = r.stdout.toString();
    assert.match(out, /coverage INCOMPLETE/);
    assert.match(out, /producer barge-producer \(emitter \S+\) is missing 2 audit records/);
    assert.match(out, /lost 0, in flight 0, duplicated 0, mismatched 0, unaudited 20/);
    assert.match(out, /^INCONCLUSIVE: no loss seen, but audit coverage is incomplete$/m);
  });

  it('no audit records for the topic is inconclusive', async () => {
    const r = await audit('never-audited', 'readers', [], 4);
    assert.match(r.stdout.toString(), /INCONCLUSIVE: no produce audit records for topic never-audited/);
  });
});
