import { readSecurityDoc, updateSecurityDoc } from '@barge/broker';
import {
  DEFAULT_SCRAM_ITERATIONS,
  errorMessage,
  NO_USERS,
  type ObjectStorage,
  parseUsers,
  type ScramMechanism,
  scramCredential,
  scramMechanisms,
  USER_NAME_PATTERN,
  USERS_META_KEY,
  type UserCredentials,
  type Users,
  usersDocument,
} from '@barge/core';
import { type Command, Option } from 'commander';
import { CliError, parsePositiveInt } from '../fail.js';
import { readPasswordFromStdin, readSecretFile } from '../secret-input.js';
import { withConfiguredStorage } from '../storage.js';
import { formatTable } from '../text-table.js';

interface StorageFlags {
  config?: string;
  data?: string;
}

interface AddFlags extends StorageFlags {
  mechanism?: ScramMechanism;
  iterations: number;
  passwordFile?: string;
}

const EXAMPLES = `
Examples:
  barge users add alice --password-file alice.pw
  printf '%s\\n' "$PW" | barge users add alice --mechanism SCRAM-SHA-512 --iterations 8192
  barge users list
  barge users remove alice

Brokers with security.authentication (SCRAM-SHA-256, SCRAM-SHA-512, PLAIN) check passwords
against these users; only the salted, iterated keys are stored, never the password. Brokers
sharing the storage re-read the users every security.refreshMs.`;

/** `barge users add|list|remove`: the users in the storage's `_meta/security/users.json`. */
export function usersCommand(program: Command): void {
  const users = program
    .command('users')
    .description(`manage the users SCRAM and PLAIN authenticate against (${USERS_META_KEY})`)
    .addHelpText('after', EXAMPLES);

  storageFlags(
    users
      .command('add')
      .description(
        'add a user, or replace its password: read from --password-file or stdin (prompted on a terminal)',
      )
      .argument('<name>', 'user name'),
  )
    .addOption(
      new Option(
        '--mechanism <mechanism>',
        'store credentials for this mechanism only (default: both)',
      ).choices(scramMechanisms),
    )
    .option(
      '--iterations <n>',
      `PBKDF2 iterations (default ${DEFAULT_SCRAM_ITERATIONS})`,
      (v) => parsePositiveInt(v, '--iterations'),
      DEFAULT_SCRAM_ITERATIONS,
    )
    .option('--password-file <file>', 'read the password from this file (default: stdin)')
    .action(async (name: string, flags: AddFlags) => {
      if (!USER_NAME_PATTERN.test(name))
        throw new CliError('a user name is 1-255 characters without control characters', 2);
      const password =
        flags.passwordFile !== undefined
          ? await readSecretFile(flags.passwordFile, '--password-file')
          : await readPasswordFromStdin(JSON.stringify(name));
      const mechanisms = flags.mechanism ? [flags.mechanism] : scramMechanisms;
      const creds: UserCredentials = {};
      try {
        for (const m of mechanisms) creds[m] = await scramCredential(m, password, flags.iterations);
      } catch (e) {
        throw new CliError(errorMessage(e), 2);
      }
      await withConfiguredStorage(flags, async (storage) => {
        const existed = await update(storage, (before) => ({
          json: usersDocument(new Map(before).set(name, creds)),
          result: before.has(name),
        }));
        const verb = existed ? 'updated' : 'added';
        process.stdout.write(`${verb} user ${JSON.stringify(name)} (${mechanisms.join(', ')})\n`);
      });
    });

  storageFlags(users.command('list').description('list the users and their mechanisms (never their keys)'))
    .addOption(new Option('--format <format>', 'output').choices(['table', 'json']).default('table'))
    .action(async (flags: StorageFlags & { format: 'table' | 'json' }) => {
      const all = await withConfiguredStorage(flags, read);
      const rows = [...all].map(([name, creds]) => ({
        name,
        mechanisms: scramMechanisms.filter((m) => creds[m]),
      }));
      if (flags.format === 'json') process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      else if (rows.length === 0) process.stdout.write('no users\n');
      else
        process.stdout.write(
          formatTable([['USER', 'MECHANISMS'], ...rows.map((r) => [r.name, r.mechanisms.join(',')])]),
        );
    });

  storageFlags(users.command('remove').description('remove a user').argument('<name>', 'user name')).action(
    async (name: string, flags: StorageFlags) => {
      await withConfiguredStorage(flags, async (storage) => {
        await update(storage, (before) => {
          if (!before.has(name)) throw new CliError(`no user ${JSON.stringify(name)}`);
          const after = new Map(before);
          after.delete(name);
          return { json: usersDocument(after), result: undefined };
        });
        process.stdout.write(`removed user ${JSON.stringify(name)}\n`);
      });
    },
  );
}

function storageFlags(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'broker config naming the storage')
    .option('--data <dir>', 'data directory of the embedded default (default ./barge-data)');
}

function read(storage: ObjectStorage): Promise<Users> {
  return readSecurityDoc(storage, USERS_META_KEY, parseUsers, NO_USERS);
}

/** Changes the users as a compare-and-swap: `change` runs again if another run wrote meanwhile. */
function update<R>(
  storage: ObjectStorage,
  change: (before: Users) => { json: unknown; result: R },
): Promise<R> {
  return updateSecurityDoc(storage, USERS_META_KEY, parseUsers, NO_USERS, change);
}
