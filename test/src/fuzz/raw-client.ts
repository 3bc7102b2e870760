import { connect, type Socket } from 'node:net';
import {
  type ApiKey,
  decodeErrorBody,
  decodeResponseBody,
  decodeResponseFrame,
  encodeRequest,
  errorCodeName,
  FrameDecoder,
  joinParts,
  type RequestTypes,
  type ResponseTypes,
} from '@barge/core';

/**
 * A raw protocol connection for fuzzing a live broker: sends well-formed, damaged or arbitrary
 * bytes, and checks every response the broker sends back against the protocol (a frame the
 * client decoder accepts; the body of the api it answers, or an error body). What does not
 * check out is added to `violations`, which the test asserts is empty.
 */

export interface Response {
  correlationId: number;
  errorCode: number;
  /** The decoded body: the api's response for errorCode 0, `{ message }` otherwise. */
  body: unknown;
}

/** Responses larger than this are a broker bug here (its ReadObject replies are below 16 MiB). */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

export class RawConnection {
  readonly #socket: Socket;
  readonly #decoder = new FrameDecoder({ maxFrameBytes: MAX_RESPONSE_BYTES });
  /** Requests sent with a known api and version, by correlation id. */
  readonly #sent = new Map<number, { apiKey: number; version: number }>();
  readonly #waiters = new Map<number, (r: Response) => void>();
  #nextCorrelationId = 1;
  readonly closed: Promise<void>;
  #isClosed = false;
  responses = 0;

  private constructor(
    socket: Socket,
    private readonly violations: string[],
    private readonly label: string,
  ) {
    this.#socket = socket;
    socket.on('data', (d: Buffer) => this.#onData(d));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.#isClosed = true;
        resolve();
      }),
    );
  }

  /** Connects to `address`; rejects after `timeoutMs`. */
  static open(
    address: string,
    violations: string[],
    label: string,
    timeoutMs = 10_000,
  ): Promise<RawConnection> {
    const [host, port] = address.split(':') as [string, string];
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port: Number(port) });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${address} timed out`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        resolve(new RawConnection(socket, violations, label));
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  get socket(): Socket {
    return this.#socket;
  }

  /** A fresh correlation id for a request whose api and version are known (so its response is checked). */
  track(apiKey: number, version: number): number {
    const id = this.#nextCorrelationId++;
    this.#sent.set(id, { apiKey, version });
    return id;
  }

  /** Writes bytes as they are; resolves once the kernel took them (or the socket is gone). */
  write(bytes: Buffer): Promise<void> {
    if (this.#isClosed || this.#socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.#socket.write(bytes, () => resolve()));
  }

  /** Frames a request: length prefix, header (apiKey, version, correlation id), then `body` as given. */
  static frame(apiKey: number, version: number, correlationId: number, body: Buffer): Buffer {
    const f = Buffer.alloc(12 + body.length);
    f.writeUInt32BE(8 + body.length, 0);
    f.writeUInt16BE(apiKey, 4);
    f.writeUInt16BE(version, 6);
    f.writeUInt32BE(correlationId >>> 0, 8);
    body.copy(f, 12);
    return f;
  }

  /** Sends a well-formed request and waits for its response (undefined if the connection closes or after `timeoutMs`). */
  async request<K extends ApiKey>(
    apiKey: K,
    body: RequestTypes[K],
    version = 1,
    timeoutMs = 10_000,
  ): Promise<(Response & { body: ResponseTypes[K] | { message: string } }) | undefined> {
    const id = this.track(apiKey, version);
    const answered = this.response(id, timeoutMs);
    await this.write(joinParts(encodeRequest(apiKey, version, id, body)));
    return (await answered) as (Response & { body: ResponseTypes[K] }) | undefined;
  }

  /** The response to `correlationId`, or undefined if the connection closes or after `timeoutMs`. */
  response(correlationId: number, timeoutMs = 10_000): Promise<Response | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(undefined), timeoutMs);
      const done = (r: Response | undefined) => {
        clearTimeout(timer);
        this.#waiters.delete(correlationId);
        resolve(r);
      };
      this.#waiters.set(correlationId, done);
      this.closed.then(() => done(undefined));
    });
  }

  /** True if the broker closes the connection within `ms`. */
  async closesWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      this.closed.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
      }),
    ]);
    clearTimeout(timer);
    return r;
  }

  /** Waits up to `ms` for anything to happen (a response or the close), then returns. */
  async linger(ms: number): Promise<void> {
    await this.closesWithin(ms);
  }

  end(): void {
    this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  /** Closes with a TCP reset instead of a FIN. */
  reset(): void {
    if (typeof this.#socket.resetAndDestroy === 'function') this.#socket.resetAndDestroy();
    else this.#socket.destroy();
  }

  #onData(d: Buffer): void {
    this.#decoder.push(d);
    for (;;) {
      let frame: Buffer | undefined;
      try {
        frame = this.#decoder.next();
      } catch (e) {
        this.#violation(`unreadable response stream: ${String(e)}`);
        this.#socket.destroy();
        return;
      }
      if (frame === undefined) return;
      this.responses++;
      this.#onFrame(frame);
    }
  }

  #onFrame(frame: Buffer): void {
    let header: { correlationId: number; errorCode: number };
    let body: Buffer;
    try {
      ({ header, body } = decodeResponseFrame(frame));
    } catch (e) {
      this.#violation(`response frame of ${frame.length} bytes: ${String(e)}`);
      return;
    }
    const sent = this.#sent.get(header.correlationId);
    this.#sent.delete(header.correlationId);
    let decoded: unknown;
    try {
      if (header.errorCode !== 0) decoded = decodeErrorBody(sent?.apiKey ?? 0, body);
      else if (sent) decoded = decodeResponseBody(sent.apiKey as ApiKey, sent.version, body);
    } catch (e) {
      const what = sent ? `api ${sent.apiKey} v${sent.version}` : 'an unknown request';
      this.#violation(`${errorCodeName(header.errorCode)} response to ${what} does not decode: ${String(e)}`);
    }
    this.#waiters.get(header.correlationId)?.({ ...header, body: decoded });
  }

  #violation(what: string): void {
    if (this.violations.length < 20) this.violations.push(`${this.label}: ${what}`);
  }
}
