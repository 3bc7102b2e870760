import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isConnectionBroken, TransientError } from '@barge/core';
import { Kafka, logLevel } from 'kafkajs';
import { mapKafkaError } from './errors.js';

/**
 * kafkajs against a "broker" that resets every connection, or accepts and never answers: the
 * real errors kafkajs raises must map to `TransientError`.
 */
describe('kafka: broken connections are transient (real kafkajs errors)', () => {
  let server: Server;
  let port: number;
  let mode: 'reset' | 'silent' = 'reset';
  const sockets = new Set<Socket>();

  before(async () => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      if (mode === 'reset') socket.once('data', () => socket.resetAndDestroy());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const connectError = async (): Promise<unknown> => {
    const admin = new Kafka({
      clientId: 'barge-connection-errors',
      brokers: [`127.0.0.1:${port}`],
      connectionTimeout: 300,
      requestTimeout: 300,
      retry: { retries: 0 },
      logLevel: logLevel.NOTHING,
    }).admin();
    try {
      await admin.connect();
      await admin.listTopics();
      return undefined;
    } catch (e) {
      return e;
    } finally {
      await admin.disconnect().catch(() => {});
    }
  };

  for (const m of ['reset', 'silent'] as const) {
    it(`a broker that ${m === 'reset' ? 'resets every connection' : 'never answers'}`, async () => {
      mode = m;
      const raw = await connectError();
      assert.ok(raw instanceof Error, 'kafkajs failed');
      const mapped = mapKafkaError(raw, 'list topics');
      assert.ok(mapped instanceof TransientError, `${(raw as Error).name}: ${(raw as Error).message}`);
      assert.equal(mapped.retryable, true);
    });
  }

  it('a TypeError whose cause is a reset (as undici reports one) is transient, not a programming error', () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const e = new TypeError('terminated', { cause: reset });
    assert.equal(isConnectionBroken(e), true);
    assert.ok(mapKafkaError(e, 'publish') instanceof TransientError);
    assert.equal(mapKafkaError(new TypeError('x is not a function'), 'publish').retryable, false);
  });
});
