import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiKey, decodeRequestFrame, decodeResponseFrame, FrameDecoder } from '@barge/core';
import { Producer, type ProducerOptions } from './producer.js';
import { startBroker, type TestBroker } from './test/broker.js';

/**
 * A TCP proxy that reads the frames going through it and keeps the most Produce requests, and
 * bytes of them, that were ever in flight at once (sent, not yet answered).
 */
class ProduceWatcher {
  private readonly server: net.Server;
  private readonly inFlight = new Map<number, number>();
  private readonly sockets = new Set<net.Socket>();
  private bytes = 0;
  maxRequests = 0;
  maxBytes = 0;
  address = '';

  constructor(target: string) {
    const [host, port] = target.split(':') as [string, string];
    this.server = net.createServer((client) => {
      const broker = net.connect({ host, port: Number(port) });
      const up = new FrameDecoder();
      const down = new FrameDecoder();
      client.on('data', (d) => {
        up.push(d);
        for (let f = up.next(); f; f = up.next()) this.requestSeen(f);
        broker.write(d);
      });
      broker.on('data', (d) => {
        down.push(d);
        for (let f = down.next(); f; f = down.next()) this.answerSeen(f);
        client.write(d);
      });
      this.sockets.add(client).add(broker);
      const end = () => {
        client.destroy();
        broker.destroy();
      };
      for (const s of [client, broker]) {
        s.on('close', end);
        s.on('error', end);
      }
    });
  }

  private requestSeen(frame: Buffer): void {
    const { header } = decodeRequestFrame(frame);
    if (header.apiKey !== ApiKey.Produce) return;
    this.inFlight.set(header.correlationId, frame.length);
    this.bytes += frame.length;
    this.maxRequests = Math.max(this.maxRequests, this.inFlight.size);
    this.maxBytes = Math.max(this.maxBytes, this.bytes);
  }

  private answerSeen(frame: Buffer): void {
    const { correlationId } = decodeResponseFrame(frame).header;
    const bytes = this.inFlight.get(correlationId);
    if (bytes === undefined) return;
    this.inFlight.delete(correlationId);
    this.bytes -= bytes;
  }

  async start(): Promise<void> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.address = `127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/**
 * The producer's in-flight window against the real broker: durable acks wait for a batch that
 * closes 300 ms after it opens, so keeping up takes many requests in flight.
 */
describe('Producer in-flight window with the real broker', () => {
  let tb: TestBroker;
  before(async () => {
    tb = await startBroker({
      topics: [
        ...['slow', 'big'].map((name) => ({
          name,
          writePartitions: 1,
          readPartitions: 1,
          batch: { maxDelayMs: 300 },
        })),
        { name: 'held', writePartitions: 1, readPartitions: 1, batch: { maxDelayMs: 1_500 } },
      ],
    });
  });
  after(async () => {
    await tb.close();
  });

  /** Sends `count` one-message sends of `valueBytes`, one every `gapMs`, through a watcher; returns it. */
  async function produceSteadily(
    options: Partial<ProducerOptions>,
    count: number,
    valueBytes: number,
    topic = 'slow',
    gapMs = 2,
  ): Promise<ProduceWatcher> {
    const watcher = new ProduceWatcher(tb.address);
    await watcher.start();
    const producer = new Producer({ brokers: [watcher.address], lingerMs: 0, ...options });
    try {
      await producer.connect();
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < count; i++) {
        sends.push(producer.send({ topic, messages: [{ value: Buffer.alloc(valueBytes, i % 256) }] }));
        await sleep(gapMs);
      }
      const acked = await Promise.all(sends);
      assert.equal(acked.length, count);
    } finally {
      await producer.disconnect();
      await watcher.close();
    }
    return watcher;
  }

  it('grows past 16 requests in flight by default when the ack latency calls for it', async () => {
    const w = await produceSteadily({}, 500, 100);
    // One send per ~2 ms against ~300 ms acks needs ~150 in flight; a fixed 16 never exceeds 16.
    assert.ok(w.maxRequests > 32, `at most ${w.maxRequests} requests were in flight`);
  });

  it('grows past 16 requests in flight before the first ack comes back', async () => {
    // 40 sends 15 ms apart, all before the batch closes 1.5 s after the first: a window that
    // waited for an ack to grow would hold at 16 and merge the rest into a few late requests.
    const w = await produceSteadily({}, 40, 100, 'held', 15);
    assert.ok(w.maxRequests > 16, `at most ${w.maxRequests} requests were in flight`);
  });

  it('keeps the bytes in flight within maxInFlightBytes', async () => {
    const maxInFlightBytes = 100_000;
    const w = await produceSteadily({ maxInFlightBytes }, 60, 10_000);
    assert.ok(w.maxBytes <= maxInFlightBytes, `${w.maxBytes} bytes were in flight`);
    assert.ok(w.maxRequests >= 3, `only ${w.maxRequests} requests were in flight`);
  });

  it('keeps an explicit maxInFlight fixed', async () => {
    const w = await produceSteadily({ maxInFlight: 4 }, 100, 100);
    assert.equal(w.maxRequests, 4);
  });

  // The big message comes before the first ack, and later, once small requests fill the byte budget.
  for (const bigAtMs of [200, 1_500])
    it(`sends a request larger than the free bytes before newer small ones (no starvation), ${bigAtMs} ms in`, async () => {
      const producer = new Producer({ brokers: [tb.address], lingerMs: 0, maxInFlightBytes: 100_000 });
      try {
        await producer.connect();
        const small: Promise<unknown>[] = [];
        let bigDoneAt: number | undefined;
        let big: Promise<unknown> | undefined;
        const started = Date.now();
        // Small sends every 2 ms for 3 s keep requests in flight all the time, and more than the
        // byte budget lets through, so some always wait; one message three times the byte budget
        // can only go alone.
        while (Date.now() - started < 3_000) {
          small.push(producer.send({ topic: 'slow', messages: [{ value: Buffer.alloc(2_000) }] }));
          if (big === undefined && Date.now() - started >= bigAtMs) {
            big = producer.send({ topic: 'big', messages: [{ value: Buffer.alloc(300_000) }] }).then(() => {
              bigDoneAt = Date.now() - started;
            });
          }
          await sleep(2);
        }
        const streamEnded = Date.now() - started;
        await Promise.all([...small, big]);
        assert.ok(
          bigDoneAt !== undefined && bigDoneAt < streamEnded,
          `the big message was acknowledged after ${bigDoneAt} ms, the small sends ran for ${streamEnded} ms`,
        );
      } finally {
        await producer.disconnect();
      }
    });
});
