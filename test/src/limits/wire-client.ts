/**
 * A minimal pipelined Barge protocol client over node:net for tests that play a hostile client
 * beside a well-behaved one: raw bytes, requests without reading replies, and decoded replies.
 */
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import {
  ApiKey,
  decodeErrorBody,
  decodeResponseBody,
  decodeResponseFrame,
  encodeChunk,
  encodeRequest,
  FrameDecoder,
  type RequestTypes,
  type ResponseTypes,
} from '@barge/core';

export interface Reply<K extends ApiKey> {
  errorCode: number;
  message: string;
  body?: ResponseTypes[K];
}

export class WireClient {
  readonly #decoder = new FrameDecoder({ maxFrameBytes: 64 * 1024 * 1024 });
  readonly #pending = new Map<number, { apiKey: ApiKey; resolve: (r: Reply<ApiKey>) => void }>();
  /** Replies to no pending request (e.g. TOO_MANY_CONNECTIONS, correlation id 0). */
  readonly unsolicited: Reply<ApiKey>[] = [];
  #next = 1;
  closed = false;
  readonly whenClosed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.#decoder.push(d);
      for (let f = this.#decoder.next(); f; f = this.#decoder.next()) this.#onFrame(f);
    });
    socket.on('error', () => {});
    this.whenClosed = new Promise((resolve) =>
      socket.on('close', () => {
        this.closed = true;
        resolve();
      }),
    );
  }

  /**
   * Connects to `address` (`host:port`), from `localAddress` if given. With `read: false` the
   * client never reads replies.
   */
  static connect(
    address: string,
    options: { read?: boolean; localAddress?: string } = {},
  ): Promise<WireClient> {
    const i = address.lastIndexOf(':');
    const { localAddress } = options;
    return new Promise((resolve, reject) => {
      const s = connect(
        { host: address.slice(0, i), port: Number(address.slice(i + 1)), localAddress },
        () => {
          s.off('error', reject);
          const c = new WireClient(s);
          if (options.read === false) s.pause();
          resolve(c);
        },
      );
      s.once('error', reject);
    });
  }

  #onFrame(frame: Buffer): void {
    const { header, body } = decodeResponseFrame(frame);
    const p = this.#pending.get(header.correlationId);
    const apiKey = p?.apiKey ?? ApiKey.ApiVersions;
    const reply: Reply<ApiKey> =
      header.errorCode === 0
        ? { errorCode: 0, message: '', body: decodeResponseBody(apiKey, 1, body) }
        : { errorCode: header.errorCode, message: decodeErrorBody(apiKey, body).message };
    if (!p) {
      this.unsolicited.push(reply);
      return;
    }
    this.#pending.delete(header.correlationId);
    p.resolve(reply);
  }

  /** Sends a request; resolves with its reply (rejects if the connection closes first). */
  request<K extends ApiKey>(apiKey: K, body: RequestTypes[K]): Promise<Reply<K>> {
    const id = this.#next++;
    const reply = new Promise<Reply<K>>((resolve, reject) => {
      this.#pending.set(id, { apiKey, resolve: resolve as (r: Reply<ApiKey>) => void });
      this.whenClosed.then(() => reject(new Error(`connection closed before the reply to request ${id}`)));
    });
    reply.catch(() => {});
    for (const part of encodeRequest(apiKey, 1, id, body)) this.socket.write(part);
    return reply;
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
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

/** A durable produce of `values` to write partition 0 of `topic`. */
export function produceOf(topic: string, values: (string | Buffer)[]): RequestTypes[typeof ApiKey.Produce] {
  return {
    topic,
    writePartition: 0,
    acks: 'durable',
    producerId: 0,
    timeoutMs: 0,
    chunks: [
      encodeChunk(
        values.map((value) => ({ value, timestamp: Date.now() })),
        'none',
      ),
    ],
  };
}

/** The resident set size of process `pid` in MiB (Linux `/proc`). */
export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb) / 1024;
}
