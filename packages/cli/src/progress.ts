import cliProgress from 'cli-progress';

/**
 * Progress on stderr for long inputs: a live counter when stderr is a terminal (shown once the
 * input is past `threshold` messages), otherwise a line every `intervalMs`. Silent for short runs.
 */
export class Progress {
  private bar: cliProgress.SingleBar | undefined;
  private readonly startedAt = Date.now();
  private lastLine = Date.now();
  private sent = 0;
  private acked = 0;

  constructor(
    private readonly label: string,
    private readonly threshold = 10_000,
    private readonly intervalMs = 5000,
  ) {}

  update(sent: number, acked: number): void {
    this.sent = sent;
    this.acked = acked;
    if (sent < this.threshold) return;
    if (process.stderr.isTTY) {
      if (!this.bar) {
        this.bar = new cliProgress.SingleBar(
          {
            format: `${this.label} {acked} acked / {sent} read | {rate} msg/s | {duration_formatted}`,
            stream: process.stderr,
            hideCursor: true,
            fps: 5,
          },
          cliProgress.Presets.shades_classic,
        );
        this.bar.start(0, 0, { acked, sent, rate: 0 });
      }
      const secs = Math.max(0.001, (Date.now() - this.startedAt) / 1000);
      this.bar.update(0, { acked, sent, rate: Math.round(acked / secs) });
    } else if (Date.now() - this.lastLine >= this.intervalMs) {
      this.lastLine = Date.now();
      process.stderr.write(`${this.label}: ${acked} acked / ${sent} read\n`);
    }
  }

  stop(): void {
    if (this.bar) {
      this.bar.update(0, { acked: this.acked, sent: this.sent });
      this.bar.stop();
      this.bar = undefined;
    }
  }
}
