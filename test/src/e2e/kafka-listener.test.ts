import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { type BrokerProcess, freePort, runCli, startBroker, tempDir } from '../harness.js';
import { javaTool, kafkaLibs } from '../java-kafka-tools.js';

/**
 * The broker's Kafka-protocol listener against real Kafka clients, with the broker as its own
 * process (local storage, embedded pointer queue): kafkajs and Kafka's own Java console tools
 * produce and consume Barge topics, Barge and Kafka clients read each other's messages, and
 * offsets and group commits survive a broker restart.
 */

const TOPIC = 'orders';

describe('Kafka-protocol listener with real Kafka clients', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let config: string;
  let broker: BrokerProcess | undefined;
  let bootstrap: string;
  let admin: string;
  let kafka: Kafka;

  const start = async () => {
    broker = await startBroker(['--config', config, '--admin', admin]);
  };

  before(async () => {
    dir = await tempDir('barge-e2e-kafka-listener-');
    bootstrap = `127.0.0.1:${await freePort()}`;
    admin = `127.0.0.1:${await freePort()}`;
    config = join(dir.path, 'barge.yaml');
    await writeFile(
      config,
      [
        `broker: { dataDir: ${JSON.stringify(join(dir.path, 'data'))} }`,
        `kafka: { listen: "${bootstrap}", groupInitialRebalanceDelayMs: 100 }`,
        'topics:',
        `  - { name: ${TOPIC}, writePartitions: 2, readPartitions: 2, batch: { maxDelayMs: 5 } }`,
        '',
      ].join('\n'),
    );
    await start();
    kafka = new Kafka({ brokers: [bootstrap], clientId: 'e2e', logLevel: logLevel.NOTHING });
  });

  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });

  it('kafkajs: an idempotent producer gets dense offsets; a Barge consumer reads keys, values and headers', async () => {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const first = await producer.send({
      topic: TOPIC,
      compression: CompressionTypes.GZIP,
      messages: [
        { key: 'k1', value: 'v1', headers: { h: 'x' }, partition: 0 },
        { key: 'k2', value: 'v2', partition: 0 },
      ],
    });
    const second = await producer.send({ topic: TOPIC, messages: [{ value: 'v3', partition: 0 }] });
    await producer.disconnect();
    assert.deepEqual(
      [first[0]?.baseOffset, second[0]?.baseOffset],
      ['0', '2'],
      'offsets are dense: 2 messages, then the next batch at 2',
    );
    const read = await runCli(
      [
        'consume',
        '--topic',
        TOPIC,
        '--broker',
        broker!.address,
        '--partition',
        '0',
        '--from-beginning',
        '--max-messages',
        '3',
        '--format',
        'json',
      ],
      { timeoutMs: 60_000 },
    );
    assert.equal(read.code, 0, read.stderr);
    const lines = read.stdout
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { key: string | null; value: string; headers: unknown });
    assert.deepEqual(
      lines.map((l) => [l.key, l.value]),
      [
        ['k1', 'v1'],
        ['k2', 'v2'],
        [null, 'v3'],
      ],
    );
    assert.match(JSON.stringify(lines[0]!.headers), /"h"/);
  });

  it('Barge-produced messages reach a kafkajs consumer group, which commits; Metadata and ListOffsets agree', async () => {
    const produced = await runCli(
      ['produce', '--topic', TOPIC, '--broker', broker!.address, '--partition', '1'],
      {
        stdin: 'b1\nb2\nb3\n',
      },
    );
    assert.equal(produced.code, 0, produced.stderr);
    const admin = kafka.admin();
    await admin.connect();
    const meta = await admin.fetchTopicMetadata({ topics: [TOPIC] });
    assert.equal(meta.topics[0]?.partitions.length, 2);
    const offsets = await admin.fetchTopicOffsets(TOPIC);
    assert.deepEqual(offsets.map((o) => [o.partition, o.low, o.high]).sort(), [
      [0, '0', '3'],
      [1, '0', '3'],
    ]);
    const consumer = kafka.consumer({ groupId: 'g-kafkajs', heartbeatInterval: 500 });
    await consumer.connect();
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    const seen: string[] = [];
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          seen.push(`${partition}/${message.offset}=${message.value?.toString()}`);
          if (seen.length === 6) resolve();
        },
      });
    });
    await consumer.disconnect();
    assert.deepEqual(seen.sort(), ['0/0=v1', '0/1=v2', '0/2=v3', '1/0=b1', '1/1=b2', '1/2=b3']);
    const committed = await admin.fetchOffsets({ groupId: 'g-kafkajs', topics: [TOPIC] });
    assert.deepEqual(committed[0]?.partitions.map((p) => [p.partition, p.offset]).sort(), [
      [0, '3'],
      [1, '3'],
    ]);
    await admin.disconnect();
  });

  it('after a broker restart, offsets continue and the group resumes where it committed', async () => {
    await broker!.stop();
    await start();
    const admin = kafka.admin();
    await admin.connect();
    const { groups } = await admin.listGroups();
    await admin.disconnect();
    assert.ok(
      groups.some((g) => g.groupId === 'g-kafkajs'),
      `a group known only by its committed offsets is listed after a restart: ${JSON.stringify(groups)}`,
    );
    const producer = kafka.producer();
    await producer.connect();
    const [r] = await producer.send({ topic: TOPIC, messages: [{ value: 'after-restart', partition: 0 }] });
    await producer.disconnect();
    assert.equal(r?.baseOffset, '3', 'the next offset after a restart follows the last one stored');
    const consumer = kafka.consumer({ groupId: 'g-kafkajs', heartbeatInterval: 500 });
    await consumer.connect();
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    const seen: string[] = [];
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          seen.push(`${partition}/${message.offset}=${message.value?.toString()}`);
          resolve();
        },
      });
    });
    await consumer.disconnect();
    assert.deepEqual(seen, ['0/3=after-restart'], 'only what came after the committed offsets');
  });

  it("Kafka's Java console producer (idempotent, lz4) and a Java consumer group", async (t) => {
    const libs = kafkaLibs();
    if (!libs) {
      t.skip('no Kafka jars in the services cache: run scripts/services.sh install kafka');
      return;
    }
    await javaTool(
      libs,
      'org.apache.kafka.tools.ConsoleProducer',
      [
        '--bootstrap-server',
        bootstrap,
        '--topic',
        TOPIC,
        '--property',
        'parse.key=true',
        '--property',
        'key.separator=:',
        '--producer-property',
        'compression.type=lz4',
      ],
      'a:j1\nb:j2\nc:j3\n',
    );
    const out = await javaTool(libs, 'org.apache.kafka.tools.consumer.ConsoleConsumer', [
      '--bootstrap-server',
      bootstrap,
      '--topic',
      TOPIC,
      '--group',
      'g-java',
      '--from-beginning',
      '--max-messages',
      '10',
      '--property',
      'print.key=true',
      '--property',
      'print.partition=true',
      '--property',
      'print.offset=true',
    ]);
    const rows = out
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('Partition:'));
    assert.equal(rows.length, 10, out);
    for (const v of ['j1', 'j2', 'j3', 'v1', 'b1', 'after-restart']) {
      assert.ok(
        rows.some((r) => r.endsWith(`\t${v}`)),
        `${v} was read: ${out}`,
      );
    }
    // Offsets per partition run 0, 1, 2, ... with no gap and no repeat.
    for (const p of ['0', '1']) {
      const offsets = rows
        .filter((r) => r.startsWith(`Partition:${p}\t`))
        .map((r) => Number(/Offset:(\d+)/.exec(r)?.[1]));
      assert.deepEqual(
        offsets,
        offsets.map((_, i) => i),
        `partition ${p}: ${out}`,
      );
    }
  });

  it('counts Kafka requests by API and open connections in /metrics', async () => {
    const text = await (await fetch(`http://${admin}/metrics`)).text();
    const produce = /^barge_kafka_requests_total\{api="Produce"\} (\d+)/m.exec(text);
    assert.ok(produce && Number(produce[1]) >= 1, `Produce requests counted:\n${text.slice(0, 2000)}`);
    assert.match(text, /^barge_kafka_requests_total\{api="JoinGroup"\} [1-9]/m);
    assert.match(text, /^barge_kafka_connections \d+/m);
  });
});
