import * as net from 'node:net';
import {
  ApiKey as Api,
  type ApiKey,
  apiName,
  BrokerResponseError,
  decodeErrorBody,
  decodeResponseBody,
  decodeResponseFrame,
  encodeRequest,
  errorMessage,
  FrameDecoder,
  InvalidInputError,
  negotiateVersions,
  type RequestTypes,
  type ResponseTypes,
  supportedVersionEntries,
  TransientError,
} from '@barge/core';

/** The broker could not be reached (refused, unresolvable, timed out). Retryable. */
export class BrokerUnreachableError extends TransientError {
  constructor(
    readonly address: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The connection closed (or broke) while a request was outstanding. Retryable: the request may or may not have been processed. */
export class ConnectionClosedError extends TransientError {
  constructor(
    readonly address: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** No response within the request timeout. Retryable: the request may or may not have been processed. */
export class RequestTimeoutError extends TransientError {}

export interface ConnectionOptions {
  /** Sent in ApiVersions for the broker's logs. */
  clientId: string;
  /** Default 10,000 ms. */
  connectTimeoutMs?: number;
  /** Default 30,000 ms. */
  requestTimeoutMs?: number;
  /** Largest response frame accepted. Default 256 MiB. */
  maxResponseBytes?: number;
}

export interface RequestOptions {
  /** Overrides the connection's request timeout (e.g. long polls add their wait). */
  timeoutMs?: number;
}

interface Pending {
  apiKey: ApiKey;
  version: number;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout | undefined;
}

/** `host:port` → parts; IPv6 as `[::1]:7070`. */
export function parseAddress(address: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(address);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port < 1 || port > 65535) {
    throw new InvalidInputError(
      `broker address ${JSON.stringify(address)} must be "host:port", e.g. "127.0.0.1:7070"`,
    );
  }
  return { host: m[1]!, port };
}

/**
 * One TCP connection to a broker. Requests are pipelined (many outstanding, matched to responses
 * by correlation id, answered in any order), each with a timeout. The api versions are
 * negotiated with ApiVersions on connect. After the socket closes every outstanding request
 * fails with `ConnectionClosedError`; the next request reconnects (callers apply backoff).
 */
export class BrokerConnection {
  readonly host: string;
  readonly port: number;
  private socket: net.Socket | undefined;
  private connecting: Promise<void> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private versions = new Map<number, number>();
  private closedByUser = false;
  private readonly closeListeners: ((error: unknown) => void)[] = [];
  private readonly connectTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly maxResponseBytes: number;
  /** Broker id learned from ApiVersions. */
  brokerId = -1;

  constructor(
    readonly address: string,
    private readonly options: ConnectionOptions,
  ) {
    const { host, port } = parseAddress(address);
    this.host = host;
    this.port = port;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.maxResponseBytes = options.maxResponseBytes ?? 256 * 1024 * 1024;
  }

  get connected(): boolean {
    return this.socket !== undefined && this.connecting === undefined;
  }

  /** Requests waiting for a response. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Called with the error each time an established connection closes. */
  onClose(listener: (error: unknown) => void): void {
    this.closeListeners.push(listener);
  }

  /** Connects (if not connected) and negotiates api versions. Throws `BrokerUnreachableError`. */
  async connect(): Promise<void> {
    if (this.closedByUser)
      throw new ConnectionClosedError(this.address, `connection to broker ${this.address} was closed`);
    if (this.socket && !this.connecting) return;
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async open(): Promise<void> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: this.host, port: this.port, noDelay: true });
      const timer = setTimeout(() => {
        s.destroy();
        reject(
          new BrokerUnreachableError(
            this.address,
            `cannot connect to broker ${this.address}: no answer within ${this.connectTimeoutMs} ms`,
          ),
        );
      }, this.connectTimeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        s.destroy();
        reject(
          new BrokerUnreachableError(
            this.address,
            `cannot connect to broker ${this.address}: ${errorMessage(e)}`,
            { cause: e },
          ),
        );
      });
    });
    const decoder = new FrameDecoder({ maxFrameBytes: this.maxResponseBytes });
    this.socket = socket;
    socket.setKeepAlive(true, 30_000);
    socket.on('data', (data: Buffer) => {
      decoder.push(data);
      try {
        for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) this.onFrame(frame);
      } catch (e) {
        socket.destroy(e as Error);
      }
    });
    socket.on('error', () => {}); // 'close' follows and carries the outcome
    socket.on('close', () => this.onSocketClose(socket));
    try {
      await this.handshake(socket);
    } catch (e) {
      socket.destroy();
      if (e instanceof BrokerResponseError || e instanceof InvalidInputError) throw e;
      throw new BrokerUnreachableError(
        this.address,
        `cannot connect to broker ${this.address}: ${errorMessage(e)}`,
        {
          cause: e,
        },
      );
    }
  }

  private async handshake(socket: net.Socket): Promise<void> {
    const mine = supportedVersionEntries();
    let theirs: { brokerId: number; versions: { apiKey: number; minVersion: number; maxVersion: number }[] };
    try {
      theirs = (await this.requestOn(
        socket,
        Api.ApiVersions,
        1,
        { clientId: this.options.clientId, versions: mine },
        {},
      )) as ResponseTypes[typeof Api.ApiVersions];
    } catch (e) {
      const v = (e as { versions?: typeof theirs }).versions;
      if (!v) throw e;
      theirs = v;
    }
    this.versions = negotiateVersions(mine, theirs.versions);
    this.brokerId = theirs.brokerId;
  }

  private onFrame(frame: Buffer): void {
    const { header, body } = decodeResponseFrame(frame);
    const p = this.pending.get(header.correlationId);
    if (!p) return; // timed out earlier: ignore the late answer
    this.pending.delete(header.correlationId);
    if (p.timer) clearTimeout(p.timer);
    try {
      if (header.errorCode !== 0) {
        const err = decodeErrorBody(p.apiKey, body);
        const e = new BrokerResponseError(
          header.errorCode,
          `${err.message} (${apiName(p.apiKey)} to ${this.address})`,
        );
        if (err.versions) Object.assign(e, { versions: err.versions });
        p.reject(e);
      } else {
        p.resolve(decodeResponseBody(p.apiKey, p.version, body));
      }
    } catch (e) {
      p.reject(e);
    }
  }

  private onSocketClose(socket: net.Socket): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    const error = new ConnectionClosedError(
      this.address,
      `connection to broker ${this.address} closed${this.pending.size ? ` with ${this.pending.size} requests outstanding` : ''}`,
    );
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      if (p.timer) clearTimeout(p.timer);
      p.reject(error);
    }
    for (const l of this.closeListeners) l(error);
  }

  private allocateId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
      if (!this.pending.has(id)) return id;
    }
  }

  private versionFor(apiKey: ApiKey): number {
    const v = this.versions.get(apiKey);
    if (v === undefined) {
      throw new InvalidInputError(
        `broker ${this.address} does not support a version of ${apiName(apiKey)} this client implements`,
      );
    }
    return v;
  }

  private requestOn<K extends ApiKey>(
    socket: net.Socket,
    apiKey: K,
    version: number,
    body: RequestTypes[K],
    opts: RequestOptions,
  ): Promise<ResponseTypes[K]> {
    const id = this.allocateId();
    const frame = encodeRequest(apiKey, version, id, body);
    return new Promise<ResponseTypes[K]>((resolve, reject) => {
      const timeoutMs = opts.timeoutMs ?? this.requestTimeoutMs;
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              if (this.pending.delete(id)) {
                reject(
                  new RequestTimeoutError(
                    `${apiName(apiKey)} request to broker ${this.address} timed out after ${timeoutMs} ms`,
                  ),
                );
              }
            }, timeoutMs)
          : undefined;
      this.pending.set(id, { apiKey, version, resolve: resolve as (v: unknown) => void, reject, timer });
      writeFrame(socket, frame);
    });
  }

  /** Sends a request and resolves with its decoded response. Broker errors reject with `BrokerResponseError`. */
  async request<K extends ApiKey>(
    apiKey: K,
    body: RequestTypes[K],
    opts: RequestOptions = {},
  ): Promise<ResponseTypes[K]> {
    await this.connect();
    const socket = this.socket;
    if (!socket) throw new ConnectionClosedError(this.address, `connection to broker ${this.address} closed`);
    return this.requestOn(socket, apiKey, this.versionFor(apiKey), body, opts);
  }

  /**
   * Sends a request that gets no response (Produce with acks=none). Resolves once the frame was
   * handed to the operating system.
   */
  async send<K extends ApiKey>(apiKey: K, body: RequestTypes[K]): Promise<void> {
    await this.connect();
    const socket = this.socket;
    if (!socket) throw new ConnectionClosedError(this.address, `connection to broker ${this.address} closed`);
    const frame = encodeRequest(apiKey, this.versionFor(apiKey), this.allocateId(), body);
    await new Promise<void>((resolve, reject) => {
      writeFrame(socket, frame, (e) => {
        if (e)
          reject(
            new ConnectionClosedError(
              this.address,
              `write to broker ${this.address} failed: ${errorMessage(e)}`,
              { cause: e },
            ),
          );
        else resolve();
      });
    });
  }

  /** Drops the socket (outstanding requests fail with `ConnectionClosedError`); the next request reconnects. */
  reset(): void {
    this.socket?.destroy();
  }

  /** Closes the connection for good. Idempotent. */
  async close(): Promise<void> {
    this.closedByUser = true;
    const s = this.socket;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.once('close', () => resolve());
      s.end();
      setTimeout(() => s.destroy(), 1000).unref();
    });
  }
}

