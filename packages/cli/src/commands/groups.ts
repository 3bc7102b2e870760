import {
  ApiKey,
  type CommittedLag,
  type DescribeGroupResponse,
  type GroupListing,
  type ResetOffsetsResponse,
  type ResetTarget,
} from '@barge/core';
import type { Command } from 'commander';
import { brokerAddress, withConnection } from '../connect.js';
import { CliError } from '../fail.js';
import { formatTable } from '../text-table.js';

type Format = 'table' | 'json';

interface CommonFlags {
  broker?: string;
  format?: string;
}

interface ResetFlags extends CommonFlags {
  group: string;
  topic: string;
  toEarliest?: boolean;
  toLatest?: boolean;
  toDatetime?: string;
  toOffset?: string;
  partition?: string[];
  execute?: boolean;
}

const BROKER_HELP = 'broker address (default $BARGE_BROKER or 127.0.0.1:7070)';
const FORMAT_HELP = 'output: table or json';

export function groupsCommand(program: Command): void {
  const groups = program
    .command('groups')
    .description('list and describe consumer groups (members, committed offsets, lag); reset their offsets');

  groups
    .command('list')
    .description('list consumer groups with members or committed offsets')
    .option('--topic <topic>', 'only groups on this topic')
    .option('--broker <host:port>', BROKER_HELP)
    .option('--format <format>', FORMAT_HELP, 'table')
    .action(async (flags: CommonFlags & { topic?: string }) => {
      const format = parseFormat(flags.format);
      const body = flags.topic === undefined ? {} : { topic: flags.topic };
      const r = await withConnection(brokerAddress(flags.broker), (c) => c.request(ApiKey.ListGroups, body));
      process.stdout.write(
        format === 'json' ? `${JSON.stringify(r.groups, null, 2)}\n` : listTable(r.groups),
      );
    });

  groups
    .command('describe')
    .description(
      'show a group: members and assignments; committed offset and lag (in pointers and messages) per read partition',
    )
    .argument('<group>', 'consumer group')
    .option('--topic <topic>', 'only this topic')
    .option('--broker <host:port>', BROKER_HELP)
    .option('--format <format>', FORMAT_HELP, 'table')
    .action(async (group: string, flags: CommonFlags & { topic?: string }) => {
      const format = parseFormat(flags.format);
      const body = flags.topic === undefined ? { group } : { group, topic: flags.topic };
      const r = await withConnection(brokerAddress(flags.broker), (c) =>
        c.request(ApiKey.DescribeGroup, body),
      );
      process.stdout.write(format === 'json' ? `${JSON.stringify(r, null, 2)}\n` : describeText(r));
    });

  groups
    .command('reset-offsets')
    .description(
      'move the committed offsets of a group without members; a dry run that prints the plan unless --execute',
    )
    .requiredOption('--group <group>', 'consumer group')
    .requiredOption('--topic <topic>', 'topic')
    .option('--to-earliest', 'the first retained pointer')
    .option('--to-latest', 'the end: skip everything not yet read')
    .option('--to-datetime <iso>', 'the first pointer appended at or after this time (ISO 8601)')
    .option('--to-offset <n>', 'this pointer offset (clamped to the retained range)')
    .option('--partition <p>', 'only this read partition (repeatable; default: all)', collect)
    .option('--execute', 'apply the plan (without it nothing changes)')
    .option('--broker <host:port>', BROKER_HELP)
    .option('--format <format>', FORMAT_HELP, 'table')
    .action(async (flags: ResetFlags) => {
      const format = parseFormat(flags.format);
      const request = {
        group: flags.group,
        topic: flags.topic,
        target: parseTarget(flags),
        partitions: (flags.partition ?? []).map((p) => parseIndex(p, '--partition')),
        execute: flags.execute === true,
      };
      const r = await withConnection(brokerAddress(flags.broker), (c) =>
        c.request(ApiKey.ResetOffsets, request),
      );
      if (format === 'json') {
        const { group, topic, execute } = request;
        process.stdout.write(`${JSON.stringify({ group, topic, executed: execute, ...r }, null, 2)}\n`);
      } else {
        process.stdout.write(resetTable(flags.topic, r));
      }
      process.stderr.write(
        request.execute
          ? `reset the offsets of group ${flags.group} on ${flags.topic} (${r.partitions.length} partition${r.partitions.length === 1 ? '' : 's'})\n`
          : 'dry run: nothing changed; add --execute to apply\n',
      );
    });
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function parseFormat(value: string | undefined): Format {
  if (value === 'table' || value === 'json') return value;
  throw new CliError(`--format must be table or json (got "${value}")`, 2);
}

function parseIndex(value: string, flag: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new CliError(`${flag} must be an integer >= 0 (got "${value}")`, 2);
  }
  return n;
}

