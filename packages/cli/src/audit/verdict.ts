import type { AuditReport } from '@barge/client';
import type { AuditRead } from './read-audit.js';

/** `barge audit`'s exit codes besides 0 (no loss), 1 (failure) and 2 (usage). */
export const AUDIT_EXIT = { LOSS: 3, INCONCLUSIVE: 4 } as const;

/** The outcome of an audit, with the exit code it gives and one line saying why. */
export interface Verdict {
  readonly exitCode: 0 | 3 | 4;
  readonly summary: string;
  /** Reasons the audit records may not tell the whole story. */
  readonly coverageNotes: readonly string[];
}

/**
 * Loss or changed content is exit 3. Apparent loss while consumer audit records are missing is
 * exit 4 (inconclusive): the messages may have been consumed with their records lost. So is a
 * window without produce records or with unread audit data.
 */
export function verdictOf(report: AuditReport, read: AuditRead): Verdict {
  const notes: string[] = [];
  if (read.missing) notes.push('the audit topic does not exist: no client has audit turned on');
  if (read.skipped > 0)
    notes.push(`${read.skipped} unreadable batches or chunks of the audit topic were skipped`);
  if (read.stalled) notes.push('reading the audit topic stopped before its end (no progress)');
  for (const g of report.coverage.gaps) {
    const n = g.missing.reduce((k, r) => k + r.last - r.first + 1, 0);
    notes.push(`${g.role} ${g.clientId} (emitter ${g.emitter}) is missing ${n} audit records`);
  }
  const { totals } = report;
  const consumerRecordsMissing =
    read.skipped > 0 || read.stalled || report.coverage.gaps.some((g) => g.role === 'consumer');
  if (totals.mismatched > 0 || (totals.lost > 0 && !consumerRecordsMissing)) {
    const what = [
      totals.lost > 0 ? `${totals.lost} messages lost` : '',
      totals.mismatched > 0 ? `${totals.mismatched} messages consumed with other content than produced` : '',
    ].filter((s) => s !== '');
    return { exitCode: 3, summary: `LOSS: ${what.join(', ')}`, coverageNotes: notes };
  }
  if (totals.lost > 0) {
    return {
      exitCode: 4,
      summary: `INCONCLUSIVE: ${totals.lost} messages look lost, but audit records are missing (they may have been consumed)`,
      coverageNotes: notes,
    };
  }
  if (totals.produced === 0) {
    return {
      exitCode: 4,
      summary: `INCONCLUSIVE: no produce audit records for topic ${report.topic} in the window`,
      coverageNotes: notes,
    };
  }
  if (notes.length > 0) {
    return {
      exitCode: 4,
      summary: 'INCONCLUSIVE: no loss seen, but audit coverage is incomplete',
      coverageNotes: notes,
    };
  }
  return { exitCode: 0, summary: 'OK: 0 lost', coverageNotes: notes };
}
