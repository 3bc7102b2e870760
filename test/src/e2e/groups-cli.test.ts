import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DescribeGroupResponse, GroupListing, ResetOffsetsResponse } from '@barge/core';
import { type BrokerProcess, runCli, spawnCli, startBroker, tempDir, waitFor } from '../harness.js';
import { deletePointerTopics, kafkaBrokers, kafkaQueueOptions, kafkaYaml, runId } from '../kafka-fixtures.js';

// `barge groups list|describe|reset-offsets` against a real `barge broker` process, once on the
// embedded pointer queue and once on Kafka: produce, consume with a group, see its committed
// offsets and lag, refuse a reset while a member runs, reset, and see the group read again.

const lines = (b: Buffer) => {
  const s = b.toString();
  return s === '' ? [] : s.replace(/\n$/, '').split('\n');
};

/** The CLI against one broker, failing the test with its stderr on an unexpected exit code. */
function cliFor(broker: () => BrokerProcess) {
  const run = async (args: string[], stdin?: string, expectCode = 0) => {
    const r = await runCli([...args, '--broker', broker().address], {
      ...(stdin === undefined ? {} : { stdin }),
      timeoutMs: 90_000,
    });
    assert.equal(r.code, expectCode, `barge ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
    return r;
  };
  return {
    run,
    /** One key, so every message goes to one write partition (and one read partition). */
    produce: (topic: string, values: string[]) =>
      run(['produce', '--topic', topic, '--key', 'k'], `${values.join('\n')}\n`),
    consume: async (topic: string, group: string, n: number) =>
      lines(
        (
          await run([
            'consume',
            '--topic',
            topic,
            '--group',
            group,
            '--from-beginning',
            '--max-messages',
            String(n),
          ])
        ).stdout,
      ),
    describe: async (group: string) =>
      JSON.parse(
        (await run(['groups', 'describe', group, '--format', 'json'])).stdout.toString(),
      ) as DescribeGroupResponse,
    list: async () =>
      JSON.parse((await run(['groups', 'list', '--format', 'json'])).stdout.toString()) as GroupListing[],
    reset: async (args: string[], expectCode = 0) =>
      run(['groups', 'reset-offsets', ...args, '--format', 'json'], undefined, expectCode),
  };
}

function totalLag(d: DescribeGroupResponse): number {
  return d.partitions.reduce((n, p) => n + (p.committed?.lag ?? 0), 0);
}

/** Every read partition with data has a commit whose lag is high − committed offset. */
function assertLagConsistent(d: DescribeGroupResponse, topic: string): void {
  for (const p of d.partitions) {
    assert.equal(p.topic, topic);
    if (p.high > 0) assert.ok(p.committed, `partition ${p.partition} has data and a commit`);
    if (p.committed)
      assert.equal(p.committed.lag, p.high - p.committed.offset, `lag of partition ${p.partition}`);
  }
}

function groupScenario(broker: () => BrokerProcess, name: string): void {
  it('describes committed offsets and lag, refuses a reset while a member runs, resets, and the group reads again', async () => {
    const cli = cliFor(broker);
    const topic = `gt-${name}`;
    const group = `gg-${name}`;
    await cli.run(['topics', 'create', topic, '--partitions', '2', '--read-partitions', '2']);
    const first = Array.from({ length: 10 }, (_, i) => `first-${i}`);
    await cli.produce(topic, first);
    assert.deepEqual(await cli.consume(topic, group, 10), first);

    const listed = (await cli.list()).find((g) => g.group === group);
    assert.deepEqual(listed, { group, status: 'empty', members: 0, topics: [topic] });
    const d1 = await cli.describe(group);
    assert.equal(d1.status, 'empty');
    assert.deepEqual(d1.members, []);
    assert.deepEqual(
      d1.partitions.map((p) => p.partition),
      [0, 1],
    );
    assertLagConsistent(d1, topic);

    const second = Array.from({ length: 5 }, (_, i) => `second-${i}`);
    await cli.produce(topic, second);
    const d2 = await cli.describe(group);
    assertLagConsistent(d2, topic);
    assert.ok(totalLag(d2) > totalLag(d1), `new pointers raise the lag (${totalLag(d1)} → ${totalLag(d2)})`);
    const table = (await cli.run(['groups', 'describe', group])).stdout.toString();
    assert.match(table, /^group .+: empty, 0 members, lag \d+ pointers, 5 messages$/m);
    assert.match(
      table,
      /^TOPIC\s+PARTITION\s+COMMITTED\s+LOG-START\s+LOG-END\s+LAG\s+LAG-MESSAGES\s+MEMBER$/m,
    );

    // A running member: it shows in describe with its assignment, and blocks a reset.
    const member = spawnCli(['consume', '--topic', topic, '--group', group, '--broker', broker().address]);
    try {
      await waitFor(
        'the running member to read the new messages',
        () => lines(member.stdout()).length >= 5,
        90_000,
      );
      assert.deepEqual(lines(member.stdout()), second);
      const busy = await waitFor(
        'the member in describe',
        async () => {
          const d = await cli.describe(group);
          return d.members.length === 1 && d.members[0]!.assignment.length > 0 && d;
        },
        30_000,
      );
      assert.deepEqual(busy.members[0]!.assignment, [{ topic, partitions: [0, 1] }]);
      const refused = await cli.reset(['--group', group, '--topic', topic, '--to-earliest', '--execute'], 1);
      assert.match(refused.stderr, /GROUP_NOT_EMPTY: .*stop its consumers first/);
      const withMember = (await cli.run(['groups', 'describe', group])).stdout.toString();
      assert.match(withMember, /^MEMBER\s+CLIENT-ID\s+HOST\s+ASSIGNMENT$/m);
      assert.ok(withMember.includes(busy.members[0]!.memberId), 'the member id is in the table');
    } finally {
      member.child.kill('SIGTERM');
      await member.exited;
    }
    const empty = await waitFor('the group to be empty', async () => {
      const d = await cli.describe(group);
      return d.members.length === 0 && d;
    });

    // Dry run: the plan, and nothing changes.
    const dry = await cli.reset(['--group', group, '--topic', topic, '--to-earliest']);
    assert.match(dry.stderr, /dry run: nothing changed; add --execute to apply/);
    const plan = JSON.parse(dry.stdout.toString()) as ResetOffsetsResponse & { executed: boolean };
    assert.equal(plan.executed, false);
    assert.deepEqual(
      plan.partitions.map((p) => [p.partition, p.offset]),
      empty.partitions.map((p) => [p.partition, p.low]),
    );
    assert.deepEqual((await cli.describe(group)).partitions, empty.partitions, 'a dry run changes nothing');

    // Execute: every partition back to its first pointer; the group reads everything again.
    await cli.reset(['--group', group, '--topic', topic, '--to-earliest', '--execute']);
    const reset = await cli.describe(group);
    for (const p of reset.partitions.filter((x) => x.high > 0)) {
      const { offset, messageIndex, lag } = p.committed ?? {};
      assert.deepEqual(
        { offset, messageIndex, lag },
        { offset: p.low, messageIndex: 0, lag: p.high - p.low },
      );
    }
    const messageLag = reset.partitions.reduce((n, p) => n + (p.committed?.messageLag ?? 0), 0);
    assert.equal(messageLag, 15, 'after a reset to the earliest, every message is behind');
    assert.deepEqual(await cli.consume(topic, group, 15), [...first, ...second]);

    // To a time: only what was produced after it is read again.
    await waitFor('the group to be empty', async () => (await cli.describe(group)).members.length === 0);
    const since = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    const third = ['third-0', 'third-1', 'third-2'];
    await cli.produce(topic, third);
    await cli.reset(['--group', group, '--topic', topic, '--to-datetime', since, '--execute']);
    assert.deepEqual(await cli.consume(topic, group, 3), third);
  });

  it('rejects bad reset flags and unknown groups with one line and a non-zero exit', async () => {
    const cli = cliFor(broker);
    const base = ['--group', `gg-${name}`, '--topic', `gt-${name}`];
    for (const [args, code, pattern] of [
      [base, 2, /exactly one of --to-earliest, --to-latest, --to-datetime, --to-offset/],
      [[...base, '--to-earliest', '--to-latest'], 2, /exactly one of/],
      [[...base, '--to-datetime', 'yesterday'], 2, /--to-datetime must be an ISO 8601 time/],
      [[...base, '--to-offset', '-1'], 2, /--to-offset must be an integer >= 0/],
      [[...base, '--to-earliest', '--partition', 'x'], 2, /--partition must be an integer >= 0/],
      [[...base, '--to-earliest', '--partition', '7'], 1, /INVALID_PARTITION/],
    ] as const) {
      const r = await cli.reset([...args], code);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    const unknown = await cli.run(['groups', 'describe', `nobody-${name}`], undefined, 1);
    assert.match(unknown.stderr, /UNKNOWN_GROUP/);
    const format = await cli.run(['groups', 'list', '--format', 'xml'], undefined, 2);
    assert.match(format.stderr, /--format must be table or json/);
  });
}

describe('barge groups against a broker process on the embedded pointer queue', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let broker: BrokerProcess;
  before(async () => {
    dir = await tempDir();
    broker = await startBroker(['--data', join(dir.path, 'data')]);
  });
  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });
  groupScenario(() => broker, 'embedded');
});

describe('barge groups against a broker process on Kafka pointers', () => {
  const RUN = runId();
  const brokers = kafkaBrokers();
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let broker: BrokerProcess;
  before(async () => {
    dir = await tempDir('barge-e2e-groups-kafka-');
    const config = join(dir.path, 'barge.yaml');
    const data = join(dir.path, 'data');
    await writeFile(
      config,
      [
        `broker: { id: 31, dataDir: ${JSON.stringify(data)} }`,
        'storage:',
        '  adapter: local',
        `  root: ${JSON.stringify(join(data, 'objects'))}`,
        ...kafkaYaml(brokers, RUN),
        '',
      ].join('\n'),
    );
    broker = await startBroker(['--config', config]);
  });
  after(async () => {
    await broker?.stop();
    await deletePointerTopics(brokers, kafkaQueueOptions(brokers, RUN).topicPrefix);
    await dir?.remove();
  });
  groupScenario(() => broker, 'kafka');
});
