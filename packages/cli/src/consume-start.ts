import { CliError } from './fail.js';

/**
 * Where `consume` starts reading a read partition that has nothing committed (without `--group`:
 * every partition): a pointer offset, the earliest or latest pointer, or the first pointer at or
 * after a time. Offsets are pointer offsets of the read partition, as `consume --format json`
 * prints them: each names one batch.
 */
export type StartPolicy =
  | { readonly kind: 'offset'; readonly offset: number }
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'time'; readonly timestamp: number };

export interface Watermarks {
  readonly partition: number;
  /** First pointer offset still stored. */
  readonly low: number;
  /** Offset the next pointer gets: the end. */
  readonly high: number;
}

/** `--offset <n|earliest|latest>` (with `--from-beginning` and `--from-time` as its other spellings). */
export function startPolicy(flags: {
  offset?: string;
  fromBeginning?: boolean;
  fromTime?: string;
}): StartPolicy {
  if (flags.fromTime !== undefined) {
    const timestamp = Date.parse(flags.fromTime);
    if (Number.isNaN(timestamp)) {
      throw new CliError(
        `--from-time must be an ISO 8601 time such as 2026-11-25T10:00:00Z (got "${flags.fromTime}")`,
        2,
      );
    }
    return { kind: 'time', timestamp };
  }
  if (flags.fromBeginning) return { kind: 'earliest' };
  const o = flags.offset;
  if (o === undefined || o === 'latest' || o === 'end') return { kind: 'latest' };
  if (o === 'earliest' || o === 'beginning') return { kind: 'earliest' };
  if (/^\d+$/.test(o) && Number.isSafeInteger(Number(o))) return { kind: 'offset', offset: Number(o) };
  throw new CliError(
    `--offset must be a pointer offset (an integer >= 0), earliest or latest (got "${o}")`,
    2,
  );
}

/**
 * The pointer offset where `policy` starts in a partition with these watermarks; `atTime` looks
 * up the first pointer at or after a time. An offset outside the partition's watermarks fails.
 */
export async function startOffset(
  policy: StartPolicy,
  w: Watermarks,
  atTime: (partition: number, timestamp: number) => Promise<number>,
): Promise<number> {
  switch (policy.kind) {
    case 'earliest':
      return w.low;
    case 'latest':
      return w.high;
    case 'time':
      return atTime(w.partition, policy.timestamp);
    case 'offset':
      if (policy.offset < w.low || policy.offset > w.high) {
        throw new CliError(
          `--offset ${policy.offset} is outside read partition ${w.partition}, which holds offsets ${w.low}..${w.high} (low..high watermark)`,
          2,
        );
      }
      return policy.offset;
  }
}
