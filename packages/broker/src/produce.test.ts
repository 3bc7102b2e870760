import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  ApiKey,
  AuthError,
  type BrokerConfigInput,
  ErrorCode,
  NotFoundError,
  TransientError,
} from '@barge/core';
import { EmbeddedPointerQueue } from '@barge/pointers-embedded';
import { LocalStorage } from '@barge/storage-local';
import { orphanMetaKey } from './keys.js';
import {
  type Harness,
  ok,
  produceRequest,
  readAllPointers,
  readBatchValues,
  startHarness,
  waitFor,
} from './test-helpers.js';

const harnesses: Harness[] = [];
after(async () => {
  await Promise.all(harnesses.map((h) => h.dispose()));
});

async function harness(
  topics: BrokerConfigInput['topics'],
  extra: Omit<BrokerConfigInput, 'topics'> = {},
  options: Parameters<typeof startHarness>[1] = {},
  hooks: Parameters<typeof startHarness>[2] = {},
): Promise<Harness> {
  const h = await startHarness(
    { ...extra, topics, upload: { backoffBaseMs: 5, backoffMaxMs: 50, ...extra.upload } },
    options,
    hooks,
  );
  harnesses.push(h);
  return h;
}

const batchKeys = (keys: string[]) => keys.filter((k) => k.startsWith('topics/'));

describe('produce: ack levels', () => {
  it('durable: acked after the object is stored and the pointer committed', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 5 } }]);
    const c = await h.client();
    const res = ok(await c.request(ApiKey.Produce, produceRequest('t', ['a', 'b', 'c'])));
    assert.equal(res.writePartition, 0);
    assert.ok(res.sequence >= 0);
    assert.equal(res.readPartition, 0);
    assert.equal(res.offset, 0);
    assert.equal(res.firstMessageIndex, 0);
    const ptrs = await readAllPointers(h.pointers, 't');
    assert.equal(ptrs.length, 1);
    assert.equal(ptrs[0]!.pointer.sequence, res.sequence);
    assert.equal(ptrs[0]!.pointer.messageCount, 3);
    assert.deepEqual(await readBatchValues(h.storage, ptrs[0]!.pointer), ['a', 'b', 'c']);
  });

  it('received: acked while the batch is still open', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 600_000 } }]);
    const c = await h.client();
    const res = ok(await c.request(ApiKey.Produce, produceRequest('t', ['x'], { acks: 'received' })));
    assert.deepEqual(
      { sequence: res.sequence, readPartition: res.readPartition, offset: res.offset },
      { sequence: -1, readPartition: -1, offset: -1 },
    );
    assert.equal(batchKeys(h.storage.puts).length, 0, 'nothing uploaded yet: the batch is open');
    h.broker.flush();
    await waitFor(async () => (await readAllPointers(h.pointers, 't')).length === 1, 'pointer');
    const [p] = await readAllPointers(h.pointers, 't');
    assert.deepEqual(await readBatchValues(h.storage, p!.pointer), ['x']);
  });

  it('none: no response at all, data still stored', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 5 } }]);
    const c = await h.client();
    c.fire(ApiKey.Produce, produceRequest('t', ['fire', 'forget'], { acks: 'none' }));
    // A later request on the same connection is answered; the acks=0 one never is.
    await waitFor(async () => (await readAllPointers(h.pointers, 't')).length === 1, 'pointer');
    ok(await c.request(ApiKey.ListTopics, {}));
    assert.equal(c.unsolicited.length, 0);
    const [p] = await readAllPointers(h.pointers, 't');
    assert.deepEqual(await readBatchValues(h.storage, p!.pointer), ['fire', 'forget']);
  });

  it('rejects bad produce requests with permanent error codes', async () => {
    const h = await harness([{ name: 't', writePartitions: 2 }], { limits: { maxMessagesPerRequest: 3 } });
    const c = await h.client();
    const base = produceRequest('t', ['a']);
    const chunk = base.chunks[0]!;
    const cases: [string, Parameters<typeof c.request<typeof ApiKey.Produce>>[1], number][] = [
      ['unknown topic', { ...base, topic: 'nope' }, ErrorCode.UNKNOWN_TOPIC],
      ['invalid topic', { ...base, topic: 'bad/name' }, ErrorCode.INVALID_TOPIC],
      ['write partition', { ...base, writePartition: 2 }, ErrorCode.INVALID_PARTITION],
      [
        'crc',
        { ...base, chunks: [{ ...chunk, meta: { ...chunk.meta, crc32: (chunk.meta.crc32 + 1) >>> 0 } }] },
        ErrorCode.CORRUPT_CHUNK,
      ],
      [
        'codec',
        { ...base, chunks: [{ ...chunk, meta: { ...chunk.meta, codec: 9 } }] },
        ErrorCode.UNSUPPORTED_CODEC,
      ],
      ['no chunks', { ...base, chunks: [] }, ErrorCode.INVALID_REQUEST],
      [
        'meta',
        {
          ...base,
          chunks: [
            { ...chunk, meta: { ...chunk.meta, uncompressedLength: chunk.meta.uncompressedLength + 1 } },
          ],
        },
        ErrorCode.INVALID_REQUEST,
      ],
      ['too many', produceRequest('t', ['1', '2', '3', '4']), ErrorCode.TOO_MANY_MESSAGES],
    ];
    for (const [what, req, code] of cases) {
      const r = await c.request(ApiKey.Produce, req);
      assert.equal(r.errorCode, code, `${what}: ${r.errorCode !== 0 ? r.message : 'success'}`);
    }
    assert.equal(batchKeys(h.storage.puts).length, 0);
    // The connection still works.
    ok(await c.request(ApiKey.Produce, { ...base, chunks: [{ ...chunk }], writePartition: 1, timeoutMs: 0 }));
  });
});

