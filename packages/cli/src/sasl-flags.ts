import { resolveSaslOption, type SaslCredentials, type SaslOptions } from '@barge/client';
import { errorMessage, type SaslMechanism, saslMechanisms } from '@barge/core';
import { type Command, Option } from 'commander';
import { CliError } from './fail.js';
import { readSecretFile } from './secret-input.js';
import { brokerTls } from './tls-flags.js';

interface SaslFlags {
  saslMechanism?: string;
  saslUsername?: string;
  saslPasswordFile?: string;
}

let current: SaslOptions | undefined;

/** The client `sasl` option the running command's flags (or `BARGE_SASL_*`) give; undefined: none. */
export function brokerSasl(): SaslOptions | undefined {
  return current;
}

/** The same, checked, for a `BrokerConnection` (after `useSaslFlags` read the flags). */
export function brokerSaslCredentials(): SaslCredentials | undefined {
  try {
    return resolveSaslOption({ sasl: current, tls: brokerTls() }, 'barge');
  } catch (e) {
    throw new CliError(errorMessage(e), 2);
  }
}

/**
 * Gives every command with a `--broker` flag the SASL flags and reads them before its action
 * runs. The password comes from `BARGE_SASL_PASSWORD` or `--sasl-password-file`, never from a
 * flag value (it would show in `ps` and the shell history).
 */
export function useSaslFlags(program: Command): void {
  for (const command of withBrokerFlag(program)) {
    command
      .addOption(
        new Option(
          '--sasl-mechanism <mechanism>',
          'authenticate with this mechanism (default SCRAM-SHA-256 with --sasl-username; $BARGE_SASL_MECHANISM)',
        ).choices(saslMechanisms),
      )
      .option('--sasl-username <name>', 'authenticate as this user ($BARGE_SASL_USERNAME)')
      .option(
        '--sasl-password-file <file>',
        'read the password from this file (or set $BARGE_SASL_PASSWORD)',
      );
  }
  program.hook('preAction', async (_, action) => {
    current = await saslSettings(action.opts<SaslFlags>());
  });
}

function* withBrokerFlag(command: Command): Generator<Command> {
  if (command.options.some((o) => o.long === '--broker')) yield command;
  for (const sub of command.commands) yield* withBrokerFlag(sub);
}

async function saslSettings(flags: SaslFlags, env = process.env): Promise<SaslOptions | undefined> {
  const username = flags.saslUsername ?? (env.BARGE_SASL_USERNAME || undefined);
  const mechanism = flags.saslMechanism ?? (env.BARGE_SASL_MECHANISM || undefined);
  if (username === undefined) {
    if (mechanism !== undefined || flags.saslPasswordFile !== undefined)
      throw new CliError(
        '--sasl-mechanism and --sasl-password-file need --sasl-username (or $BARGE_SASL_USERNAME)',
        2,
      );
    return undefined;
  }
  if (mechanism !== undefined && !(saslMechanisms as readonly string[]).includes(mechanism))
    throw new CliError(`$BARGE_SASL_MECHANISM must be one of ${saslMechanisms.join(', ')}`, 2);
  const password =
    flags.saslPasswordFile !== undefined
      ? await readSecretFile(flags.saslPasswordFile, '--sasl-password-file')
      : env.BARGE_SASL_PASSWORD;
  if (!password)
    throw new CliError(
      `--sasl-username ${username} needs a password: set $BARGE_SASL_PASSWORD or --sasl-password-file`,
      2,
    );
  if (mechanism === 'PLAIN' && !brokerTls())
    throw new CliError(
      '--sasl-mechanism PLAIN sends the password in clear text: it needs TLS (--tls or --tls-ca <file>); or use SCRAM-SHA-256/512',
      2,
    );
  return { mechanism: (mechanism ?? 'SCRAM-SHA-256') as SaslMechanism, username, password };
}
