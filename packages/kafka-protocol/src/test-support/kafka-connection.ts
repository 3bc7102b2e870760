import { connect, type Socket } from 'node:net';
import {
  decodeResponseHeader,
  encodeRequestHeader,
  requestHeaderVersion,
  responseHeaderVersion,
} from '../headers.js';
import { KafkaReader } from '../wire/reader.js';
import { KafkaWriter } from '../wire/writer.js';

/**
 * A minimal Kafka connection for tests: sends size-prefixed requests encoded with the generated
 * encoders and hands each response body (after its header) to the generated decoder. One request
 * in flight at a time.
 */
export class KafkaTestConnection {
  private buffered = Buffer.alloc(0);
  private waiting: { resolve: (frame: Buffer) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;
  private correlationId = 0;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.deliver();
    });
    socket.on('error', (e) => {
      this.failure = e;
    });
    socket.on('close', () => {
      this.failure ??= new Error('connection closed');
      this.waiting?.reject(this.failure);
      this.waiting = undefined;
    });
  }

  static open(hostPort: string): Promise<KafkaTestConnection> {
    const [host, port] = hostPort.split(':');
    return new Promise((resolve, reject) => {
      const socket = connect({ host: host ?? '127.0.0.1', port: Number(port ?? 9092) });
      socket.once('connect', () => resolve(new KafkaTestConnection(socket)));
      socket.once('error', reject);
    });
  }

  private deliver(): void {
    if (!this.waiting || this.buffered.length < 4) return;
    const size = this.buffered.readInt32BE(0);
    if (this.buffered.length < 4 + size) return;
    const frame = this.buffered.subarray(4, 4 + size);
    this.buffered = this.buffered.subarray(4 + size);
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting.resolve(frame);
  }

  /** Sends one request and decodes its response with `decode` (the body after the response header). */
  async request<Req, Res>(
    apiKey: number,
    version: number,
    encode: (w: KafkaWriter, version: number, m: Req) => void,
    body: Req,
    decode: (r: KafkaReader, version: number) => Res,
  ): Promise<Res> {
    if (this.failure) throw this.failure;
    const correlationId = ++this.correlationId;
    const w = new KafkaWriter();
    w.startFrame();
    encodeRequestHeader(w, requestHeaderVersion(apiKey, version), {
      requestApiKey: apiKey,
      requestApiVersion: version,
      correlationId,
      clientId: 'barge-kafka-protocol-test',
    });
    encode(w, version, body);
    w.endFrame();
    const frame = await new Promise<Buffer>((resolve, reject) => {
      this.waiting = { resolve, reject };
      for (const segment of w.finish()) this.socket.write(segment);
      this.deliver();
    });
    const r = new KafkaReader(frame);
    const header = decodeResponseHeader(r, responseHeaderVersion(apiKey, version));
    if (header.correlationId !== correlationId) {
      throw new Error(`correlation id ${header.correlationId}, expected ${correlationId}`);
    }
    const response = decode(r, version);
    if (r.remaining !== 0) throw new Error(`${r.remaining} bytes left after the response`);
    return response;
  }

  close(): void {
    this.socket.destroy();
  }
}
