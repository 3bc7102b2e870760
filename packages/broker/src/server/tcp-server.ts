import { createServer, type Server, type Socket } from 'node:net';
import { ErrorCode, encodeErrorResponse, errorMessage, type RequestHeader } from '@barge/core';
import type { Logger } from 'pino';
import { Connection, type ConnectionHost, type ConnectionLimits } from './connection.js';
import { FrameBudget } from './frame-budget.js';
import { type HostPort, listenOn } from './listen.js';
import { ConnectionReaper, type ReaperLimits, type ReapReason } from './reaper.js';
import type { TlsContext } from './tls-context.js';
import { createTlsListener, type TlsRefusal } from './tls-listener.js';

export interface TcpServerOptions extends ConnectionLimits, ReaperLimits {
  maxConnections: number;
  maxConnectionsPerAddress: number;
  /** Broker-wide bytes of large request frames being received (`FrameBudget`). */
  frameBufferBytes: number;
}

/** Why a connection was refused or closed by the broker. */
export type CloseReason = ReapReason | TlsRefusal | 'max_connections' | 'max_connections_per_address';

export interface TcpServerEvents {
  /** One decoded request frame (its body as views of the socket's reads); must not throw. */
  request(conn: Connection, header: RequestHeader, body: readonly Buffer[]): void;
  /** A connection was accepted (its principal is set here when authentication is on). */
  opened?(conn: Connection): void;
  /** A connection went away. */
  closed(conn: Connection): void;
  /** Counts a protocol error answered or detected at the connection level. */
  countError(code: ErrorCode): void;
  /** The number of open connections changed. */
  connectionCount(n: number): void;
  /** The broker refused or closed a connection on its own. */
  closedBy(reason: CloseReason): void;
  /** Bytes reserved in the frame budget changed. */
  frameBufferBytes(n: number): void;
}

/**
 * The client listener: accepts sockets up to `maxConnections` in all and
 * `maxConnectionsPerAddress` per client address (later ones get a TOO_MANY_CONNECTIONS error
 * frame and are closed), owns the open connections and the frame budget they share, and closes
 * idle, slow and non-reading ones (`ConnectionReaper`).
 */
export class TcpServer implements ConnectionHost {
  readonly #connections = new Set<Connection>();
  readonly #perAddress = new Map<string, number>();
  readonly frameBudget: FrameBudget;
  readonly #reaper: ConnectionReaper;
  #server: Server | undefined;
  #address: HostPort | undefined;
  #accepting = true;

  constructor(
    readonly log: Logger,
    private readonly options: TcpServerOptions,
    private readonly events: TcpServerEvents,
    /** TLS on the listener (`security.tls`); undefined: plain TCP. */
    private readonly tls?: TlsContext,
  ) {
    this.frameBudget = new FrameBudget(options.frameBufferBytes, (n) => events.frameBufferBytes(n));
    this.#reaper = new ConnectionReaper(
      options,
      () => this.#connections,
      (c, r, ms) => this.#reap(c, r, ms),
    );
  }

  get address(): HostPort | undefined {
    return this.#address;
  }

  get connections(): ReadonlySet<Connection> {
    return this.#connections;
  }

  async start(listen: string): Promise<void> {
    const accept = (socket: Socket) => this.#accept(socket);
    const server = this.tls
      ? createTlsListener(this.tls, {
          log: this.log,
          secure: accept,
          refused: (reason) => this.events.closedBy(reason),
          handshakeTimeoutMs: this.options.requestReadTimeoutMs || 120_000,
        })
      : createServer(accept);
    this.#address = await listenOn(server, listen);
    server.on('error', (e) => this.log.error({ err: errorMessage(e) }, 'server error'));
    this.#server = server;
    this.#reaper.start();
  }

  /** Stops accepting connections; resolves when the listener is closed (open connections stay). */
  stopAccepting(): Promise<void> {
    this.#accepting = false;
    this.#reaper.stop();
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
    const address = socket.remoteAddress ?? '?';
    const { maxConnections, maxConnectionsPerAddress } = this.options;
    if (this.#connections.size >= maxConnections) {
      this.#refuse(socket, 'max_connections', `the broker has ${maxConnections} connections, its limit`);
      return;
    }
    const fromAddress = this.#perAddress.get(address) ?? 0;
    if (fromAddress >= maxConnectionsPerAddress) {
      this.#refuse(
        socket,
        'max_connections_per_address',
        `the broker has ${maxConnectionsPerAddress} connections from ${address}, its limit per client address`,
      );
      return;
    }
    const conn = new Connection(socket, this, this.options);
    this.events.opened?.(conn);
    this.#connections.add(conn);
    this.#perAddress.set(address, fromAddress + 1);
    this.events.connectionCount(this.#connections.size);
    conn.log.debug('connection opened');
  }

  #refuse(socket: Socket, reason: CloseReason, message: string): void {
    this.events.countError(ErrorCode.TOO_MANY_CONNECTIONS);
    this.events.closedBy(reason);
    this.log.warn(
      { remote: `${socket.remoteAddress}:${socket.remotePort}` },
      `connection refused: ${message}`,
    );
    socket.on('error', () => {});
    socket.end(encodeErrorResponse(0, ErrorCode.TOO_MANY_CONNECTIONS, message));
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  #reap(conn: Connection, reason: ReapReason, ms: number): void {
    this.events.closedBy(reason);
    const what = {
      idle: 'connection idle',
      read_timeout: 'request not received in time',
      write_stalled: 'client not reading its responses',
    }[reason];
    conn.log.info({ reason, ms }, `${what}; closing it`);
    conn.close();
  }

  // ConnectionHost ------------------------------------------------------------------------------

  handle(conn: Connection, header: RequestHeader, body: readonly Buffer[]): void {
    this.events.request(conn, header, body);
  }

  closed(conn: Connection): void {
    if (!this.#connections.delete(conn)) return;
    const left = (this.#perAddress.get(conn.address) ?? 1) - 1;
    if (left > 0) this.#perAddress.set(conn.address, left);
    else this.#perAddress.delete(conn.address);
    this.events.connectionCount(this.#connections.size);
    conn.log.debug('connection closed');
    this.events.closed(conn);
  }

  countError(code: ErrorCode): void {
    this.events.countError(code);
  }
}
