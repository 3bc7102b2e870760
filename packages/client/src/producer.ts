import { randomInt } from 'node:crypto';
import {
  Acks,
  ApiKey,
  BrokerResponseError,
  type Bytes,
  type CodecName,
  ConfigError,
  codecId,
  type EncodedChunk,
  ErrorCode,
  encodeChunk,
  errorMessage,
  InvalidInputError,
  isRetryable,
  type Message,
  type MetadataResponse,
  type ProduceResponse,
  recordsSize,
  type TopicInfo,
  validateTopicName,
} from '@barge/core';
import { Accumulator, type ClosedChunk } from './accumulator.js';
import { ByteBudget } from './budget.js';
import { BrokerPool, ConnectionClosedError } from './connection.js';
import { partitionForKey, StickyPartitioner } from './partitioner.js';
import { backoffMs, type ResolvedRetry, type RetryOptions, resolveRetry } from './retry.js';
import type { AckLevel, HeaderInput, ProducerMessage, RecordMetadata } from './types.js';

export interface ProducerOptions {
  /** Broker addresses, `host:port`. The first reachable one is used. */
  brokers: string[];
  /** Default `barge-producer`. */
  clientId?: string;
  /** Default ack level of `send`. Default `durable`. */
  acks?: AckLevel;
  /** Chunk codec. Default: the topic's configured compression. */
  compression?: CodecName;
  /** How long a chunk waits for more messages. Default 5 ms; 0 = the messages of one `send` call only. */
  lingerMs?: number;
  /** A chunk closes before reaching this many uncompressed bytes. Default 1 MiB. */
  maxChunkBytes?: number;
  /** A chunk closes at this many messages. Default 10,000 (and at most the broker's limit per request). */
  maxChunkMessages?: number;
  /** Produce requests in flight on the connection. Default 16. */
  maxInFlight?: number;
  /** Bytes buffered (accumulating, in flight, awaiting ack) before `send` waits. Default 64 MiB. */
  bufferBytes?: number;
  /** Retries of produce requests that fail with a retryable error. Default 10 retries, 100 ms → 10 s backoff. */
  retry?: RetryOptions;
  /** Per-request ack deadline (sent to the broker too). Default 30,000 ms. */
  requestTimeoutMs?: number;
  /** Default 10,000 ms. */
  connectTimeoutMs?: number;
  /** Refresh topic metadata this often. Default 300,000 ms. */
  metadataMaxAgeMs?: number;
  /** Producer id written with every chunk. Default: random per instance. Never share one between live producers. */
  producerId?: number;
}

export interface SendOptions {
  topic: string;
  messages: readonly ProducerMessage[];
  /** Overrides the producer's ack level for these messages. */
  acks?: AckLevel;
}

/** A produce request failed for good (retries exhausted or a permanent error). */
export class ProduceError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ProduceError';
  }
}

const ACKS: Record<AckLevel, Acks> = { none: Acks.none, received: Acks.received, durable: Acks.durable };

/** Bytes of a produce request besides its chunks' data (generous). */
const REQUEST_OVERHEAD = 512;
const CHUNK_OVERHEAD = 64;

/** One pending `send` call. */
class SendTracker {
  readonly results: RecordMetadata[];
  private remaining: number;
  private failed = false;
  readonly promise: Promise<RecordMetadata[]>;
  private resolveFn!: (r: RecordMetadata[]) => void;
  private rejectFn!: (e: unknown) => void;

