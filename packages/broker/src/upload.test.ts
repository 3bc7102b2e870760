import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NotFoundError, TransientError } from '@barge/core';
import { LocalStorage } from '@barge/storage-local';
import { backoffDelay } from './backoff.js';
import { ByteBudget } from './budget.js';
import { BrokerMetrics } from './metrics.js';
import { OrphanRecorder } from './orphans.js';
import { SequenceAllocator } from './sequences.js';
import { ControlledStorage, silent, waitFor } from './test-helpers.js';
import { type UploadOptions, UploadPipeline } from './upload.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'barge-upload-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function pipeline(options: Partial<UploadOptions> = {}) {
  const storage = new ControlledStorage(
    new LocalStorage({ root: join(dir, Math.random().toString(36).slice(2)) }),
  );
  const metrics = new BrokerMetrics();
  const up = new UploadPipeline(
    storage,
    {
      parallelism: 4,
      maxAttempts: 3,
      backoffBaseMs: 1,
      backoffMaxMs: 5,
      attemptTimeoutMs: 60_000,
      ...options,
    },
    metrics,
    new OrphanRecorder(storage, silent, metrics),
    silent,
  );
  return { storage, metrics, up };
}

const body = [Buffer.from('header'), Buffer.from('chunk-1'), Buffer.from('chunk-2')];

describe('UploadPipeline', () => {
  it('writes the body parts in order as one object', async () => {
    const { storage, up } = pipeline();
    const r = await up.upload('topics/t/0/a', body, 20);
    assert.deepEqual(r, { key: 'topics/t/0/a', attempts: 1, hedged: false });
    assert.equal((await storage.get('topics/t/0/a')).toString(), 'headerchunk-1chunk-2');
  });

  it('never runs more uploads than its parallelism', async () => {
    const { storage, up } = pipeline({ parallelism: 2 });
    let running = 0;
    let peak = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    storage.beforePut = () => {
      running++;
      peak = Math.max(peak, running);
      return gate.then(() => {
        running--;
      });
    };
    const all = Promise.all(Array.from({ length: 6 }, (_, i) => up.upload(`topics/t/0/p${i}`, body, 20)));
    await waitFor(() => running === 2, 'two uploads running');
    assert.equal(storage.puts.length, 2, 'the others wait for a slot');
    release();
    await all;
    assert.equal(peak, 2);
    assert.equal(storage.puts.length, 6);
  });

  it('a hedge that succeeds after the first attempt failed wins the attempt', async () => {
    const { storage, up } = pipeline({ hedgeAfterMs: 10 });
    let failPrimary: (e: Error) => void = () => {};
    storage.beforePut = (key) => {
      if (key.endsWith('-h1')) return undefined;
      return new Promise<void>((_, reject) => {
        failPrimary = reject;
      });
    };
    const p = up.upload('topics/t/0/b', body, 20);
    await waitFor(() => storage.puts.includes('topics/t/0/b-h1'), 'the hedge to start');
    failPrimary(new TransientError('reset (test)'));
    const r = await p;
    assert.equal(r.key, 'topics/t/0/b-h1');
    assert.equal(r.attempts, 1);
    assert.equal(r.hedged, true);
    await assert.rejects(storage.get('topics/t/0/b'), NotFoundError);
  });

  it('retries when every PUT of an attempt fails, with a fresh hedge key per attempt', async () => {
    const { storage, up, metrics } = pipeline({ hedgeAfterMs: 5, maxAttempts: 3 });
    let round = 0;
    storage.beforePut = (key) => {
      if (key === 'topics/t/0/c') round++;
      if (round >= 2) return undefined;
      return new Promise<void>((_, reject) =>
        setTimeout(() => reject(new TransientError('slow 503 (test)')), 30),
      );
    };
    const r = await up.upload('topics/t/0/c', body, 20);
    assert.equal(r.attempts, 2);
    assert.ok(storage.puts.includes('topics/t/0/c-h1'));
    assert.equal((await metrics.uploadRetries.get()).values[0]?.value, 1);
  });

  it('an attempt slower than attemptTimeoutMs counts as transient', async () => {
    const { storage, up } = pipeline({ attemptTimeoutMs: 1000, maxAttempts: 2 });
    let first = true;
    storage.beforePut = (_key, options) => {
      if (!first) return undefined;
      first = false;
      return new Promise<void>((_, reject) => {
        options?.signal?.addEventListener('abort', () => reject(new Error('aborted')));
      });
    };
    const r = await up.upload('topics/t/0/d', body, 20);
    assert.equal(r.attempts, 2);
    assert.equal((await storage.get('topics/t/0/d')).length, 20);
  });
});

describe('backoff, budget, sequences', () => {
  it('backoff grows exponentially with jitter in [cap/2, cap], capped', () => {
    for (let k = 0; k < 12; k++) {
      const cap = Math.min(1000, 10 * 2 ** k);
      assert.equal(
        backoffDelay(k, 10, 1000, () => 0),
        Math.round(cap / 2),
      );
      assert.equal(
        backoffDelay(k, 10, 1000, () => 1),
        cap,
      );
    }
  });

  it('the byte budget switches at the limit and back at 90 %', () => {
    const b = new ByteBudget(1000);
    const events: boolean[] = [];
    b.onChange((over) => events.push(over));
    b.acquire(1000);
    assert.equal(b.over, false);
    b.acquire(1);
    assert.equal(b.over, true);
    b.release(50);
    assert.equal(b.over, true, 'hysteresis');
    b.release(51);
    assert.equal(b.over, false);
    assert.deepEqual(events, [true, false]);
    assert.equal(b.peak, 1001);
  });

  it('sequence leases never repeat a number across allocator instances (restarts)', async () => {
    const storage = new LocalStorage({ root: join(dir, 'seq') });
    const a = new SequenceAllocator(storage, 3);
    const first = [await a.next('t', 0), await a.next('t', 0), await a.next('t', 0), await a.next('t', 0)];
    assert.deepEqual(first, [0, 1, 2, 3]);
    const b = new SequenceAllocator(storage, 3);
    const next = await b.next('t', 0);
    assert.equal(next, 6, 'the rest of the lease is skipped, never reused');
    assert.equal(await b.next('t', 1), 0, 'write partitions are independent');
  });
});
