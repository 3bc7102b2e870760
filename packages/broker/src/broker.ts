import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket, type Server as TcpServer } from 'node:net';
import {
  ANY_WRITE_PARTITION,
  type AnyRequest,
  ApiKey,
  type BrokerConfig,
  type ChunkMeta,
  crc32,
  decodeRequest,
  ErrorCode,
  encodeErrorResponse,
  encodeResponse,
  errorCodeName,
  errorMessage,
  isApiKey,
  isCodecId,
  type ObjectStorage,
  type PointerQueue,
  type ProduceRequest,
  type RequestHeader,
  type RequestTypes,
  type ResponseTypes,
  SUPPORTED_VERSIONS,
  supportedVersionEntries,
  type TopicConfig,
  TransientError,
  validateChunkMeta,
} from '@barge/core';
import { type Logger, pino } from 'pino';
import { ByteBudget } from './budget.js';
import { Connection, type ConnectionHost } from './connection.js';
import { errorCodeOf, pointerErrorCode, RequestError } from './errors.js';
import { GroupCoordinator } from './groups.js';
import { BrokerMetrics } from './metrics.js';
import { OrphanRecorder } from './orphans.js';
import { PartitionWriter, type PendingAck, sendAck, type WriterContext } from './partition.js';
import { READ_RESPONSE_OVERHEAD, ReadProxy } from './read-proxy.js';
import { SequenceAllocator } from './sequences.js';
import { checkTopicName, TopicRegistry, topicInfo } from './topics.js';
import { UploadPipeline } from './upload.js';

/** Tunables that are not in the config file (and overrides of some that are, for tests). */
export interface BrokerOptions {
  /** How long a batch's pointer publication is retried while the pointer queue is unavailable. Default: `upload.pointerRetryBudgetMs` of the config (300000, 5 minutes). */
  pointerRetryBudgetMs?: number;
  /** How long `stop()` waits for open batches to be stored and published before abandoning them. Default: `broker.shutdownTimeoutMs` of the config (30000). */
  shutdownTimeoutMs?: number;
  /** Sequence numbers leased per storage write. Default 1000. */
  sequenceBlockSize?: number;
  /** Session timeout for JoinGroup requests that ask for 0 (the default). Default 30000. */
  defaultSessionTimeoutMs?: number;
  /** One upload attempt still running after this long is abandoned as transient. Default 60000. */
  uploadAttemptTimeoutMs?: number;
  /** Close storage and pointer queue in `stop()`. Default true. */
  closeAdapters?: boolean;
  metrics?: BrokerMetrics;
}

type Handler<K extends ApiKey> = (
  conn: Connection,
  body: RequestTypes[K],
  version: number,
) => Promise<ResponseTypes[K]> | ResponseTypes[K];

function parseHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
}

/**
 * The Barge broker: a TCP server speaking `docs/protocol.md`, one `PartitionWriter` (topic
 * processor) per write partition, the upload pipeline, ordered pointer publication, consumer
 * groups and the read proxy, plus optional admin HTTP (`/health`, `/metrics`).
 *
 * Constructible without DI: `new Broker(config, storage, pointers, logger)`, then `start()`;
 * `stop()` flushes open batches, waits for their acks, and closes the adapters.
 */
export class Broker implements ConnectionHost {
  readonly log: Logger;
  readonly metrics: BrokerMetrics;
  readonly topics: TopicRegistry;
  readonly groups: GroupCoordinator;
  readonly budget: ByteBudget;
  readonly #uploads: UploadPipeline;
  readonly #sequences: SequenceAllocator;
  readonly #orphans: OrphanRecorder;
  readonly #readProxy: ReadProxy;
  readonly #writers = new Map<string, PartitionWriter>();
  readonly #connections = new Set<Connection>();
  readonly #roundRobin = new Map<string, number>();
  readonly #ctx: WriterContext;
  readonly #options: Required<Omit<BrokerOptions, 'metrics'>>;
  #server: TcpServer | undefined;
  #admin: Server | undefined;
  #started = false;
  #stopping: Promise<void> | undefined;
  #abandonAt = Number.POSITIVE_INFINITY;
  #wake = new AbortController();
  #address: { host: string; port: number } | undefined;
  #adminAddress: { host: string; port: number } | undefined;

