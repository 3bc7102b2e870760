/** Frames up to this size are read without a reservation (a connection buffers at most one). */
export const SMALL_FRAME_BYTES = 64 * 1024;

/**
 * The broker-wide budget of request frames being received (`limits.frameBufferBytes`). A
 * connection whose next frame is larger than `SMALL_FRAME_BYTES` reserves the frame's whole
 * length when its header arrives, before reading the body, and releases it once the frame is
 * complete (produce requests then count against the upload budget). A frame that does not fit
 * waits, first come first served, with its connection not being read; one frame always fits
 * when nothing else is reserved, so a budget smaller than `maxFrameBytes` still makes progress.
 */
export class FrameBudget {
  #used = 0;
  readonly #waiting: { bytes: number; grant: () => void }[] = [];

  constructor(
    readonly limit: number,
    private readonly onChange: (used: number) => void = () => {},
  ) {}

  get used(): number {
    return this.#used;
  }

  /**
   * Reserves `bytes` now and returns true when they fit (and nobody waits ahead); otherwise
   * queues `grant`, which is called once they are reserved for it, and returns false.
   */
  reserve(bytes: number, grant: () => void): boolean {
    if (this.#waiting.length === 0 && this.#fits(bytes)) {
      this.#take(bytes);
      return true;
    }
    this.#waiting.push({ bytes, grant });
    return false;
  }

  /** Withdraws a queued `grant` (its connection closed while waiting). */
  cancel(grant: () => void): void {
    const i = this.#waiting.findIndex((w) => w.grant === grant);
    if (i >= 0) this.#waiting.splice(i, 1);
    this.#grantWaiting();
  }

  release(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
    this.onChange(this.#used);
    this.#grantWaiting();
  }

  #fits(bytes: number): boolean {
    return this.#used === 0 || this.#used + bytes <= this.limit;
  }

  #take(bytes: number): void {
    this.#used += bytes;
    this.onChange(this.#used);
  }

  #grantWaiting(): void {
    for (let w = this.#waiting[0]; w && this.#fits(w.bytes); w = this.#waiting[0]) {
      this.#waiting.shift();
      this.#take(w.bytes);
      w.grant();
    }
  }
}
