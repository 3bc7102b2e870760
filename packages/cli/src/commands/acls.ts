import { readSecurityDoc, updateSecurityDoc } from '@barge/broker';
import {
  ACLS_META_KEY,
  type AclDocument,
  type AclEntry,
  type AclOperation,
  type AclResource,
  aclOperations,
  describeAclResource,
  EMPTY_ACL_DOCUMENT,
  errorMessage,
  type ObjectStorage,
  parseAclDocument,
  parseAclEntry,
  sameAcl,
  sameAclResource,
} from '@barge/core';
import { type Command, Option } from 'commander';
import { CliError } from '../fail.js';
import { withConfiguredStorage } from '../storage.js';
import { formatTable } from '../text-table.js';

interface StorageFlags {
  config?: string;
  data?: string;
}

interface SelectorFlags extends StorageFlags {
  principal?: string;
  operation?: AclOperation;
  topic?: string;
  group?: string;
  cluster?: boolean;
  prefixed?: boolean;
  deny?: boolean;
}

/** Which entries `list` and `remove` act on: every given selector must match. */
interface AclFilter {
  principal?: string;
  operation?: AclOperation;
  resource?: AclResource;
  permission?: AclEntry['permission'];
}

const EXAMPLES = `
Examples:
  barge acls add --principal alice --operation write --topic logs
  barge acls add --principal alice --operation read --topic team-a. --prefixed
  barge acls add --principal alice --operation read --group team-a-readers
  barge acls add --principal ops --operation create --cluster
  barge acls add --principal '*' --operation write --topic audit --deny
  barge acls list --principal alice
  barge acls remove --principal alice --topic logs

ACLs are checked when authentication is on (security.authentication); then what no ACL allows
is refused, a deny beats an allow, and security.superUsers may do everything. Brokers sharing
the storage re-read them every security.refreshMs.`;

export function aclsCommand(program: Command): void {
  const acls = program
    .command('acls')
    .description(`manage the ACLs brokers sharing the storage enforce (${ACLS_META_KEY})`)
    .addHelpText('after', EXAMPLES);

  selectors(acls.command('add').description('add an ACL (allow, or deny with --deny)'), 'the')
    .option('--deny', 'deny instead of allow (a deny beats any allow)')
    .action(async (flags: SelectorFlags) => {
      const entry = newEntry(flags);
      await update(flags, (doc) => {
        if (doc.acls.some((e) => sameAcl(e, entry))) {
          return { doc, said: `the ACL is already there: ${describeAcl(entry)}` };
        }
        return { doc: { ...doc, acls: [...doc.acls, entry] }, said: `added: ${describeAcl(entry)}` };
      });
    });

  selectors(acls.command('list').description('list ACLs (every given selector must match)'), 'only this')
    .option('--deny', 'only deny ACLs')
    .addOption(new Option('--format <format>', 'output').choices(['table', 'json']).default('table'))
    .action(async (flags: SelectorFlags & { format: 'table' | 'json' }) => {
      const filter = filterOf(flags);
      const doc = await withConfiguredStorage(flags, read);
      const found = doc.acls.filter((e) => matches(e, filter));
      if (flags.format === 'json') process.stdout.write(`${JSON.stringify(found, null, 2)}\n`);
      else process.stdout.write(found.length === 0 ? 'no ACLs\n' : aclTable(found));
    });

  selectors(
    acls.command('remove').description('remove every ACL that matches all the given selectors'),
    'only this',
  )
    .option('--deny', 'only deny ACLs')
    .action(async (flags: SelectorFlags) => {
      const filter = filterOf(flags);
      if (filter.principal === undefined && filter.resource === undefined) {
        throw new CliError('name --principal or a resource (--topic, --group, --cluster) to remove ACLs', 2);
      }
      await update(flags, (doc) => {
        const kept = doc.acls.filter((e) => !matches(e, filter));
        const n = doc.acls.length - kept.length;
        return { doc: { ...doc, acls: kept }, said: `removed ${n} ACL${n === 1 ? '' : 's'}` };
      });
    });
}

