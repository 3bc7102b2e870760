import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DescribeGroupResponse } from '@barge/core';
import { type BrokerProcess, freePort, runCli, startBroker, tempDir, waitFor } from '../harness.js';
import { deletePointerTopics, kafkaBrokers, kafkaQueueOptions, kafkaYaml, runId } from '../kafka-fixtures.js';

// Consumer lag (in pointers and in messages) and the operations metrics of issue 13, against a
// real `barge broker` process: once on the embedded pointer queue, once on Kafka. A group reads
// part of a topic; `barge groups describe` and /metrics show how far behind it is.

const TOPIC = 'lagged';
const GROUP = 'half-way';
/** Three produce runs of four messages: three batches, so three pointers on read partition 0. */
const RUNS = 3;
const PER_RUN = 4;
const CONSUMED = 5;

interface Started {
  broker: BrokerProcess;
  admin: string;
}

async function scrape(admin: string): Promise<string> {
  const res = await fetch(`http://${admin}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

/** The value of the series `name{labels}` (labels exactly as printed), undefined when absent. */
function value(text: string, name: string, labels = ''): number | undefined {
  const prefix = labels === '' ? `${name} ` : `${name}{${labels}} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

/**
 * Where the pointers land: one per offset, or (Kafka transactions, a clustered broker) each
 * followed by its commit marker, which takes an offset too.
 */
type Layout = 'plain' | 'transactions';

function lagScenario(
  start: () => Promise<Started>,
  pointers: 'embedded' | 'kafka',
  layout: Layout = 'plain',
): void {
  // Offsets per pointer, and the offset of the second pointer: the committed position after
  // the first pointer's 4 messages and 1 of the second's.
  const step = layout === 'transactions' ? 2 : 1;
  const high = RUNS * step;
  const committedOffset = step;
  let s: Started;
  before(async () => {
    s = await start();
  });
  after(async () => {
    await s?.broker.stop();
  });
  const cli = async (args: string[], stdin?: string) => {
    const r = await runCli([...args, '--broker', s.broker.address], {
      ...(stdin === undefined ? {} : { stdin }),
      timeoutMs: 90_000,
    });
    assert.equal(r.code, 0, `barge ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
    return r.stdout.toString();
  };

  it('a group that read part of a topic: lag in pointers and messages in groups describe and /metrics', async () => {
    const before = await scrape(s.admin);
    for (let run = 0; run < RUNS; run++) {
      const values = Array.from({ length: PER_RUN }, (_, i) => `m${run}-${i}`);
      await cli(['produce', '--topic', TOPIC, '--key', 'k'], `${values.join('\n')}\n`);
    }
    const consumed = await cli([
      'consume',
      ...['--topic', TOPIC, '--group', GROUP, '--from-beginning', '--max-messages', String(CONSUMED)],
    ]);
    assert.equal(consumed.trim().split('\n').length, CONSUMED);

    // groups describe --format json: the committed position is 1 pointer and 1 message in.
    const d = JSON.parse(
      await cli(['groups', 'describe', GROUP, '--format', 'json']),
    ) as DescribeGroupResponse;
    const p = d.partitions.find((x) => x.committed);
    assert.ok(p, JSON.stringify(d));
    assert.equal(p.high, high, `one pointer per produce run (${layout})`);
    // Pointer lag counts the commit markers still ahead; message lag only the messages.
    const lag = high - committedOffset;
    assert.deepEqual(p.committed, {
      offset: committedOffset,
      messageIndex: 1,
      lag,
      messageLag: RUNS * PER_RUN - CONSUMED,
    });
    const table = await cli(['groups', 'describe', GROUP]);
    assert.match(
      table,
      new RegExp(`^group half-way: empty, 0 members, lag ${lag} pointers, 7 messages$`, 'm'),
    );
    assert.match(
      table,
      /^TOPIC\s+PARTITION\s+COMMITTED\s+LOG-START\s+LOG-END\s+LAG\s+LAG-MESSAGES\s+MEMBER$/m,
    );
    const row = `^lagged\\s+0\\s+${committedOffset} \\(message 1\\)\\s+0\\s+${high}\\s+${lag}\\s+7\\s+-$`;
    assert.match(table, new RegExp(row, 'm'));

    // /metrics: the same lag, per group, topic and read partition (computed at most every 5 s:
    // the scrape before producing may still be the one served).
    const labels = `group="${GROUP}",topic="${TOPIC}",partition="${p.partition}"`;
    const after = await waitFor(
      'the lag in /metrics',
      async () => {
        const text = await scrape(s.admin);
        return value(text, 'barge_group_lag_pointers', labels) !== undefined && text;
      },
      15_000,
      500,
    );
    assert.equal(value(after, 'barge_group_lag_pointers', labels), lag);
    assert.equal(value(after, 'barge_group_lag_messages', labels), RUNS * PER_RUN - CONSUMED);

    // The other metrics of issue 13, with their labels; histogram counts moved with the traffic.
    const moved = (name: string, l = '') => (value(after, name, l) ?? 0) - (value(before, name, l) ?? 0);
    assert.match(
      after,
      new RegExp(
        `^barge_build_info\\{version="\\d+\\.\\d+\\.\\d+[^"]*",node_version="${process.version}",broker_id="\\d+",storage="local",pointers="${pointers}"\\} 1$`,
        'm',
      ),
    );
    assert.equal(moved('barge_batch_bytes_count'), RUNS);
    assert.equal(moved('barge_batch_messages_sum'), RUNS * PER_RUN);
    assert.equal(moved('barge_batch_messages_bucket', 'le="4"'), RUNS);
    assert.ok(moved('barge_chunk_bytes_count') >= RUNS);
    assert.ok(moved('barge_storage_put_seconds_count', 'adapter="local"') >= RUNS);
    assert.ok(moved('barge_pointer_queue_publish_seconds_count', `adapter="${pointers}"`) >= 1);
    assert.ok(
      moved('barge_read_proxy_seconds_count') >= 2,
      'the consumer read two batches through the broker',
    );
    assert.ok(moved('barge_read_proxy_bytes_sum') > 0);
    assert.ok(moved('barge_request_seconds_count', 'api="Produce"') >= RUNS);
    assert.ok(moved('barge_request_seconds_count', 'api="DescribeGroup"') >= 1);
    assert.ok(moved('barge_request_seconds_count', 'api="ReadObject"') >= 2);
    assert.equal(
      value(after, 'barge_request_seconds_bucket', 'le="+Inf",api="Produce"'),
      value(after, 'barge_request_seconds_count', 'api="Produce"'),
    );
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      assert.match(after, new RegExp(`^${name} \\d`, 'm'), name);
    }
    for (const [name, type] of [
      ['barge_retention_deleted_objects_total', 'counter'],
      ['barge_retention_deleted_bytes_total', 'counter'],
      ['barge_orphans_collected_objects_total', 'counter'],
      ['barge_orphans_collected_bytes_total', 'counter'],
      ['barge_orphan_objects', 'gauge'],
      ['barge_orphan_bytes', 'gauge'],
    ]) {
      assert.match(after, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), name);
    }
  });
}

