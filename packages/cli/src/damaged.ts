import { type DamagedData, damageOf, describeDamage } from '@barge/client';
import { CliError } from './fail.js';

/** `--on-damaged`: what consume does with data it cannot read (the client's `onDamagedData`). */
export type OnDamaged = 'fail' | 'skip';

/** The line printed on stderr for each skip under `--on-damaged skip`. */
export function skippedLine(d: DamagedData): string {
  return `barge: skipped ${describeDamage(d)}\n`;
}

/**
 * The consumer's failure as the user sees it: for damaged or missing data, where it is and the
 * exact command that moves past it (with `--group`, `barge groups reset-offsets` to the next
 * pointer; without, `--partition` and `--offset`); any other error as it is.
 */
export function consumeFailure(error: unknown, topic: string, group: string | undefined): unknown {
  const d = damageOf(error);
  if (d === undefined) return error;
  const next = d.offset + 1;
  const move =
    group === undefined
      ? `read on after it: barge consume --topic ${topic} --partition ${d.partition} --offset ${next}`
      : `move the group past it (once no member runs): barge groups reset-offsets --group ${group} --topic ${topic} --partition ${d.partition} --to-offset ${next} --execute`;
  return new CliError(
    `${describeDamage(d)}\nconsume stopped at offset ${d.offset} of read partition ${d.partition}; to ${move}\n(or rerun with --on-damaged skip: skip what cannot be read, report it, and deliver the rest)`,
  );
}
