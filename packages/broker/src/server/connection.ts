import type { Socket } from 'node:net';
import {
  decodeRequestFrame,
  ErrorCode,
  encodeErrorResponse,
  errorMessage,
  FrameDecoder,
  FrameTooLargeError,
  peekCorrelationId,
  type RequestHeader,
} from '@barge/core';
import type { Logger } from 'pino';

export interface ConnectionHost {
  log: Logger;
  /** Handles one request; must not throw. */
  handle(conn: Connection, header: RequestHeader, body: Buffer): void;
  closed(conn: Connection): void;
  countError(code: ErrorCode): void;
}

let nextConnectionId = 0;

/**
 * One client connection: a streaming length-prefix decoder feeding requests to the broker, and
 * the response writer. Responses may go out in any order (pipelining). `pause()`/`resume()`
 * stop and restart reading the socket (back-pressure). Protocol problems are logged once per
 * connection (later ones at debug level).
 */
export class Connection {
  readonly id = ++nextConnectionId;
  readonly remote: string;
  readonly decoder: FrameDecoder;
  readonly log: Logger;
  /** Why reading is paused: the broker's byte budget, and/or responses the client is not reading. */
  readonly #pausedFor = new Set<'budget' | 'writes'>();
  readonly #maxWriteBacklog: number;
  #closed = false;
  #problemLogged = false;

  constructor(
    readonly socket: Socket,
    private readonly host: ConnectionHost,
    maxFrameBytes: number,
  ) {
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.log = host.log.child({ conn: this.id, remote: this.remote });
    this.decoder = new FrameDecoder({ maxFrameBytes });
    this.#maxWriteBacklog = Math.max(2 * maxFrameBytes, 32 * 1024 * 1024);
    socket.setNoDelay(true);
    socket.on('drain', () => this.#unpause('writes'));
    socket.on('data', (d: Buffer) => this.#onData(d));
    socket.on('error', (e) => this.log.debug({ err: errorMessage(e) }, 'socket error'));
    socket.on('close', () => {
      this.#closed = true;
      this.host.closed(this);
    });
  }

  get closed(): boolean {
    return this.#closed || this.socket.destroyed;
  }

  /** True while reading is paused by the broker's byte budget (back-pressure, see `Backpressure`). */
  get paused(): boolean {
    return this.#pausedFor.has('budget');
  }

  /** Stops reading the socket until `resume()` (back-pressure). */
  pause(): void {
    this.#pauseFor('budget');
  }

  resume(): void {
    this.#unpause('budget');
  }

  #pauseFor(reason: 'budget' | 'writes'): void {
    if (this.closed) return;
    this.#pausedFor.add(reason);
    this.socket.pause();
  }

  #unpause(reason: 'budget' | 'writes'): void {
    if (!this.#pausedFor.delete(reason)) return;
    if (this.#pausedFor.size === 0 && !this.closed && !this.socket.writableEnded) this.socket.resume();
  }

  send(frame: Buffer | readonly Buffer[]): void {
    if (this.closed || this.socket.writableEnded) return;
    if (Buffer.isBuffer(frame)) {
      this.socket.write(frame);
    } else {
      this.socket.cork();
      for (const part of frame) this.socket.write(part);
      this.socket.uncork();
    }
    // A client that sends requests without reading the responses stops being read until it
    // catches up, so unread responses cannot grow without bound.
    if (this.socket.writableLength > this.#maxWriteBacklog) this.#pauseFor('writes');
  }

  /** Logs a protocol problem: the first at warn level, later ones at debug level. */
  problem(msg: string, fields: Record<string, unknown> = {}): void {
    if (this.#problemLogged) {
      this.log.debug(fields, msg);
      return;
    }
    this.#problemLogged = true;
    this.log.warn(fields, `${msg} (further problems on this connection are logged at debug level)`);
  }

  /** Sends an error response (if a correlation id is known), then closes the connection. */
  fail(code: ErrorCode, message: string, correlationId: number | undefined): void {
    this.host.countError(code);
    if (correlationId !== undefined) this.send(encodeErrorResponse(correlationId, code, message));
    this.close();
  }

  /** Ends the connection after pending writes, and destroys it if the peer does not close. */
  close(graceMs = 1000): void {
    if (this.closed) return;
    this.socket.pause();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), graceMs).unref();
  }

  #onData(data: Buffer): void {
    if (this.#closed || this.socket.writableEnded) return;
    this.decoder.push(data);
    for (;;) {
      let frame: Buffer | undefined;
      try {
        frame = this.decoder.next();
      } catch (e) {
        if (e instanceof FrameTooLargeError) {
          this.problem('frame too large; closing the connection', { length: e.length, max: e.maxFrameBytes });
          this.fail(ErrorCode.FRAME_TOO_LARGE, e.message, peekCorrelationId(e.header));
        } else {
          this.problem('undecodable stream; closing the connection', { err: errorMessage(e) });
          this.close();
        }
        return;
      }
      if (!frame) return;
      let header: RequestHeader;
      let body: Buffer;
      try {
        ({ header, body } = decodeRequestFrame(frame));
      } catch (e) {
        this.problem('frame too short for a request header; closing the connection', {
          err: errorMessage(e),
        });
        this.host.countError(ErrorCode.INVALID_REQUEST);
        this.close();
        return;
      }
      this.host.handle(this, header, body);
      if (this.#closed || this.socket.writableEnded) return;
    }
  }
}
