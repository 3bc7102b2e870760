import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { buildGoClient, goMissing } from '../go-kafka-client.js';
import { type BrokerProcess, freePort, startBroker, tempDir } from '../harness.js';
import { checkProducedAndConsumed } from '../kafka-client-lines.js';

/**
 * franz-go (a third Kafka client, in Go; test/kafka-clients/franz) against the broker's Kafka
 * listener, with the broker as its own process: its default idempotent producer writes keyed
 * records to a three-partition topic, then a consumer group reads them all back.
 */

const run = promisify(execFile);
const TOPIC = 'clicks';
const RECORDS = 300;
const skip = goMissing();

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
    checkProducedAndConsumed(stdout, RECORDS);
  });
});
