/** A produce request failed for good (retries exhausted or a permanent error). */
export class ProduceError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ProduceError';
  }
}
