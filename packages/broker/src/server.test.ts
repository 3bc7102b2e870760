import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  ApiKey,
  type BrokerConfigInput,
  decodeBatchHeader,
  ErrorCode,
  encodeRequest,
  joinParts,
  parseBrokerConfig,
  READ_TO_END,
  supportedVersionEntries,
} from '@barge/core';
import { EmbeddedPointerQueue } from '@barge/pointers-embedded';
import { LocalStorage } from '@barge/storage-local';
import { Broker } from './broker.js';
import {
  type Harness,
  ok,
  produceRequest,
  readAllPointers,
  silent,
  startHarness,
  TestClient,
  waitFor,
} from './test-helpers.js';

const harnesses: Harness[] = [];
after(async () => {
  await Promise.all(harnesses.map((h) => h.dispose()));
});

async function harness(config: BrokerConfigInput = {}): Promise<Harness> {
  const h = await startHarness(config);
  harnesses.push(h);
  return h;
}

function frame(apiKey: number, version: number, correlationId: number, body: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt32BE(8 + body.length, 0);
  head.writeUInt16BE(apiKey, 4);
  head.writeUInt16BE(version, 6);
  head.writeUInt32BE(correlationId, 8);
  return Buffer.concat([head, body]);
}

describe('protocol handling', () => {
  it('negotiates versions', async () => {
    const h = await harness();
    const c = await h.client();
    const r = ok(
      await c.request(ApiKey.ApiVersions, { clientId: 'test', versions: supportedVersionEntries() }),
    );
    assert.equal(r.brokerId, 1);
    assert.deepEqual(r.versions, supportedVersionEntries());
    const bad = await c.raw(frame(ApiKey.ApiVersions, 99, 500, Buffer.alloc(0)), 500, ApiKey.ApiVersions);
    assert.equal(bad?.errorCode, ErrorCode.UNSUPPORTED_VERSION);
  });

  it('answers unknown apis, unsupported versions and malformed bodies, and keeps the connection', async () => {
    const h = await harness({ topics: [{ name: 't' }] });
    const c = await h.client();
    const unknown = await c.raw(frame(999, 1, 101, Buffer.alloc(3)), 101);
    assert.equal(unknown?.errorCode, ErrorCode.UNKNOWN_API);
    const version = await c.raw(frame(ApiKey.Metadata, 7, 102, Buffer.alloc(4)), 102);
    assert.equal(version?.errorCode, ErrorCode.UNSUPPORTED_VERSION);
    const trailing = await c.raw(frame(ApiKey.Metadata, 1, 103, Buffer.alloc(7)), 103);
    assert.equal(trailing?.errorCode, ErrorCode.INVALID_REQUEST);
    const truncated = joinParts(encodeRequest(ApiKey.Produce, 1, 104, produceRequest('t', ['x'])));
    const cut = Buffer.from(truncated.subarray(0, truncated.length - 5));
    cut.writeUInt32BE(cut.length - 4, 0);
    const r = await c.raw(cut, 104, ApiKey.Produce);
    assert.equal(r?.errorCode, ErrorCode.INVALID_REQUEST);
    assert.match(r?.message ?? '', /truncated/);
    ok(await c.request(ApiKey.ListTopics, {}));
    assert.equal(c.closed, false);
  });

  it('oversized frames get FRAME_TOO_LARGE and a closed connection; other clients are unaffected', async () => {
    const h = await harness({
      limits: { maxFrameBytes: 4096 },
      topics: [{ name: 't', batch: { maxDelayMs: 5 } }],
    });
    const other = await h.client();
    const c = await h.client();
    const big = joinParts(encodeRequest(ApiKey.Produce, 1, 77, produceRequest('t', ['x'.repeat(10_000)])));
    const r = await c.raw(big, 77, ApiKey.Produce);
    assert.equal(r?.errorCode, ErrorCode.FRAME_TOO_LARGE);
    await c.whenClosed();
    ok(await other.request(ApiKey.Produce, produceRequest('t', ['small'])));
  });

  it('a frame too short for a header closes the connection', async () => {
    const h = await harness();
    const c = await h.client();
    c.raw(Buffer.from([0, 0, 0, 3, 1, 2, 3]));
    await c.whenClosed();
    const d = await h.client();
    ok(await d.request(ApiKey.ListTopics, {}));
  });

  it('survives clients sending random bytes and keeps serving others', async () => {
    const h = await harness({
      limits: { maxFrameBytes: 65536 },
      topics: [{ name: 't', batch: { maxDelayMs: 5 } }],
    });
    const good = await h.client();
    const bad = await Promise.all(Array.from({ length: 8 }, () => h.client()));
    for (let round = 0; round < 20; round++) {
      for (const b of bad) {
        if (b.closed) continue;
        // A plausible header with a random body, or pure noise.
        const body = randomBytes(Math.floor(Math.random() * 200));
        b.raw(round % 2 === 0 ? frame(Math.floor(Math.random() * 25), 1, round, body) : randomBytes(64));
      }
    }
    ok(await good.request(ApiKey.Produce, produceRequest('t', ['still fine'])));
    assert.equal((await readAllPointers(h.pointers, 't')).length, 1);
  });

  it('refuses connections above maxConnections with TOO_MANY_CONNECTIONS', async () => {
    const h = await harness({ limits: { maxConnections: 2 } });
    const a = await h.client();
    await h.client();
    await waitFor(() => h.broker.connectionCount === 2, 'two connections');
    const extra = await h.client();
    await extra.whenClosed();
    assert.equal(extra.unsolicited[0]?.errorCode, ErrorCode.TOO_MANY_CONNECTIONS);
    a.close();
    await waitFor(() => h.broker.connectionCount === 1, 'a connection to close');
    const again = await h.client();
    ok(await again.request(ApiKey.ListTopics, {}));
  });
});

