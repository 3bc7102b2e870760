import { readFileSync } from 'node:fs';
import type { ClientTlsOptions } from '@barge/client';
import type { Command } from 'commander';
import { CliError } from './fail.js';

interface TlsFlags {
  tls?: boolean | string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsServername?: string;
  tlsInsecure?: boolean | string;
}

/** The TLS flags of the commands that talk to a broker, with the environment variable each falls back on. */
const TLS_FLAGS: readonly (readonly [flag: string, key: keyof TlsFlags, env: string, help: string])[] = [
  ['--tls', 'tls', 'BARGE_TLS', 'connect to the broker with TLS, trusting the system CAs'],
  [
    '--tls-ca <file>',
    'tlsCa',
    'BARGE_TLS_CA',
    'connect with TLS, trusting the CA certificates (PEM) in this file',
  ],
  [
    '--tls-cert <file>',
    'tlsCert',
    'BARGE_TLS_CERT',
    'client certificate (PEM) for mutual TLS; needs --tls-key',
  ],
  ['--tls-key <file>', 'tlsKey', 'BARGE_TLS_KEY', 'private key (PEM) of --tls-cert'],
  [
    '--tls-servername <name>',
    'tlsServername',
    'BARGE_TLS_SERVERNAME',
    "name the broker's certificate must be for (default: the --broker host)",
  ],
  [
    '--tls-insecure',
    'tlsInsecure',
    'BARGE_TLS_INSECURE',
    'accept any broker certificate (tests only: anyone in the path can read and change the traffic)',
  ],
];

let current: ClientTlsOptions | undefined;

/** TLS to the broker as the running command's flags (or `BARGE_TLS*`) say; undefined: plain TCP. */
export function brokerTls(): ClientTlsOptions | undefined {
  return current;
}

/**
 * Gives every command with a `--broker` flag the TLS flags, and reads them (files included)
 * before its action runs: `brokerTls()` then returns the settings.
 */
export function useTlsFlags(program: Command): void {
  for (const command of withBrokerFlag(program)) {
    for (const [flag, , env, help] of TLS_FLAGS) command.option(flag, `${help} ($${env})`);
  }
  program.hook('preAction', (_, action) => {
    current = tlsSettings(action.opts<TlsFlags>());
  });
}

function* withBrokerFlag(command: Command): Generator<Command> {
  if (command.options.some((o) => o.long === '--broker')) yield command;
  for (const sub of command.commands) yield* withBrokerFlag(sub);
}

/** The client `tls` option of `given` flags and `env` (`BARGE_TLS*`); undefined when none is set. */
export function tlsSettings(given: TlsFlags, env = process.env): ClientTlsOptions | undefined {
  const flags: TlsFlags = {};
  for (const [, key, name] of TLS_FLAGS) {
    const value = given[key] ?? env[name];
    if (value !== undefined && value !== '') Object.assign(flags, { [key]: value });
  }
  const on = (v: boolean | string | undefined) =>
    v === true || (typeof v === 'string' && !/^(0|false|no|)$/i.test(v));
  const insecure = on(flags.tlsInsecure);
  const wanted =
    on(flags.tls) ||
    insecure ||
    [flags.tlsCa, flags.tlsCert, flags.tlsKey, flags.tlsServername].some(Boolean);
  if (!wanted) return undefined;
  if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey))
    throw new CliError('--tls-cert and --tls-key go together (the client certificate and its key)', 2);
  return {
    ...(flags.tlsCa && { ca: readPem(flags.tlsCa, '--tls-ca') }),
    ...(flags.tlsCert && { cert: readPem(flags.tlsCert, '--tls-cert') }),
    ...(flags.tlsKey && { key: readPem(flags.tlsKey, '--tls-key') }),
    ...(flags.tlsServername && { servername: flags.tlsServername }),
    ...(insecure && { rejectUnauthorized: false }),
  };
}

function readPem(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(`${flag}: cannot read ${file} (${code ?? 'unreadable'})`, 2);
  }
}
