import { analyzeAudit, DEFAULT_AUDIT_TOPIC } from '@barge/client';
import type { Command } from 'commander';
import { readAuditTopic } from '../audit/read-audit.js';
import { auditText } from '../audit/report-text.js';
import { parseDuration, parseSince } from '../audit/time-flags.js';
import { verdictOf } from '../audit/verdict.js';
import { brokerAddress } from '../connect.js';

interface AuditFlags {
  topic: string;
  group: string;
  since: string;
  settle: string;
  auditTopic: string;
  idle: string;
  broker?: string;
  json?: boolean;
}

const HELP = `
Producers and consumers created with the client option \`audit: {}\` record what was acknowledged
and what was handed to the application in an audit topic (default ${DEFAULT_AUDIT_TOPIC}). This
command reads the records appended since --since and compares them per write partition and
producer id, by sequence number:
  lost        acknowledged more than --settle ago and never consumed by the group
  in flight   acknowledged within --settle, not consumed yet
  duplicated  consumed more than once
  mismatched  consumed with other keys or values than produced (hash of key and value)
  unaudited   consumed without a produce record (acknowledged before --since, or its record missing)
Audit records a client could not send leave gaps in its record numbers: the report then says
coverage INCOMPLETE, and loss that missing consumer records could explain is not called loss.

Exit codes: 0 no loss; 3 loss or mismatched content found; 4 inconclusive (audit coverage
incomplete, or no produce records for the topic in the window); 1 failure; 2 usage.

Examples:
  barge audit --topic orders --group billing --since 1h
  barge audit --topic orders --group billing --since 2026-12-03T07:00:00Z --settle 2m --json
`;

export function auditCommand(program: Command): void {
  program
    .command('audit')
    .description(
      'report, per producer, messages acknowledged vs consumed by a group: lost, duplicated, in flight (from audit records)',
    )
    .requiredOption('--topic <topic>', 'the audited topic')
    .requiredOption('--group <group>', 'the consumer group whose consumption is compared')
    .option('--since <time>', 'records from this far back (30m, 2h, 1d) or this ISO 8601 time', '1h')
    .option('--settle <duration>', 'acknowledged longer ago than this and not consumed counts as lost', '30s')
    .option('--audit-topic <topic>', 'where the records are', DEFAULT_AUDIT_TOPIC)
    .option('--idle <duration>', 'stop reading the audit topic after this long without new records', '10s')
    .option('--broker <host:port>', 'broker address (default $BARGE_BROKER or 127.0.0.1:7070)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', HELP)
    .action(audit);
}

async function audit(flags: AuditFlags): Promise<void> {
  const now = Date.now();
  const since = parseSince(flags.since, now);
  const settleMs = parseDuration(flags.settle, '--settle');
  const idleMs = parseDuration(flags.idle, '--idle');
  const address = brokerAddress(flags.broker);
  const read = await readAuditTopic(address, flags.auditTopic, since, idleMs);
  const report = analyzeAudit(read.envelopes, {
    topic: flags.topic,
    group: flags.group,
    since,
    now,
    settleMs,
  });
  const verdict = verdictOf(report, read);
  if (flags.json) {
    const json = {
      ...report,
      since: new Date(since).toISOString(),
      auditTopic: flags.auditTopic,
      result: verdict.summary,
      exitCode: verdict.exitCode,
      coverageNotes: verdict.coverageNotes,
    };
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  } else {
    process.stdout.write(auditText(report, verdict, since));
  }
  process.exitCode = verdict.exitCode;
}
