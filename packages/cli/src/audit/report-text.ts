import { type AuditReport, countOf, formatRanges, type SeqRange, type StreamAudit } from '@barge/client';
import { formatTable } from '../text-table.js';
import type { Verdict } from './verdict.js';

/** Ranges of a stream worth listing, with their names. */
const LISTED: readonly [name: string, pick: (s: StreamAudit) => readonly SeqRange[]][] = [
  ['lost', (s) => s.lost],
  ['mismatched', (s) => s.mismatched],
  ['duplicated', (s) => s.duplicated],
  ['in flight', (s) => s.inFlight],
  ['unaudited', (s) => s.unaudited],
];

/**
 * The report as text: a table per stream (write partition, producer id), the sequence ranges
 * of every finding, the coverage, and the verdict last.
 */
export function auditText(report: AuditReport, verdict: Verdict, since: number): string {
  const settle = `${report.settleMs / 1000}s`;
  let out = `audit of topic ${report.topic}, group ${report.group}, since ${new Date(since).toISOString()} (settle ${settle})\n`;
  out += `audit records from ${report.emitters.producers} producers and ${report.emitters.consumers} consumers; coverage ${verdict.coverageNotes.length === 0 ? 'complete' : 'INCOMPLETE'}\n`;
  if (report.streams.length > 0) {
    const rows = [
      [
        'WRITE-PARTITION',
        'PRODUCER',
        'PRODUCED',
        'CONSUMED',
        'LOST',
        'IN-FLIGHT',
        'DUPLICATED',
        'MISMATCHED',
      ],
    ];
    for (const s of report.streams) {
      rows.push([
        String(s.writePartition),
        String(s.producerId),
        String(s.produced),
        String(s.consumed),
        String(countOf(s.lost)),
        String(countOf(s.inFlight)),
        String(countOf(s.duplicated)),
        String(countOf(s.mismatched)),
      ]);
    }
    out += `\n${formatTable(rows)}`;
    const findings: string[] = [];
    for (const s of report.streams) {
      for (const [name, pick] of LISTED) {
        const ranges = pick(s);
        if (ranges.length === 0) continue;
        findings.push(
          `${name}: write partition ${s.writePartition}, producer ${s.producerId}: sequences ${formatRanges(ranges)} (${countOf(ranges)} messages)`,
        );
      }
    }
    if (findings.length > 0) out += `\n${findings.join('\n')}\n`;
  }
  if (verdict.coverageNotes.length > 0)
    out += `\ncoverage:\n${verdict.coverageNotes.map((n) => `  ${n}`).join('\n')}\n`;
  const t = report.totals;
  out += `\nproduced ${t.produced}, consumed ${t.consumed}, lost ${t.lost}, in flight ${t.inFlight}, duplicated ${t.duplicated}, mismatched ${t.mismatched}, unaudited ${t.unaudited}\n`;
  return `${out}${verdict.summary}\n`;
}