function selectors(cmd: Command, which: string): Command {
  return cmd
    .option('--principal <name>', `${which} principal (a user name, or * for everyone)`)
    .addOption(new Option('--operation <op>', `${which} operation`).choices(aclOperations))
    .option('--topic <name>', `${which} topic (* = every topic)`)
    .option('--group <name>', `${which} consumer group (* = every group)`)
    .option('--cluster', `${which} cluster (create on the cluster allows creating any topic)`)
    .option('--prefixed', 'the --topic or --group name is a prefix')
    .option('--config <file>', 'broker config naming the storage')
    .option('--data <dir>', 'data directory of the embedded default (default ./barge-data)');
}

/** The resource the flags name, if any (at most one of --topic, --group, --cluster). */
function resourceOf(flags: SelectorFlags): AclResource | undefined {
  const given = [flags.topic !== undefined, flags.group !== undefined, flags.cluster === true];
  if (given.filter(Boolean).length > 1) throw new CliError('give one of --topic, --group, --cluster', 2);
  const pattern = flags.prefixed ? 'prefixed' : 'literal';
  if (flags.topic !== undefined) return { type: 'topic', name: flags.topic, pattern };
  if (flags.group !== undefined) return { type: 'group', name: flags.group, pattern };
  if (flags.prefixed) throw new CliError('--prefixed needs --topic or --group', 2);
  return flags.cluster ? { type: 'cluster' } : undefined;
}

function newEntry(flags: SelectorFlags): AclEntry {
  const resource = resourceOf(flags);
  if (flags.principal === undefined || flags.operation === undefined || resource === undefined) {
    throw new CliError('add needs --principal, --operation and one of --topic, --group, --cluster', 2);
  }
  const input = {
    principal: flags.principal,
    resource,
    operation: flags.operation,
    permission: flags.deny ? 'deny' : 'allow',
  };
  try {
    return parseAclEntry(input);
  } catch (e) {
    throw new CliError(errorMessage(e), 2);
  }
}

function filterOf(flags: SelectorFlags): AclFilter {
  const resource = resourceOf(flags);
  return {
    ...(flags.principal === undefined ? {} : { principal: flags.principal }),
    ...(flags.operation === undefined ? {} : { operation: flags.operation }),
    ...(resource === undefined ? {} : { resource }),
    ...(flags.deny ? { permission: 'deny' as const } : {}),
  };
}

function matches(e: AclEntry, f: AclFilter): boolean {
  if (f.principal !== undefined && e.principal !== f.principal) return false;
  if (f.operation !== undefined && e.operation !== f.operation) return false;
  if (f.permission !== undefined && e.permission !== f.permission) return false;
  if (f.resource === undefined) return true;
  return sameAclResource(e.resource, f.resource);
}

function describeAcl(e: AclEntry): string {
  const who = e.principal === '*' ? 'every principal' : `principal ${JSON.stringify(e.principal)}`;
  const op = e.operation === 'all' ? 'every operation' : e.operation;
  return `${e.permission} ${who} ${op} on ${describeAclResource(e.resource)}`;
}

function aclTable(acls: readonly AclEntry[]): string {
  const rows = acls.map((e) => [
    e.principal,
    e.permission,
    e.operation,
    e.resource.type,
    e.resource.type === 'cluster' ? '-' : e.resource.pattern,
    e.resource.type === 'cluster' ? '-' : e.resource.name,
  ]);
  return formatTable([['PRINCIPAL', 'PERMISSION', 'OPERATION', 'RESOURCE', 'PATTERN', 'NAME'], ...rows]);
}

function read(storage: ObjectStorage): Promise<AclDocument> {
  return readSecurityDoc(storage, ACLS_META_KEY, parseAclDocument, EMPTY_ACL_DOCUMENT);
}

/**
 * Reads, changes and writes the document as a compare-and-swap (`change` runs again on the
 * winner's version if another run wrote meanwhile), then prints what was done.
 */
async function update(
  flags: StorageFlags,
  change: (doc: AclDocument) => { doc: AclDocument; said: string },
): Promise<void> {
  const said = await withConfiguredStorage(flags, (storage) =>
    updateSecurityDoc(storage, ACLS_META_KEY, parseAclDocument, EMPTY_ACL_DOCUMENT, (before) => {
      const { doc, said } = change(before);
      return { json: doc === before ? undefined : doc, result: said };
    }),
  );
  process.stdout.write(`${said}\n`);
}
