import type { Socket } from 'node:net';
import { ANONYMOUS, type Principal } from '@barge/core';
import type { Logger } from 'pino';

/** One answer slot, reserved when a request arrives: Kafka clients need answers in request order. */
export interface ResponseSlot {
  /** Sends the response frame (size prefix added here) once every earlier slot is answered. */
  send(frame: readonly Buffer[]): void;
  /** The request gets no response (Produce with acks=0). */
  none(): void;
}

interface Slot {
  state: 'waiting' | 'ready' | 'none';
  frame?: readonly Buffer[];
}

export interface KafkaConnectionLimits {
  /** Largest request frame (its size field), Kafka's `socket.request.max.bytes`. */
  maxFrameBytes: number;
  /** Requests read but not yet answered; reading pauses above this. */
  maxPendingRequests: number;
  /** Response bytes the client has not read yet; reading pauses above this. */
  responseBacklogBytes: number;
}

/**
 * A Kafka-protocol client connection: splits the byte stream into size-prefixed request frames,
 * hands each to `onFrame` with a response slot, and writes the responses in request order
 * (clients match them by order as well as by correlation id). Reading pauses while too many
 * requests are unanswered, too many response bytes wait for the client, or `pause()` was called
 * (back-pressure), so a client that pipelines without reading cannot grow the broker.
 */
export class KafkaConnection {
  readonly #chunks: Buffer[] = [];
  #buffered = 0;
  readonly #slots: Slot[] = [];
  #externallyPaused = false;
  #closed = false;
  /** Set by `endAfterResponses()`: no more requests are read; the socket ends once answered. */
  #ending = false;
  /** Who the connection acts as: ANONYMOUS without authentication, undefined until it authenticates. */
  principal: Principal | undefined = ANONYMOUS;

  constructor(
    readonly socket: Socket,
    readonly log: Logger,
    private readonly limits: KafkaConnectionLimits,
    private readonly onFrame: (conn: KafkaConnection, frame: Buffer, slot: ResponseSlot) => void,
    /** Called when the broker closes the connection for a protocol violation. */
    private readonly onFail: () => void = () => {},
  ) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.#onData(d));
    socket.on('drain', () => this.#updateReading());
  }

  /** `host:port` of the client. */
  get remote(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? 0}`;
  }

  get closed(): boolean {
    return this.#closed || this.socket.destroyed;
  }

  /** True once the connection is closed or ending (no more requests are served). */
  get closing(): boolean {
    return this.closed || this.#ending;
  }

  /**
   * Reads no more requests and closes the connection once every request read so far is answered
   * (a failed authentication: the client gets its error, then the connection ends).
   */
  endAfterResponses(): void {
    if (this.#ending) return;
    this.#ending = true;
    this.socket.pause();
    this.#flush();
  }

  /** True while reading is paused by `pause()` (the broker's byte budget). */
  get paused(): boolean {
    return this.#externallyPaused;
  }

  pause(): void {
    this.#externallyPaused = true;
    this.socket.pause();
  }

  resume(): void {
    this.#externallyPaused = false;
    this.#updateReading();
  }

  /** Closes the connection after a protocol violation (what Kafka brokers do too). */
  fail(message: string, details: Record<string, unknown> = {}): void {
    if (this.#closed) return;
    this.log.warn({ client: this.remote, ...details }, `kafka connection closed: ${message}`);
    this.onFail();
    this.destroy();
  }

  destroy(): void {
    this.#closed = true;
    this.socket.destroy();
  }

  #onData(data: Buffer): void {
    this.#chunks.push(data);
    this.#buffered += data.length;
    while (!this.#closed && !this.#ending && this.#buffered >= 4) {
      const size = this.#peekSize();
      if (size < 0 || size > this.limits.maxFrameBytes) {
        this.fail(`request frame of ${size} bytes; at most ${this.limits.maxFrameBytes} are allowed`);
        return;
      }
      if (this.#buffered < 4 + size) break;
      const frame = this.#take(4 + size).subarray(4);
      this.onFrame(this, frame, this.#reserve());
    }
    this.#updateReading();
  }

  #peekSize(): number {
    const first = this.#chunks[0]!;
    if (first.length >= 4) return first.readInt32BE(0);
    return this.#take(4, true).readInt32BE(0);
  }

  /** The next `n` buffered bytes: a view when they sit in one read, else one copy. */
  #take(n: number, peek = false): Buffer {
    const first = this.#chunks[0]!;
    if (first.length >= n) {
      if (peek) return first.subarray(0, n);
      const out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      this.#buffered -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let i = 0;
    while (filled < n) {
      const c = this.#chunks[i]!;
      const used = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, used);
      filled += used;
      if (peek) {
        i++;
        continue;
      }
      if (used === c.length) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(used);
    }
    if (!peek) this.#buffered -= n;
    return out;
  }

  #reserve(): ResponseSlot {
    const slot: Slot = { state: 'waiting' };
    this.#slots.push(slot);
    const settle = (state: Slot['state'], frame?: readonly Buffer[]) => {
      if (slot.state !== 'waiting') return;
      slot.state = state;
      slot.frame = frame;
      this.#flush();
    };
    return { send: (frame) => settle('ready', frame), none: () => settle('none') };
  }

  #flush(): void {
    let wrote = false;
    while (this.#slots.length > 0 && this.#slots[0]!.state !== 'waiting') {
      const slot = this.#slots.shift()!;
      if (slot.state !== 'ready' || this.#closed) continue;
      if (!wrote) this.socket.cork();
      wrote = true;
      let size = 0;
      for (const b of slot.frame!) size += b.length;
      const prefix = Buffer.allocUnsafe(4);
      prefix.writeInt32BE(size, 0);
      this.socket.write(prefix);
      for (const b of slot.frame!) this.socket.write(b);
    }
    if (wrote) process.nextTick(() => this.socket.uncork());
    if (this.#ending && this.#slots.length === 0 && !this.#closed) {
      this.#closed = true;
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
      return;
    }
    this.#updateReading();
  }

  #updateReading(): void {
    if (this.#closed) return;
    const tooMany = this.#slots.length >= this.limits.maxPendingRequests;
    const unread = this.socket.writableLength > this.limits.responseBacklogBytes;
    if (tooMany || unread || this.#externallyPaused || this.#ending) this.socket.pause();
    else if (this.socket.isPaused()) this.socket.resume();
  }
}
