import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AuthError, type ListOptions, type ListPage, parseBrokerConfig, TransientError } from '@barge/core';
import { EmbeddedPointerQueue } from '@barge/pointers-embedded';
import { LocalStorage } from '@barge/storage-local';
import { pino } from 'pino';
import { Broker } from './broker.js';
import { ControlledStorage } from './test-helpers.js';

/** Real local storage whose listings fail with `failure()` while it returns an error. */
class FlakyListings extends ControlledStorage {
  listings = 0;
  failure: () => Error | undefined = () => undefined;
  override async listPage(prefix: string, options?: ListOptions): Promise<ListPage> {
    this.listings++;
    const e = this.failure();
    if (e) throw e;
    return super.listPage(prefix, options);
  }
}

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** A broker on fresh directories, logging into `lines`. */
async function makeBroker(startupTimeoutMs: number) {
  const dir = await mkdtemp(join(tmpdir(), 'barge-startup-'));
  dirs.push(dir);
  const lines: { msg: string; attempt?: number; nextDelayMs?: number; err?: string }[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  const config = parseBrokerConfig({
    broker: { listen: '127.0.0.1:0', dataDir: dir, startupTimeoutMs },
    topics: [{ name: 't' }],
    upload: { backoffBaseMs: 10, backoffMaxMs: 2000 },
  });
  const storage = new FlakyListings(new LocalStorage({ root: join(dir, 'objects') }));
  const pointers = new EmbeddedPointerQueue({ path: join(dir, 'pointers.sqlite') });
  return { broker: new Broker(config, storage, pointers, log), storage, lines };
}

describe('broker start-up retries what storage fails transiently', () => {
  it('retries with growing backoff and one log line per failed attempt, then starts', async () => {
    const { broker, storage, lines } = await makeBroker(10_000);
    const until = Date.now() + 800;
    storage.failure = () =>
      Date.now() < until ? new TransientError('s3 list: Error: aborted (test)') : undefined;
    try {
      await broker.start();
      assert.ok(Date.now() >= until, 'started after the failures stopped');
      const attempts = lines.filter((l) => l.msg.startsWith('start-up: cannot load topic metadata'));
      assert.ok(attempts.length >= 2, `${attempts.length} attempts logged`);
      attempts.forEach((l, i) => {
        assert.equal(l.attempt, i + 1);
        assert.match(l.err ?? '', /aborted/);
        assert.match(l.msg, new RegExp(`\\(attempt ${i + 1}\\); retrying in ${l.nextDelayMs} ms: s3 list`));
      });
      // Attempt n waits a random time in [cap / 2, cap], cap = 100 ms × 2^(n-1): the third waits longer than the first.
      const [first, , third] = attempts;
      if (first && third) assert.ok((third.nextDelayMs ?? 0) > (first.nextDelayMs ?? 0), 'the delay grows');
      assert.ok(broker.topics.get('t'), 'topics loaded');
    } finally {
      await broker.stop();
    }
  });

  it('gives up after startupTimeoutMs, naming the step, the attempts and the last error', async () => {
    const { broker, storage } = await makeBroker(300);
    storage.failure = () => new TransientError('s3 list: read ECONNRESET (test)');
    const started = Date.now();
    await assert.rejects(
      broker.start(),
      /^Error: start-up failed: cannot load topic metadata from local storage .+: \d+ attempt\(s\) in \d+ ms, gave up after broker\.startupTimeoutMs \(300 ms\); last error: s3 list: read ECONNRESET \(test\)$/,
    );
    assert.ok(Date.now() - started < 2000);
    assert.ok(storage.listings >= 2, 'retried before giving up');
    await broker.stop();
  });

  it('a listing that never answers does not outlive the start-up deadline', async () => {
    const { broker, storage } = await makeBroker(300);
    const hang = new Promise<never>(() => {});
    storage.listPage = () => hang;
    const started = Date.now();
    await assert.rejects(broker.start(), /no answer before the start-up deadline/);
    assert.ok(Date.now() - started < 2000);
    await broker.stop();
  });

  it('a permanent error fails at once, and stop() during start-up ends the retries', async () => {
    const auth = await makeBroker(10_000);
    auth.storage.failure = () => new AuthError('s3 list: AccessDenied (test)');
    await assert.rejects(auth.broker.start(), /AccessDenied/);
    assert.equal(auth.storage.listings, 1, 'not retried');
    await auth.broker.stop();

    const { broker, storage } = await makeBroker(60_000);
    storage.failure = () => new TransientError('down (test)');
    const starting = broker.start();
    setTimeout(() => void broker.stop(), 200);
    const started = Date.now();
    await assert.rejects(starting, /the broker was stopped/);
    assert.ok(Date.now() - started < 2000, 'stop() ended the retries');
  });
});
