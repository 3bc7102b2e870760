import { BargeError, errorMessage } from '@barge/core';

/**
 * The exit codes of every command, as `barge --help` and packages/cli/README.md list them. A
 * second Ctrl-C (SIGINT or SIGTERM) ends `broker` and `consume` at once, killed by the signal.
 */
export const EXIT_CODES: readonly (readonly [code: number, meaning: string])[] = [
  [0, 'success (consume too when stopped by Ctrl-C or SIGTERM after committing, or when its output closed)'],
  [1, 'failure: the broker is unreachable or refused a request, a message was not acked, a consumer error'],
  [2, 'usage: unknown command or option, bad flag value, missing input file, input line that does not parse'],
];

/** The exit code table for help texts. */
export function exitCodesHelp(): string {
  return `\nExit codes:\n${EXIT_CODES.map(([code, meaning]) => `  ${code}  ${meaning}`).join('\n')}\n`;
}

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

export function parseNonNegativeInt(value: string, flag: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new CliError(`${flag} must be an integer >= 0 (got "${value}")`, 2);
  }
  return n;
}
