import type { Meter } from './meter.js';

const TICK_MS = 1000;
/** Without a terminal: a plain line this often. */
const PLAIN_LINE_MS = 5000;
/** A last interval shorter than this gives no point: its rate would be noise. */
const MIN_LAST_POINT_S = 0.2;

/**
 * Ticks a meter once a second (its timeline) and shows the last second on stderr: one line
 * rewritten in place on a terminal, a plain line every 5 s otherwise, nothing when quiet.
 */
export class ProgressLine {
  readonly #timer: NodeJS.Timeout;
  readonly #tty = process.stderr.isTTY === true;
  #lastPlain = performance.now();
  #shown = false;

  constructor(
    private readonly label: string,
    private readonly meter: Meter,
    private readonly quiet: boolean,
  ) {
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
  }

  #tick(): void {
    const p = this.meter.tick();
    if (this.quiet) return;
    const line = `${this.label} ${p.t.toFixed(0)}s: ${this.meter.messages} msgs, ${p.messagesPerSecond} msgs/s, ${p.mbPerSecond.toFixed(1)} MB/s${p.p99AckMs === null ? '' : `, p99 ack ${p.p99AckMs.toFixed(1)} ms`}`;
    if (this.#tty) {
      process.stderr.write(`\r\x1b[2K${line}`);
      this.#shown = true;
    } else if (performance.now() - this.#lastPlain >= PLAIN_LINE_MS) {
      this.#lastPlain = performance.now();
      process.stderr.write(`${line}\n`);
    }
  }

  /** Stops ticking; the time since the last tick becomes the timeline's last point (unless a sliver). */
  stop(): void {
    clearInterval(this.#timer);
    if (this.meter.timeline.length === 0 || this.meter.sinceTick() >= MIN_LAST_POINT_S) this.meter.tick();
    if (this.#shown) process.stderr.write('\r\x1b[2K');
  }
}
