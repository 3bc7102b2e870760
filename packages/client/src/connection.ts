import type * as net from 'node:net';
import {
  ApiKey as Api,
  type ApiKey,
  AuthError,
  apiName,
  BrokerResponseError,
  decodeErrorBody,
  decodeResponseBody,
  decodeResponseFrame,
  encodeRequest,
  errorMessage,
  InvalidInputError,
  negotiateVersions,
  type RequestTypes,
  type ResponseTypes,
  supportedVersionEntries,
} from '@barge/core';
import {
  BrokerUnreachableError,
  ConnectionClosedError,
  type ConnectionOptions,
  parseAddress,
  type RequestOptions,
  RequestTimeoutError,
} from './connection-options.js';
import type { RequestEventPayload } from './instrumentation.js';
import { ResponseFrames } from './response-frames.js';
import { authenticate } from './sasl-client.js';
import { ThrottleGate } from './throttle-gate.js';
import { closedAfterTlsHint, openSocket, tlsErrorText, tlsHandshakeFailure } from './tls.js';

export {
  BrokerUnreachableError,
  ConnectionClosedError,
  type ConnectionObserver,
  type ConnectionOptions,
  parseAddress,
  type RequestOptions,
  RequestTimeoutError,
} from './connection-options.js';

interface Pending {
  apiKey: ApiKey;
  version: number;
  createdAt: number;
  sentAt: number;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout | undefined;
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
  /** Requests wait out the broker's quota throttle times. */
  private readonly throttle = new ThrottleGate();

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