describe('produce: batching', () => {
  it('closes a batch at maxMessages; one request never spans two batches', async () => {
    const h = await harness([{ name: 't', batch: { maxMessages: 5, maxDelayMs: 600_000 } }]);
    const c = await h.client();
    const replies = await Promise.all([
      c.request(ApiKey.Produce, produceRequest('t', ['1', '2'])),
      c.request(ApiKey.Produce, produceRequest('t', ['3', '4'])),
      c.request(ApiKey.Produce, produceRequest('t', ['5', '6'])), // does not fit: closes the first batch
      c.request(ApiKey.Produce, produceRequest('t', ['7', '8', '9'])), // fills the second: closes it
    ]);
    const res = replies.map(ok);
    assert.equal(res[0]!.sequence, res[1]!.sequence);
    assert.notEqual(res[1]!.sequence, res[2]!.sequence);
    assert.equal(res[2]!.sequence, res[3]!.sequence);
    assert.deepEqual(
      res.map((r) => r.firstMessageIndex),
      [0, 2, 0, 2],
    );
    const ptrs = await readAllPointers(h.pointers, 't');
    assert.deepEqual(
      ptrs.map((p) => p.pointer.messageCount),
      [4, 5],
    );
    assert.deepEqual(await readBatchValues(h.storage, ptrs[1]!.pointer), ['5', '6', '7', '8', '9']);
  });

  it('closes a batch at maxBytes', async () => {
    const maxBytes = 4096;
    const h = await harness([
      { name: 't', batch: { maxBytes, maxDelayMs: 600_000, maxMessages: 1_000_000 } },
    ]);
    const c = await h.client();
    const value = 'v'.repeat(900);
    const replies = Array.from({ length: 12 }, (_, i) =>
      c.request(ApiKey.Produce, produceRequest('t', [`${i}${value}`])),
    );
    await waitFor(
      async () => (await h.broker.metrics.produceRequests.get()).values[0]?.value === 12,
      'all requests',
    );
    // The last, partial batch closes on flush.
    h.broker.flush();
    (await Promise.all(replies)).map(ok);
    const ptrs = await readAllPointers(h.pointers, 't');
    assert.ok(ptrs.length >= 3, `expected several batches, got ${ptrs.length}`);
    for (const p of ptrs)
      assert.ok(p.pointer.objectSize <= maxBytes, `batch of ${p.pointer.objectSize} bytes`);
    const all = (await Promise.all(ptrs.map((p) => readBatchValues(h.storage, p.pointer)))).flat();
    assert.deepEqual(
      all.map((v) => Number.parseInt(v, 10)),
      Array.from({ length: 12 }, (_, i) => i),
    );
  });

  it('closes a batch after maxDelayMs without more traffic', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 20, maxMessages: 1000 } }]);
    const c = await h.client();
    const res = ok(await c.request(ApiKey.Produce, produceRequest('t', ['lonely'])));
    assert.equal(res.offset, 0);
    const m = await h.broker.metrics.batchesClosed.get();
    assert.equal(m.values.find((v) => v.labels.reason === 'delay')?.value, 1);
  });

  it('spreads ANY write partition requests over the write partitions', async () => {
    const h = await harness([{ name: 't', writePartitions: 3, readPartitions: 3, batch: { maxDelayMs: 5 } }]);
    const c = await h.client();
    const res = (
      await Promise.all(
        [1, 2, 3].map((i) =>
          c.request(ApiKey.Produce, produceRequest('t', [`${i}`], { writePartition: 0xffffffff })),
        ),
      )
    ).map(ok);
    assert.deepEqual(res.map((r) => r.writePartition).sort(), [0, 1, 2]);
  });
});

