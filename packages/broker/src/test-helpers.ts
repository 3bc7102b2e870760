/**
 * Test helpers (not exported from the package): a minimal protocol client over node:net,
 * wrappers around the REAL local storage and embedded pointer queue that delay or fail calls on
 * demand, and a harness that starts a broker on temporary directories.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ApiKey,
  type BatchPointer,
  type BrokerConfigInput,
  decodeBatch,
  decodeErrorBody,
  decodeResponseBody,
  decodeResponseFrame,
  encodeChunk,
  encodeRequest,
  FrameDecoder,
  type GroupDescription,
  type GroupListing,
  type ListOptions,
  type ListPage,
  type Message,
  NotFoundError,
  type ObjectInfo,
  type ObjectStorage,
  type PartitionOffset,
  type PointerConsumer,
  type PointerQueue,
  type ProduceChunk,
  type ProduceRequest,
  type PublishedPointer,
  type PutOptions,
  type PutResult,
  parseBrokerConfig,
  type RequestTypes,
  type ResponseTypes,
  type StorageCapabilities,
  type StoredPosition,
  type SubscribeOptions,
  type TopicStoredPosition,
  TransientError,
} from '@barge/core';
import { EmbeddedPointerQueue } from '@barge/pointers-embedded';
import { LocalStorage } from '@barge/storage-local';
import { pino } from 'pino';
import { Broker, type BrokerOptions } from './broker.js';

export const silent = pino({ level: process.env.BARGE_TEST_LOG_LEVEL ?? 'silent' });

/** Waits until `cond` is true, checking every `intervalMs`, for at most `timeoutMs` (then throws). */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
  intervalMs = 5,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A reply: `errorCode` 0 with `body`, or an error code with its message. */
export interface Reply<K extends ApiKey> {
  errorCode: number;
  message: string;
  body?: ResponseTypes[K];
}

