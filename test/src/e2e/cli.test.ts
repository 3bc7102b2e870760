import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BrokerProcess, freePort, runCli, spawnCli, startBroker, tempDir, waitFor } from '../harness.js';

const lines = (b: Buffer) => {
  const s = b.toString();
  return s === '' ? [] : s.replace(/\n$/, '').split('\n');
};

describe('barge CLI against a broker process on the embedded default', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let broker: BrokerProcess;
  let b: string[];

  before(async () => {
    dir = await tempDir();
    broker = await startBroker(['--data', join(dir.path, 'data')]);
    b = ['--broker', broker.address];
  });
  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });

  it('runs the README quick start as written', async () => {
    const created = await runCli([
      'topics',
      'create',
      'logs',
      '--partitions',
      '2',
      '--read-partitions',
      '2',
      ...b,
    ]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout.toString(), /^created logs writePartitions=2 readPartitions=2/);
    const produced = await runCli(['produce', '--topic', 'logs', ...b], { stdin: 'hello\nworld\n' });
    assert.equal(produced.code, 0, produced.stderr);
    assert.match(produced.stderr, /produced 2 messages to logs \(acks=durable\)/);
    const consumed = await runCli([
      'consume',
      '--topic',
      'logs',
      '--group',
      'readers',
      '--from-beginning',
      '--max-messages',
      '2',
      ...b,
    ]);
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.deepEqual(lines(consumed.stdout).sort(), ['hello', 'world']);
    const described = await runCli(['topics', 'describe', 'logs', ...b]);
    assert.equal(described.code, 0, described.stderr);
    assert.match(described.stdout.toString(), /read partition 0: offsets 0\.\.\d+/);
    const listed = await runCli(['topics', 'list', '--json', ...b]);
    assert.deepEqual(
      (JSON.parse(listed.stdout.toString()) as { name: string }[]).map((t) => t.name),
      ['logs'],
    );
    // inspect decodes a stored object file.
    const topicDir = join(dir.path, 'data', 'objects', 'topics', 'logs');
    const partitions = await readdir(topicDir);
    const first = partitions[0] as string;
    const objects = await readdir(join(topicDir, first));
    const inspected = await runCli(['inspect', join(topicDir, first, objects[0] as string), '--messages']);
    assert.equal(inspected.code, 0, inspected.stderr);
    assert.match(
      inspected.stdout.toString(),
      /batch format v1: topic logs, write partition \d, sequence \d+/,
    );
    assert.match(inspected.stdout.toString(), /value="(hello|world)"/);
  });

  it('keeps exact bytes: empty lines, carriage returns, tabs and UTF-8 survive the round trip', async () => {
    await runCli(['topics', 'create', 'bytes', ...b]);
    const input = 'plain\n\n\r\n\ttab\nünïcødé ✓\nno-newline-at-end';
    const produced = await runCli(['produce', '--topic', 'bytes', '--key', 'k', '--acks', 'received', ...b], {
      stdin: input,
    });
    assert.equal(produced.code, 0, produced.stderr);
    // acks=received returns before the batch is durable: wait until the consumer sees them all.
    let out: Buffer = Buffer.alloc(0);
    await waitFor('6 messages', async () => {
      const r = await runCli(
        ['consume', '--topic', 'bytes', '--from-beginning', '--max-messages', '6', ...b],
        { timeoutMs: 20_000 },
      ).catch(() => undefined);
      if (r?.code === 0) out = r.stdout;
      return r?.code === 0;
    });
    // One key: one write partition, so the order is the input order.
    assert.equal(out.toString(), `${input}\n`);
  });

  it('consume --max-messages commits exactly what it printed, so the group continues where it stopped', async () => {
    await runCli(['topics', 'create', 'numbers', '--partitions', '3', '--read-partitions', '2', ...b]);
    const file = join(dir.path, 'numbers.txt');
    const all = Array.from({ length: 1000 }, (_, i) => `line-${i}`);
    await writeFile(file, `${all.join('\n')}\n`);
    const produced = await runCli(['produce', '--topic', 'numbers', ...b, file]);
    assert.equal(produced.code, 0, produced.stderr);
    const seen: string[] = [];
    for (const n of [1, 299, 300, 400]) {
      const r = await runCli([
        'consume',
        '--topic',
        'numbers',
        '--group',
        'g',
        '--from-beginning',
        '--max-messages',
        String(n),
        ...b,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const got = lines(r.stdout);
      assert.equal(got.length, n);
      seen.push(...got);
    }
    assert.equal(new Set(seen).size, 1000, 'no message printed twice across the four runs');
    assert.deepEqual([...seen].sort(), [...all].sort());
  });

  it('a consumer killed mid-stream is resumed from its committed offset by the next member (at least once)', async () => {
    await runCli(['topics', 'create', 'killed', '--partitions', '2', '--read-partitions', '2', ...b]);
    const all = Array.from({ length: 3000 }, (_, i) => `m${i}`);
    const produced = await runCli(['produce', '--topic', 'killed', ...b], { stdin: `${all.join('\n')}\n` });
    assert.equal(produced.code, 0, produced.stderr);
    const first = spawnCli(['consume', '--topic', 'killed', '--group', 'k', '--from-beginning', ...b]);
    await waitFor('the first consumer to print 1500 lines', () => lines(first.stdout()).length >= 1500);
    // Let a commit land (the CLI commits at least every second), then kill it without warning.
    await new Promise((r) => setTimeout(r, 1500));
    first.child.kill('SIGKILL');
    await first.exited;
    const firstLines = lines(first.stdout());
    const second = await runCli(
      ['consume', '--topic', 'killed', '--group', 'k', '--max-messages', String(3000 - 1000), ...b],
      {
        timeoutMs: 60_000,
      },
    ).catch((e: Error) => ({ code: -1, stdout: Buffer.alloc(0), stderr: e.message }));
    const secondLines = lines(second.stdout);
    const union = new Set([...firstLines, ...secondLines]);
    // The second member started at the commit, not at the beginning...
    assert.ok(
      !secondLines.includes('m0') || firstLines.length < 1000,
      'restarted from the beginning instead of the commit',
    );
    // ...and nothing is lost once it has read up to the end.
    if (union.size < 3000) {
      const third = await runCli([
        'consume',
        '--topic',
        'killed',
        '--group',
        'k',
        '--max-messages',
        String(3000 - union.size),
        ...b,
      ]);
      for (const l of lines(third.stdout)) union.add(l);
    }
    assert.equal(union.size, 3000);
  });

  it('reports bad flags and an unreachable broker in one line with a non-zero exit', async () => {
    const port = await freePort();
    const cases: [string[], RegExp][] = [
      [
        ['produce', '--topic', 't', '--acks', 'sometimes', ...b],
        /--acks must be one of none, received, durable/,
      ],
      [
        ['consume', '--topic', 't', '--max-messages', 'many', ...b],
        /--max-messages must be a positive integer/,
      ],
      [['consume', '--topic', 't', '--from-time', 'yesterday', ...b], /--from-time must be an ISO 8601 time/],
      [['topics', 'create', 'x', '--broker', 'nohost'], /--broker must be HOST:PORT/],
      [['topics', 'list', '--broker', `127.0.0.1:${port}`], new RegExp(`127\\.0\\.0\\.1:${port}`)],
      [
        ['produce', '--topic', 'logs', '--broker', `127.0.0.1:${port}`],
        /ECONNREFUSED|cannot (connect|reach)/,
      ],
      [['produce', '--topic', 't', '/no/such/file', ...b], /cannot read \/no\/such\/file/],
      [['topics', 'create', 'bad name', ...b], /topic|name/i],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['produce', '--topic', 't', '--nope', ...b], /unknown option '--nope'/],
    ];
    for (const [args, pattern] of cases) {
      const r = await runCli(args, { stdin: 'x\n', timeoutMs: 30_000 });
      assert.notEqual(r.code, 0, `barge ${args.join(' ')} should fail`);
      assert.match(r.stderr, pattern, `barge ${args.join(' ')}`);
      const meaningful = r.stderr
        .split('\n')
        .filter((l) => l.trim() !== '' && !l.startsWith('(run with --help'));
      assert.equal(meaningful.length, 1, `one line expected from barge ${args.join(' ')}, got:\n${r.stderr}`);
    }
  });

  it('prints --help for every subcommand', async () => {
    for (const cmd of [
      [],
      ['broker'],
      ['topics'],
      ['topics', 'create'],
      ['topics', 'list'],
      ['topics', 'describe'],
      ['produce'],
      ['consume'],
      ['inspect'],
    ]) {
      const r = await runCli([...cmd, '--help']);
      assert.equal(r.code, 0, `barge ${cmd.join(' ')} --help`);
      assert.match(r.stdout.toString(), /Usage: barge/);
    }
  });
});