  /**
   * Connects (if not connected) and negotiates api versions, giving up after `connectTimeoutMs`
   * or at `deadline` (ms since the epoch), whichever comes first. Throws `BrokerUnreachableError`.
   */
  async connect(deadline?: number): Promise<void> {
    if (this.closedByUser)
      throw new ConnectionClosedError(this.address, `connection to broker ${this.address} was closed`);
    if (this.socket && !this.connecting) return;
    const timeoutMs = Math.max(
      1,
      Math.min(this.connectTimeoutMs, (deadline ?? Number.POSITIVE_INFINITY) - Date.now()),
    );
    this.connecting ??= this.open(timeoutMs).finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async open(timeoutMs: number): Promise<void> {
    const started = Date.now();
    const frames = new ResponseFrames(this.maxResponseBytes, (frame) => this.onFrame(frame));
    let opened: net.Socket | undefined;
    const onread = frames.onread((e) => opened?.destroy(e));
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const { socket: s, event } = openSocket(this.host, this.port, this.options.tls, onread);
      opened = s;
      const timer = setTimeout(() => {
        s.destroy();
        reject(
          new BrokerUnreachableError(
            this.address,
            `cannot connect to broker ${this.address}: no answer within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      s.once(event, () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        s.destroy();
        reject(
          tlsHandshakeFailure(this.address, e) ??
            new BrokerUnreachableError(
              this.address,
              `cannot connect to broker ${this.address}: ${this.options.tls ? tlsErrorText(e) : errorMessage(e)}`,
              { cause: e },
            ),
        );
      });
    });
    this.socket = socket;
    socket.setKeepAlive(true, 30_000);
    let socketError: unknown;
    socket.on('error', (e) => {
      socketError = e; // 'close' follows and carries the outcome
    });
    socket.on('close', () => this.onSocketClose(socket));
    try {
      await this.handshake(socket, Math.max(1, timeoutMs - (Date.now() - started)));
      this.options.observer?.connected?.(this.address);
    } catch (e) {
      socket.destroy();
      if (e instanceof BrokerResponseError || e instanceof InvalidInputError || e instanceof AuthError)
        throw e;
      // TLS 1.3: the broker refuses a client certificate after the client's side of the handshake.
      const refused = this.options.tls && tlsHandshakeFailure(this.address, socketError);
      if (refused) throw refused;
      throw new BrokerUnreachableError(
        this.address,
        `cannot connect to broker ${this.address}: ${errorMessage(e)}${e instanceof ConnectionClosedError ? closedAfterTlsHint(this.options.tls) : ''}`,
        {
          cause: e,
        },
      );
    }
  }

  private async handshake(socket: net.Socket, timeoutMs: number): Promise<void> {
    const mine = supportedVersionEntries();
    let theirs: { brokerId: number; versions: { apiKey: number; minVersion: number; maxVersion: number }[] };
    try {
      theirs = (await this.requestOn(
        socket,
        Api.ApiVersions,
        1,
        { clientId: this.options.clientId, versions: mine },
        { timeoutMs },
        Date.now(),
      )) as ResponseTypes[typeof Api.ApiVersions];
    } catch (e) {
      const v = (e as { versions?: typeof theirs }).versions;
      if (!v) throw e;
      theirs = v;
    }
    this.versions = negotiateVersions(mine, theirs.versions);
    this.brokerId = theirs.brokerId;
    const sasl = this.options.sasl;
    if (sasl)
      await authenticate(sasl, (apiKey, body) =>
        this.requestOn(socket, apiKey, this.versionFor(apiKey), body, { timeoutMs }, Date.now()),
      );
  }

  private onFrame(frame: Buffer): void {
    const { header, body } = decodeResponseFrame(frame);
    const p = this.pending.get(header.correlationId);
    if (!p) return; // timed out earlier: ignore the late answer
    this.pending.delete(header.correlationId);
    if (p.timer) clearTimeout(p.timer);
    this.options.observer?.request?.({
      ...this.describe(p, header.correlationId),
      duration: Date.now() - p.sentAt,
      size: frame.length,
    });
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
        const res = decodeResponseBody(p.apiKey, p.version, body);
        this.noteThrottle(p.apiKey, res);
        p.resolve(res);
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
    const outstanding = this.pending.size;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      if (p.timer) clearTimeout(p.timer);
      p.reject(error);
    }
    if (!this.closedByUser) this.options.observer?.disconnected?.(this.address, outstanding);
    for (const l of this.closeListeners) l(error);
  }

  /** A Produce or ReadObject v2 response's throttle time: later requests wait until it passed. */
  private noteThrottle(apiKey: ApiKey, res: unknown): void {
    const throttleTimeMs = this.throttle.note(res);
    if (throttleTimeMs === 0) return;
    const { clientId, observer } = this.options;
    observer?.throttled?.({ broker: this.address, clientId, apiName: apiName(apiKey), throttleTimeMs });
  }

  /** The fields of a request's instrumentation events. */
  private describe(
    p: Pick<Pending, 'apiKey' | 'version' | 'createdAt' | 'sentAt'>,
    correlationId: number,
  ): Omit<RequestEventPayload, 'duration' | 'size'> {
    return {
      broker: this.address,
      clientId: this.options.clientId,
      apiKey: p.apiKey,
      apiName: apiName(p.apiKey),
      apiVersion: p.version,
      correlationId,
      createdAt: p.createdAt,
      sentAt: p.sentAt,
      pendingDuration: p.sentAt - p.createdAt,
    };
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
    createdAt: number,
  ): Promise<ResponseTypes[K]> {
    const id = this.allocateId();
    const frame = encodeRequest(apiKey, version, id, body);
    return new Promise<ResponseTypes[K]>((resolve, reject) => {
      const timeoutMs = opts.timeoutMs ?? this.requestTimeoutMs;
      const sentAt = Date.now();
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              if (this.pending.delete(id)) {
                this.options.observer?.requestTimeout?.({
                  ...this.describe({ apiKey, version, createdAt, sentAt }, id),
                  timeoutMs,
                });
                reject(
                  new RequestTimeoutError(
                    `${apiName(apiKey)} request to broker ${this.address} timed out after ${timeoutMs} ms`,
                  ),
                );
              }
            }, timeoutMs)
          : undefined;
      this.pending.set(id, {
        apiKey,
        version,
        createdAt,
        sentAt,
        resolve: resolve as (v: unknown) => void,
        reject,
        timer,
      });
      writeFrame(socket, frame);
    });
  }

  /** Sends a request and resolves with its decoded response. Broker errors reject with `BrokerResponseError`. */
  async request<K extends ApiKey>(
    apiKey: K,
    body: RequestTypes[K],
    opts: RequestOptions = {},
  ): Promise<ResponseTypes[K]> {
    const createdAt = Date.now();
    await this.connect();
    await this.throttle.wait();
    const socket = this.socket;
    if (!socket) throw new ConnectionClosedError(this.address, `connection to broker ${this.address} closed`);
    return this.requestOn(socket, apiKey, this.versionFor(apiKey), body, opts, createdAt);
  }

  /**
   * Sends a request that gets no response (Produce with acks=none). Resolves once the frame was
   * handed to the operating system.
   */
  async send<K extends ApiKey>(apiKey: K, body: RequestTypes[K]): Promise<void> {
    const createdAt = Date.now();
    await this.connect();
    await this.throttle.wait();
    const socket = this.socket;
    if (!socket) throw new ConnectionClosedError(this.address, `connection to broker ${this.address} closed`);
    const version = this.versionFor(apiKey);
    const id = this.allocateId();
    const frame = encodeRequest(apiKey, version, id, body);
    const sentAt = Date.now();
    await new Promise<void>((resolve, reject) => {
      writeFrame(socket, frame, (e) => {
        if (!e) {
          const p = { apiKey, version, createdAt, sentAt };
          this.options.observer?.request?.({
            ...this.describe(p, id),
            duration: Date.now() - sentAt,
            size: 0,
          });
        }
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
