import { createServer, type Server, type Socket } from 'node:net';
import {
  decodeRequestHeader,
  encodeResponseHeader,
  KafkaReader,
  KafkaWriter,
  requestHeaderVersion,
  responseHeaderVersion,
} from '@barge/kafka-protocol';
import type { Logger } from 'pino';
import { type HostPort, listenOn } from '../server/listen.js';
import type { TlsContext } from '../server/tls-context.js';
import { createTlsListener } from '../server/tls-listener.js';
import { type KafkaApi, KafkaError, type KafkaRequestContext } from './kafka-api.js';
import { KafkaConnection, type KafkaConnectionLimits, type ResponseSlot } from './kafka-connection.js';
import type { KafkaMetrics } from './kafka-metrics.js';

const API_VERSIONS_KEY = 18;

export interface KafkaListenerOptions extends KafkaConnectionLimits {
  maxConnections: number;
  /** TLS on the listener (`security.tls`, the Barge listener's certificate); undefined: plain TCP. */
  tls?: TlsContext;
  /** Authentication (`security.authentication`); undefined: every connection is ANONYMOUS. */
  auth?: KafkaListenerAuth;
}

/** How the listener asks authentication about its connections (`kafka-security.ts`). */
export interface KafkaListenerAuth {
  /** Sets a new connection's principal (undefined until it authenticates, or its certificate's). */
  opened(conn: KafkaConnection): void;
  /** Why `conn` may not send `apiKey` yet (the connection is then closed, as Kafka does), or undefined. */
  refusal(conn: KafkaConnection, apiKey: number, apiName: string): string | undefined;
}

/**
 * The Kafka-protocol listener (`kafka.listen`): accepts Kafka clients, decodes each request
 * with the generated codecs and dispatches it to its `KafkaApi`. A request of an unknown API
 * or unserved version closes the connection, as Kafka does, except ApiVersions, which is
 * answered (version 0, UNSUPPORTED_VERSION) so the client can pick a version.
 */
export class KafkaListener {
  readonly #apis = new Map<number, KafkaApi>();
  readonly #connections = new Set<KafkaConnection>();
  #server: Server | undefined;
  #address: HostPort | undefined;

  constructor(
    readonly log: Logger,
    private readonly options: KafkaListenerOptions,
    private readonly metrics?: KafkaMetrics,
    apis: readonly KafkaApi[] = [],
  ) {
    for (const api of apis) this.register(api);
  }

  register(api: KafkaApi): void {
    this.#apis.set(api.apiKey, api);
  }

  get address(): HostPort | undefined {
    return this.#address;
  }

  get connections(): ReadonlySet<KafkaConnection> {
    return this.#connections;
  }

  /** The APIs served, for ApiVersions. */
  get apis(): readonly KafkaApi[] {
    return [...this.#apis.values()].sort((a, b) => a.apiKey - b.apiKey);
  }

  async start(listen: string): Promise<void> {
    const accept = (s: Socket) => this.#accept(s);
    const tls = this.options.tls;
    // A Kafka client without TLS on a TLS listener is closed without an answer, as Kafka does.
    this.#server = tls
      ? createTlsListener(tls, {
          log: this.log,
          secure: accept,
          refused: () => {},
          handshakeTimeoutMs: 30_000,
          plaintext: (s) => s.destroy(),
        })
      : createServer(accept);
    this.#address = await listenOn(this.#server, listen);
  }

  /** Stops accepting; resolves when the server is closed (connections are closed with `closeAll`). */
  stop(): Promise<void> {
    const server = this.#server;
    if (!server) return Promise.resolve();
    this.#server = undefined;
    return new Promise((resolve) => server.close(() => resolve()));
  }

  closeAll(): void {
    for (const c of this.#connections) c.destroy();
  }

  #accept(socket: Socket): void {
    if (this.#connections.size >= this.options.maxConnections) {
      this.metrics?.closed.inc({ reason: 'limit' });
      socket.destroy();
      return;
    }
    const conn = new KafkaConnection(
      socket,
      this.log,
      this.options,
      (c, frame, slot) => this.#dispatch(c, frame, slot),
      () => this.metrics?.closed.inc({ reason: 'protocol' }),
    );
    this.options.auth?.opened(conn);
    this.#connections.add(conn);
    this.metrics?.connections.set(this.#connections.size);
    socket.on('error', () => {});
    socket.on('close', () => {
      this.#connections.delete(conn);
      this.metrics?.connections.set(this.#connections.size);
    });
  }

  #dispatch(conn: KafkaConnection, frame: Buffer, slot: ResponseSlot): void {
    if (frame.length < 8) {
      conn.fail(`request frame of ${frame.length} bytes is too short`);
      return;
    }
    const apiKey = frame.readInt16BE(0);
    const apiVersion = frame.readInt16BE(2);
    const correlationId = frame.readInt32BE(4);
    const api = this.#apis.get(apiKey);
    if (!api) {
      conn.fail(`API key ${apiKey} is not served`, { apiKey, apiVersion });
      return;
    }
    this.metrics?.requests.inc({ api: api.name });
    const refusal = this.options.auth?.refusal(conn, apiKey, api.name);
    if (refusal !== undefined) {
      conn.fail(refusal, { apiKey, apiVersion });
      return;
    }
    const [min, max] = api.versions;
    if (apiVersion < min || apiVersion > max) {
      if (apiKey === API_VERSIONS_KEY) {
        this.#unsupportedApiVersions(api, correlationId, slot);
        return;
      }
      conn.fail(`${api.name} version ${apiVersion} is not served (${min}-${max})`);
      return;
    }
    let req: unknown;
    let clientId: string | null;
    try {
      const r = new KafkaReader(frame);
      clientId = decodeRequestHeader(r, requestHeaderVersion(apiKey, apiVersion)).clientId;
      req = api.decode(r, apiVersion);
    } catch (e) {
      conn.fail(`cannot decode ${api.name} v${apiVersion}: ${(e as Error).message}`);
      return;
    }
    const ctx: KafkaRequestContext = { conn, apiVersion, correlationId, clientId };
    const answer = (res: unknown) => {
      if (res === undefined) return slot.none();
      const w = new KafkaWriter();
      encodeResponseHeader(w, responseHeaderVersion(apiKey, apiVersion), correlationId);
      api.encode(w, apiVersion, res);
      slot.send(w.finish());
    };
    const failed = (e: unknown) => {
      this.log.error({ err: e, api: api.name, apiVersion }, 'kafka request handler failed');
      conn.fail(`${api.name} failed: ${(e as Error)?.message ?? String(e)}`);
    };
    try {
      const res = api.handle(req, ctx);
      if (res instanceof Promise) res.then(answer, failed);
      else answer(res);
    } catch (e) {
      failed(e);
    }
  }

  /** ApiVersions of a version this listener does not serve: a v0 answer naming the versions it does. */
  #unsupportedApiVersions(api: KafkaApi, correlationId: number, slot: ResponseSlot): void {
    const w = new KafkaWriter();
    encodeResponseHeader(w, 0, correlationId);
    api.encode(w, 0, { ...apiVersionsBody(this.apis), errorCode: KafkaError.UNSUPPORTED_VERSION });
    slot.send(w.finish());
  }
}

/** The ApiVersions answer body: every API served, with its advertised versions. */
export function apiVersionsBody(apis: readonly KafkaApi[]) {
  return {
    errorCode: KafkaError.NONE,
    apiKeys: apis.map((a) => {
      const [minVersion, maxVersion] = a.advertised ?? a.versions;
      return { apiKey: a.apiKey, minVersion, maxVersion };
    }),
    throttleTimeMs: 0,
  };
}
