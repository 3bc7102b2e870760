import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { guardStorage } from '@barge/core';
import { createLocalStorage } from '@barge/storage-local';
import { PRODUCER_IDS_KEY, ProducerIds } from './producer-ids.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'barge-producer-ids-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('Kafka producer ids', () => {
  it('are unique across brokers sharing the bucket, leasing at the same time (compare-and-swap)', async () => {
    const root = join(dir, 'shared');
    // Four brokers: each its own storage client on the same bucket, small blocks so leases collide.
    const brokers = await Promise.all(
      [1, 2, 3, 4].map(async () => new ProducerIds(guardStorage(await createLocalStorage({ root })), 3)),
    );
    const ids = await Promise.all(brokers.flatMap((b) => Array.from({ length: 20 }, () => b.next())));
    assert.equal(new Set(ids).size, ids.length, `no id twice: ${ids.join(' ')}`);
    // And after a restart (a new instance), above every block handed out so far.
    const restarted = new ProducerIds(guardStorage(await createLocalStorage({ root })), 3);
    const next = await restarted.next();
    assert.ok(
      ids.every((id) => id < next),
      `${next} above every id handed out before`,
    );
    const stored = await guardStorage(await createLocalStorage({ root })).get(PRODUCER_IDS_KEY);
    assert.equal(JSON.parse(stored.toString()).next, Number(next) + 3);
  });
});
