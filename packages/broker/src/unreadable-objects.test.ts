import assert from 'node:assert/strict';
import { mkdtemp, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ErrorCode, READ_TO_END } from '@barge/core';
import { LocalStorage } from '@barge/storage-local';
import { pino } from 'pino';
import { BrokerMetrics } from './metrics.js';
import { ReadProxy } from './read-proxy.js';

/**
 * The read proxy on real local storage reports objects it cannot serve (issue 10, finding 5:
 * "nothing in the broker log or metrics"): each read of a missing or truncated batch object is
 * counted in `barge_read_unreadable_total{reason}`, and each key is logged once.
 */
describe('ReadProxy: missing and truncated objects are counted and logged once per key', () => {
  let dir: string;
  let storage: LocalStorage;
  const logs: { msg: string; key?: string }[] = [];
  const metrics = new BrokerMetrics();
  let proxy: ReadProxy;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'barge-unreadable-'));
    storage = new LocalStorage({ root: dir });
    const log = pino(
      { level: 'warn' },
      { write: (line: string) => logs.push(JSON.parse(line) as { msg: string; key?: string }) },
    );
    proxy = new ReadProxy(storage, 1024 * 1024, metrics, log);
  });
  after(async () => {
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  });

  const count = async (reason: string) =>
    (await metrics.unreadableReads.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

  it('a missing object: OBJECT_NOT_FOUND, counted per read, logged once', async () => {
    for (let i = 0; i < 3; i++) {
      await assert.rejects(
        proxy.read({ key: 'topics/t/0/gone', offset: 0, length: READ_TO_END }),
        (e: unknown) => {
          assert.equal((e as { errorCode?: unknown }).errorCode, ErrorCode.OBJECT_NOT_FOUND);
          return true;
        },
      );
    }
    assert.equal(await count('not_found'), 3);
    const lines = logs.filter((l) => l.key === 'topics/t/0/gone');
    assert.equal(lines.length, 1);
    assert.match(lines[0]!.msg, /read proxy: batch object topics\/t\/0\/gone is missing/);
  });

  it('an object shorter than its size: counted as truncated', async () => {
    await storage.put('topics/t/0/short', Buffer.alloc(100, 1));
    const whole = await proxy.read({ key: 'topics/t/0/short', offset: 0, length: READ_TO_END });
    assert.equal(whole.data.length, 100);
    await truncate(join(dir, 'topics', 't', '0', 'short'), 40);
    const short = await proxy.read({ key: 'topics/t/0/short', offset: 20, length: 50 });
    assert.equal(short.data.length, 20);
    assert.equal(await count('truncated'), 1);
    assert.ok(logs.some((l) => l.key === 'topics/t/0/short' && /gave 20 of 50 bytes at 20/.test(l.msg)));
  });
});
