import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type BrokerProcess,
  type CliRun,
  repoRoot,
  runCli,
  spawnCli,
  startBroker,
  tempDir,
  waitFor,
} from '../harness.js';

/** One object of `consume --format json`. */
interface JsonMessage {
  topic: string;
  partition: number;
  offset: number;
  messageIndex: number;
  writePartition: number;
  timestamp: number;
  key: string | null;
  headers: { name: string; value: string }[];
  value: string;
  encoding?: 'base64';
}

const lines = (b: Buffer) => {
  const s = b.toString();
  return s === '' ? [] : s.replace(/\n$/, '').split('\n');
};
const jsonLines = (b: Buffer) => lines(b).map((l) => JSON.parse(l) as JsonMessage);
const ok = (r: CliRun, what: string) => assert.equal(r.code, 0, `${what} failed:\n${r.stderr}`);
/** The one line a failing command prints, without commander's usage hint. */
const errorLines = (r: CliRun) =>
  r.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('(run with --help'));

describe('barge produce and consume at kcat level, against a broker process', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let broker: BrokerProcess;
  let b: string[];
  /** Everything stored in the topic, as `consume --format json` prints it, then exit. */
  const consumeAll = async (topic: string, extra: string[] = []) => {
    const r = await runCli(
      [
        'consume',
        '--topic',
        topic,
        '--offset',
        'earliest',
        '--exit-at-end',
        '--format',
        'json',
        ...extra,
        ...b,
      ],
      { timeoutMs: 30_000 },
    );
    ok(r, `consume ${topic}`);
    return jsonLines(r.stdout);
  };
  const create = async (topic: string, ...flags: string[]) =>
    ok(await runCli(['topics', 'create', topic, ...flags, ...b]), `create ${topic}`);

  before(async () => {
    dir = await tempDir();
    broker = await startBroker(['--data', join(dir.path, 'data')]);
    b = ['--broker', broker.address];
  });
  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });

  it('produce splits KEY SEP VALUE at the first separator, adds every --header, pins --partition; consume --format json says where each message is', async () => {
    await create('kv', '--partitions', '3', '--read-partitions', '3');
    const before = Date.now();
    const input = 'user-1::clicked\nno separator here\n::empty key\nk::v::with::more\n';
    const produced = await runCli(
      [
        'produce',
        '--topic',
        'kv',
        '-K',
        '::',
        '-H',
        'source=web',
        '--header',
        'empty=',
        '--partition',
        '2',
        ...b,
      ],
      { stdin: input },
    );
    ok(produced, 'produce');
    const got = await consumeAll('kv');
    assert.deepEqual(
      got.map((m) => [m.key, m.value]),
      [
        ['user-1', 'clicked'],
        [null, 'no separator here'],
        ['', 'empty key'],
        ['k', 'v::with::more'],
      ],
    );
    for (const [i, m] of got.entries()) {
      assert.equal(m.topic, 'kv');
      assert.equal(m.writePartition, 2);
      assert.equal(m.partition, 2, 'read partition = write partition % read partitions');
      assert.equal(m.offset, 0);
      assert.equal(m.messageIndex, i);
      assert.ok(m.timestamp >= before - 1000 && m.timestamp <= Date.now() + 1000, `timestamp ${m.timestamp}`);
      assert.deepEqual(m.headers, [
        { name: 'source', value: 'web' },
        { name: 'empty', value: '' },
      ]);
      assert.equal(m.encoding, undefined);
    }
    // consume -K prints KEY SEP VALUE (no key: empty).
    const kv = await runCli([
      'consume',
      '--topic',
      'kv',
      '--offset',
      'earliest',
      '--exit-at-end',
      '-K',
      '=',
      ...b,
    ]);
    ok(kv, 'consume -K');
    assert.deepEqual(lines(kv.stdout), [
      'user-1=clicked',
      '=no separator here',
      '=empty key',
      'k=v::with::more',
    ]);
  });

  it('JSON lines carry keys, headers, timestamps and base64 bytes exactly; consume --format json | produce --format json copies a topic', async () => {
    await create('src', '--partitions', '2', '--read-partitions', '2');
    await create('copy');
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const file = join(dir.path, 'messages.jsonl');
    await writeFile(
      file,
      [
        JSON.stringify({ key: 'a', value: 'text ✓', headers: { h: ['1', '2'], one: 'x' } }),
        '',
        JSON.stringify({
          key: Buffer.from([0xfe]).toString('base64'),
          value: binary.toString('base64'),
          headers: [{ name: 'bin', value: Buffer.from([0xff, 0]).toString('base64') }],
          encoding: 'base64',
        }),
        JSON.stringify({ key: null, value: '', timestamp: 1_700_000_000_000 }),
        '',
      ].join('\n'),
    );
    ok(await runCli(['produce', '--topic', 'src', '--format', 'json', file, ...b]), 'produce json');
    const check = (got: JsonMessage[]) => {
      assert.equal(got.length, 3);
      const text = got.find((m) => m.key === 'a');
      assert.equal(text?.value, 'text ✓');
      assert.deepEqual(text?.headers, [
        { name: 'h', value: '1' },
        { name: 'h', value: '2' },
        { name: 'one', value: 'x' },
      ]);
      const bin = got.find((m) => m.encoding === 'base64');
      assert.ok(bin, 'the binary message is printed base64');
      assert.deepEqual(Buffer.from(bin.value, 'base64'), binary);
      assert.deepEqual(Buffer.from(bin.key!, 'base64'), Buffer.from([0xfe]));
      assert.deepEqual(Buffer.from(bin.headers[0]!.value, 'base64'), Buffer.from([0xff, 0]));
      const empty = got.find((m) => m.key === null);
      assert.equal(empty?.value, '');
      assert.equal(empty?.timestamp, 1_700_000_000_000);
    };
    const fromSrc = await consumeAll('src');
    check(fromSrc);
    // The output of consume is the input of produce.
    const dump = await runCli([
      'consume',
      '--topic',
      'src',
      '--offset',
      'earliest',
      '--exit-at-end',
      '--format',
      'json',
      ...b,
    ]);
    ok(dump, 'consume src');
    ok(
      await runCli(['produce', '--topic', 'copy', '--format', 'json', ...b], { stdin: dump.stdout }),
      'produce copy',
    );
    const copied = await consumeAll('copy');
    check(copied);
    assert.ok(copied.every((m) => m.topic === 'copy' && m.partition === 0));
  });

  it('reads FILEs and stdin ("-") in the order given', async () => {
    await create('ordered');
    const a = join(dir.path, 'a.txt');
    const c = join(dir.path, 'c.txt');
    await writeFile(a, 'a1\na2\n');
    await writeFile(c, 'c1');
    ok(await runCli(['produce', '--topic', 'ordered', a, '-', c, ...b], { stdin: 's1\n' }), 'produce');
    assert.deepEqual(
      (await consumeAll('ordered')).map((m) => m.value),
      ['a1', 'a2', 's1', 'c1'],
    );
  });

  it('stops at an input line that does not parse (exit 2, naming the line) after producing the lines before it', async () => {
    await create('bad');
    const cases: [string, RegExp][] = [
      ['{"value":"ok-1"}\n{"vaule":"typo"}\n{"value":"never"}\n', /stdin line 2: unknown field "vaule"/],
      ['{"value":"ok-2"}\nnot json\n', /stdin line 2: not valid JSON/],
      [
        '{"value":"ok-3"}\n{"value":"%%%","encoding":"base64"}\n',
        /stdin line 2: "value" is not valid base64/,
      ],
      ['{"value":"ok-4"}\n{"value":1}\n', /stdin line 2: "value" must be a string/],
    ];
    for (const [stdin, pattern] of cases) {
      const r = await runCli(['produce', '--topic', 'bad', '--format', 'json', ...b], { stdin });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, pattern);
      assert.match(r.stderr, /1 message before it was produced/);
      assert.equal(errorLines(r).length, 1, r.stderr);
    }
    assert.deepEqual(
      (await consumeAll('bad')).map((m) => m.value),
      ['ok-1', 'ok-2', 'ok-3', 'ok-4'],
    );
  });

  it('rejects bad and conflicting flags in one line with exit code 2', async () => {
    await create('flags', '--partitions', '2', '--read-partitions', '2');
    const cases: [string[], RegExp][] = [
      [
        ['produce', '--topic', 'flags', '--format', 'json', '-K', ':'],
        /--key-separator are for --format value/,
      ],
      [['produce', '--topic', 'flags', '--key', 'k', '-K', ':'], /either --key .* or --key-separator/],
      [['produce', '--topic', 'flags', '--header', 'novalue'], /--header must be NAME=VALUE/],
      [['produce', '--topic', 'flags', '--format', 'xml'], /argument 'xml' is invalid/],
      [
        ['produce', '--topic', 'flags', '--partition', '2'],
        /--partition 2: topic flags has write partitions 0\.\.1/,
      ],
      [
        ['consume', '--topic', 'flags', '--partition', '0', '--group', 'g'],
        /cannot be used with option '--group/,
      ],
      [
        ['consume', '--topic', 'flags', '--offset', 'earliest', '--group', 'g'],
        /cannot be used with option '--group/,
      ],
      [['consume', '--topic', 'flags', '--offset', '3'], /--offset <n> needs --partition/],
      [['consume', '--topic', 'flags', '--offset', 'soon'], /--offset must be a pointer offset/],
      [
        ['consume', '--topic', 'flags', '--partition', '0', '--offset', '99'],
        /--offset 99 is outside read partition 0/,
      ],
      [
        ['consume', '--topic', 'flags', '--partition', '5'],
        /--partition 5: topic flags has read partitions 0\.\.1/,
      ],
      [
        ['consume', '--topic', 'flags', '--format', 'json', '-K', ':'],
        /--key-separator is for --format value/,
      ],
    ];
    for (const [args, pattern] of cases) {
      const r = await runCli([...args, ...b], { stdin: 'x\n', timeoutMs: 30_000 });
      assert.equal(r.code, 2, `barge ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern, `barge ${args.join(' ')}`);
      assert.equal(
        errorLines(r).length,
        1,
        `one line expected from barge ${args.join(' ')}, got:\n${r.stderr}`,
      );
    }
  });

  it('--exit-at-end stops once caught up: from the earliest, the latest, a future time, and as a group from its commit', async () => {
    await create('ends', '--partitions', '2', '--read-partitions', '2', '--max-messages', '50');
    const all = Array.from({ length: 500 }, (_, i) => `e${i}`);
    ok(await runCli(['produce', '--topic', 'ends', ...b], { stdin: `${all.join('\n')}\n` }), 'produce');
    const consume = (...flags: string[]) =>
      runCli(['consume', '--topic', 'ends', '--exit-at-end', ...flags, ...b], { timeoutMs: 30_000 });

    const earliest = await consume('--offset', 'earliest');
    ok(earliest, 'earliest');
    assert.deepEqual(lines(earliest.stdout).sort(), [...all].sort());
    const latest = await consume();
    ok(latest, 'latest');
    assert.deepEqual(lines(latest.stdout), []);
    const future = await consume('--from-time', '2100-01-01T00:00:00Z');
    ok(future, 'future');
    assert.deepEqual(lines(future.stdout), []);

    const first = await runCli([
      'consume',
      '--topic',
      'ends',
      '--group',
      'g',
      '--from-beginning',
      '--max-messages',
      '120',
      ...b,
    ]);
    ok(first, 'first 120');
    const rest = await consume('--group', 'g');
    ok(rest, 'the rest');
    assert.equal(lines(first.stdout).length + lines(rest.stdout).length, 500);
    assert.deepEqual([...lines(first.stdout), ...lines(rest.stdout)].sort(), [...all].sort());
    const again = await consume('--group', 'g');
    ok(again, 'again');
    assert.deepEqual(lines(again.stdout), [], 'the group committed everything it printed');
  });

  it('follows new messages by default, and stops cleanly at SIGINT, committing what it printed', async () => {
    await create('follow', '--partitions', '2', '--read-partitions', '2');
    const send = async (from: number, n: number) => {
      const batch = Array.from({ length: n }, (_, i) => `f${from + i}`);
      ok(await runCli(['produce', '--topic', 'follow', ...b], { stdin: `${batch.join('\n')}\n` }), 'produce');
    };
    await send(0, 10);
    const member = spawnCli(['consume', '--topic', 'follow', '--group', 'f', '--from-beginning', ...b]);
    const loner = spawnCli(['consume', '--topic', 'follow', '--offset', 'earliest', ...b]);
    await waitFor(
      'the first 10 messages',
      () => lines(member.stdout()).length >= 10 && lines(loner.stdout()).length >= 10,
    );
    await send(10, 10);
    await waitFor(
      '10 later messages',
      () => lines(member.stdout()).length >= 20 && lines(loner.stdout()).length >= 20,
    );
    await new Promise((r) => setTimeout(r, 1000)); // still following: nothing more, no exit
    assert.equal(member.child.exitCode, null);
    assert.equal(loner.child.exitCode, null);
    member.child.kill('SIGINT');
    loner.child.kill('SIGINT');
    assert.equal(await member.exited, 0, member.stderr());
    assert.equal(await loner.exited, 0, loner.stderr());
    assert.match(member.stderr(), /consumed 20 messages from follow/);
    const expected = Array.from({ length: 20 }, (_, i) => `f${i}`).sort();
    assert.deepEqual(lines(member.stdout()).sort(), expected);
    assert.deepEqual(lines(loner.stdout()).sort(), expected);
    const after = await runCli(['consume', '--topic', 'follow', '--group', 'f', '--exit-at-end', ...b]);
    ok(after, 'after');
    assert.deepEqual(lines(after.stdout), [], 'the member committed what it printed before exiting');
  });

  it('--partition and --offset read one read partition from a pointer offset', async () => {
    await create('sel', '--partitions', '2', '--read-partitions', '2');
    // Durable acks wait for the batch: each produce run stores its own batch (pointer).
    for (const [partition, value] of [
      ['0', 'p0-o0'],
      ['0', 'p0-o1'],
      ['0', 'p0-o2'],
      ['1', 'p1-o0'],
    ] as const) {
      ok(
        await runCli(['produce', '--topic', 'sel', '--partition', partition, ...b], { stdin: `${value}\n` }),
        value,
      );
    }
    const fromOne = await consumeAll('sel', ['--partition', '0', '--offset', '1']);
    assert.deepEqual(
      fromOne.map((m) => [m.partition, m.offset, m.value]),
      [
        [0, 1, 'p0-o1'],
        [0, 2, 'p0-o2'],
      ],
    );
    const other = await consumeAll('sel', ['--partition', '1']);
    assert.deepEqual(
      other.map((m) => m.value),
      ['p1-o0'],
    );
    const latest = await runCli([
      'consume',
      '--topic',
      'sel',
      '--partition',
      '0',
      '--offset',
      'latest',
      '--exit-at-end',
      ...b,
    ]);
    ok(latest, 'latest');
    assert.deepEqual(lines(latest.stdout), []);
  });

  /** A topic of 5 batches of 20 messages of 200 KB each (created once). */
  let bigTopic: Promise<void> | undefined;
  const big = () => {
    bigTopic ??= (async () => {
      await create('big', '--max-messages', '20');
      const value = 'x'.repeat(200_000);
      const input = Array.from({ length: 100 }, (_, i) => `${i}${value}`).join('\n');
      ok(await runCli(['produce', '--topic', 'big', ...b], { stdin: `${input}\n` }), 'produce');
    })();
    return bigTopic;
  };

  it('exits within seconds of its last message though the next batches are still being read', async () => {
    await big();
    for (const [n, group] of [
      [1, []],
      [21, ['--group', 'big-g']],
      [41, ['--group', 'big-h']],
    ] as const) {
      const started = Date.now();
      const r = await runCli(
        ['consume', '--topic', 'big', '--from-beginning', '--max-messages', String(n), ...group, ...b],
        { timeoutMs: 60_000 },
      );
      const ms = Date.now() - started;
      ok(r, `consume --max-messages ${n}`);
      assert.equal(lines(r.stdout).length, n);
      assert.ok(ms < 10_000, `consume --max-messages ${n} took ${ms} ms to exit`);
    }
  });

  it('waits for a slow reader of its output without piling up listeners (no warning on stderr)', async () => {
    await big();
    // 60 lines of 200 KB into a pipe: consume waits for 'drain' at almost every line.
    const r = await runCli(['consume', '--topic', 'big', '--from-beginning', '--max-messages', '60', ...b], {
      timeoutMs: 60_000,
    });
    ok(r, 'consume');
    assert.equal(lines(r.stdout).length, 60);
    assert.doesNotMatch(r.stderr, /Warning/, r.stderr);
  });

  it('lists the exit codes in `barge --help` and in packages/cli/README.md', async () => {
    const help = await runCli(['--help']);
    ok(help, 'help');
    const text = help.stdout.toString();
    assert.match(text, /Exit codes:/);
    const readme = await readFile(join(repoRoot, 'packages', 'cli', 'README.md'), 'utf8');
    for (const code of [0, 1, 2]) {
      assert.match(text, new RegExp(`^  ${code}  \\S`, 'm'), `exit code ${code} in --help`);
      assert.match(readme, new RegExp(`^\\| ${code} +\\|`, 'm'), `exit code ${code} in the README`);
    }
  });
});
