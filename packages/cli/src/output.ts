import type { Writable } from 'node:stream';

/**
 * Lines written to stdout or a file, with back-pressure: `write` waits while the stream's buffer
 * is full. One `error` listener for the stream's life records a failure (EPIPE once a pipe's
 * reader is gone, a full disk), and every wait removes the listeners it added.
 */
export class LineOutput {
  readonly #stream: Writable;
  #failure: Error | undefined;

  constructor(stream: Writable) {
    this.#stream = stream;
    stream.on('error', (e: Error) => {
      this.#failure ??= e;
    });
  }

  /** Why the output stopped taking lines, if it did. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Whether the output is gone: a write failed or the stream was destroyed. */
  get closed(): boolean {
    return this.#failure !== undefined || this.#stream.destroyed;
  }

  /**
   * Writes `line`; resolves when the stream can take more. False when the output is gone (the
   * line may not have reached it).
   */
  async write(line: Buffer): Promise<boolean> {
    if (this.closed) return false;
    if (!this.#stream.write(line)) await this.#drained();
    return !this.closed;
  }

  /** Ends a file output (not stdout) once everything written was flushed. */
  async end(): Promise<void> {
    const s = this.#stream;
    if (s === process.stdout || this.closed) return;
    await new Promise<void>((resolve) => s.end(resolve));
  }

  /** Resolves at `drain`, or when the stream fails or closes instead. */
  #drained(): Promise<void> {
    const s = this.#stream;
    return new Promise((resolve) => {
      const done = () => {
        s.off('drain', done);
        s.off('error', done);
        s.off('close', done);
        resolve();
      };
      s.on('drain', done);
      s.on('error', done);
      s.on('close', done);
    });
  }
}
