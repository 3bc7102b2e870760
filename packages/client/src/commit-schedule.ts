/** When auto-commit commits: every `autoCommitIntervalMs`, or after `autoCommitThreshold` processed positions. */
export class CommitSchedule {
  readonly enabled: boolean;
  readonly #intervalMs: number;
  readonly #threshold: number | undefined;
  #lastCommitAt = Date.now();
  #processedSinceCommit = 0;

  constructor(options: {
    autoCommit?: boolean;
    autoCommitIntervalMs?: number;
    autoCommitThreshold?: number;
  }) {
    this.enabled = options.autoCommit !== false;
    this.#intervalMs = options.autoCommitIntervalMs ?? 5_000;
    this.#threshold = options.autoCommitThreshold;
  }

  /** A partition's processed position moved forward. */
  processed(): void {
    this.#processedSinceCommit++;
  }

  /** Positions were committed. */
  committed(): void {
    this.#lastCommitAt = Date.now();
    this.#processedSinceCommit = 0;
  }

  /** Whether auto-commit should commit now. */
  get due(): boolean {
    if (!this.enabled) return false;
    return (
      Date.now() - this.#lastCommitAt >= this.#intervalMs ||
      (this.#threshold !== undefined && this.#processedSinceCommit >= this.#threshold)
    );
  }
}