  constructor(
    readonly config: BrokerConfig,
    readonly storage: ObjectStorage,
    readonly pointers: PointerQueue,
    logger?: Logger,
    options: BrokerOptions = {},
  ) {
    this.log = (logger ?? pino({ level: 'info' })).child({ broker: config.broker.id });
    this.metrics = options.metrics ?? new BrokerMetrics();
    this.#options = {
      pointerRetryBudgetMs: options.pointerRetryBudgetMs ?? config.upload.pointerRetryBudgetMs,
      shutdownTimeoutMs: options.shutdownTimeoutMs ?? config.broker.shutdownTimeoutMs,
      sequenceBlockSize: options.sequenceBlockSize ?? 1000,
      defaultSessionTimeoutMs: options.defaultSessionTimeoutMs ?? 30_000,
      uploadAttemptTimeoutMs: options.uploadAttemptTimeoutMs ?? 60_000,
      closeAdapters: options.closeAdapters ?? true,
    };
    this.budget = new ByteBudget(config.upload.inFlightBytes);
    this.budget.onChange((over) => this.#onBudget(over));
    this.topics = new TopicRegistry(storage, pointers, this.log);
    this.#orphans = new OrphanRecorder(storage, this.log, this.metrics);
    this.#sequences = new SequenceAllocator(storage, this.#options.sequenceBlockSize);
    this.#uploads = new UploadPipeline(
      storage,
      {
        parallelism: config.upload.parallelism,
        maxAttempts: config.upload.maxAttempts,
        backoffBaseMs: config.upload.backoffBaseMs,
        backoffMaxMs: config.upload.backoffMaxMs,
        hedgeAfterMs: config.upload.hedgeAfterMs,
        attemptTimeoutMs: this.#options.uploadAttemptTimeoutMs,
      },
      this.metrics,
      this.#orphans,
      this.log,
    );
    this.#readProxy = new ReadProxy(storage, this.maxReadBytes);
    this.groups = new GroupCoordinator(
      pointers,
      this.topics,
      this.log,
      this.metrics,
      this.#options.defaultSessionTimeoutMs,
    );
    this.#ctx = {
      brokerId: config.broker.id,
      storage,
      pointers,
      topics: this.topics,
      uploads: this.#uploads,
      sequences: this.#sequences,
      orphans: this.#orphans,
      budget: this.budget,
      metrics: this.metrics,
      log: this.log,
      backoffBaseMs: config.upload.backoffBaseMs,
      backoffMaxMs: config.upload.backoffMaxMs,
      maxAttempts: config.upload.maxAttempts,
      pointerRetryBudgetMs: this.#options.pointerRetryBudgetMs,
      abandonAt: () => this.#abandonAt,
      wake: () => this.#wake.signal,
    };
  }

  /** Largest request frame accepted (the length field value). */
  get maxFrameBytes(): number {
    return Math.min(this.config.limits.maxFrameBytes, 0xffffffff);
  }

  /** Largest `data` in one ReadObject response. */
  get maxReadBytes(): number {
    return Math.max(1, this.maxFrameBytes - READ_RESPONSE_OVERHEAD - 34);
  }

  /** The bound TCP address (useful with port 0). */
  get address(): { host: string; port: number } {
    if (!this.#address) throw new Error('broker is not started');
    return this.#address;
  }

  get adminAddress(): { host: string; port: number } | undefined {
    return this.#adminAddress;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Connections not being read because of back-pressure. */
  get pausedConnections(): number {
    let n = 0;
    for (const c of this.#connections) if (c.paused) n++;
    return n;
  }

  get healthy(): boolean {
    return this.#started && !this.#stopping;
  }

  /**
   * Loads topics (persisted ones, then the config file's), makes sure the pointer queue has
   * them (without waiting for an unreachable queue: publication retries later), and starts
   * listening.
   */
  async start(): Promise<void> {
    if (this.#started) return;
    await this.topics.load(this.config.topics);
    await this.#ensurePointerTopics();
    const { host, port } = parseHostPort(this.config.broker.listen);
    const server = createTcpServer((socket) => this.#accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => this.log.error({ err: errorMessage(e) }, 'server error'));
    this.#server = server;
    const addr = server.address();
    this.#address =
      typeof addr === 'object' && addr ? { host: addr.address, port: addr.port } : { host, port };
    if (this.config.broker.admin) await this.#startAdmin(this.config.broker.admin);
    this.#started = true;
    this.log.info(
      {
        listen: `${this.#address.host}:${this.#address.port}`,
        admin: this.#adminAddress ? `${this.#adminAddress.host}:${this.#adminAddress.port}` : undefined,
        storage: { adapter: this.storage.adapter, location: this.storage.location },
        pointers: this.pointers.adapter,
        topics: this.topics.list().map((t) => t.name),
      },
      'broker started',
    );
  }

  /**
   * Graceful shutdown: stops accepting connections and produce requests, closes every open
   * batch, waits (up to `shutdownTimeoutMs`) until their objects are stored and pointers
   * published and the acks sent, then closes connections, groups and adapters. Idempotent.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /** Closes every open batch now (tests, shutdown). */
  flush(): void {
    for (const w of this.#writers.values()) w.flush();
  }

  /** Resolves when no batch is open or in flight. */
  async whenIdle(): Promise<void> {
    await Promise.all([...this.#writers.values()].map((w) => w.whenIdle()));
  }

  async #stop(): Promise<void> {
    const started = Date.now();
    this.log.info({ pendingBatches: this.#pendingBatches() }, 'broker stopping: flushing open batches');
    this.#abandonAt = started + this.#options.shutdownTimeoutMs;
    this.#wake.abort();
    this.#wake = new AbortController();
    const serverClosed = this.#server
      ? new Promise<void>((resolve) => this.#server!.close(() => resolve()))
      : Promise.resolve();
    this.flush();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#options.shutdownTimeoutMs + 5000);
    });
    const outcome = await Promise.race([this.whenIdle().then(() => 'idle' as const), grace]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.log.error(
        { pendingBatches: this.#pendingBatches() },
        'shutdown deadline passed with batches in flight',
      );
    }
    await this.groups.closeAll();
    for (const c of this.#connections) c.close(200);
    await Promise.race([serverClosed, new Promise((r) => setTimeout(r, 1500).unref())]);
    for (const c of this.#connections) c.socket.destroy();
    if (this.#admin) {
      this.#admin.closeAllConnections();
      await new Promise<void>((resolve) => this.#admin!.close(() => resolve()));
    }
    // Losing hedged uploads still running, then the deletes and orphan markers they cause.
    await Promise.race([this.#uploads.drain(), new Promise((r) => setTimeout(r, 2000).unref())]);
    await this.#orphans.drain();
    if (this.#options.closeAdapters) {
      await Promise.allSettled([this.storage.close(), this.pointers.close()]);
    }
    this.log.info({ ms: Date.now() - started }, 'broker stopped');
  }

  #pendingBatches(): number {
    let n = 0;
    for (const w of this.#writers.values()) n += w.pendingBatches;
    return n;
  }

  async #ensurePointerTopics(): Promise<void> {
    const all = this.config.topics.map((t) =>
      this.topics.ensurePointerTopic(t).then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
    let timer: NodeJS.Timeout | undefined;
    const wait = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), 5000);
    });
    const results = await Promise.race([Promise.all(all), wait]);
    clearTimeout(timer);
    if (results === 'timeout') {
      this.log.error('pointer queue did not answer within 5 s at start; pointer publication will retry');
      return;
    }
    results.forEach((e, i) => {
      if (e === undefined) return;
      if (e instanceof TransientError || !(e instanceof Error) || !('retryable' in e)) {
        this.log.error(
          { topic: this.config.topics[i]?.name, err: errorMessage(e) },
          'pointer queue unavailable at start; pointer publication will retry',
        );
        return;
      }
      throw e;
    });
  }

  async #startAdmin(listen: string): Promise<void> {
    const { host, port } = parseHostPort(listen);
    const server = createServer((req, res) => {
      const url = (req.url ?? '/').split('?')[0];
      if (req.method === 'GET' && url === '/health') {
        const ok = this.healthy;
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: ok ? 'ok' : this.#stopping ? 'stopping' : 'starting' }));
        return;
      }
      if (req.method === 'GET' && url === '/metrics') {
        this.metrics.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
            res.end(text);
          },
          (e: unknown) => {
            res.writeHead(500);
            res.end(errorMessage(e));
          },
        );
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found: try /health or /metrics\n');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    this.#adminAddress =
      typeof addr === 'object' && addr ? { host: addr.address, port: addr.port } : { host, port };
    this.#admin = server;
  }

  #accept(socket: Socket): void {
    if (this.#stopping) {
      socket.destroy();
      return;
    }
    if (this.#connections.size >= this.config.limits.maxConnections) {
      this.metrics.requestErrors.inc({ error: errorCodeName(ErrorCode.TOO_MANY_CONNECTIONS) });
      this.log.warn(
        { remote: `${socket.remoteAddress}:${socket.remotePort}`, max: this.config.limits.maxConnections },
        'connection refused: too many connections',
      );
      socket.on('error', () => {});
      socket.end(
        encodeErrorResponse(
          0,
          ErrorCode.TOO_MANY_CONNECTIONS,
          `the broker has ${this.config.limits.maxConnections} connections, its limit`,
        ),
      );
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    const conn = new Connection(socket, this, this.maxFrameBytes);
    this.#connections.add(conn);
    this.metrics.connections.set(this.#connections.size);
    conn.log.debug('connection opened');
  }

  // ConnectionHost -----------------------------------------------------------------------------

  closed(conn: Connection): void {
    if (!this.#connections.delete(conn)) return;
    this.metrics.connections.set(this.#connections.size);
    this.metrics.pausedSockets.set(this.pausedConnections);
    conn.log.debug('connection closed');
    void this.groups.ownerClosed(conn);
  }

  countError(code: ErrorCode): void {
    this.metrics.requestErrors.inc({ error: errorCodeName(code) });
  }

  handle(conn: Connection, header: RequestHeader, body: Buffer): void {
    const { apiKey, apiVersion, correlationId } = header;
    const reply = (code: ErrorCode, message: string) => {
      this.countError(code);
      conn.send(encodeErrorResponse(correlationId, code, message));
    };
    if (!isApiKey(apiKey)) {
      conn.problem('unknown api key', { apiKey });
      reply(ErrorCode.UNKNOWN_API, `unknown api key ${apiKey}`);
      return;
    }
    const range = SUPPORTED_VERSIONS[apiKey];
    if (apiVersion < range.min || apiVersion > range.max) {
      conn.problem('unsupported api version', { apiKey, apiVersion });
      const message = `api ${apiKey} version ${apiVersion} is not supported (supported: ${range.min}-${range.max})`;
      this.countError(ErrorCode.UNSUPPORTED_VERSION);
      conn.send(
        encodeErrorResponse(
          correlationId,
          ErrorCode.UNSUPPORTED_VERSION,
          message,
          apiKey === ApiKey.ApiVersions
            ? { brokerId: this.config.broker.id, versions: supportedVersionEntries() }
            : undefined,
        ),
      );
      return;
    }
    let req: AnyRequest;
    try {
      req = decodeRequest(header, body);
    } catch (e) {
      conn.problem('malformed request', { apiKey, err: errorMessage(e) });
      // A produce request with acks=0 expects no response; its acks byte cannot be trusted here,
      // so answer anyway: an unexpected error response is harmless to a well-behaved client.
      reply(ErrorCode.INVALID_REQUEST, `malformed request: ${errorMessage(e)}`);
      return;
    }
    if (req.apiKey === ApiKey.Produce) {
      this.#produce(conn, correlationId, req.apiVersion, req.body);
      return;
    }
    const handler = this.#handlers[req.apiKey] as Handler<ApiKey> | undefined;
    if (!handler) {
      reply(ErrorCode.UNKNOWN_API, `api ${apiKey} is not served by this broker`);
      return;
    }
    let result: Promise<ResponseTypes[ApiKey]> | ResponseTypes[ApiKey];
    try {
      result = handler(conn, req.body, req.apiVersion);
    } catch (e) {
      this.#replyError(conn, correlationId, apiKey, e);
      return;
    }
    Promise.resolve(result).then(
      (res) => conn.send(encodeResponse(apiKey, req.apiVersion, correlationId, res as never)),
      (e: unknown) => this.#replyError(conn, correlationId, apiKey, e),
    );
  }

  #replyError(conn: Connection, correlationId: number, apiKey: number, e: unknown): void {
    const code = errorCodeOf(e);
    if (code === ErrorCode.UNKNOWN_SERVER_ERROR) {
      this.log.error({ conn: conn.id, apiKey, err: errorMessage(e) }, 'request failed');
    }
    this.countError(code);
    conn.send(encodeErrorResponse(correlationId, code, errorMessage(e)));
  }

  // Produce --------------------------------------------------------------------------------------

  #produce(conn: Connection, correlationId: number, apiVersion: number, req: ProduceRequest): void {
    conn.producer = true;
    if (conn.produceChain) {
      // An earlier request of this connection is waiting for topic metadata: keep the order.
      conn.produceChain = conn.produceChain.then(() =>
        this.#produceNow(conn, correlationId, apiVersion, req),
      );
      return;
    }
    const maybe = this.#produceNow(conn, correlationId, apiVersion, req);
    if (maybe) {
      const chain: Promise<void> = maybe.finally(() => {
        if (conn.produceChain === chain) conn.produceChain = undefined;
      });
      conn.produceChain = chain;
    }
  }

  /** Handles a produce request; returns a promise only when it had to wait for topic metadata. */
  #produceNow(
    conn: Connection,
    correlationId: number,
    apiVersion: number,
    req: ProduceRequest,
  ): Promise<void> | void {
    const fail = (code: ErrorCode, message: string) => {
      this.countError(code);
      if (req.acks === 0) {
        conn.problem('produce request (acks=none) rejected', { error: errorCodeName(code), message });
        return;
      }
      conn.send(encodeErrorResponse(correlationId, code, message));
    };
    if (this.#stopping) {
      fail(ErrorCode.SHUTTING_DOWN, 'the broker is shutting down');
      return;
    }
    const topic = this.topics.get(req.topic);
    if (!topic) {
      try {
        checkTopicName(req.topic);
      } catch (e) {
        fail(ErrorCode.INVALID_TOPIC, errorMessage(e));
        return;
      }
      return this.topics.refresh(req.topic).then(
        (t) => {
          if (!t) {
            fail(ErrorCode.UNKNOWN_TOPIC, `topic ${JSON.stringify(req.topic)} does not exist`);
            return;
          }
          this.#append(conn, correlationId, apiVersion, req, t, fail);
        },
        (e: unknown) => fail(ErrorCode.STORAGE_UNAVAILABLE, `cannot read topic metadata: ${errorMessage(e)}`),
      );
    }
    this.#append(conn, correlationId, apiVersion, req, topic, fail);
  }

  #append(
    conn: Connection,
    correlationId: number,
    apiVersion: number,
    req: ProduceRequest,
    topic: TopicConfig,
    fail: (code: ErrorCode, message: string) => void,
  ): void {
    if (this.#stopping) {
      fail(ErrorCode.SHUTTING_DOWN, 'the broker is shutting down');
      return;
    }
    if (req.chunks.length === 0) {
      fail(ErrorCode.INVALID_REQUEST, 'a produce request needs at least one chunk');
      return;
    }
    let wp = req.writePartition;
    if (wp === ANY_WRITE_PARTITION) {
      const n = this.#roundRobin.get(topic.name) ?? 0;
      this.#roundRobin.set(topic.name, n + 1);
      wp = n % topic.writePartitions;
    } else if (wp >= topic.writePartitions) {
      fail(
        ErrorCode.INVALID_PARTITION,
        `topic ${topic.name} has ${topic.writePartitions} write partitions; there is no write partition ${wp}`,
      );
      return;
    }
    let messages = 0;
    let bytes = 0;
    for (const c of req.chunks) {
      messages += c.messageCount;
      bytes += c.data.length;
    }
    if (messages > this.config.limits.maxMessagesPerRequest) {
      fail(
        ErrorCode.TOO_MANY_MESSAGES,
        `${messages} messages in one request; at most ${this.config.limits.maxMessagesPerRequest} are allowed`,
      );
      return;
    }
    if (this.budget.used > this.budget.limit * 2) {
      fail(ErrorCode.THROTTLED, `the broker has ${this.budget.used} bytes in flight; retry later`);
      return;
    }
    const buffers: Buffer[] = [];
    const metas: ChunkMeta[] = [];
    for (let i = 0; i < req.chunks.length; i++) {
      const c = req.chunks[i]!;
      if (!isCodecId(c.codec)) {
        fail(ErrorCode.UNSUPPORTED_CODEC, `chunk ${i}: unknown codec id ${c.codec}`);
        return;
      }
      const meta: ChunkMeta = {
        codec: c.codec,
        length: c.data.length,
        messageCount: c.messageCount,
        uncompressedLength: c.uncompressedLength,
        crc32: c.crc32,
        producerId: req.producerId,
        baseSequence: c.baseSequence,
        minTimestamp: c.minTimestamp,
        maxTimestamp: c.maxTimestamp,
      };
      try {
        validateChunkMeta(meta, `chunk ${i}`);
      } catch (e) {
        fail(ErrorCode.INVALID_REQUEST, errorMessage(e));
        return;
      }
      const actual = crc32(c.data);
      if (actual !== c.crc32) {
        fail(
          ErrorCode.CORRUPT_CHUNK,
          `chunk ${i}: CRC-32 of the bytes is ${actual.toString(16).padStart(8, '0')}, the request says ${c.crc32.toString(16).padStart(8, '0')}`,
        );
        return;
      }
      buffers.push(c.data);
      metas.push(meta);
    }
    const writer = this.#writer(topic.name, wp);
    const durable = req.acks === 2;
    const ack: PendingAck | undefined =
      req.acks === 0
        ? undefined
        : {
            sink: conn,
            correlationId,
            apiVersion,
            durable,
            writePartition: wp,
            firstChunkIndex: 0,
            firstMessageIndex: 0,
            done: false,
          };
    this.metrics.produceRequests.inc({ topic: topic.name });
    this.metrics.produceBytes.inc({ topic: topic.name }, bytes);
    this.metrics.produceMessages.inc({ topic: topic.name }, messages);
    writer.append(buffers, metas, messages, bytes, durable ? ack : undefined);
    if (ack && !durable) {
      sendAck(ack, { sequence: -1, readPartition: -1, offset: -1 });
    } else if (ack && req.timeoutMs > 0) {
      ack.timer = setTimeout(() => {
        if (ack.done) return;
        ack.done = true;
        this.countError(ErrorCode.REQUEST_TIMED_OUT);
        conn.send(
          encodeErrorResponse(
            correlationId,
            ErrorCode.REQUEST_TIMED_OUT,
            `not durable within ${req.timeoutMs} ms; the data may still be stored`,
          ),
        );
      }, req.timeoutMs);
      ack.timer.unref();
    }
    if (this.budget.over) {
      conn.pause();
      this.metrics.pausedSockets.set(this.pausedConnections);
    }
  }

  #writer(topic: string, wp: number): PartitionWriter {
    const id = `${topic}/${wp}`;
    let w = this.#writers.get(id);
    if (!w) {
      w = new PartitionWriter(topic, wp, this.#ctx);
      this.#writers.set(id, w);
    }
    return w;
  }

  #onBudget(over: boolean): void {
    if (over) {
      for (const c of this.#connections) if (c.producer) c.pause();
      this.log.warn(
        { inFlightBytes: this.budget.used, limit: this.budget.limit },
        'in-flight byte budget exhausted; pausing producer connections',
      );
    } else {
      for (const c of this.#connections) c.resume();
      this.log.info(
        { inFlightBytes: this.budget.used },
        'in-flight bytes below the budget; resuming connections',
      );
    }
    this.metrics.pausedSockets.set(this.pausedConnections);
  }

  // Other apis ----------------------------------------------------------------------------------

  readonly #handlers: { [K in ApiKey]?: Handler<K> } = {
    [ApiKey.ApiVersions]: (conn, body) => {
      if (body.clientId) conn.log.debug({ clientId: body.clientId }, 'client handshake');
      return { brokerId: this.config.broker.id, versions: supportedVersionEntries() };
    },
    [ApiKey.Metadata]: async (_conn, body) => {
      const topics = [];
      if (body.topics.length === 0) topics.push(...this.topics.list());
      else for (const name of body.topics) topics.push(await this.#requireTopic(name));
      return {
        brokerId: this.config.broker.id,
        storage: { adapter: this.storage.adapter, location: this.storage.location },
        pointers: { adapter: this.pointers.adapter },
        maxFrameBytes: this.maxFrameBytes,
        maxReadBytes: this.maxReadBytes,
        maxMessagesPerRequest: this.config.limits.maxMessagesPerRequest,
        topics: topics.map(topicInfo),
      };
    },
    [ApiKey.CreateTopic]: async (_conn, body) => {
      const { ifNotExists, ...settings } = body;
      const r = await this.topics.create(settings, ifNotExists ?? false);
      return { created: r.created, topic: topicInfo(r.topic) };
    },
    [ApiKey.ListTopics]: () => ({ topics: this.topics.list().map(topicInfo) }),
    [ApiKey.DescribeTopic]: async (_conn, body) => {
      const t = await this.#requireTopic(body.name);
      const partitions = [];
      try {
        await this.topics.ensurePointerTopic(t);
        for (let p = 0; p < t.readPartitions; p++) {
          partitions.push({ partition: p, ...(await this.pointers.watermarks(t.name, p)) });
        }
      } catch (e) {
        throw new RequestError(
          ErrorCode.POINTER_QUEUE_UNAVAILABLE,
          `cannot read watermarks: ${errorMessage(e)}`,
        );
      }
      return { topic: topicInfo(t), partitions };
    },
    [ApiKey.JoinGroup]: (conn, body) => this.groups.join(conn, body),
    [ApiKey.Heartbeat]: (_conn, body) => this.groups.heartbeat(body.memberId),
    [ApiKey.LeaveGroup]: async (_conn, body) => {
      await this.groups.leave(body.memberId);
      return {};
    },
    [ApiKey.FetchPointers]: (_conn, body) =>
      this.groups.fetch(body.memberId, body.maxRecords, body.maxWaitMs, this.maxFrameBytes - 1024),
    [ApiKey.CommitOffsets]: async (_conn, body) => {
      await this.groups.commit(body.memberId, body.positions);
      return {};
    },
    [ApiKey.FetchCommitted]: (_conn, body) => this.groups.committed(body.memberId, body.partitions),
    [ApiKey.Seek]: async (_conn, body) => {
      await this.groups.seek(body.memberId, body.partition, body.offset);
      return {};
    },
    [ApiKey.OffsetForTimestamp]: async (_conn, body) => {
      const t = await this.#requireTopic(body.topic);
      this.#checkReadPartition(t, body.partition);
      return {
        offset: await this.#pointerCall(() =>
          this.pointers.offsetForTimestamp(t.name, body.partition, body.timestamp),
        ),
      };
    },
    [ApiKey.Watermarks]: async (_conn, body) => {
      const t = await this.#requireTopic(body.topic);
      this.#checkReadPartition(t, body.partition);
      return this.#pointerCall(() => this.pointers.watermarks(t.name, body.partition));
    },
    [ApiKey.ReadObject]: (_conn, body) => this.#readProxy.read(body),
  };

  /** Runs a pointer-queue call, mapping its failure to a protocol error code. */
  async #pointerCall<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      throw new RequestError(pointerErrorCode(e), errorMessage(e), { cause: e });
    }
  }

  async #requireTopic(name: string): Promise<TopicConfig> {
    checkTopicName(name);
    return this.topics.require(name);
  }

  #checkReadPartition(t: TopicConfig, p: number): void {
    if (p >= t.readPartitions) {
      throw new RequestError(
        ErrorCode.INVALID_PARTITION,
        `topic ${t.name} has ${t.readPartitions} read partitions; there is no read partition ${p}`,
      );
    }
  }
}
