import { ErrorCode } from '@barge/core';
import { RequestError } from '../errors.js';

/**
 * One connection's cap on response bytes that are being prepared (held by a handler, e.g. a
 * ReadObject reading storage) or written and not yet taken by the kernel (`unsent()`, the
 * socket's `writableLength`). A handler holds the size of a large reply before producing it and
 * waits while the cap is reached; one reply always fits when nothing is held or unsent. While
 * the cap is reached (or someone waits) the connection stops reading requests.
 */
export class ResponseBacklog {
  #held = 0;
  readonly #waiting: { bytes: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  #closed = false;

  constructor(
    readonly limit: number,
    private readonly unsent: () => number,
  ) {}

  /** Bytes held by handlers for replies they are preparing. */
  get held(): number {
    return this.#held;
  }

  /** True while no further request should be read: a handler waits, or the cap is reached. */
  get full(): boolean {
    return this.#waiting.length > 0 || this.#held + this.unsent() > this.limit;
  }

  /** Resolves once `bytes` are held; rejects if the connection closes first. */
  hold(bytes: number): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    if (this.#waiting.length === 0 && this.#fits(bytes)) {
      this.#held += bytes;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.#waiting.push({ bytes, resolve, reject }));
  }

  release(bytes: number): void {
    this.#held = Math.max(0, this.#held - bytes);
    this.wake();
  }

  /** Grants waiting holds that fit now (call when the socket drained). */
  wake(): void {
    for (let w = this.#waiting[0]; w && this.#fits(w.bytes); w = this.#waiting[0]) {
      this.#waiting.shift();
      this.#held += w.bytes;
      w.resolve();
    }
  }

  /** The connection closed: waiting holds fail. */
  close(): void {
    this.#closed = true;
    for (const w of this.#waiting.splice(0)) w.reject(closedError());
  }

  #fits(bytes: number): boolean {
    const busy = this.#held + this.unsent();
    return busy === 0 || busy + bytes <= this.limit;
  }
}

function closedError(): RequestError {
  return new RequestError(ErrorCode.UNKNOWN_SERVER_ERROR, 'the connection closed');
}
