import { BargeError, errorMessage } from '@barge/core';

/** An error the CLI reports as one line and a non-zero exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** One line for the user: no stack traces for expected failures. */
export function describeFailure(e: unknown): string {
  if (e instanceof CliError || e instanceof BargeError) return e.message;
  const err = e as NodeJS.ErrnoException & { address?: string; port?: number };
  if (err && typeof err === 'object' && err.code === 'ECONNREFUSED') {
    return `cannot reach the broker at ${err.address ?? '?'}:${err.port ?? '?'} (connection refused); is \`barge broker\` running?`;
  }
  return errorMessage(e);
}

export function parseHostPort(value: string, flag: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port < 0 || port > 65535) {
    throw new CliError(`${flag} must be HOST:PORT, e.g. 127.0.0.1:7070 (got "${value}")`, 2);
  }
  return { host: m[1] as string, port };
}

export function parsePositiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new CliError(`${flag} must be a positive integer (got "${value}")`, 2);
  }
  return n;
}
