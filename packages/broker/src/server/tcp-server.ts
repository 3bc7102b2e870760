import { createServer, type Server, type Socket } from 'node:net';
import { ErrorCode, encodeErrorResponse, errorMessage, type RequestHeader } from '@barge/core';
import type { Logger } from 'pino';
import { Connection, type ConnectionHost } from './connection.js';
import { type HostPort, listenOn } from './listen.js';

export interface TcpServerOptions {
  maxConnections: number;
  maxFrameBytes: number;
}

export interface TcpServerEvents {
  /** One decoded request frame; must not throw. */
  request(conn: Connection, header: RequestHeader, body: Buffer): void;
  /** A connection went away. */
  closed(conn: Connection): void;
  /** Counts a protocol error answered or detected at the connection level. */
  countError(code: ErrorCode): void;
  /** The number of open connections changed. */
  connectionCount(n: number): void;
}

/**
 * The client listener: accepts sockets up to `maxConnections` (later ones get a
 * TOO_MANY_CONNECTIONS error frame and are closed) and owns the open connections.
 */
export class TcpServer implements ConnectionHost {
  readonly #connections = new Set<Connection>();
  #server: Server | undefined;
  #address: HostPort | undefined;
  #accepting = true;

  constructor(
    readonly log: Logger,
    private readonly options: TcpServerOptions,
    private readonly events: TcpServerEvents,
  ) {}

  get address(): HostPort | undefined {
    return this.#address;
  }

  get connections(): ReadonlySet<Connection> {
    return this.#connections;
  }

  async start(listen: string): Promise<void> {
    const server = createServer((socket) => this.#accept(socket));
    this.#address = await listenOn(server, listen);
    server.on('error', (e) => this.log.error({ err: errorMessage(e) }, 'server error'));
    this.#server = server;
  }

  /** Stops accepting connections; resolves when the listener is closed (open connections stay). */
  stopAccepting(): Promise<void> {
    this.#accepting = false;
    const server = this.#server;
    if (!server) return Promise.resolve();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Ends every connection after its pending writes. */
  closeAll(graceMs: number): void {
    for (const c of this.#connections) c.close(graceMs);
  }

  destroyAll(): void {
    for (const c of this.#connections) c.socket.destroy();
  }

  #accept(socket: Socket): void {
    if (!this.#accepting) {
      socket.destroy();
      return;
    }
    const max = this.options.maxConnections;
    if (this.#connections.size >= max) {
      this.events.countError(ErrorCode.TOO_MANY_CONNECTIONS);
      this.log.warn(
        { remote: `${socket.remoteAddress}:${socket.remotePort}`, max },
        'connection refused: too many connections',
      );
      socket.on('error', () => {});
      socket.end(
        encodeErrorResponse(
          0,
          ErrorCode.TOO_MANY_CONNECTIONS,
          `the broker has ${max} connections, its limit`,
        ),
      );
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    const conn = new Connection(socket, this, this.options.maxFrameBytes);
    this.#connections.add(conn);
    this.events.connectionCount(this.#connections.size);
    conn.log.debug('connection opened');
  }

  // ConnectionHost ------------------------------------------------------------------------------

  handle(conn: Connection, header: RequestHeader, body: Buffer): void {
    this.events.request(conn, header, body);
  }

  closed(conn: Connection): void {
    if (!this.#connections.delete(conn)) return;
    this.events.connectionCount(this.#connections.size);
    conn.log.debug('connection closed');
    this.events.closed(conn);
  }

  countError(code: ErrorCode): void {
    this.events.countError(code);
  }
}
