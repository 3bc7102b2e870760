import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { ConfigError, errorMessage } from '@barge/core';
import type { SASLOptions } from 'kafkajs';
import { z } from 'zod';

/**
 * Where a secret comes from: inline, a file (read when a client is created, so a config file
 * can point at a mounted secret), or an environment variable. Exactly one.
 */
const secretSources = {
  password: z.string().optional(),
  passwordFile: z.string().min(1).optional(),
  passwordEnv: z.string().min(1).optional(),
};

const userPassword = z
  .strictObject({
    mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
    username: z.string().min(1),
    ...secretSources,
  })
  .refine((s) => [s.password, s.passwordFile, s.passwordEnv].filter((v) => v !== undefined).length === 1, {
    message: 'set exactly one of password, passwordFile, passwordEnv',
    path: ['password'],
  });

/** SASL settings for kafkajs. */
export const saslSchema = z.discriminatedUnion('mechanism', [
  userPassword,
  z.strictObject({
    mechanism: z.literal('aws'),
    authorizationIdentity: z.string().min(1),
    accessKeyId: z.string().min(1),
    secretAccessKey: z.string().min(1),
    sessionToken: z.string().optional(),
  }),
]);

const pem = z.union([z.string(), z.array(z.string())]);

/**
 * TLS: `true` for the system CAs, or Node `tls.connect` options. PEM material inline (`ca`,
 * `cert`, `key`) or from files (`caFile`, `certFile`, `keyFile`), not both for the same item.
 */
export const sslSchema = z.union([
  z.boolean(),
  z
    .looseObject({
      ca: pem.optional(),
      cert: z.string().optional(),
      key: z.string().optional(),
      caFile: z.string().min(1).optional(),
      certFile: z.string().min(1).optional(),
      keyFile: z.string().min(1).optional(),
      passphrase: z.string().optional(),
      servername: z.string().optional(),
      rejectUnauthorized: z.boolean().optional(),
    })
    .refine((s) => !(s.ca !== undefined && s.caFile !== undefined), {
      message: 'set ca or caFile, not both',
      path: ['caFile'],
    })
    .refine((s) => !(s.cert !== undefined && s.certFile !== undefined), {
      message: 'set cert or certFile, not both',
      path: ['certFile'],
    })
    .refine((s) => !(s.key !== undefined && s.keyFile !== undefined), {
      message: 'set key or keyFile, not both',
      path: ['keyFile'],
    }),
]);

export type KafkaSaslConfig = z.output<typeof saslSchema>;
export type KafkaSslConfig = z.output<typeof sslSchema>;

interface SecurityConfig {
  sasl?: KafkaSaslConfig | undefined;
  ssl?: KafkaSslConfig | undefined;
}

function readSecretFile(file: string, path: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    // The message names the file, never its contents.
    throw new ConfigError(`${path}: cannot read the ${what} file ${file}: ${errorMessage(e)}`, path, {
      cause: e,
    });
  }
}

/** kafkajs `ssl`: file references replaced by their PEM contents. */
export function resolveSsl(
  ssl: KafkaSslConfig | undefined,
  root = 'pointers',
): boolean | ConnectionOptions | undefined {
  if (ssl === undefined || typeof ssl === 'boolean') return ssl;
  const { caFile, certFile, keyFile, ...options } = ssl;
  const out: ConnectionOptions = { ...options };
  if (caFile !== undefined) out.ca = readSecretFile(caFile, `${root}.ssl.caFile`, 'CA certificate');
  if (certFile !== undefined) out.cert = readSecretFile(certFile, `${root}.ssl.certFile`, 'certificate');
  if (keyFile !== undefined) out.key = readSecretFile(keyFile, `${root}.ssl.keyFile`, 'private key');
  return out;
}

/** kafkajs `sasl`: the password taken from where the config says. */
export function resolveSasl(
  sasl: KafkaSaslConfig | undefined,
  root = 'pointers',
  env: NodeJS.ProcessEnv = process.env,
): SASLOptions | undefined {
  if (sasl === undefined || sasl.mechanism === 'aws') return sasl;
  const { mechanism, username, password, passwordFile, passwordEnv } = sasl;
  let secret = password;
  if (passwordFile !== undefined) {
    // A trailing newline is how editors and `echo` end a file; it is not part of the password.
    secret = readSecretFile(passwordFile, `${root}.sasl.passwordFile`, 'password').replace(/\r?\n$/, '');
  } else if (passwordEnv !== undefined) {
    secret = env[passwordEnv];
    if (secret === undefined) {
      throw new ConfigError(
        `${root}.sasl.passwordEnv: the environment variable ${passwordEnv} is not set`,
        `${root}.sasl.passwordEnv`,
      );
    }
  }
  return { mechanism, username, password: secret ?? '' };
}

/** `user "barge", mechanism scram-sha-512` (never the password), or undefined without SASL. */
export function describeSasl(config: SecurityConfig): string | undefined {
  const { sasl } = config;
  if (sasl === undefined) return undefined;
  const user = sasl.mechanism === 'aws' ? sasl.authorizationIdentity : sasl.username;
  return `user ${JSON.stringify(user)}, mechanism ${sasl.mechanism}`;
}

/** Whether the config turns TLS on. */
export function usesTls(config: SecurityConfig): boolean {
  return config.ssl !== undefined && config.ssl !== false;
}