/** A minimal pipelined protocol client for tests. */
export class TestClient {
  readonly socket: Socket;
  readonly decoder = new FrameDecoder({ maxFrameBytes: 64 * 1024 * 1024 });
  #next = 1;
  readonly #pending = new Map<number, { apiKey: number; resolve: (r: Reply<ApiKey>) => void }>();
  /** Responses whose correlation id was not pending (e.g. TOO_MANY_CONNECTIONS with id 0). */
  readonly unsolicited: { correlationId: number; errorCode: number; message: string }[] = [];
  closed = false;
  readonly #closedWaiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.decoder.push(d);
      for (let f = this.decoder.next(); f; f = this.decoder.next()) this.#onFrame(f);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.#closedWaiters.splice(0)) w();
    });
  }

  static connect(port: number, host = '127.0.0.1'): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host }, () => {
        s.off('error', reject);
        resolve(new TestClient(s));
      });
      s.once('error', reject);
    });
  }

  #onFrame(frame: Buffer): void {
    const { header, body } = decodeResponseFrame(frame);
    const p = this.#pending.get(header.correlationId);
    if (!p) {
      const message = header.errorCode !== 0 ? decodeErrorBody(-1, body).message : '';
      this.unsolicited.push({ correlationId: header.correlationId, errorCode: header.errorCode, message });
      return;
    }
    this.#pending.delete(header.correlationId);
    if (header.errorCode === 0) {
      p.resolve({ errorCode: 0, message: '', body: decodeResponseBody(p.apiKey as ApiKey, 1, body) });
    } else {
      p.resolve({ errorCode: header.errorCode, message: decodeErrorBody(p.apiKey, body).message });
    }
  }

  /** Sends a request and resolves with its reply. */
  request<K extends ApiKey>(apiKey: K, body: RequestTypes[K]): Promise<Reply<K>> {
    const id = this.#next++;
    const p = new Promise<Reply<K>>((resolve) => {
      this.#pending.set(id, { apiKey, resolve: resolve as (r: Reply<ApiKey>) => void });
    });
    for (const part of encodeRequest(apiKey, 1, id, body)) this.socket.write(part);
    return p;
  }

  /** Sends without expecting a reply (acks=0 produce). */
  fire<K extends ApiKey>(apiKey: K, body: RequestTypes[K]): void {
    for (const part of encodeRequest(apiKey, 1, this.#next++, body)) this.socket.write(part);
  }

  /** Sends raw bytes; replies to `correlationId` (if given) resolve the returned promise. */
  raw(bytes: Buffer, correlationId?: number, apiKey = 0): Promise<Reply<ApiKey>> | undefined {
    let p: Promise<Reply<ApiKey>> | undefined;
    if (correlationId !== undefined) {
      p = new Promise((resolve) => this.#pending.set(correlationId, { apiKey, resolve }));
    }
    this.socket.write(bytes);
    return p;
  }

  /** Resolves when the broker closed the connection. */
  whenClosed(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => this.#closedWaiters.push(resolve));
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Throws unless the reply is a success; returns its body. */
export function ok<K extends ApiKey>(r: Reply<K>): ResponseTypes[K] {
  if (r.errorCode !== 0) throw new Error(`expected success, got error ${r.errorCode}: ${r.message}`);
  return r.body as ResponseTypes[K];
}

/** A produce chunk made with core's producer-side encoder. */
export function chunkOf(
  messages: Message[],
  options: { producerId?: number; baseSequence?: number } = {},
): ProduceChunk {
  return encodeChunk(messages, 'none', options);
}

export function produceRequest(
  topic: string,
  values: string[],
  overrides: Partial<ProduceRequest> = {},
  baseSequence = 0,
): ProduceRequest {
  return {
    topic,
    writePartition: 0,
    acks: 'durable',
    producerId: 7,
    timeoutMs: 0,
    chunks: [
      chunkOf(
        values.map((value) => ({ value, timestamp: 1_700_000_000_000 })),
        { producerId: 7, baseSequence },
      ),
    ],
    ...overrides,
  };
}

/** Every message value of a batch object, in order. */
export async function readBatchValues(storage: ObjectStorage, pointer: BatchPointer): Promise<string[]> {
  const obj = await storage.get(pointer.storage.key);
  return decodeBatch(obj).messages.map((m) => m.value.toString('utf8'));
}

/** Every pointer of a read partition, in offset order (read with a throwaway group member). */
export async function readAllPointers(
  queue: PointerQueue,
  topic: string,
): Promise<{ partition: number; offset: number; pointer: BatchPointer }[]> {
  const c = await queue.subscribe({
    group: `reader-${Math.random().toString(36).slice(2)}`,
    topic,
    fromBeginning: true,
  });
  const out: { partition: number; offset: number; pointer: BatchPointer }[] = [];
  try {
    for (;;) {
      const recs = await c.poll({ maxRecords: 1000, timeoutMs: 0 });
      if (recs.length === 0) break;
      out.push(...recs);
    }
  } finally {
    await c.close();
  }
  return out.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

// --- wrappers around the real adapters ------------------------------------------------------------

/**
 * Real `LocalStorage`, plus hooks to hold or fail calls: `beforePut(key)` may return a promise
 * (the PUT waits for it) or throw (the PUT fails with that error, nothing is written).
 */
export class ControlledStorage implements ObjectStorage {
  readonly adapter: string;
  readonly location: string;
  readonly capabilities: StorageCapabilities;
  beforePut: ((key: string, options?: PutOptions) => Promise<void> | undefined) | undefined;
  puts: string[] = [];
  deletes: string[] = [];

  constructor(readonly inner: ObjectStorage) {
    this.adapter = inner.adapter;
    this.location = inner.location;
    this.capabilities = inner.capabilities;
  }

  async put(key: string, body: Buffer | readonly Buffer[], options?: PutOptions): Promise<PutResult> {
    this.puts.push(key);
    const hook = this.beforePut?.(key, options);
    if (hook) await hook;
    options?.signal?.throwIfAborted();
    return this.inner.put(key, body, options);
  }
  get(key: string): Promise<Buffer> {
    return this.inner.get(key);
  }
  getRange(key: string, offset: number, length: number): Promise<Buffer> {
    return this.inner.getRange(key, offset, length);
  }
  head(key: string): Promise<ObjectInfo> {
    return this.inner.head(key);
  }
  delete(keys: readonly string[]): Promise<void> {
    this.deletes.push(...keys);
    return this.inner.delete(keys);
  }
  listPage(prefix: string, options?: ListOptions): Promise<ListPage> {
    return this.inner.listPage(prefix, options);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * Real embedded pointer queue; `failing = true` makes `publish` and `ensureTopic` throw
 * `TransientError`. Topics in `missing` behave as lost by the queue (as after Kafka restarted
 * empty): `publish` throws `NotFoundError` until `ensureTopic` is called for them again (unless
 * `ensureRestores` is false).
 */
export class ControlledPointerQueue implements PointerQueue {
  readonly adapter: string;
  readonly location: string;
  failing = false;
  publishFailures = 0;
  published = 0;
  readonly missing = new Set<string>();
  ensureRestores = true;
  ensureTopicCalls = 0;
  readonly readPartition: PointerQueue['readPartition'];
  readonly deleteBefore: PointerQueue['deleteBefore'];

  constructor(readonly inner: PointerQueue) {
    this.adapter = inner.adapter;
    this.location = inner.location;
    this.readPartition = inner.readPartition?.bind(inner);
    this.deleteBefore = inner.deleteBefore?.bind(inner);
  }

  async ensureTopic(topic: string, readPartitions: number): Promise<void> {
    this.ensureTopicCalls++;
    if (this.failing) throw new TransientError('pointer queue unreachable (test)');
    await this.inner.ensureTopic(topic, readPartitions);
    if (this.ensureRestores) this.missing.delete(topic);
  }
  partitions(topic: string): Promise<number> {
    return this.inner.partitions(topic);
  }
  async publish(topic: string, pointers: readonly BatchPointer[]): Promise<PublishedPointer[]> {
    if (this.failing) {
      this.publishFailures++;
      throw new TransientError('pointer queue unreachable (test)');
    }
    if (this.missing.has(topic)) {
      this.publishFailures++;
      throw new NotFoundError(`pointer topic "${topic}" does not exist (test)`);
    }
    const r = await this.inner.publish(topic, pointers);
    this.published += pointers.length;
    return r;
  }
  offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<number> {
    return this.inner.offsetForTimestamp(topic, partition, timestamp);
  }
  watermarks(topic: string, partition: number): Promise<{ low: number; high: number }> {
    return this.inner.watermarks(topic, partition);
  }
  subscribe(options: SubscribeOptions): Promise<PointerConsumer> {
    return this.inner.subscribe(options);
  }
  listGroups(topic?: string): Promise<GroupListing[]> {
    return this.inner.listGroups(topic);
  }
  describeGroup(group: string): Promise<GroupDescription> {
    return this.inner.describeGroup(group);
  }
  resetOffsets(group: string, topic: string, positions: readonly PartitionOffset[]): Promise<void> {
    return this.inner.resetOffsets(group, topic, positions);
  }
  storePositions(group: string, topic: string, positions: readonly StoredPosition[]): Promise<void> {
    return this.inner.storePositions(group, topic, positions);
  }
  storedPositions(group: string, topic?: string): Promise<TopicStoredPosition[]> {
    return this.inner.storedPositions(group, topic);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

// --- harness -------------------------------------------------------------------------------------

export interface Harness {
  dir: string;
  broker: Broker;
  storage: ControlledStorage;
  pointers: ControlledPointerQueue;
  port: number;
  client(): Promise<TestClient>;
  /** Stops the broker and starts a new one on the same directories. */
  restart(config?: BrokerConfigInput): Promise<void>;
  /** Stops the broker (if running) and deletes the directories. */
  dispose(): Promise<void>;
}

export async function startHarness(
  config: BrokerConfigInput = {},
  options: BrokerOptions = {},
  hooks: {
    dir?: string;
    beforeStart?: (storage: ControlledStorage, pointers: ControlledPointerQueue) => void;
  } = {},
): Promise<Harness> {
  const dir = hooks.dir;
  const root = dir ?? (await mkdtemp(join(tmpdir(), 'barge-broker-')));
  const clients: TestClient[] = [];
  const make = async (cfg: BrokerConfigInput) => {
    const parsed = parseBrokerConfig({
      ...cfg,
      broker: { listen: '127.0.0.1:0', dataDir: root, ...cfg.broker },
    });
    const storage = new ControlledStorage(new LocalStorage({ root: join(root, 'objects') }));
    const pointers = new ControlledPointerQueue(
      new EmbeddedPointerQueue({ path: join(root, 'pointers.sqlite') }),
    );
    const broker = new Broker(parsed, storage, pointers, silent, {
      shutdownTimeoutMs: 10_000,
      ...options,
    });
    hooks.beforeStart?.(storage, pointers);
    await broker.start();
    return { broker, storage, pointers };
  };
  let current = await make(config);
  let stopped = false;
  const h: Harness = {
    dir: root,
    get broker() {
      return current.broker;
    },
    get storage() {
      return current.storage;
    },
    get pointers() {
      return current.pointers;
    },
    get port() {
      return current.broker.address.port;
    },
    async client() {
      const c = await TestClient.connect(current.broker.address.port);
      clients.push(c);
      return c;
    },
    async restart(cfg = config) {
      await current.broker.stop();
      current = await make(cfg);
    },
    async dispose() {
      for (const c of clients) c.close();
      if (!stopped) {
        stopped = true;
        await current.broker.stop();
      }
      await rm(root, { recursive: true, force: true });
    },
  };
  return h;
}