describe('produce: upload pipeline', () => {
  it('publishes pointers of a write partition in batch order when uploads finish out of order', async () => {
    let releaseFirst: () => void = () => {};
    const firstHeld = new Promise<void>((r) => {
      releaseFirst = r;
    });
    let seenBatches = 0;
    let stored = 0;
    const h = await harness([{ name: 't', batch: { maxMessages: 1, maxDelayMs: 600_000 } }], {
      upload: { parallelism: 8 },
    });
    h.storage.beforePut = (key) => {
      if (!key.startsWith('topics/')) return undefined;
      seenBatches++;
      if (seenBatches === 1) return firstHeld;
      return Promise.resolve().then(() => {
        stored++;
      });
    };
    const c = await h.client();
    const replies = [0, 1, 2, 3].map((i) => c.request(ApiKey.Produce, produceRequest('t', [`m${i}`])));
    await waitFor(() => stored === 3, 'the three later uploads');
    await waitFor(() => batchKeys(h.storage.puts).length === 4, 'four uploads started');
    // Give a wrong implementation every chance to publish the later batches first.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(h.pointers.published, 0, 'nothing is published while the first batch is not stored');
    assert.equal(c.pendingCount, 4, 'no durable ack before its pointer is committed');
    releaseFirst();
    const res = (await Promise.all(replies)).map(ok);
    assert.deepEqual(
      res.map((r) => r.offset),
      [0, 1, 2, 3],
    );
    const seqs = res.map((r) => r.sequence);
    assert.deepEqual(
      [...seqs].sort((a, b) => a - b),
      seqs,
    );
    const ptrs = await readAllPointers(h.pointers, 't');
    assert.deepEqual(await Promise.all(ptrs.map((p) => readBatchValues(h.storage, p.pointer))), [
      ['m0'],
      ['m1'],
      ['m2'],
      ['m3'],
    ]);
  });

  it('retries transient storage errors with backoff, then acks', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 5 } }], { upload: { maxAttempts: 5 } });
    let failures = 0;
    h.storage.beforePut = (key) => {
      if (key.startsWith('topics/') && failures < 3) {
        failures++;
        throw new TransientError('503 slow down (test)');
      }
      return undefined;
    };
    const c = await h.client();
    ok(await c.request(ApiKey.Produce, produceRequest('t', ['retried'])));
    assert.equal(failures, 3);
    assert.equal((await h.broker.metrics.uploadRetries.get()).values[0]?.value, 3);
    const [p] = await readAllPointers(h.pointers, 't');
    assert.deepEqual(await readBatchValues(h.storage, p!.pointer), ['retried']);
  });

  it('gives up after maxAttempts (negative ack STORAGE_UNAVAILABLE) and on permanent errors (STORAGE_ERROR)', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 5 } }], { upload: { maxAttempts: 3 } });
    let attempts = 0;
    let mode: 'transient' | 'auth' = 'transient';
    h.storage.beforePut = (key) => {
      if (!key.startsWith('topics/')) return undefined;
      attempts++;
      throw mode === 'transient'
        ? new TransientError('connection reset (test)')
        : new AuthError('denied (test)');
    };
    const c = await h.client();
    const r1 = await c.request(ApiKey.Produce, produceRequest('t', ['a']));
    assert.equal(r1.errorCode, ErrorCode.STORAGE_UNAVAILABLE);
    assert.equal(attempts, 3, 'bounded attempts');
    mode = 'auth';
    attempts = 0;
    const r2 = await c.request(ApiKey.Produce, produceRequest('t', ['b']));
    assert.equal(r2.errorCode, ErrorCode.STORAGE_ERROR);
    assert.equal(attempts, 1, 'permanent errors are not retried');
    assert.equal(h.broker.budget.used, 0, 'failed batches release their bytes');
    h.storage.beforePut = undefined;
    ok(await c.request(ApiKey.Produce, produceRequest('t', ['c'])));
    const ptrs = await readAllPointers(h.pointers, 't');
    assert.equal(ptrs.length, 1, 'failed batches are never published');
  });

  it('hedges a slow upload: the hedge wins, the slow attempt is deleted', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 5 } }], { upload: { hedgeAfterMs: 30 } });
    let releaseSlow: () => void = () => {};
    const slow = new Promise<void>((r) => {
      releaseSlow = r;
    });
    let primary: string | undefined;
    h.storage.beforePut = (key) => {
      if (!key.startsWith('topics/')) return undefined;
      if (!/-h\d+$/.test(key)) {
        primary = key;
        return slow;
      }
      return undefined;
    };
    const c = await h.client();
    const res = ok(await c.request(ApiKey.Produce, produceRequest('t', ['hedged'])));
    assert.equal(res.offset, 0);
    const [p] = await readAllPointers(h.pointers, 't');
    assert.ok(primary);
    assert.equal(p!.pointer.storage.key, `${primary}-h1`, 'the pointer names the hedge key');
    assert.deepEqual(await readBatchValues(h.storage, p!.pointer), ['hedged']);
    releaseSlow();
    await waitFor(() => h.storage.deletes.includes(primary!), 'the losing attempt to be deleted');
    await assert.rejects(h.storage.get(primary!), NotFoundError);
    const hedges = (await h.broker.metrics.hedges.get()).values;
    assert.equal(hedges.find((v) => v.labels.event === 'hedge_won')?.value, 1);
  });

  it('back-pressure: pauses producer sockets above the in-flight budget and resumes below it', async () => {
    const limit = 64 * 1024;
    const h = await harness([{ name: 't', batch: { maxDelayMs: 1, maxBytes: 32 * 1024 } }], {
      upload: { inFlightBytes: limit, parallelism: 2 },
    });
    let release: () => void = () => {};
    let gate = new Promise<void>((r) => {
      release = r;
    });
    h.storage.beforePut = (key) => (key.startsWith('topics/') ? gate : undefined);
    const c = await h.client();
    const consumer = await h.client();
    const value = 'x'.repeat(8 * 1024);
    const replies = Array.from({ length: 64 }, (_, i) =>
      c.request(ApiKey.Produce, produceRequest('t', [`${i}:${value}`])),
    );
    await waitFor(() => h.broker.pausedConnections === 1, 'the producer socket to be paused');
    // Other clients (consumers, admin) are still served while producers are paused.
    ok(await consumer.request(ApiKey.ListTopics, {}));
    assert.ok(h.broker.budget.used > limit);
    assert.equal(c.pendingCount, 64);
    const paused = (await h.broker.metrics.pausedSockets.get()).values[0]?.value;
    assert.equal(paused, 1);
    release();
    gate = Promise.resolve();
    const res = (await Promise.all(replies)).map(ok);
    assert.equal(res.length, 64);
    assert.equal(h.broker.pausedConnections, 0);
    // Memory stayed bounded: the budget plus at most what one socket read can carry.
    assert.ok(h.broker.budget.peak <= limit + 256 * 1024, `peak in-flight ${h.broker.budget.peak}`);
    const ptrs = await readAllPointers(h.pointers, 't');
    const values = (await Promise.all(ptrs.map((p) => readBatchValues(h.storage, p.pointer)))).flat();
    assert.deepEqual(
      values.map((v) => Number.parseInt(v, 10)),
      Array.from({ length: 64 }, (_, i) => i),
    );
  });
});

