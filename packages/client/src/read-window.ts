import type { Throttled } from '@barge/core';

/** Data bytes of ReadObject requests a consumer may keep in flight while it is not throttled. */
export const READ_WINDOW_BYTES = 16 * 1024 * 1024;
/** Where the window starts, and starts again after a throttled response. */
export const READ_WINDOW_START_BYTES = 2 * 1024 * 1024;

/**
 * How many ReadObject requests go to the read proxy at once. While responses carry no throttle
 * time, up to a window of data bytes that starts at `startBytes` and grows by the bytes of each
 * unthrottled response, up to `maxBytes` (as TCP's slow start); once a response carried a
 * throttle time, one request at a time until one comes back without, then from `startBytes`
 * again. A broker past the principal's read quota stops reading the connection, so reads sent
 * together would queue there behind one throttle pause after another, with the group's
 * heartbeats and the requests' timeouts running. One request is always let through.
 */
export class ReadWindow {
  #throttled = false;
  #limit: number;
  #running = 0;
  #runningBytes = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(
    readonly maxBytes = READ_WINDOW_BYTES,
    readonly startBytes = Math.min(READ_WINDOW_START_BYTES, maxBytes),
  ) {
    this.#limit = startBytes;
  }

  /** True after a response carried a throttle time, until one comes back without. */
  get throttled(): boolean {
    return this.#throttled;
  }

  /** Data bytes that may be in flight now (while not throttled). */
  get limit(): number {
    return this.#limit;
  }

  /** Sends `send` (asking for `bytes` of data) once the window admits it. */
  async run<T extends Throttled>(bytes: number, send: () => Promise<T>): Promise<T> {
    while (!this.#admits(bytes)) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#running++;
    this.#runningBytes += bytes;
    try {
      const res = await send();
      this.#throttled = (res.throttleTimeMs ?? 0) > 0;
      this.#limit = this.#throttled ? this.startBytes : Math.min(this.maxBytes, this.#limit + bytes);
      return res;
    } finally {
      this.#running--;
      this.#runningBytes -= bytes;
      for (const wake of this.#waiting.splice(0)) wake();
    }
  }

  #admits(bytes: number): boolean {
    if (this.#running === 0) return true;
    return !this.#throttled && this.#runningBytes + bytes <= this.#limit;
  }
}
