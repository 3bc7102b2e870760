import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { guardStorage, type ObjectStorage, type PutOptions, TransientError } from '@barge/core';
import { createLocalStorage } from '@barge/storage-local';
import { SequenceAllocator } from './sequences.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'barge-sequences-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `storage` with its capabilities and put replaced, recording the options of every put. */
function observed(
  storage: ObjectStorage,
  conditionalPut: boolean,
  put?: ObjectStorage['put'],
): { storage: ObjectStorage; puts: (PutOptions | undefined)[] } {
  const puts: (PutOptions | undefined)[] = [];
  const capabilities = { ...storage.capabilities, conditionalPut };
  const wrapped = new Proxy(storage, {
    get(target, name) {
      if (name === 'capabilities') return capabilities;
      if (name === 'put') {
        return (key: string, body: Buffer, options?: PutOptions) => {
          puts.push(options);
          return (put ?? target.put.bind(target))(key, body, options);
        };
      }
      const v = Reflect.get(target, name);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { storage: wrapped, puts };
}

describe('sequence leases', () => {
  it('are written with ifNoneMatch first and then ifMatch the version read', async () => {
    const local = guardStorage(await createLocalStorage({ root: join(dir, 'cas') }));
    const { storage, puts } = observed(local, true);
    const a = new SequenceAllocator(storage, 2);
    assert.deepEqual([await a.next('t', 0), await a.next('t', 0), await a.next('t', 0)], [0, 1, 2]);
    assert.equal(puts.length, 2);
    assert.equal(puts[0]?.ifNoneMatch, '*');
    assert.equal(typeof puts[1]?.ifMatch, 'string', 'the second lease replaces the first one if unchanged');
    assert.notEqual(
      puts[1]?.ifMatch,
      (await local.head('_meta/sequences/t/0.json')).version,
      'a new version',
    );
  });

  it('fall back to a plain put on a storage without conditionalPut (one broker per write partition)', async () => {
    const { storage, puts } = observed(
      guardStorage(await createLocalStorage({ root: join(dir, 'plain') })),
      false,
    );
    const a = new SequenceAllocator(storage, 2);
    assert.deepEqual([await a.next('t', 0), await a.next('t', 0), await a.next('t', 0)], [0, 1, 2]);
    assert.equal(puts.length, 2);
    for (const o of puts)
      assert.ok(o?.ifMatch === undefined && o?.ifNoneMatch === undefined, JSON.stringify(o));
    assert.equal(
      await new SequenceAllocator(storage, 2).next('t', 0),
      4,
      'a restart skips the rest of the block',
    );
  });

  it('are taken ahead by prepare, only when none is left, and next then uses them', async () => {
    const { storage, puts } = observed(
      guardStorage(await createLocalStorage({ root: join(dir, 'prepared') })),
      true,
    );
    const a = new SequenceAllocator(storage, 2);
    await a.prepare('t', 0);
    assert.equal(puts.length, 1, 'prepare took the first lease');
    await a.prepare('t', 0);
    assert.deepEqual([await a.next('t', 0), await a.next('t', 0)], [0, 1]);
    assert.equal(puts.length, 1, 'neither a second prepare nor next took another lease');
    await a.prepare('t', 0);
    assert.equal(puts.length, 2, 'the block was used up: prepare took the next one');
    assert.equal(await a.next('t', 0), 2);
    assert.equal(puts.length, 2);
  });

  it('leave a failed prepare to next, which reports it', async () => {
    const local = guardStorage(await createLocalStorage({ root: join(dir, 'prepare-fails') }));
    const { storage } = observed(local, true, async () => {
      throw new TransientError('storage is down');
    });
    const a = new SequenceAllocator(storage, 2);
    await a.prepare('t', 0);
    await assert.rejects(a.next('t', 0), /storage is down/);
  });

  it('give up with TransientError after losing the compare-and-swap 50 times in a row', async () => {
    const local = guardStorage(await createLocalStorage({ root: join(dir, 'contended') }));
    // Another broker writes the lease right before each of ours.
    const { storage, puts } = observed(local, true, async (key, body, options) => {
      const current = JSON.parse((await local.get(key).catch(() => Buffer.from('{"next":0}'))).toString());
      await local.put(key, Buffer.from(JSON.stringify({ next: current.next + 100 })));
      return local.put(key, body, options);
    });
    await assert.rejects(
      new SequenceAllocator(storage, 2).next('t', 0),
      (e: unknown) => e instanceof TransientError && /lost 50 compare-and-swaps/.test(e.message),
    );
    assert.equal(puts.length, 50);
  });
});