describe('produce: pointer queue outages', () => {
  it('holds durable acks while the pointer queue is unavailable and sends them when it recovers', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 5, maxMessages: 1 } }]);
    h.pointers.failing = true;
    const c = await h.client();
    const replies = ['a', 'b', 'c'].map((v) => c.request(ApiKey.Produce, produceRequest('t', [v])));
    await waitFor(() => h.pointers.publishFailures >= 3, 'publish retries');
    assert.equal(c.pendingCount, 3, 'no durable ack while the pointer is not committed');
    assert.ok(batchKeys(h.storage.puts).length >= 1, 'objects are stored meanwhile');
    h.pointers.failing = false;
    const res = (await Promise.all(replies)).map(ok);
    assert.deepEqual(
      res.map((r) => r.offset),
      [0, 1, 2],
    );
    const ptrs = await readAllPointers(h.pointers, 't');
    const values = (await Promise.all(ptrs.map((p) => readBatchValues(h.storage, p.pointer)))).flat();
    assert.deepEqual(values, ['a', 'b', 'c']);
  });

  it('starts while the pointer queue is unreachable and publishes once it is back', async () => {
    const h = await harness(
      [{ name: 't', readPartitions: 2, batch: { maxDelayMs: 5 } }],
      {},
      {},
      {
        beforeStart: (_s, p) => {
          p.failing = true;
        },
      },
    );
    const c = await h.client();
    const reply = c.request(ApiKey.Produce, produceRequest('t', ['early']));
    await waitFor(
      async () => ((await h.broker.metrics.publishFailures.get()).values[0]?.value ?? 0) >= 2,
      'publish retries',
    );
    assert.equal(c.pendingCount, 1);
    h.pointers.failing = false;
    const res = ok(await reply);
    assert.equal(res.offset, 0);
    assert.equal(await h.pointers.partitions('t'), 2);
  });

  it('abandons publication after the retry budget: negative ack, orphan recorded, never published later', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 5 } }], {}, { pointerRetryBudgetMs: 150 });
    h.pointers.failing = true;
    const c = await h.client();
    const r = await c.request(ApiKey.Produce, produceRequest('t', ['lost']));
    assert.equal(r.errorCode, ErrorCode.POINTER_QUEUE_UNAVAILABLE);
    const [key] = batchKeys(h.storage.puts);
    assert.ok(key);
    await waitFor(
      () =>
        h.storage.get(orphanMetaKey(key)).then(
          () => true,
          () => false,
        ),
      'orphan marker',
    );
    const marker = JSON.parse((await h.storage.get(orphanMetaKey(key))).toString()) as { key: string };
    assert.equal(marker.key, key);
    h.pointers.failing = false;
    ok(await c.request(ApiKey.Produce, produceRequest('t', ['retried'])));
    const ptrs = await readAllPointers(h.pointers, 't');
    assert.equal(ptrs.length, 1);
    assert.notEqual(ptrs[0]!.pointer.storage.key, key);
    assert.deepEqual(await readBatchValues(h.storage, ptrs[0]!.pointer), ['retried']);
  });
});