describe('consumer lag and metrics: broker process on the embedded pointer queue', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  after(async () => {
    await dir?.remove();
  });
  lagScenario(async () => {
    dir = await tempDir('barge-e2e-lag-');
    const config = join(dir.path, 'barge.yaml');
    await writeFile(
      config,
      `topics:\n  - { name: ${TOPIC}, writePartitions: 1, readPartitions: 1, batch: { maxDelayMs: 10 } }\n`,
    );
    const admin = `127.0.0.1:${await freePort()}`;
    const broker = await startBroker(['--config', config, '--data', dir.path, '--admin', admin]);
    return { broker, admin };
  }, 'embedded');
});

/** A broker on the test Kafka with prefixes of its own; `transactions`: a one-broker cluster. */
function kafkaScenario(name: string, layout: Layout): void {
  const RUN = runId();
  const brokers = kafkaBrokers();
  let dir: Awaited<ReturnType<typeof tempDir>>;
  after(async () => {
    await deletePointerTopics(brokers, kafkaQueueOptions(brokers, RUN).topicPrefix);
    await dir?.remove();
  });
  lagScenario(
    async () => {
      dir = await tempDir(`barge-e2e-lag-${name}-`);
      const config = join(dir.path, 'barge.yaml');
      const data = join(dir.path, 'data');
      await writeFile(
        config,
        [
          `broker: { id: 41, dataDir: ${JSON.stringify(data)} }`,
          `topics:\n  - { name: ${TOPIC}, writePartitions: 1, readPartitions: 1, batch: { maxDelayMs: 10 } }`,
          'storage:',
          '  adapter: local',
          `  root: ${JSON.stringify(join(data, 'objects'))}`,
          ...kafkaYaml(brokers, RUN),
          ...(layout === 'transactions' ? [`cluster: { id: lag-${RUN}, sessionTimeoutMs: 6000 }`] : []),
          '',
        ].join('\n'),
      );
      const admin = `127.0.0.1:${await freePort()}`;
      const broker = await startBroker(['--config', config, '--admin', admin]);
      return { broker, admin };
    },
    'kafka',
    layout,
  );
}

describe('consumer lag and metrics: broker process on Kafka pointers', () => kafkaScenario('kafka', 'plain'));

describe('consumer lag and metrics: a clustered broker on Kafka (pointers in transactions)', () =>
  kafkaScenario('kafka-cluster', 'transactions'));
