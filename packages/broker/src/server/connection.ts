import type { Socket } from 'node:net';
import { type PeerCertificate, TLSSocket } from 'node:tls';
import {
  ANONYMOUS,
  decodeRequestFrameParts,
  ErrorCode,
  encodeErrorResponse,
  errorMessage,
  FrameDecoder,
  FrameTooLargeError,
  type Principal,
  peekCorrelationId,
  type RequestHeader,
} from '@barge/core';
import type { Logger } from 'pino';
import { type FrameBudget, SMALL_FRAME_BYTES } from './frame-budget.js';
import { ResponseBacklog } from './response-backlog.js';

export interface ConnectionHost {
  log: Logger;
  /** The broker-wide budget of large frames being received. */
  frameBudget: FrameBudget;
  /**
   * Handles one request; must not throw. `body` is views of the socket's reads (never joined
   * here: produce requests keep their chunk bytes as such views).
   */
  handle(conn: Connection, header: RequestHeader, body: readonly Buffer[]): void;
  closed(conn: Connection): void;
  countError(code: ErrorCode): void;
}

export interface ConnectionLimits {
  maxFrameBytes: number;
  /** Unsent and in-preparation response bytes above which requests stop being read. */
  responseBacklogBytes: number;
}

/** A request being answered, as its handler sees it. */
export interface RequestScope {
  /**
   * Waits until `bytes` more response bytes fit the connection's response backlog, and holds
   * them until the response is sent: a handler producing a large reply calls it first.
   */
  holdResponseBytes(bytes: number): Promise<void>;
}

/** A request's scope plus `end()`, called once its response is sent (or will never be). */
export interface PendingRequest extends RequestScope {
  end(): void;
}

/** Requests answered later (handlers still running, long polls) after which reading stops. */
export const MAX_PENDING_REQUESTS = 1024;

/**
 * Why reading is paused: the upload budget, unread responses, a frame waiting for the frame
 * budget, or a quota's throttle time (`throttle()`).
 */
type PauseReason = 'budget' | 'responses' | 'frame' | 'quota';

let nextConnectionId = 0;

/**
 * One client connection: a streaming length-prefix decoder feeding requests to the broker, and
 * the response writer. Responses may go out in any order (pipelining). Reading stops while the
 * upload budget is exhausted (`pause()`/`resume()`), while responses pile up unread or too many
 * requests are pending, and while a large frame waits for room in the frame budget; frames
 * already buffered wait in the decoder. Protocol problems are logged once per connection (later
 * ones at debug level).
 */
