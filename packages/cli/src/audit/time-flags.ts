import { CliError } from '../fail.js';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `500ms`, `30s`, `5m`, `2h`, `1d` in ms; undefined when `value` is not such a duration. */
export function durationMs(value: string): number | undefined {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(value.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

/** `--settle 30s`. */
export function parseDuration(value: string, flag: string): number {
  const ms = durationMs(value);
  if (ms === undefined)
    throw new CliError(`${flag} must be a duration such as 500ms, 30s, 5m, 2h or 1d (got "${value}")`, 2);
  return ms;
}

/** `--since 1h` (that long before `now`) or `--since 2026-12-03T07:00:00Z` (ISO 8601): ms since the epoch. */
export function parseSince(value: string, now: number): number {
  const ms = durationMs(value);
  if (ms !== undefined) return now - ms;
  const t = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(t))
    throw new CliError(
      `--since must be a duration back from now (30m, 2h, 1d) or an ISO 8601 time such as 2026-12-03T07:00:00Z (got "${value}")`,
      2,
    );
  return t;
}
