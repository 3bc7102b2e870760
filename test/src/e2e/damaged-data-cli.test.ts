import assert from 'node:assert/strict';
import { open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BrokerProcess, runCli, startBroker, tempDir } from '../harness.js';

// Issue 10, finding 5: a damaged or missing stored object never stalls a group silently or for
// good. Against a real `barge broker` process on the embedded default: `barge consume` with the
// default `--on-damaged fail` exits non-zero naming the place and the command that moves past it;
// that exact `barge groups reset-offsets` command lets the group go on; `--on-damaged skip`
// reports the skip on stderr and delivers the rest; the broker logs the missing object.

const lines = (b: Buffer) => {
  const s = b.toString();
  return s === '' ? [] : s.replace(/\n$/, '').split('\n');
};

/** Flips the byte `from` bytes before the end of a file (inside the object's last chunk). */
async function flipByte(path: string, from = 3): Promise<void> {
  const f = await open(path, 'r+');
  try {
    const { size } = await f.stat();
    const b = Buffer.alloc(1);
    await f.read(b, 0, 1, size - from);
    b[0] = b[0]! ^ 0xff;
    await f.write(b, 0, 1, size - from);
  } finally {
    await f.close();
  }
}

describe('barge consume on damaged and missing objects (broker process, embedded default)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let broker: BrokerProcess;
  let data: string;
  before(async () => {
    dir = await tempDir('barge-e2e-damaged-');
    data = join(dir.path, 'data');
    broker = await startBroker(['--data', data]);
  });
  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });

  const cli = (args: string[], expectCode = 0) =>
    runCli([...args, '--broker', broker.address], { timeoutMs: 90_000 }).then((r) => {
      assert.equal(r.code, expectCode, `barge ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
      return r;
    });
  const consume = (topic: string, group: string, extra: string[] = [], expectCode = 0) =>
    cli(
      ['consume', '--topic', topic, '--group', group, '--from-beginning', '--exit-at-end', ...extra],
      expectCode,
    );

  /** A topic of one partition holding three batch objects (one per produce run); their files in order. */
  async function threeObjects(topic: string): Promise<string[]> {
    await cli(['topics', 'create', topic, '--partitions', '1', '--read-partitions', '1']);
    for (const b of ['a', 'b', 'c']) {
      await runCli(['produce', '--topic', topic, '--broker', broker.address], { stdin: `${b}-0\n${b}-1\n` });
    }
    const partitionDir = join(data, 'objects', 'topics', topic, '0');
    const files = (await readdir(partitionDir)).filter((f) => !f.endsWith('.tmp')).sort();
    assert.equal(files.length, 3, `one object per produce run: ${files.join(', ')}`);
    return files.map((f) => join(partitionDir, f));
  }

  it('a corrupted byte: fail names the offset and the reset-offsets command, which lets the group go on; skip reports and goes on', async () => {
    const topic = 'damaged-byte';
    const files = await threeObjects(topic);
    await flipByte(files[1]!);
    const inspected = await runCli(['inspect', files[1]!, '--messages']);
    assert.equal(inspected.code, 1, inspected.stderr);
    assert.match(
      inspected.stdout.toString(),
      /header crc32 0x[0-9a-f]{8} \(verified; 1 of 1 chunks damaged\)/,
    );
    assert.match(inspected.stdout.toString(), /^0 .* 0x[0-9a-f]{8} {2}DAMAGED$/m);
    assert.match(inspected.stderr, /1 of 1 chunks are damaged .*chunk 0 checksum mismatch/);

    const failed = await consume(topic, 'readers', [], 1);
    assert.deepEqual(lines(failed.stdout), ['a-0', 'a-1']);
    assert.match(
      failed.stderr,
      /topic damaged-byte partition 0 offset 1: chunk 0 \(messages 0\.\.1\) of object topics\/damaged-byte\/0\/\S+ is damaged: .*checksum mismatch/,
    );
    const reset =
      'barge groups reset-offsets --group readers --topic damaged-byte --partition 0 --to-offset 2 --execute';
    assert.ok(failed.stderr.includes(reset), failed.stderr);
    assert.match(failed.stderr, /--on-damaged skip/);

    // The group is stuck there on every rerun ...
    const again = await consume(topic, 'readers', [], 1);
    assert.deepEqual(lines(again.stdout), []);
    assert.match(again.stderr, /offset 1: chunk 0/);
    // ... until the command it printed moves it past the batch.
    await cli(reset.split(' ').slice(1));
    const after = await consume(topic, 'readers');
    assert.deepEqual(lines(after.stdout), ['c-0', 'c-1']);

    const skipping = await consume(topic, 'skippers', ['--on-damaged', 'skip']);
    assert.deepEqual(lines(skipping.stdout), ['a-0', 'a-1', 'c-0', 'c-1']);
    assert.match(
      skipping.stderr,
      /^barge: skipped topic damaged-byte partition 0 offset 1: chunk 0 .* checksum mismatch/m,
    );
    assert.match(
      skipping.stderr,
      /consumed 4 messages from damaged-byte; skipped 1 unreadable chunks or batches/,
    );
  });

  it('a deleted object: fail names it; skip goes on; the broker logs it', async () => {
    const topic = 'deleted-object';
    const files = await threeObjects(topic);
    await rm(files[1]!);

    const failed = await consume(topic, 'readers', [], 1);
    assert.deepEqual(lines(failed.stdout), ['a-0', 'a-1']);
    assert.match(
      failed.stderr,
      /offset 1: batch object topics\/deleted-object\/0\/\S+ \(messages 0\.\.1\) is missing: .*OBJECT_NOT_FOUND/,
    );
    assert.ok(
      failed.stderr.includes(
        'barge groups reset-offsets --group readers --topic deleted-object --partition 0 --to-offset 2 --execute',
      ),
      failed.stderr,
    );

    const skipping = await consume(topic, 'readers', ['--on-damaged', 'skip']);
    assert.deepEqual(lines(skipping.stdout), ['c-0', 'c-1']);
    assert.match(
      skipping.stderr,
      /barge: skipped topic deleted-object partition 0 offset 1: batch object .* is missing/,
    );
    // Read by two runs, logged once.
    const logged = broker.logs().match(/read proxy: batch object topics\/deleted-object\/0\/\S+ is missing/g);
    assert.equal(logged?.length, 1, broker.logs());
  });

  it('without --group, fail says which --offset reads on after the damaged batch', async () => {
    const topic = 'damaged-alone';
    const files = await threeObjects(topic);
    await flipByte(files[0]!);
    const r = await cli(['consume', '--topic', topic, '--offset', 'earliest', '--exit-at-end'], 1);
    assert.match(r.stderr, /offset 0: chunk 0/);
    assert.ok(r.stderr.includes('barge consume --topic damaged-alone --partition 0 --offset 1'), r.stderr);
    const on = await cli(['consume', '--topic', topic, '--partition', '0', '--offset', '1', '--exit-at-end']);
    assert.deepEqual(lines(on.stdout), ['b-0', 'b-1', 'c-0', 'c-1']);
  });
});