describe('produce: pointer topic lost by the pointer queue', () => {
  it('re-creates a vanished pointer topic (ensureTopic again) and publishes, without a restart', async () => {
    const h = await harness([{ name: 't', readPartitions: 3, batch: { maxDelayMs: 5, maxMessages: 1 } }]);
    const c = await h.client();
    const first = ok(await c.request(ApiKey.Produce, produceRequest('t', ['before'])));
    const ensuredBefore = h.pointers.ensureTopicCalls;
    // The queue lost the topic (Kafka restarted empty): publish throws NotFoundError until
    // ensureTopic is called again.
    h.pointers.missing.add('t');
    const replies = ['a', 'b'].map((v) => c.request(ApiKey.Produce, produceRequest('t', [v])));
    const res = (await Promise.all(replies)).map(ok);
    assert.ok(h.pointers.publishFailures >= 1, 'the first publication hit the missing topic');
    assert.ok(h.pointers.ensureTopicCalls > ensuredBefore, 'ensureTopic was called again');
    assert.equal(h.pointers.missing.size, 0);
    assert.deepEqual(
      res.map((r) => r.offset),
      [first.offset + 1, first.offset + 2],
    );
    assert.equal(await h.pointers.partitions('t'), 3, 'ensureTopic got the read partition count');
    const ptrs = await readAllPointers(h.pointers, 't');
    const values = (await Promise.all(ptrs.map((p) => readBatchValues(h.storage, p.pointer)))).flat();
    assert.deepEqual(values, ['before', 'a', 'b']);
    const failed = (await h.broker.metrics.batchesFailed.get()).values.reduce((n, v) => n + v.value, 0);
    assert.equal(failed, 0);
  });

  it('a topic that stays missing is retried within the retry budget, then UNKNOWN_TOPIC and an orphan marker', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 5 } }], {}, { pointerRetryBudgetMs: 150 });
    h.pointers.missing.add('t');
    h.pointers.ensureRestores = false;
    const ensuredBefore = h.pointers.ensureTopicCalls;
    const c = await h.client();
    const r = await c.request(ApiKey.Produce, produceRequest('t', ['lost']));
    assert.equal(r.errorCode, ErrorCode.UNKNOWN_TOPIC);
    assert.ok(h.pointers.publishFailures >= 2, `${h.pointers.publishFailures} publish attempts`);
    assert.ok(h.pointers.ensureTopicCalls >= ensuredBefore + 2, 'ensureTopic before every retry');
    const [key] = batchKeys(h.storage.puts);
    assert.ok(key);
    await waitFor(
      () =>
        h.storage.get(orphanMetaKey(key)).then(
          () => true,
          () => false,
        ),
      'orphan marker',
    );
  });
});