export class Connection {
  readonly id = ++nextConnectionId;
  readonly remote: string;
  /** The client's IP address (connections per address are capped). */
  readonly address: string;
  readonly decoder: FrameDecoder;
  readonly log: Logger;
  /**
   * Who this connection acts as: `ANONYMOUS` when authentication is off; undefined until the
   * client authenticates when it is on (then only ApiVersions and the SASL apis are served).
   */
  principal: Principal | undefined = ANONYMOUS;
  readonly #pausedFor = new Set<PauseReason>();
  readonly #backlog: ResponseBacklog;
  #pending = 0;
  /** Produce requests waiting for their ack (answered by the produce handler, not `beginRequest`). */
  #awaitingAcks = 0;
  /** Bytes of the frame being received reserved in the frame budget (0: none). */
  #reserved = 0;
  /** Set while the next frame waits for room in the frame budget. */
  #frameGrant: (() => void) | undefined;
  #processing = false;
  #closed = false;
  #problemLogged = false;
  #lastActivity = Date.now();
  /** When the incomplete frame in the decoder started arriving (undefined: none). */
  #frameStartedAt: number | undefined;
  #flushed = 0;
  #flushedAt = Date.now();
  #throttledUntil = 0;
  #throttleTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly socket: Socket,
    private readonly host: ConnectionHost,
    limits: ConnectionLimits,
  ) {
    this.address = socket.remoteAddress ?? '?';
    this.remote = `${this.address}:${socket.remotePort ?? '?'}`;
    this.log = host.log.child({ conn: this.id, remote: this.remote });
    this.decoder = new FrameDecoder({ maxFrameBytes: limits.maxFrameBytes });
    this.#backlog = new ResponseBacklog(limits.responseBacklogBytes, () => socket.writableLength);
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.#onData(d));
    socket.on('error', (e) => this.log.debug({ err: errorMessage(e) }, 'socket error'));
    socket.on('close', () => {
      this.#closed = true;
      clearTimeout(this.#throttleTimer);
      this.#releaseFrame();
      this.#backlog.close();
      this.host.closed(this);
    });
  }

  get closed(): boolean {
    return this.#closed || this.socket.destroyed;
  }

  /** True on the TLS listener (`security.tls`). */
  get encrypted(): boolean {
    return this.socket instanceof TLSSocket;
  }

  /** The client certificate, when the client sent one that chains to `security.tls.ca`; else undefined. */
  peerCertificate(): PeerCertificate | undefined {
    if (!(this.socket instanceof TLSSocket) || !this.socket.authorized) return undefined;
    const cert = this.socket.getPeerCertificate();
    return Object.keys(cert).length > 0 ? cert : undefined;
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

  /**
   * Stops reading for `ms` (a quota's throttle time, sent in the response too), so a client
   * that ignores the throttle time is held back all the same. A longer pause running is kept.
   */
  throttle(ms: number): void {
    const until = Date.now() + ms;
    if (ms <= 0 || until <= this.#throttledUntil || this.closed) return;
    this.#throttledUntil = until;
    clearTimeout(this.#throttleTimer);
    this.#pauseFor('quota');
    this.#throttleTimer = setTimeout(() => this.#unpause('quota'), ms);
  }

  /**
   * A produce request waits for its ack (a durable ack can take longer than the idle timeout):
   * the connection is not idle until the returned function is called.
   */
  awaitAck(): () => void {
    this.#awaitingAcks++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#awaitingAcks--;
      this.#lastActivity = Date.now();
    };
  }

  /** Starts a request answered later; `end()` it once its response is sent. */
  beginRequest(): PendingRequest {
    this.#pending++;
    let held = 0;
    let ended = false;
    return {
      holdResponseBytes: async (bytes) => {
        await this.#backlog.hold(bytes);
        if (ended) this.#backlog.release(bytes);
        else held += bytes;
      },
      end: () => {
        if (ended) return;
        ended = true;
        this.#pending--;
        this.#lastActivity = Date.now();
        if (held > 0) this.#backlog.release(held);
        this.#resumeResponses();
      },
    };
  }

  /**
   * Since when the connection has been idle (nothing received, nothing pending, nothing to
   * send), or undefined when it is not idle.
   */
  idleSince(): number | undefined {
    if (this.#pending > 0 || this.#awaitingAcks > 0 || this.#pausedFor.size > 0 || this.#reserved > 0) {
      return undefined;
    }
    if (this.decoder.bufferedBytes > 0 || this.socket.writableLength > 0) return undefined;
    return this.#lastActivity;
  }

  /** Since when the client has been sending the current frame; undefined if none or not being read. */
  frameReadSince(): number | undefined {
    return this.#pausedFor.size > 0 ? undefined : this.#frameStartedAt;
  }

  /** Since when responses have been waiting without the kernel taking any byte; undefined if none wait. */
  writeStalledSince(now = Date.now()): number | undefined {
    const unsent = this.socket.writableLength;
    const flushed = this.socket.bytesWritten - unsent;
    if (flushed !== this.#flushed || unsent === 0) {
      this.#flushed = flushed;
      this.#flushedAt = now;
    }
    return unsent === 0 ? undefined : this.#flushedAt;
  }

  send(frame: Buffer | readonly Buffer[]): void {
    if (this.closed || this.socket.writableEnded) return;
    this.#lastActivity = Date.now();
    if (Buffer.isBuffer(frame)) {
      this.socket.write(frame, this.#onFlushed);
    } else {
      this.socket.cork();
      const last = frame.length - 1;
      for (let i = 0; i <= last; i++) this.socket.write(frame[i]!, i === last ? this.#onFlushed : undefined);
      this.socket.uncork();
    }
  }

  /** A response left the socket's buffer: replies waiting for backlog room, and reading, may go on. */
  readonly #onFlushed = (): void => {
    this.#backlog.wake();
    this.#resumeResponses();
  };

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
    this.#releaseFrame();
    this.socket.pause();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), graceMs).unref();
  }

  /** Closed, or being closed (`close()` was called). */
  get closing(): boolean {
    return this.closed || this.socket.writableEnded;
  }

  #pauseFor(reason: PauseReason): void {
    if (this.closed) return;
    this.#pausedFor.add(reason);
    this.socket.pause();
  }

  #unpause(reason: PauseReason): void {
    if (!this.#pausedFor.delete(reason) || this.#pausedFor.size > 0 || this.closing) return;
    // The client gets the whole read timeout again: the pause was the broker's doing.
    if (this.#frameStartedAt !== undefined) this.#frameStartedAt = Date.now();
    this.socket.resume();
    this.#process();
  }

  #resumeResponses(): void {
    if (this.#pausedFor.has('responses') && !this.#responsesFull()) this.#unpause('responses');
  }

  #responsesFull(): boolean {
    return this.#pending >= MAX_PENDING_REQUESTS || this.#backlog.full;
  }

  #onData(data: Buffer): void {
    if (this.closing) return;
    this.#lastActivity = Date.now();
    this.#frameStartedAt ??= this.#lastActivity;
    this.decoder.push(data);
    this.#process();
  }

  /** Dispatches the buffered frames while reading may go on. */
  #process(): void {
    if (this.#processing) return;
    this.#processing = true;
    try {
      while (!this.closing && this.#pausedFor.size === 0) {
        if (this.#responsesFull()) {
          this.#pauseFor('responses');
          return;
        }
        if (!this.#admitFrame()) return;
        const frame = this.#nextFrame();
        if (!frame) return;
        this.#dispatch(frame);
      }
    } finally {
      this.#processing = false;
    }
  }

  /**
   * Reserves the next frame's length in the frame budget when it is large; false (reading
   * paused until granted) when it does not fit yet.
   */
  #admitFrame(): boolean {
    if (this.#reserved > 0) return true;
    const length = this.decoder.pendingFrameLength;
    if (length === undefined || length <= SMALL_FRAME_BYTES || length > this.decoder.maxFrameBytes)
      return true;
    const grant = () => {
      this.#frameGrant = undefined;
      this.#reserved = length;
      this.#unpause('frame');
    };
    if (this.host.frameBudget.reserve(length, grant)) {
      this.#reserved = length;
      return true;
    }
    this.#frameGrant = grant;
    this.#pauseFor('frame');
    return false;
  }

  #releaseFrame(): void {
    if (this.#frameGrant) {
      this.host.frameBudget.cancel(this.#frameGrant);
      this.#frameGrant = undefined;
    }
    if (this.#reserved > 0) {
      this.host.frameBudget.release(this.#reserved);
      this.#reserved = 0;
    }
  }

  /** The next complete frame, or undefined (closing the connection on a framing error). */
  #nextFrame(): Buffer[] | undefined {
    let frame: Buffer[] | undefined;
    try {
      frame = this.decoder.nextParts();
    } catch (e) {
      if (e instanceof FrameTooLargeError) {
        this.problem('frame too large; closing the connection', { length: e.length, max: e.maxFrameBytes });
        this.fail(ErrorCode.FRAME_TOO_LARGE, e.message, peekCorrelationId(e.header));
      } else {
        this.problem('undecodable stream; closing the connection', { err: errorMessage(e) });
        this.close();
      }
      return undefined;
    }
    if (!frame) return undefined;
    this.#releaseFrame();
    this.#frameStartedAt = this.decoder.bufferedBytes > 0 ? Date.now() : undefined;
    return frame;
  }

  #dispatch(frame: readonly Buffer[]): void {
    let header: RequestHeader;
    let body: Buffer[];
    try {
      ({ header, body } = decodeRequestFrameParts(frame));
    } catch (e) {
      this.problem('frame too short for a request header; closing the connection', {
        err: errorMessage(e),
      });
      this.host.countError(ErrorCode.INVALID_REQUEST);
      this.close();
      return;
    }
    this.host.handle(this, header, body);
  }
}
