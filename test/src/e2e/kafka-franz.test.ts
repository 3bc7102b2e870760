import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { buildGoClient, goMissing } from '../go-kafka-client.js';
import { type BrokerProcess, freePort, startBroker, tempDir } from '../harness.js';

/**
 * franz-go (a third Kafka client, in Go; test/kafka-clients/franz) against the broker's Kafka
 * listener, with the broker as its own process: its default idempotent producer writes keyed
 * records to a three-partition topic, then a consumer group reads them all back.
 */

const run = promisify(execFile);
const TOPIC = 'clicks';
const RECORDS = 300;
const skip = goMissing();

interface Line {
  op: 'produce' | 'consume';
  partition: number;
  offset: number;
  key: string;
  value: string;
}

describe('franz-go through the Kafka listener', { skip }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let bootstrap: string;
  let broker: BrokerProcess | undefined;
  let franz: string;

  before(async () => {
    franz = await buildGoClient('franz');
    dir = await tempDir('barge-e2e-kafka-franz-');
    bootstrap = `127.0.0.1:${await freePort()}`;
    const config = join(dir.path, 'barge.yaml');
    await writeFile(
      config,
      [
        `broker: { dataDir: ${JSON.stringify(join(dir.path, 'data'))} }`,
        `kafka: { listen: "${bootstrap}", groupInitialRebalanceDelayMs: 100 }`,
        'topics:',
        `  - { name: ${TOPIC}, writePartitions: 3, readPartitions: 3, batch: { maxDelayMs: 5 } }`,
        '',
      ].join('\n'),
    );
    broker = await startBroker(['--config', config]);
  });

  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });

  it('produces keyed records and reads every one back once with a group, at dense offsets', async () => {
    const { stdout } = await run(
      franz,
      [
        '-brokers',
        bootstrap,
        '-topic',
        TOPIC,
        '-group',
        'franz-readers',
        '-n',
        String(RECORDS),
        '-keys',
        '12',
      ],
      { timeout: 90_000, maxBuffer: 16 * 1024 * 1024 },
    );
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Line);
    const produced = lines.filter((l) => l.op === 'produce');
    const consumed = lines.filter((l) => l.op === 'consume');
    assert.equal(produced.length, RECORDS);
    assert.equal(consumed.length, RECORDS, 'every record consumed exactly once');

    const at = (l: Line) => `${l.partition}/${l.offset}`;
    const producedAt = new Map(produced.map((l) => [at(l), l]));
    assert.equal(producedAt.size, RECORDS, 'each record acknowledged at its own offset');
    for (const c of consumed) {
      const p = producedAt.get(at(c));
      assert.ok(p, `consumed ${at(c)} was never produced`);
      assert.deepEqual([c.key, c.value], [p.key, p.value], at(c));
    }

    const partitions = new Map<number, number[]>();
    for (const c of consumed) partitions.set(c.partition, [...(partitions.get(c.partition) ?? []), c.offset]);
    assert.ok(partitions.size > 1, 'keys spread over the partitions');
    for (const [p, offsets] of partitions) {
      assert.deepEqual(
        offsets,
        offsets.map((_, i) => i),
        `partition ${p}: offsets dense from 0, in order`,
      );
    }
    const partitionOfKey = new Map<string, number>();
    for (const p of produced) {
      assert.equal(
        partitionOfKey.get(p.key) ?? p.partition,
        p.partition,
        `key ${p.key} stays in one partition`,
      );
      partitionOfKey.set(p.key, p.partition);
    }
  });
});