describe('graceful shutdown and restarts', () => {
  it('stop() waits for batches whose pointer publication is being retried, and acks them when the queue recovers', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 5 } }], {}, { shutdownTimeoutMs: 60_000 });
    const c = await h.client();
    h.pointers.failing = true;
    const reply = c.request(ApiKey.Produce, produceRequest('t', ['held']));
    await waitFor(() => h.pointers.publishFailures >= 2, 'publication retried');
    const stopping = h.broker.stop();
    let stopped = false;
    void stopping.then(() => {
      stopped = true;
    });
    const failures = h.pointers.publishFailures;
    await waitFor(() => h.pointers.publishFailures >= failures + 3, 'publication retried during stop()');
    assert.equal(stopped, false, 'stop() waits for the batch being published');
    assert.equal(c.pendingCount, 1, 'the durable ack is still held');
    h.pointers.failing = false;
    await stopping;
    const res = ok(await reply);
    assert.equal(res.offset, 0);
    const q = new EmbeddedPointerQueue({ path: join(h.dir, 'pointers.sqlite') });
    try {
      const ptrs = await readAllPointers(q, 't');
      assert.equal(ptrs.length, 1);
    } finally {
      await q.close();
    }
  });

  it('stop() abandons a publication already being retried at the shutdown deadline, and records the orphan before closing storage', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 5 } }], {}, { shutdownTimeoutMs: 300 });
    const c = await h.client();
    h.pointers.failing = true;
    const reply = c.request(ApiKey.Produce, produceRequest('t', ['abandoned']));
    await waitFor(() => h.pointers.publishFailures >= 2, 'publication retried');
    await h.broker.stop();
    const r = await reply;
    assert.equal(r.errorCode, ErrorCode.POINTER_QUEUE_UNAVAILABLE);
    const [key] = batchKeys(h.storage.puts);
    assert.ok(key);
    const storage = new LocalStorage({ root: join(h.dir, 'objects') });
    const marker = JSON.parse((await storage.get(orphanMetaKey(key))).toString()) as {
      key: string;
      reason: string;
    };
    assert.equal(marker.key, key);
    assert.match(marker.reason, /abandoned/);
  });

  it('upload.pointerRetryBudgetMs and broker.shutdownTimeoutMs from the config are used', {
    // Without the configured values the broker would wait 300 s / 30 s here.
    timeout: 20_000,
  }, async () => {
    const budget = await harness([{ name: 't', batch: { maxDelayMs: 5 } }], {
      upload: { pointerRetryBudgetMs: 100 },
    });
    budget.pointers.failing = true;
    let c = await budget.client();
    const r = await c.request(ApiKey.Produce, produceRequest('t', ['budget']));
    assert.equal(r.errorCode, ErrorCode.POINTER_QUEUE_UNAVAILABLE, 'abandoned after the configured budget');

    const h = await harness(
      [{ name: 't', batch: { maxDelayMs: 5 } }],
      { broker: { shutdownTimeoutMs: 100 } },
      { shutdownTimeoutMs: undefined },
    );
    h.pointers.failing = true;
    c = await h.client();
    const reply = c.request(ApiKey.Produce, produceRequest('t', ['shutdown']));
    await waitFor(() => h.pointers.publishFailures >= 2, 'publication retried');
    await h.broker.stop();
    const s = await reply;
    assert.equal(s.errorCode, ErrorCode.POINTER_QUEUE_UNAVAILABLE, 'abandoned at the configured deadline');
  });

  it('stop() flushes open batches and sends their acks before closing', async () => {
    const h = await harness([{ name: 't', writePartitions: 2, batch: { maxDelayMs: 600_000 } }]);
    const c = await h.client();
    const replies = [0, 1, 0, 1].map((wp, i) =>
      c.request(ApiKey.Produce, produceRequest('t', [`s${i}`], { writePartition: wp })),
    );
    await waitFor(() => h.broker.budget.used > 0 && c.pendingCount === 4, 'requests received');
    await waitFor(async () => {
      const m = await h.broker.metrics.produceRequests.get();
      return m.values[0]?.value === 4;
    }, 'four produce requests accepted');
    await h.broker.stop();
    const res = (await Promise.all(replies)).map(ok);
    assert.equal(res.length, 4);
    await c.whenClosed();
    const q = new EmbeddedPointerQueue({ path: join(h.dir, 'pointers.sqlite') });
    try {
      const ptrs = await readAllPointers(q, 't');
      assert.equal(ptrs.length, 2, 'one batch per write partition');
    } finally {
      await q.close();
    }
  });

  it('rejects produce requests during shutdown with SHUTTING_DOWN', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 600_000 } }]);
    const c = await h.client();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    h.storage.beforePut = (key) => (key.startsWith('topics/') ? gate : undefined);
    const first = c.request(ApiKey.Produce, produceRequest('t', ['before']));
    await waitFor(() => h.broker.budget.used > 0, 'first request accepted');
    const stopping = h.broker.stop();
    const r = await c.request(ApiKey.Produce, produceRequest('t', ['during']));
    assert.equal(r.errorCode, ErrorCode.SHUTTING_DOWN);
    release();
    ok(await first);
    await stopping;
  });

  it('stop() abandons publication at the shutdown deadline: negative acks and orphan markers', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 600_000 } }], {}, { shutdownTimeoutMs: 200 });
    const c = await h.client();
    h.pointers.failing = true;
    const reply = c.request(ApiKey.Produce, produceRequest('t', ['unpublished']));
    await waitFor(() => h.broker.budget.used > 0, 'request accepted');
    await h.broker.stop();
    const r = await reply;
    assert.equal(r.errorCode, ErrorCode.POINTER_QUEUE_UNAVAILABLE);
    const [key] = batchKeys(h.storage.puts);
    assert.ok(key);
    const storage = new LocalStorage({ root: join(h.dir, 'objects') });
    const marker = JSON.parse((await storage.get(orphanMetaKey(key))).toString()) as {
      key: string;
      reason: string;
    };
    assert.equal(marker.key, key);
    assert.match(marker.reason, /abandoned/);
  });

  it('answers REQUEST_TIMED_OUT when the durable ack is not ready within timeoutMs, and nothing after', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 5 } }]);
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    h.storage.beforePut = (key) => (key.startsWith('topics/') ? gate : undefined);
    const c = await h.client();
    const r = await c.request(ApiKey.Produce, produceRequest('t', ['slow'], { timeoutMs: 50 }));
    assert.equal(r.errorCode, ErrorCode.REQUEST_TIMED_OUT);
    release();
    await waitFor(() => h.pointers.published === 1, 'the batch to be published anyway');
    ok(await c.request(ApiKey.ListTopics, {}));
    assert.equal(c.unsolicited.length, 0, 'no second response for the timed-out request');
  });

  it('batch sequences keep increasing across restarts', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 5 } }]);
    let c = await h.client();
    const a = ok(await c.request(ApiKey.Produce, produceRequest('t', ['1'])));
    await h.restart();
    c = await h.client();
    const b = ok(await c.request(ApiKey.Produce, produceRequest('t', ['2'])));
    assert.ok(b.sequence > a.sequence, `${b.sequence} > ${a.sequence}`);
    assert.equal(b.offset, 1);
  });
});