describe('topics', () => {
  it('creates, lists and describes topics; they survive a restart', async () => {
    const h = await harness({ topics: [{ name: 'from-config', readPartitions: 2 }] });
    let c = await h.client();
    const created = ok(
      await c.request(ApiKey.CreateTopic, {
        name: 'runtime',
        writePartitions: 3,
        readPartitions: 2,
        batch: { maxDelayMs: 10 },
        compression: 'lz4',
      }),
    );
    assert.equal(created.created, true);
    assert.deepEqual(created.topic, {
      name: 'runtime',
      writePartitions: 3,
      readPartitions: 2,
      batch: { maxBytes: 8 * 1024 * 1024, maxMessages: 100_000, maxDelayMs: 10 },
      compression: 'lz4',
    });
    assert.equal(
      (await c.request(ApiKey.CreateTopic, { name: 'runtime' })).errorCode,
      ErrorCode.TOPIC_ALREADY_EXISTS,
    );
    const again = ok(await c.request(ApiKey.CreateTopic, { name: 'runtime', ifNotExists: true }));
    assert.equal(again.created, false);
    assert.equal((await c.request(ApiKey.CreateTopic, { name: '..' })).errorCode, ErrorCode.INVALID_TOPIC);
    assert.equal(
      (await c.request(ApiKey.CreateTopic, { name: 'x', readPartitions: 0 })).errorCode,
      ErrorCode.INVALID_CONFIG,
    );
    const d = ok(await c.request(ApiKey.DescribeTopic, { name: 'runtime' }));
    assert.deepEqual(d.partitions, [
      { partition: 0, low: 0, high: 0 },
      { partition: 1, low: 0, high: 0 },
    ]);
    assert.equal(
      (await c.request(ApiKey.DescribeTopic, { name: 'missing' })).errorCode,
      ErrorCode.UNKNOWN_TOPIC,
    );
    await h.restart();
    c = await h.client();
    const names = ok(await c.request(ApiKey.ListTopics, {})).topics.map((t) => t.name);
    assert.deepEqual(names, ['from-config', 'runtime']);
    const meta = ok(await c.request(ApiKey.Metadata, { topics: ['runtime'] }));
    assert.equal(meta.topics[0]?.writePartitions, 3);
    assert.equal(meta.storage.adapter, 'local');
    assert.equal(meta.storage.location, join(h.dir, 'objects'));
    assert.equal(meta.pointers.adapter, 'embedded');
    assert.equal((await c.request(ApiKey.Metadata, { topics: ['nope'] })).errorCode, ErrorCode.UNKNOWN_TOPIC);
  });

  it('a topic created on one broker is served by another broker on the same storage', async () => {
    const h = await harness();
    const c = await h.client();
    ok(await c.request(ApiKey.CreateTopic, { name: 'shared', batch: { maxDelayMs: 5 } }));
    const dir = await mkdtemp(join(tmpdir(), 'barge-broker2-'));
    const second = new Broker(
      parseBrokerConfig({ broker: { id: 2, listen: '127.0.0.1:0', dataDir: dir } }),
      new LocalStorage({ root: join(h.dir, 'objects') }),
      new EmbeddedPointerQueue({ path: join(dir, 'pointers.sqlite') }),
      silent,
    );
    await second.start();
    try {
      const c2 = await TestClient.connect(second.address.port);
      const r = ok(await c2.request(ApiKey.Produce, produceRequest('shared', ['via broker 2'])));
      assert.equal(r.offset, 0);
      c2.close();
    } finally {
      await second.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('read proxy', () => {
  it('serves whole batches and byte ranges, in ranges when bigger than a frame', async () => {
    const h = await harness({
      limits: { maxFrameBytes: 8192 },
      topics: [{ name: 't', batch: { maxDelayMs: 600_000, maxBytes: 1024 * 1024 } }],
    });
    const c = await h.client();
    const replies = Array.from({ length: 10 }, (_, i) =>
      c.request(ApiKey.Produce, produceRequest('t', [`${i}`.padEnd(3000, '.')])),
    );
    await waitFor(
      async () => (await h.broker.metrics.produceRequests.get()).values[0]?.value === 10,
      'requests',
    );
    h.broker.flush();
    (await Promise.all(replies)).map(ok);
    const [p] = await readAllPointers(h.pointers, 't');
    const key = p!.pointer.storage.key;
    const whole = await h.storage.get(key);
    assert.ok(whole.length > 30_000);
    const meta = ok(await c.request(ApiKey.Metadata, { topics: [] }));
    // Read the whole object in ranges, as docs/protocol.md describes.
    const parts: Buffer[] = [];
    let offset = 0;
    for (;;) {
      const r = ok(await c.request(ApiKey.ReadObject, { key, offset, length: READ_TO_END }));
      assert.equal(r.objectSize, whole.length);
      assert.ok(r.data.length <= meta.maxReadBytes);
      parts.push(r.data);
      offset += r.data.length;
      if (offset >= r.objectSize) break;
    }
    assert.ok(parts.length > 3);
    assert.deepEqual(Buffer.concat(parts), whole);
    // A range: the header alone.
    const head = ok(await c.request(ApiKey.ReadObject, { key, offset: 0, length: p!.pointer.headerLength }));
    assert.equal(decodeBatchHeader(head.data).chunkCount, 10);
    const mid = ok(await c.request(ApiKey.ReadObject, { key, offset: 5000, length: 100 }));
    assert.deepEqual(mid.data, whole.subarray(5000, 5100));
    const past = ok(await c.request(ApiKey.ReadObject, { key, offset: whole.length + 10, length: 5 }));
    assert.equal(past.data.length, 0);
    const missing = await c.request(ApiKey.ReadObject, { key: `${key}-nope`, offset: 0, length: 10 });
    assert.equal(missing.errorCode, ErrorCode.OBJECT_NOT_FOUND);
    const meta2 = await c.request(ApiKey.ReadObject, { key: '_meta/topics/t.json', offset: 0, length: 10 });
    assert.equal(meta2.errorCode, ErrorCode.ACCESS_DENIED);
    const dotdot = await c.request(ApiKey.ReadObject, {
      key: 'topics/../_meta/topics/t.json',
      offset: 0,
      length: 10,
    });
    assert.equal(dotdot.errorCode, ErrorCode.ACCESS_DENIED);
  });
});

describe('admin HTTP', () => {
  function get(port: number, path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpGet({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('serves /health and /metrics', async () => {
    const h = await harness({
      broker: { admin: '127.0.0.1:0' },
      topics: [{ name: 't', batch: { maxDelayMs: 5 } }],
    });
    const port = h.broker.adminAddress!.port;
    const c = await h.client();
    ok(await c.request(ApiKey.Produce, produceRequest('t', ['m'])));
    const health = await get(port, '/health');
    assert.equal(health.status, 200);
    const metrics = await get(port, '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /barge_produce_requests_total\{topic="t"\} 1/);
    assert.match(metrics.body, /barge_batches_uploaded_total 1/);
    assert.match(metrics.body, /barge_upload_seconds_bucket/);
    assert.match(metrics.body, /barge_pointer_publish_seconds_count 1/);
    assert.equal((await get(port, '/nope')).status, 404);
  });
});
