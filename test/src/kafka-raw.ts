import { connect, type Socket } from 'node:net';
import {
  decodeResponseHeader,
  encodeRequestHeader,
  KafkaReader,
  KafkaWriter,
  requestHeaderVersion,
  responseHeaderVersion,
} from '@barge/kafka-protocol';

/**
 * One Kafka-protocol connection for tests that need exact requests (a version kafkajs does not
 * send, a request to a broker the client would not choose): requests encoded with the generated
 * `@barge/kafka-protocol` encoders, one in flight at a time.
 */
export class RawKafkaConnection {
  #buffered = Buffer.alloc(0);
  #waiting: { resolve: (frame: Buffer) => void; reject: (e: Error) => void } | undefined;
  #failure: Error | undefined;
  #correlationId = 0;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.#buffered = Buffer.concat([this.#buffered, chunk]);
      this.#deliver();
    });
    socket.on('error', (e) => {
      this.#failure = e;
    });
    socket.on('close', () => {
      this.#failure ??= new Error('connection closed');
      this.#waiting?.reject(this.#failure);
      this.#waiting = undefined;
    });
  }

  /** Connects to `host:port`. */
  static open(address: string): Promise<RawKafkaConnection> {
    const i = address.lastIndexOf(':');
    return new Promise((resolve, reject) => {
      const socket = connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
      socket.once('connect', () => resolve(new RawKafkaConnection(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends one request of `apiKey` v`version` and decodes the response body with `decode`. */
  async request<Req, Res>(
    apiKey: number,
    version: number,
    encode: (w: KafkaWriter, version: number, m: Req) => void,
    body: Req,
    decode: (r: KafkaReader, version: number) => Res,
  ): Promise<Res> {
    if (this.#failure) throw this.#failure;
    const correlationId = ++this.#correlationId;
    const w = new KafkaWriter();
    w.startFrame();
    encodeRequestHeader(w, requestHeaderVersion(apiKey, version), {
      requestApiKey: apiKey,
      requestApiVersion: version,
      correlationId,
      clientId: 'barge-e2e-raw',
    });
    encode(w, version, body);
    w.endFrame();
    const frame = await new Promise<Buffer>((resolve, reject) => {
      this.#waiting = { resolve, reject };
      for (const segment of w.finish()) this.socket.write(segment);
      this.#deliver();
    });
    const r = new KafkaReader(frame);
    const header = decodeResponseHeader(r, responseHeaderVersion(apiKey, version));
    if (header.correlationId !== correlationId)
      throw new Error(`correlation id ${header.correlationId}, expected ${correlationId}`);
    return decode(r, version);
  }

  close(): void {
    this.socket.destroy();
  }

  #deliver(): void {
    if (!this.#waiting || this.#buffered.length < 4) return;
    const size = this.#buffered.readInt32BE(0);
    if (this.#buffered.length < 4 + size) return;
    const frame = this.#buffered.subarray(4, 4 + size);
    this.#buffered = this.#buffered.subarray(4 + size);
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting.resolve(frame);
  }
}

/** Opens a connection to `address`, runs `fn` with it, and closes it. */
export async function withRawKafka<T>(
  address: string,
  fn: (c: RawKafkaConnection) => Promise<T>,
): Promise<T> {
  const c = await RawKafkaConnection.open(address);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}