  constructor(count: number) {
    this.results = new Array(count);
    this.remaining = count;
    this.promise = new Promise((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
    if (count === 0) this.resolveFn([]);
  }

  done(index: number, meta: RecordMetadata): void {
    if (this.failed) return;
    this.results[index] = meta;
    if (--this.remaining === 0) this.resolveFn(this.results);
  }

  fail(e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.rejectFn(e);
  }
}

interface Entry {
  message: Message;
  size: number;
  tracker: SendTracker;
  index: number;
}

interface Chunk {
  topic: string;
  writePartition: number;
  acks: AckLevel;
  entries: Entry[];
  encoded: EncodedChunk;
  bytes: number;
  /** Retries so far. */
  retries: number;
  lastError: unknown;
}

/** The chunks of one (topic, write partition), in sequence order. */
interface PartitionQueue {
  key: string;
  queue: Chunk[];
  inFlight: number;
  /** After a retryable failure: resend one request at a time, in order, until one succeeds. */
  recovering: boolean;
  /** Not before this time (backoff). */
  notBefore: number;
}

/**
 * Sends messages to a Barge broker. Messages are grouped per write partition into chunks (by
 * size, count and linger time), each chunk encoded and compressed once, and sent in Produce
 * requests, many in flight at a time. A retry re-sends the same chunk bytes under the same
 * producer id and sequence numbers, so a duplicate it creates is detected by consumers.
 */
export class Producer {
  readonly producerId: number;
  readonly clientId: string;
  private readonly pool: BrokerPool;
  private readonly retry: ResolvedRetry;
  private readonly acks: AckLevel;
  private readonly maxInFlight: number;
  private readonly requestTimeoutMs: number;
  private readonly metadataMaxAgeMs: number;
  private readonly budget: ByteBudget;
  private readonly sticky = new StickyPartitioner();
  private readonly accumulator: Accumulator<Entry>;
  private readonly sequences = new Map<string, number>();
  private readonly queues = new Map<string, PartitionQueue>();
  private readonly topics = new Map<string, { info: TopicInfo; at: number }>();
  private metadata: MetadataResponse | undefined;
  private metadataLoad: Promise<void> | undefined;
  private inFlight = 0;
  private pumpTimer: NodeJS.Timeout | undefined;
  private unsettled = 0;
  private settledWaiters: (() => void)[] = [];
  private flushing = 0;
  private readonly outstanding = new Set<Promise<unknown>>();
  private connected = false;
  private closed = false;

  constructor(private readonly options: ProducerOptions) {
    if (!options || !Array.isArray(options.brokers) || options.brokers.length === 0) {
      throw new ConfigError('producer brokers must list at least one "host:port" address', 'brokers');
    }
    const int = (name: keyof ProducerOptions, v: number | undefined, min: number, def: number): number => {
      if (v === undefined) return def;
      if (!Number.isSafeInteger(v) || v < min)
        throw new ConfigError(`producer ${name} must be an integer >= ${min}, got ${v}`, name);
      return v;
    };
    if (options.acks !== undefined && !Object.hasOwn(ACKS, options.acks)) {
      throw new ConfigError(
        `producer acks must be none, received or durable, got ${JSON.stringify(options.acks)}`,
        'acks',
      );
    }
    if (options.compression !== undefined) {
      try {
        codecId(options.compression);
      } catch (e) {
        throw new ConfigError(`producer compression: ${errorMessage(e)}`, 'compression');
      }
    }
    const lingerMs = int('lingerMs', options.lingerMs, 0, 5);
    const maxChunkBytes = int('maxChunkBytes', options.maxChunkBytes, 1, 1024 * 1024);
    const maxChunkMessages = int('maxChunkMessages', options.maxChunkMessages, 1, 10_000);
    this.maxInFlight = int('maxInFlight', options.maxInFlight, 1, 16);
    this.requestTimeoutMs = int('requestTimeoutMs', options.requestTimeoutMs, 1, 30_000);
    this.metadataMaxAgeMs = int('metadataMaxAgeMs', options.metadataMaxAgeMs, 0, 300_000);
    this.budget = new ByteBudget(int('bufferBytes', options.bufferBytes, 1, 64 * 1024 * 1024));
    this.producerId =
      options.producerId !== undefined
        ? int('producerId', options.producerId, 0, 0)
        : randomInt(0, 2 ** 47) * 64 + randomInt(0, 64); // 53 random bits
    this.acks = options.acks ?? 'durable';
    this.clientId = options.clientId ?? 'barge-producer';
    this.retry = resolveRetry(options.retry);
    this.pool = new BrokerPool(options.brokers, {
      clientId: this.clientId,
      connectTimeoutMs: options.connectTimeoutMs,
      requestTimeoutMs: this.requestTimeoutMs + 5_000,
    });
    this.accumulator = new Accumulator<Entry>({
      maxChunkBytes,
      maxChunkMessages,
      lingerMs,
      onClose: (c) => this.onChunkClosed(c),
    });
  }

  /** Bytes of messages buffered: accumulating, in flight or awaiting their ack. */
  get bufferedBytes(): number {
    return this.budget.used;
  }

  /** Connects to a broker and loads topic metadata. Throws `BrokerUnreachableError` naming the address. */
  async connect(): Promise<void> {
    if (this.closed) throw new InvalidInputError('the producer was disconnected; create a new one');
    await this.loadMetadata();
    this.connected = true;
  }

  /**
   * Sends messages; resolves when every one is acknowledged at the requested level (one
   * `RecordMetadata` per message, in order), rejects with `ProduceError` if any could not be.
   * Waits first when the producer's buffer budget is used up (back-pressure).
   */
  send(options: SendOptions): Promise<RecordMetadata[]> {
    const p = this.doSend(options);
    this.outstanding.add(p);
    const forget = () => this.outstanding.delete(p);
    p.then(forget, forget);
    return p;
  }

  private async doSend(options: SendOptions): Promise<RecordMetadata[]> {
    if (this.closed) throw new InvalidInputError('the producer was disconnected');
    const { topic, messages } = options ?? ({} as SendOptions);
    if (typeof topic !== 'string') throw new InvalidInputError('send needs a topic');
    validateTopicName(topic);
    if (!Array.isArray(messages)) throw new InvalidInputError('send needs messages: an array');
    const acks = options.acks ?? this.acks;
    if (!Object.hasOwn(ACKS, acks))
      throw new InvalidInputError(`acks must be none, received or durable, got ${JSON.stringify(acks)}`);
    if (messages.length === 0) return [];
    if (!this.connected) await this.connect();
    const info = await this.topicInfo(topic);
    const now = Date.now();
    const prepared: { message: Message; size: number; writePartition: number | undefined }[] = [];
    let total = 0;
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      const message = toCoreMessage(m, i, now);
      const size = recordsSize([message]);
      let wp = m.writePartition;
      if (wp !== undefined && (!Number.isInteger(wp) || wp < 0 || wp >= info.writePartitions)) {
        throw new InvalidInputError(
          `message ${i}: writePartition ${wp} is outside [0, ${info.writePartitions}) of topic ${topic}`,
        );
      }
      if (wp === undefined && message.key !== null && message.key !== undefined) {
        wp = partitionForKey(message.key, info.writePartitions);
      }
      prepared.push({ message, size, writePartition: wp });
      total += size;
    }
    await this.budget.acquire(total);
    const tracker = new SendTracker(prepared.length);
    for (let i = 0; i < prepared.length; i++) {
      const p = prepared[i]!;
      const wp = p.writePartition ?? this.sticky.partition(topic, info.writePartitions);
      const key = accKey(topic, wp, acks);
      this.accumulator.append(key, { message: p.message, size: p.size, tracker, index: i }, p.size);
      if (this.flushing > 0) this.accumulator.flush(key);
    }
    return tracker.promise;
  }

  /** Sends everything accumulated so far and waits until it is acknowledged (or failed). */
  async flush(): Promise<void> {
    this.flushing++;
    try {
      const sends = [...this.outstanding];
      this.accumulator.flush();
      await Promise.allSettled(sends);
      this.accumulator.flush();
      await this.waitSettled();
    } finally {
      this.flushing--;
    }
  }

  /** Flushes, then closes the connection. */
  async disconnect(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    this.budget.rejectAll(new InvalidInputError('the producer was disconnected'));
    await this.pool.close();
  }

  /** Topic metadata, from the cache or the broker. */
  async topicInfo(topic: string): Promise<TopicInfo> {
    const cached = this.topics.get(topic);
    if (cached && Date.now() - cached.at < this.metadataMaxAgeMs) return cached.info;
    const r = await this.request(() => this.pool.request(ApiKey.Metadata, { topics: [topic] }));
    const info = r.topics.find((t) => t.name === topic);
    if (!info) throw new InvalidInputError(`broker did not describe topic ${topic}`);
    this.topics.set(topic, { info, at: Date.now() });
    this.metadata = r;
    return info;
  }

  private loadMetadata(): Promise<void> {
    this.metadataLoad ??= this.request(() => this.pool.request(ApiKey.Metadata, { topics: [] }))
      .then((r) => {
        this.metadata = r;
        const at = Date.now();
        for (const t of r.topics) this.topics.set(t.name, { info: t, at });
      })
      .finally(() => {
        this.metadataLoad = undefined;
      });
    return this.metadataLoad;
  }

  /** A metadata-type request, retried on retryable errors. */
  private async request<T>(fn: () => Promise<T>): Promise<T> {
    for (let retry = 0; ; retry++) {
      try {
        return await fn();
      } catch (e) {
        if (retry >= this.retry.retries || !isRetryable(e) || this.closed) throw e;
        await new Promise((r) => setTimeout(r, backoffMs(retry, this.retry)));
      }
    }
  }

  // --- chunks -------------------------------------------------------------------------------

  private onChunkClosed(c: ClosedChunk<Entry>): void {
    const [topic, wpText, acks] = c.key.split('\u0000') as [string, string, AckLevel];
    const writePartition = Number(wpText);
    const info = this.topics.get(topic)?.info;
    this.sticky.chunkClosed(topic, writePartition, info?.writePartitions ?? 1);
    const seqKey = `${topic}\u0000${writePartition}`;
    const baseSequence = this.sequences.get(seqKey) ?? 0;
    const codec = this.options.compression ?? (info?.compression as CodecName | undefined) ?? 'none';
    let encoded: EncodedChunk;
    try {
      encoded = encodeChunk(
        c.messages.map((e) => e.message),
        codec,
        { producerId: this.producerId, baseSequence },
      );
    } catch (e) {
      this.failEntries(
        c.messages,
        new ProduceError(`cannot encode chunk for ${topic}/${writePartition}: ${errorMessage(e)}`, false, {
          cause: e,
        }),
        c.bytes,
      );
      return;
    }
    const maxFrame = this.metadata?.maxFrameBytes ?? 16 * 1024 * 1024;
    if (encoded.bytes.length + REQUEST_OVERHEAD + CHUNK_OVERHEAD > maxFrame) {
      this.failEntries(
        c.messages,
        new ProduceError(
          `a chunk of ${encoded.bytes.length} bytes for ${topic}/${writePartition} does not fit the broker's frame limit of ${maxFrame} bytes; send smaller messages`,
          false,
        ),
        c.bytes,
      );
      return;
    }
    this.sequences.set(seqKey, baseSequence + c.messages.length);
    const chunk: Chunk = {
      topic,
      writePartition,
      acks,
      entries: c.messages,
      encoded,
      bytes: c.bytes,
      retries: 0,
      lastError: undefined,
    };
    let q = this.queues.get(seqKey);
    if (!q) {
      q = { key: seqKey, queue: [], inFlight: 0, recovering: false, notBefore: 0 };
      this.queues.set(seqKey, q);
    }
    q.queue.push(chunk);
    this.unsettled++;
    this.pump();
  }

  private failEntries(entries: readonly Entry[], e: unknown, bytes: number): void {
    for (const en of entries) en.tracker.fail(e);
    this.budget.release(bytes);
  }

  /** Starts requests while the in-flight limit allows, one partition at a time in round robin. */
  private pump(): void {
    if (this.closed) return;
    const now = Date.now();
    let wake = Number.POSITIVE_INFINITY;
    let progress = true;
    while (progress && this.inFlight < this.maxInFlight) {
      progress = false;
      for (const q of this.queues.values()) {
        if (this.inFlight >= this.maxInFlight) break;
        if (q.queue.length === 0) continue;
        if (q.notBefore > now) {
          wake = Math.min(wake, q.notBefore);
          continue;
        }
        if (q.recovering && q.inFlight > 0) continue;
        const chunks = this.takeRequest(q);
        q.inFlight++;
        this.inFlight++;
        progress = true;
        void this.dispatch(q, chunks);
      }
    }
    if (wake !== Number.POSITIVE_INFINITY && !this.pumpTimer) {
      this.pumpTimer = setTimeout(
        () => {
          this.pumpTimer = undefined;
          this.pump();
        },
        Math.max(1, wake - now),
      );
    }
  }

  /** The next chunks of a partition that go in one request: same ack level, within the frame and message limits. */
  private takeRequest(q: PartitionQueue): Chunk[] {
    const first = q.queue.shift()!;
    const out = [first];
    const maxFrame = this.metadata?.maxFrameBytes ?? 16 * 1024 * 1024;
    const maxMessages = this.metadata?.maxMessagesPerRequest ?? 100_000;
    let bytes = REQUEST_OVERHEAD + first.encoded.bytes.length + CHUNK_OVERHEAD;
    let messages = first.entries.length;
    while (q.queue.length > 0) {
      const next = q.queue[0]!;
      if (next.acks !== first.acks) break;
      const nb = next.encoded.bytes.length + CHUNK_OVERHEAD;
      if (bytes + nb > maxFrame || messages + next.entries.length > maxMessages) break;
      out.push(q.queue.shift()!);
      bytes += nb;
      messages += next.entries.length;
    }
    return out;
  }

  private async dispatch(q: PartitionQueue, chunks: Chunk[]): Promise<void> {
    const first = chunks[0]!;
    const body = {
      topic: first.topic,
      writePartition: first.writePartition,
      acks: ACKS[first.acks],
      producerId: this.producerId,
      timeoutMs: this.requestTimeoutMs,
      chunks: chunks.map((c) => ({
        codec: c.encoded.meta.codec,
        messageCount: c.encoded.meta.messageCount,
        uncompressedLength: c.encoded.meta.uncompressedLength,
        crc32: c.encoded.meta.crc32,
        baseSequence: c.encoded.meta.baseSequence,
        minTimestamp: c.encoded.meta.minTimestamp,
        maxTimestamp: c.encoded.meta.maxTimestamp,
        data: c.encoded.bytes,
      })),
    };
    let response: ProduceResponse | undefined;
    let error: unknown;
    try {
      const conn = await this.pool.get();
      if (first.acks === 'none') await conn.send(ApiKey.Produce, body);
      else response = await conn.request(ApiKey.Produce, body, { timeoutMs: this.requestTimeoutMs + 5_000 });
    } catch (e) {
      error = e;
    }
    q.inFlight--;
    this.inFlight--;
    if (error === undefined) {
      if (q.recovering && q.queue.every((c) => c.retries === 0)) q.recovering = false;
      this.complete(chunks, response);
    } else {
      this.failed(q, chunks, error);
    }
    this.pump();
  }

  private complete(chunks: Chunk[], r: ProduceResponse | undefined): void {
    let messageIndex = r?.firstMessageIndex ?? -1;
    for (const c of chunks) {
      const base = c.encoded.meta.baseSequence;
      c.entries.forEach((e, i) => {
        e.tracker.done(e.index, {
          topic: c.topic,
          writePartition: r?.writePartition ?? c.writePartition,
          producerId: this.producerId,
          sequence: base + i,
          acks: c.acks,
          batchSequence: r?.sequence ?? -1,
          messageIndex: r ? messageIndex + i : -1,
          partition: r?.readPartition ?? -1,
          offset: r?.offset ?? -1,
        });
      });
      if (r) messageIndex += c.entries.length;
      this.settle(c);
    }
  }

  private failed(q: PartitionQueue, chunks: Chunk[], error: unknown): void {
    const retryable = isRetryable(error) || error instanceof ConnectionClosedError;
    const exhausted = chunks[0]!.retries >= this.retry.retries;
    if (retryable && !exhausted && !this.closed) {
      // Same bytes, same producer id and sequences: back in front, in sequence order.
      for (const c of chunks) {
        c.retries++;
        c.lastError = error;
      }
      q.queue.unshift(...chunks);
      q.queue.sort((a, b) => a.encoded.meta.baseSequence - b.encoded.meta.baseSequence);
      q.recovering = true;
      q.notBefore = Date.now() + backoffMs(chunks[0]!.retries - 1, this.retry);
      if (error instanceof BrokerResponseError && error.errorCode === ErrorCode.INVALID_PARTITION) {
        this.topics.delete(chunks[0]!.topic);
      }
      return;
    }
    const first = chunks[0]!;
    const e = new ProduceError(
      `produce to ${first.topic}/${first.writePartition} failed${exhausted && retryable ? ` after ${first.retries} retries` : ''}: ${errorMessage(error)}`,
      retryable,
      { cause: error },
    );
    for (const c of chunks) {
      for (const en of c.entries) en.tracker.fail(e);
      this.settle(c);
    }
  }

  private settle(c: Chunk): void {
    this.budget.release(c.bytes);
    if (--this.unsettled === 0) for (const w of this.settledWaiters.splice(0)) w();
  }

  private waitSettled(): Promise<void> {
    if (this.unsettled === 0) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }
}

function accKey(topic: string, writePartition: number, acks: AckLevel): string {
  return `${topic}\u0000${writePartition}\u0000${acks}`;
}

function isBytes(v: unknown): v is Bytes {
  return typeof v === 'string' || v instanceof Uint8Array;
}

/** Normalizes a producer message to the core `Message` (headers as an ordered list, a timestamp). */
export function toCoreMessage(m: ProducerMessage, i: number, now: number): Message {
  if (typeof m !== 'object' || m === null) throw new InvalidInputError(`message ${i} must be an object`);
  if (!isBytes(m.value))
    throw new InvalidInputError(`message ${i}: value must be a Buffer, Uint8Array or string`);
  if (m.key !== undefined && m.key !== null && !isBytes(m.key)) {
    throw new InvalidInputError(`message ${i}: key must be a Buffer, Uint8Array, string or null`);
  }
  let headers: HeaderInput[] | undefined;
  const h = m.headers;
  if (Array.isArray(h)) {
    headers = h as HeaderInput[];
  } else if (h !== undefined && h !== null) {
    if (typeof h !== 'object')
      throw new InvalidInputError(`message ${i}: headers must be an array or an object`);
    headers = [];
    for (const [name, v] of Object.entries(h as Record<string, Bytes | readonly Bytes[] | undefined>)) {
      if (v === undefined) continue;
      for (const value of Array.isArray(v) ? v : [v]) {
        if (!isBytes(value))
          throw new InvalidInputError(`message ${i}: header ${name} must be bytes or a string`);
        headers.push({ name, value });
      }
    }
  }
  const timestamp = m.timestamp ?? now;
  if (!Number.isSafeInteger(timestamp))
    throw new InvalidInputError(`message ${i}: timestamp must be an integer (ms)`);
  return { key: m.key ?? null, value: m.value, headers, timestamp };
}
