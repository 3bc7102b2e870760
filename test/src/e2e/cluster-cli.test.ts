import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TestCluster } from '../cluster/cluster-harness.js';
import { type BrokerProcess, freePort, runCli, startBroker, tempDir } from '../harness.js';

// `barge cluster describe` against real `barge broker` processes: the brokers, which one
// answered, and the owner of every write partition.

/** The JSON `barge cluster describe --json` prints (docs: packages/cli/README.md). */
interface ClusterView {
  clusterId: string | null;
  answeredBy: number;
  brokers: { brokerId: number; host: string; port: number; writePartitions: number; answered: boolean }[];
  topics: { name: string; writePartitions: number; owners: (number | null)[] }[];
  rebalancing: boolean;
}

async function describeCluster(args: string[], expectCode = 0) {
  const r = await runCli(['cluster', 'describe', ...args], { timeoutMs: 60_000 });
  assert.equal(r.code, expectCode, `barge cluster describe ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r;
}

async function describeJson(args: string[]): Promise<ClusterView> {
  return JSON.parse((await describeCluster([...args, '--json'])).stdout.toString()) as ClusterView;
}

describe('barge cluster describe: one broker without clustering', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let broker: BrokerProcess;
  let b: string[];

  before(async () => {
    dir = await tempDir('barge-e2e-cluster-cli-');
    broker = await startBroker(['--data', join(dir.path, 'data')]);
    b = ['--broker', broker.address];
    for (const [name, partitions] of [
      ['logs', '3'],
      ['events', '2'],
    ] as const) {
      const r = await runCli(['topics', 'create', name, '--partitions', partitions, ...b]);
      assert.equal(r.code, 0, r.stderr);
    }
  });
  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });

  it('lists the broker as the only one, owner of every write partition (JSON)', async () => {
    const [host, port] = broker.address.split(':') as [string, string];
    const v = await describeJson(b);
    v.topics.sort((x, y) => x.name.localeCompare(y.name));
    assert.deepEqual(v, {
      clusterId: null,
      answeredBy: 1,
      brokers: [{ brokerId: 1, host, port: Number(port), writePartitions: 5, answered: true }],
      topics: [
        { name: 'events', writePartitions: 2, owners: [1, 1] },
        { name: 'logs', writePartitions: 3, owners: [1, 1, 1] },
      ],
      rebalancing: false,
    });
  });

  it('prints the same as text, and --topic restricts it to one topic', async () => {
    const text = (await describeCluster(b)).stdout.toString();
    assert.match(text, /^cluster \(none\): 1 broker, 5 write partitions in 2 topics; answered by broker 1$/m);
    assert.match(text, new RegExp(`^1 +${broker.address.replaceAll('.', '\\.')} +5 +yes$`, 'm'));
    assert.match(text, /^logs +3 +1,1,1$/m);
    assert.match(text, /^events +2 +1,1$/m);
    assert.doesNotMatch(text, /rebalancing/);

    const one = await describeJson(['--topic', 'logs', ...b]);
    assert.deepEqual(one.topics, [{ name: 'logs', writePartitions: 3, owners: [1, 1, 1] }]);
    assert.equal(one.brokers[0]?.writePartitions, 3);
  });

  it('fails in one line with exit code 1 for an unknown topic and an unreachable broker', async () => {
    const port = await freePort();
    for (const [args, pattern] of [
      [['--topic', 'nope', ...b], /^barge: UNKNOWN_TOPIC: topic "nope" does not exist/],
      [
        ['--broker', `127.0.0.1:${port}`],
        new RegExp(`^barge: cannot connect to broker 127\\.0\\.0\\.1:${port}`),
      ],
    ] as const) {
      const r = await describeCluster([...args], 1);
      assert.equal(r.stdout.toString(), '');
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    }
  });
});

describe('barge cluster describe: two brokers in one cluster (S3 + Kafka)', () => {
  const topics = [
    { name: 'orders', writePartitions: 4, readPartitions: 2 },
    { name: 'audit', writePartitions: 2, readPartitions: 1 },
  ];
  let cluster: TestCluster;

  before(async () => {
    // Kafka's group.min.session.timeout.ms is 6000 by default.
    cluster = await TestCluster.start({ size: 2, topics, sessionTimeoutMs: 6000, logLevel: 'warn' });
  });
  after(async () => {
    await cluster?.close();
  });

  it('lists both brokers, and every write partition has an owner among them, whichever broker answers', async () => {
    const owners = await cluster.waitAssigned();
    const addresses = [cluster.address(1), cluster.address(2)];
    for (const [i, address] of addresses.entries()) {
      const v = await describeJson(['--broker', address]);
      assert.equal(v.clusterId, cluster.clusterId);
      assert.equal(v.answeredBy, i + 1);
      assert.equal(v.rebalancing, false);
      assert.deepEqual(
        v.brokers.map((b) => ({ id: b.brokerId, address: `${b.host}:${b.port}`, answered: b.answered })),
        [
          { id: 1, address: addresses[0], answered: i === 0 },
          { id: 2, address: addresses[1], answered: i === 1 },
        ],
      );
      const byName = new Map(v.topics.map((t) => [t.name, t]));
      for (const t of topics) {
        const listed = byName.get(t.name)?.owners ?? [];
        assert.equal(listed.length, t.writePartitions, `${t.name}: one owner per write partition`);
        for (const o of listed)
          assert.ok(o === 1 || o === 2, `${t.name}: owner ${o} is a broker of the cluster`);
        assert.deepEqual(listed, owners[t.name], `${t.name}: the owners broker ${i + 1} answers`);
      }
      const owned = v.brokers.map((b) => b.writePartitions);
      assert.equal(owned[0]! + owned[1]!, 6);
      assert.ok(
        owned.every((n) => n === 3),
        `6 write partitions spread evenly over 2 brokers: ${owned.join(' + ')}`,
      );
    }
    const text = (await describeCluster(['--broker', addresses[1]!, '--topic', 'orders'])).stdout.toString();
    assert.match(
      text,
      new RegExp(
        `^cluster ${cluster.clusterId}: 2 brokers, 4 write partitions in 1 topic; answered by broker 2$`,
        'm',
      ),
    );
    assert.match(text, /^orders +4 +[12],[12],[12],[12]$/m);
  });
});
