import { once } from 'node:events';
import * as net from 'node:net';
import { join } from 'node:path';
import { Broker } from '@barge/broker';
import { type BrokerConfigInput, type ObjectStorage, parseBrokerConfig } from '@barge/core';
import { EmbeddedPointerQueue } from '@barge/pointers-embedded';
import { createLocalStorage } from '@barge/storage-local';
import { pino } from 'pino';
import { tempDir } from './helpers.js';

export interface TestBroker {
  /** `127.0.0.1:<port>` */
  address: string;
  broker: Broker;
  storage: ObjectStorage;
  queue: EmbeddedPointerQueue;
  dir: string;
  /** Stops the broker (flushing its batches) and starts a new one on the same port, storage and queue. */
  restart(): Promise<void>;
  /** Messages the broker has accepted in produce requests (its metrics). */
  producedMessages(): Promise<number>;
  close(): Promise<void>;
}

/** A real broker on real local storage and a real embedded pointer queue, in a temp dir, on a free port. */
export async function startBroker(config: Omit<BrokerConfigInput, 'broker'> = {}): Promise<TestBroker> {
  const { dir, cleanup } = await tempDir('barge-client-broker-');
  const storage = await createLocalStorage({ root: join(dir, 'objects') });
  const queue = new EmbeddedPointerQueue({ path: join(dir, 'pointers.db') });
  const logger = pino({ level: process.env.BARGE_TEST_LOG ?? 'silent' });
  const make = (listen: string) =>
    new Broker(
      parseBrokerConfig({ ...config, broker: { id: 1, listen, dataDir: dir } }),
      storage,
      queue,
      logger,
      {
        closeAdapters: false,
        shutdownTimeoutMs: 5_000,
      },
    );
  let broker = make('127.0.0.1:0');
  await broker.start();
  const port = broker.address.port;
  const tb: TestBroker = {
    address: `127.0.0.1:${port}`,
    broker,
    storage,
    queue,
    dir,
    async restart() {
      await broker.stop();
      broker = make(`127.0.0.1:${port}`);
      tb.broker = broker;
      await broker.start();
    },
    async producedMessages() {
      const m = await tb.broker.metrics.produceMessages.get();
      return m.values.reduce((n, v) => n + v.value, 0);
    },
    async close() {
      await broker.stop();
      await queue.close();
      await storage.close();
      await cleanup();
    },
  };
  return tb;
}

/**
 * A TCP proxy in front of a broker that can cut every connection going through it: a real
 * connection failure at a chosen moment (requests in flight, acks lost). While `stalled`, the
 * broker's answers are dropped: a broker that hangs.
 */
export class CuttableProxy {
  private readonly server: net.Server;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  /** Bytes forwarded from clients to the broker. */
  upstreamBytes = 0;
  /** Drop what the broker sends while true. */
  stalled = false;
  address = '';

  constructor(private readonly target: string) {
    this.server = net.createServer((client) => {
      const [host, port] = this.target.split(':') as [string, string];
      const upstream = net.connect({ host, port: Number(port) });
      const pair: [net.Socket, net.Socket] = [client, upstream];
      this.pairs.add(pair);
      client.on('data', (d) => {
        this.upstreamBytes += d.length;
        upstream.write(d);
      });
      upstream.on('data', (d) => {
        if (!this.stalled) client.write(d);
      });
      const end = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('close', end);
      upstream.on('close', end);
      client.on('error', end);
      upstream.on('error', end);
    });
  }

  /** Listens on `port` (default: a free one). */
  async start(port = 0): Promise<void> {
    this.server.listen(port, '127.0.0.1');
    await once(this.server, 'listening');
    const a = this.server.address() as net.AddressInfo;
    this.address = `127.0.0.1:${a.port}`;
  }

  /** Destroys every proxied connection (both sides). */
  cut(): number {
    const n = this.pairs.size;
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
    return n;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** A port nothing listens on (it was free a moment ago): connecting to it is refused. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** A server that accepts TCP connections and never answers: a hung broker. */
export async function silentServer(): Promise<{ address: string; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