function parseTarget(flags: ResetFlags): ResetTarget {
  const chosen: ResetTarget[] = [];
  if (flags.toEarliest) chosen.push({ to: 'earliest' });
  if (flags.toLatest) chosen.push({ to: 'latest' });
  if (flags.toDatetime !== undefined) {
    const timestamp = Date.parse(flags.toDatetime);
    if (Number.isNaN(timestamp)) {
      throw new CliError(
        `--to-datetime must be an ISO 8601 time such as 2026-11-25T10:00:00Z (got "${flags.toDatetime}")`,
        2,
      );
    }
    chosen.push({ to: 'timestamp', timestamp });
  }
  if (flags.toOffset !== undefined)
    chosen.push({ to: 'offset', offset: parseIndex(flags.toOffset, '--to-offset') });
  const [target, ...more] = chosen;
  if (!target || more.length > 0) {
    throw new CliError('give exactly one of --to-earliest, --to-latest, --to-datetime, --to-offset', 2);
  }
  return target;
}

function listTable(groups: readonly GroupListing[]): string {
  if (groups.length === 0) return '';
  return formatTable([
    ['GROUP', 'STATE', 'MEMBERS', 'TOPICS'],
    ...groups.map((g) => [g.group, g.status, String(g.members), g.topics.join(',')]),
  ]);
}

function describeText(d: DescribeGroupResponse): string {
  const owner = new Map<string, string>();
  for (const m of d.members)
    for (const a of m.assignment) for (const p of a.partitions) owner.set(`${a.topic}/${p}`, m.memberId);
  const totalLag = d.partitions.reduce((n, p) => n + (p.committed?.lag ?? 0), 0);
  let out = `group ${d.group}: ${d.status}, ${d.members.length} member${d.members.length === 1 ? '' : 's'}, lag ${totalLag} pointers${totalMessageLag(d)}\n\n`;
  out += formatTable([
    ['TOPIC', 'PARTITION', 'COMMITTED', 'LOG-START', 'LOG-END', 'LAG', 'LAG-MESSAGES', 'MEMBER'],
    ...d.partitions.map((p) => {
      const c = p.committed;
      const committed = c ? `${c.offset}${c.messageIndex > 0 ? ` (message ${c.messageIndex})` : ''}` : '-';
      return [
        p.topic,
        String(p.partition),
        committed,
        String(p.low),
        String(p.high),
        c ? String(c.lag) : '-',
        messageLagCell(c),
        owner.get(`${p.topic}/${p.partition}`) ?? '-',
      ];
    }),
  ]);
  if (d.members.length > 0) {
    out += `\n${formatTable([
      ['MEMBER', 'CLIENT-ID', 'HOST', 'ASSIGNMENT'],
      ...d.members.map((m) => [
        m.memberId,
        m.clientId,
        m.host || '-',
        m.assignment.map((a) => `${a.topic}:${a.partitions.join(',')}`).join(' ') || '-',
      ]),
    ])}`;
  }
  return out;
}

/** The lag in messages of one partition: `-` when unknown, `~N` when estimated. */
function messageLagCell(c: CommittedLag | undefined): string {
  if (c?.messageLag === undefined) return '-';
  return `${c.messageLagEstimated ? '~' : ''}${c.messageLag}`;
}

/** `, N messages` over the partitions that know their message lag; '' when none does. */
function totalMessageLag(d: DescribeGroupResponse): string {
  const known = d.partitions.filter((p) => p.committed?.messageLag !== undefined);
  if (known.length === 0) return '';
  const sum = known.reduce((n, p) => n + (p.committed?.messageLag ?? 0), 0);
  const estimated = known.some((p) => p.committed?.messageLagEstimated);
  return `, ${estimated ? '~' : ''}${sum} messages`;
}

function resetTable(topic: string, r: ResetOffsetsResponse): string {
  return formatTable([
    ['TOPIC', 'PARTITION', 'PREVIOUS', 'NEW'],
    ...r.partitions.map((p) => [
      topic,
      String(p.partition),
      p.previous ? String(p.previous.offset) : '-',
      String(p.offset),
    ]),
  ]);
}