function writeFrame(socket: net.Socket, parts: readonly Buffer[], cb?: (e?: Error | null) => void): void {
  if (parts.length === 1) {
    socket.write(parts[0]!, cb);
    return;
  }
  socket.cork();
  for (let i = 0; i < parts.length; i++) socket.write(parts[i]!, i === parts.length - 1 ? cb : undefined);
  process.nextTick(() => socket.uncork());
}

/**
 * A connection to the first reachable broker of a list. `get()` returns a connected
 * `BrokerConnection`, moving on to the next address when one is unreachable; when every
 * address fails it throws `BrokerUnreachableError` naming them.
 */
export class BrokerPool {
  private index = 0;
  private current: BrokerConnection | undefined;
  private closed = false;
  private readonly addresses: string[];

  constructor(
    addresses: readonly string[],
    private readonly options: ConnectionOptions,
  ) {
    if (!Array.isArray(addresses) || addresses.length === 0) {
      throw new InvalidInputError('brokers must list at least one "host:port" address');
    }
    for (const a of addresses) parseAddress(a);
    this.addresses = [...addresses];
  }

  /** A connected connection. */
  async get(): Promise<BrokerConnection> {
    if (this.closed) throw new ConnectionClosedError(this.addresses.join(','), 'the client was disconnected');
    if (this.current?.connected) return this.current;
    const errors: unknown[] = [];
    for (let i = 0; i < this.addresses.length; i++) {
      const address = this.addresses[(this.index + i) % this.addresses.length]!;
      let conn = this.current;
      if (!conn || conn.address !== address) {
        conn = new BrokerConnection(address, this.options);
        conn.onClose((e) => {
          if (this.current === conn) for (const l of this.listeners) l(e);
        });
      }
      try {
        await conn.connect();
        if (this.current && this.current !== conn) void this.current.close();
        this.current = conn;
        this.index = (this.index + i) % this.addresses.length;
        return conn;
      } catch (e) {
        errors.push(e);
        if (!(e instanceof BrokerUnreachableError)) throw e;
      }
    }
    this.index = (this.index + 1) % this.addresses.length;
    if (errors.length === 1) throw errors[0];
    throw new BrokerUnreachableError(
      this.addresses.join(','),
      `cannot connect to any broker: ${errors.map((e) => errorMessage(e).replace(/^cannot connect to broker /, '')).join('; ')}`,
      { cause: errors[0] },
    );
  }

  private readonly listeners: ((e: unknown) => void)[] = [];

  /** Called when the current connection closes. */
  onClose(listener: (e: unknown) => void): void {
    this.listeners.push(listener);
  }

  /** One request on the current connection (connecting first if needed). */
  async request<K extends ApiKey>(
    apiKey: K,
    body: RequestTypes[K],
    opts?: RequestOptions,
  ): Promise<ResponseTypes[K]> {
    const conn = await this.get();
    return conn.request(apiKey, body, opts);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.current?.close();
    this.current = undefined;
  }
}
