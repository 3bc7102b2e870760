import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '@barge/core';
import { pino } from 'pino';
import { Admin } from './admin.js';
import { Consumer } from './consumer.js';
import { type LogEntry, logLevel } from './logger.js';
import { Producer } from './producer.js';
import { CuttableProxy, startBroker, type TestBroker } from './test/broker.js';
import { randomName, until } from './test/helpers.js';

/** What the clients log (kafkajs `logLevel`/`logCreator`, or a pino `logger`), against the real broker. */
describe('logging', () => {
  let tb: TestBroker;
  let admin: Admin;
  before(async () => {
    tb = await startBroker();
    admin = new Admin({ brokers: [tb.address] });
  });
  after(async () => {
    await admin.disconnect();
    await tb.close();
  });

  async function topic(): Promise<string> {
    const name = randomName('t');
    await admin.createTopic({ name, batch: { maxDelayMs: 20 } });
    return name;
  }

  /** Everything written to stderr while `fn` runs. */
  async function stderrOf(fn: () => Promise<void>): Promise<string> {
    const chunks: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string | Uint8Array) => {
      chunks.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      await fn();
    } finally {
      process.stderr.write = write;
    }
    return chunks.join('');
  }

  /** Connects, sends, and crashes a consumer on a failing handler: something at every level. */
  async function eventfulSession(options: Record<string, unknown>): Promise<void> {
    const t = await topic();
    const p = new Producer({ brokers: [tb.address], ...options });
    await p.send({ topic: t, messages: [{ value: 'x' }] });
    await p.disconnect();
    const c = new Consumer({
      brokers: [tb.address],
      groupId: randomName('g'),
      retry: { retries: 1 },
      ...options,
    });
    await c.subscribe({ topic: t });
    await c.run({
      eachMessage: async () => {
        throw new Error('handler bug');
      },
    });
    await until(() => c.crashed !== undefined, 'crash');
    await c.disconnect();
  }

  it('is silent by default', async () => {
    const out = await stderrOf(() => eventfulSession({}));
    assert.equal(out, '');
  });

  it('logCreator (kafkajs): entries with namespace, level, label and log, filtered by logLevel', async () => {
    const entries: LogEntry[] = [];
    const levels: number[] = [];
    const logCreator = (level: number) => {
      levels.push(level);
      return (entry: LogEntry) => entries.push(entry);
    };
    await eventfulSession({ logLevel: logLevel.INFO, logCreator });
    assert.deepEqual(levels, [logLevel.INFO, logLevel.INFO]); // once per client
    assert.ok(entries.every((e) => e.level <= logLevel.INFO && e.label !== 'DEBUG'));
    const find = (namespace: string, label: string, message: RegExp) =>
      entries.find((e) => e.namespace === namespace && e.label === label && message.test(e.log.message));
    const connected = find('Connection', 'INFO', /^connected to broker /);
    assert.ok(connected, JSON.stringify(entries.map((e) => [e.namespace, e.label, e.log.message])));
    assert.equal(connected.log.broker, tb.address);
    assert.equal(connected.log.logger, 'barge');
    assert.ok(!Number.isNaN(Date.parse(connected.log.timestamp)));
    assert.ok(find('Producer', 'INFO', /^connected to broker /));
    assert.ok(find('Consumer', 'INFO', /^joined group /));
    assert.ok(find('Consumer', 'WARN', /^handler failed on message .* retrying in \d+ ms/));
    const crashed = find('Consumer', 'ERROR', /^the consumer crashed/);
    assert.match(String(crashed?.log.error), /handler bug/);
  });

  it('a pino logger gets the entries as (fields, message) at its own level', async () => {
    const lines: Record<string, unknown>[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
        done();
      },
    });
    await eventfulSession({ logger: pino({ level: 'warn' }, stream) });
    assert.ok(lines.length > 0);
    assert.ok(
      lines.every((l) => (l.level as number) >= 40),
      'pino filtered below warn',
    );
    const crash = lines.find((l) => l.namespace === 'Consumer' && /the consumer crashed/.test(String(l.msg)));
    assert.equal(crash?.level, 50);
    assert.match(String(crash?.error), /handler bug/);
  });

  it('logLevel alone writes JSON lines to stderr; pino level names work', async () => {
    const out = await stderrOf(() => eventfulSession({ logLevel: 'warn' }));
    const lines = out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    assert.ok(lines.length > 0);
    assert.ok(
      lines.every((l) => l.level === 'WARN' || l.level === 'ERROR'),
      out,
    );
    assert.ok(lines.some((l) => l.namespace === 'Consumer' && /crashed/.test(l.message)));
  });

  it('retries and timeouts are logged as warnings', async () => {
    const t = await topic();
    const proxy = new CuttableProxy(tb.address);
    await proxy.start();
    const entries: LogEntry[] = [];
    const p = new Producer({
      brokers: [proxy.address],
      lingerMs: 0,
      retry: { initialRetryTime: 20 },
      logLevel: 'warn',
      logCreator: () => (e) => entries.push(e),
    });
    try {
      await p.connect();
      proxy.stalled = true;
      const before = proxy.upstreamBytes;
      const sent = p.send({ topic: t, messages: [{ value: 'x' }] });
      await until(() => proxy.upstreamBytes > before, 'the produce request'); // its answer is dropped
      proxy.cut();
      proxy.stalled = false;
      await sent;
      assert.ok(
        entries.some(
          (e) => e.label === 'WARN' && /^connection to broker .* closed with 1 requests/.test(e.log.message),
        ),
      );
      assert.ok(entries.some((e) => /^produce to .* failed, retrying in \d+ ms/.test(e.log.message)));

      const a = new Admin({
        brokers: [proxy.address],
        requestTimeout: 200,
        retry: { retries: 0 },
        logLevel: 'warn',
        logCreator: () => (e) => entries.push(e),
      });
      await a.connect();
      proxy.stalled = true;
      await assert.rejects(a.listTopics(), /timed out/);
      await a.disconnect();
      const timeout = entries.find((e) =>
        /^ListTopics request to broker .* timed out after 200 ms$/.test(e.log.message),
      );
      assert.equal(timeout?.namespace, 'Connection');
      assert.equal(timeout?.label, 'WARN');
    } finally {
      await p.disconnect();
      await proxy.close();
    }
  });

  it('a bad logLevel, or both logger and logCreator, is a configuration error', () => {
    assert.throws(() => new Producer({ brokers: ['127.0.0.1:1'], logLevel: 3 as never }), ConfigError);
    assert.throws(
      () => new Consumer({ brokers: ['127.0.0.1:1'], groupId: 'g', logLevel: 'loud' as never }),
      /logLevel/,
    );
    assert.throws(
      () =>
        new Admin({
          brokers: ['127.0.0.1:1'],
          logger: pino({ level: 'silent' }),
          logCreator: () => () => {},
        }),
      /not both/,
    );
  });
});
