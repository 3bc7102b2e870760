import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiKey } from '@barge/core';
import { BrokerPool } from './broker-pool.js';
import { BrokerUnreachableError } from './connection.js';
import type { LogEntry } from './logger.js';
import { MIN_REFRESH_INTERVAL_MS, REFRESH_TIMEOUT_MS, TopicMetadata } from './producer/topic-metadata.js';
import { Producer } from './producer.js';
import { resolveRetry } from './retry.js';
import { CuttableProxy, startBroker, type TestBroker } from './test/broker.js';
import { until } from './test/helpers.js';

/**
 * The parts of routing and failover that one broker per address shows, on real brokers: the
 * pool moving on to brokers learnt from a cluster, coalesced metadata refreshes, and produce
 * retries bounded by `deliveryTimeoutMs` rather than a count. (Routing to write-partition owners
 * needs a cluster: test/src/e2e/cluster-routing.test.ts.)
 */
describe('failover and delivery timeout', () => {
  let tb: TestBroker;
  before(async () => {
    tb = await startBroker({ topics: [{ name: 't', batch: { maxDelayMs: 10 } }] });
  });
  after(async () => {
    await tb.close();
  });

  it('the pool moves on to a learnt broker when its bootstrap broker dies; without it, fails', async () => {
    const dying = await startBroker({ topics: [{ name: 't' }] });
    const learning = new BrokerPool([dying.address], { clientId: 'test' });
    const bootstrapOnly = new BrokerPool([dying.address], { clientId: 'test' });
    try {
      learning.learn([tb.address, dying.address]);
      assert.deepEqual(learning.addresses, [dying.address, tb.address]);
      await learning.request(ApiKey.ListTopics, {});
      await bootstrapOnly.request(ApiKey.ListTopics, {});
      assert.equal(learning.connection?.address, dying.address);
      await dying.close();
      const r = await learning.request(ApiKey.ListTopics, {});
      assert.deepEqual(
        r.topics.map((t) => t.name),
        ['t'],
      );
      assert.equal(learning.connection?.address, tb.address);
      await assert.rejects(bootstrapOnly.request(ApiKey.ListTopics, {}), BrokerUnreachableError);
    } finally {
      await Promise.all([learning.close(), bootstrapOnly.close()]);
    }
  });

  it('metadata refreshes of a topic are shared while one runs, and spaced by the minimum interval', async () => {
    const asked: number[] = [];
    const pool = new BrokerPool([tb.address], {
      clientId: 'test',
      observer: {
        request: (e) => {
          if (e.apiKey === ApiKey.Metadata) asked.push(e.sentAt);
        },
      },
    });
    const metadata = new TopicMetadata(pool, resolveRetry(), 300_000);
    try {
      await Promise.all([1, 2, 3, 4, 5].map(() => metadata.refresh('t')));
      assert.equal(asked.length, 1, 'five concurrent refreshes, one request');
      const endedFirst = Date.now();
      await metadata.refresh('t');
      await Promise.all([metadata.refresh('t'), metadata.refresh('t')]);
      assert.equal(asked.length, 3);
      assert.ok(asked[1]! >= endedFirst + MIN_REFRESH_INTERVAL_MS - 5, `${asked[1]! - endedFirst} ms apart`);
      assert.ok(asked[2]! - asked[1]! >= MIN_REFRESH_INTERVAL_MS - 5, `${asked[2]! - asked[1]!} ms apart`);
      assert.equal(metadata.cached('t')?.name, 't');
    } finally {
      metadata.close();
      await pool.close();
    }
  });

  it('a refresh the broker does not answer drops its connection: the next one goes to another broker', async () => {
    const proxy = new CuttableProxy(tb.address);
    await proxy.start();
    const pool = new BrokerPool([proxy.address], { clientId: 'test', connectTimeoutMs: 500 });
    const metadata = new TopicMetadata(pool, resolveRetry(), 300_000);
    const connectedTo = () => pool.connection?.address;
    try {
      pool.learn([tb.address]);
      await metadata.refresh('t');
      assert.equal(connectedTo(), proxy.address);
      proxy.stalled = true; // a paused broker: connections open, nothing answered
      const started = Date.now();
      await metadata.refresh('t');
      const took = Date.now() - started;
      assert.ok(took >= REFRESH_TIMEOUT_MS - 50 && took < REFRESH_TIMEOUT_MS + 2_000, `${took} ms`);
      await metadata.refresh('t');
      assert.equal(connectedTo(), tb.address);
    } finally {
      metadata.close();
      await pool.close();
      await proxy.close();
    }
  });

  it('with retry.retries unset, a send is retried past ten retries until its broker is back', async () => {
    const proxy = new CuttableProxy(tb.address);
    await proxy.start();
    const port = Number(proxy.address.split(':')[1]);
    const retries: number[] = [];
    const p = new Producer({
      brokers: [proxy.address],
      lingerMs: 0,
      retry: { initialRetryTime: 5, maxRetryTime: 20 },
      logLevel: 'warn',
      logCreator: () => (e: LogEntry) => {
        const retry = (e.log as { retry?: unknown }).retry;
        if (/^produce to t\/0 failed, retrying/.test(e.log.message) && typeof retry === 'number')
          retries.push(retry);
      },
    });
    let back: CuttableProxy | undefined;
    try {
      await p.connect();
      await proxy.close(); // refused from now on
      const sent = p.send({ topic: 't', messages: [{ value: 'through the outage' }] });
      await until(() => retries.length > 15, 'more than 15 retries');
      back = new CuttableProxy(tb.address);
      await back.start(port);
      const [meta] = await sent;
      assert.equal(meta?.acks, 'durable');
      assert.ok(retries.at(-1)! > 15, `retried ${retries.at(-1)} times`);
    } finally {
      await p.disconnect();
      await back?.close();
    }
  });

  it('deliveryTimeoutMs bounds the retries of a send', async () => {
    assert.throws(
      () => new Producer({ brokers: [tb.address], deliveryTimeoutMs: 0 }),
      /producer deliveryTimeoutMs must be an integer >= 1, got 0/,
    );
    const proxy = new CuttableProxy(tb.address);
    await proxy.start();
    const p = new Producer({
      brokers: [proxy.address],
      lingerMs: 0,
      deliveryTimeoutMs: 600,
      retry: { initialRetryTime: 20, maxRetryTime: 50 },
    });
    try {
      await p.connect();
      await proxy.close();
      const started = Date.now();
      const error = await p.send({ topic: 't', messages: [{ value: 'x' }] }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const took = Date.now() - started;
      assert.ok(error instanceof Error && error.name === 'ProduceError', String(error));
      assert.match(
        error.message,
        /^produce to t\/0 failed after \d+ retries in \d+ ms \(deliveryTimeoutMs 600\)/,
      );
      assert.equal((error as { retryable?: boolean }).retryable, true);
      assert.ok(took >= 550 && took < 3_000, `failed after ${took} ms`);
    } finally {
      await p.disconnect();
    }
  });
});
