import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BrokerProcess, runCli, startBroker, tempDir } from '../harness.js';

describe('barge inspect --topic T --latest', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let broker: BrokerProcess;
  let data: string;
  const inspect = (args: string[]) => runCli(['inspect', ...args, '--data', data]);

  before(async () => {
    dir = await tempDir('barge-inspect-');
    data = join(dir.path, 'data');
    broker = await startBroker(['--data', data]);
    const b = ['--broker', broker.address];
    const created = await runCli(['topics', 'create', 'three', '--partitions', '3', ...b]);
    assert.equal(created.code, 0, created.stderr);
    // Three batches, one after the other: the last one holds "gamma", wherever it landed.
    for (const value of ['alpha', 'beta', 'gamma']) {
      const produced = await runCli(['produce', '--topic', 'three', ...b], { stdin: `${value}\n` });
      assert.equal(produced.code, 0, produced.stderr);
      await new Promise((r) => setTimeout(r, 20));
    }
  });
  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });

  /** The newest object file of each write partition that has one: `topics/three/<wp>/<name>`. */
  async function lastKeyPerPartition(): Promise<Map<number, string>> {
    const topicDir = join(data, 'objects', 'topics', 'three');
    const last = new Map<number, string>();
    for (const wp of await readdir(topicDir)) {
      const names = (await readdir(join(topicDir, wp))).filter((n) => !n.startsWith('.')).sort();
      const name = names.at(-1);
      if (name !== undefined) last.set(Number(wp), `topics/three/${wp}/${name}`);
    }
    return last;
  }

  it('decodes the most recently stored batch object of the topic and names its key', async () => {
    const r = await inspect(['--topic', 'three', '--latest', '--messages']);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout.toString();
    const key = /^object (topics\/three\/(\d)\/\S+)\n/.exec(out);
    assert.ok(key, out);
    assert.ok([...(await lastKeyPerPartition()).values()].includes(key[1] as string));
    assert.match(out, new RegExp(`batch format v1: topic three, write partition ${key[2]}, sequence \\d+`));
    assert.match(out, /value="gamma"/);
    assert.doesNotMatch(out, /value="(alpha|beta)"/);
  });

  it('--partition picks the newest object of that write partition; --json carries the key', async () => {
    for (const [wp, key] of await lastKeyPerPartition()) {
      const r = await inspect(['--topic', 'three', '--latest', '--partition', String(wp), '--json']);
      assert.equal(r.code, 0, r.stderr);
      const parsed = JSON.parse(r.stdout.toString()) as { key: string; header: { writePartition: number } };
      assert.equal(parsed.key, key);
      assert.equal(parsed.header.writePartition, wp);
    }
  });

  it('says so when there is nothing to inspect, and rejects incomplete or conflicting targets with exit code 2', async () => {
    const none = await inspect(['--topic', 'nothing', '--latest']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no batch objects for topic nothing in local storage/);
    const emptyPartition = await inspect(['--topic', 'three', '--latest', '--partition', '7']);
    assert.equal(emptyPartition.code, 1);
    assert.match(emptyPartition.stderr, /no batch objects for write partition 7 of topic three/);
    const usage: [string[], RegExp][] = [
      [[], /name a batch object file or key, or use --topic <name> --latest/],
      [['--latest'], /--latest and --partition need --topic/],
      [['--topic', 'three'], /--topic needs --latest/],
      [['some-file', '--topic', 'three', '--latest'], /either some-file or --topic, not both/],
      [['--topic', 'three', '--latest', '--partition', '-1'], /--partition must be an integer >= 0/],
    ];
    for (const [args, message] of usage) {
      const r = await inspect(args);
      assert.equal(r.code, 2, `inspect ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });

  it('still decodes a file named on the command line', async () => {
    const [key] = (await lastKeyPerPartition()).values();
    const r = await inspect([join(data, 'objects', key as string)]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /^batch format v1: topic three/);
  });
});
