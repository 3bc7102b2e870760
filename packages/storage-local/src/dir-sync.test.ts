import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DirSyncer } from './dir-sync.js';
import { KnownDirs } from './known-dirs.js';

/** An fsync the test finishes by hand; records which directory each call was for. */
class ManualSync {
  readonly calls: { dir: string; finish: (error?: Error) => void }[] = [];
  readonly fn = (dir: string): Promise<void> =>
    new Promise((resolve, reject) => {
      this.calls.push({ dir, finish: (error) => (error ? reject(error) : resolve()) });
    });
}

const turn = async () => {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
};

function track(p: Promise<unknown>): () => 'pending' | 'resolved' | 'rejected' {
  let state: 'pending' | 'resolved' | 'rejected' = 'pending';
  p.then(
    () => {
      state = 'resolved';
    },
    () => {
      state = 'rejected';
    },
  );
  return () => state;
}

describe('DirSyncer (group commit of directory fsyncs)', () => {
  it('starts an fsync at once when idle; callers during it share one next fsync, started after it', async () => {
    const fs = new ManualSync();
    const syncer = new DirSyncer(fs.fn);
    const first = track(syncer.sync('/d'));
    assert.equal(fs.calls.length, 1);
    const later = [track(syncer.sync('/d')), track(syncer.sync('/d')), track(syncer.sync('/d'))];
    await turn();
    assert.equal(fs.calls.length, 1, 'no second fsync while the first runs');
    fs.calls[0]!.finish();
    await turn();
    assert.equal(first(), 'resolved');
    assert.deepEqual(
      later.map((s) => s()),
      ['pending', 'pending', 'pending'],
      'the first fsync may have started before their renames: it does not count for them',
    );
    assert.equal(fs.calls.length, 2, 'exactly one more fsync for the three');
    fs.calls[1]!.finish();
    await turn();
    assert.deepEqual(
      later.map((s) => s()),
      ['resolved', 'resolved', 'resolved'],
    );
    assert.equal(syncer.busy, 0, 'idle again');
  });

  it('keeps directories independent', async () => {
    const fs = new ManualSync();
    const syncer = new DirSyncer(fs.fn);
    const a = track(syncer.sync('/a'));
    const b = track(syncer.sync('/b'));
    assert.deepEqual(
      fs.calls.map((c) => c.dir),
      ['/a', '/b'],
    );
    fs.calls[1]!.finish();
    await turn();
    assert.equal(a(), 'pending');
    assert.equal(b(), 'resolved');
    fs.calls[0]!.finish();
    await turn();
    assert.equal(a(), 'resolved');
  });

  it('rejects every caller sharing a failed fsync; the next call starts a fresh one', async () => {
    const fs = new ManualSync();
    const syncer = new DirSyncer(fs.fn);
    const first = track(syncer.sync('/d'));
    const shared = [syncer.sync('/d'), syncer.sync('/d')];
    fs.calls[0]!.finish();
    await turn();
    assert.equal(first(), 'resolved');
    fs.calls[1]!.finish(new Error('EIO'));
    for (const p of shared) await assert.rejects(p, /EIO/);
    const again = track(syncer.sync('/d'));
    assert.equal(fs.calls.length, 3);
    fs.calls[2]!.finish();
    await turn();
    assert.equal(again(), 'resolved');
  });
});

describe('KnownDirs', () => {
  it('holds a put into a directory another put just created until that creation is durable', async (t) => {
    const root = await mkdtemp(path.join(tmpdir(), 'barge-known-dirs-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    const fs = new ManualSync();
    const dirs = new KnownDirs(root, new DirSyncer(fs.fn));
    const leaf = path.join(root, 'topics', 't', '0');
    await dirs.ensure(leaf);
    // Three directories created: their entries live in root, topics and topics/t.
    assert.deepEqual(fs.calls.map((c) => c.dir).sort(), [
      root,
      path.join(root, 'topics'),
      path.join(root, 'topics', 't'),
    ]);
    // A second put into the same directory skips mkdir, but must wait for those fsyncs.
    await dirs.ensure(leaf);
    const wait = dirs.durable(leaf);
    assert.ok(wait, 'a pending creation to wait for');
    const state = track(wait);
    // A sibling directory created meanwhile waits for its ancestors' creation too.
    await dirs.ensure(path.join(root, 'topics', 't', '1'));
    const sibling = track(dirs.durable(path.join(root, 'topics', 't', '1'))!);
    for (const c of fs.calls.slice(0, 3)) c.finish();
    await turn();
    assert.equal(state(), 'resolved');
    assert.equal(sibling(), 'pending', 'its own entry in topics/t is not durable yet');
    for (const c of fs.calls.slice(3)) c.finish();
    await turn();
    assert.equal(sibling(), 'resolved');
    assert.equal(dirs.durable(leaf), undefined, 'nothing pending any more');
  });

  it('tries again to make a creation durable after its fsync failed', async (t) => {
    const root = await mkdtemp(path.join(tmpdir(), 'barge-known-dirs-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    const fs = new ManualSync();
    const dirs = new KnownDirs(root, new DirSyncer(fs.fn));
    const dir = path.join(root, 'd');
    await dirs.ensure(dir);
    const first = dirs.durable(dir)!;
    fs.calls[0]!.finish(new Error('EIO'));
    await assert.rejects(first, /EIO/);
    // The next put into the directory must not take its entry for durable: a new fsync of root.
    const again = track(dirs.durable(dir)!);
    assert.equal(fs.calls.length, 2);
    assert.equal(fs.calls[1]!.dir, root);
    fs.calls[1]!.finish();
    await turn();
    assert.equal(again(), 'resolved');
    assert.equal(dirs.durable(dir), undefined);
  });
});
