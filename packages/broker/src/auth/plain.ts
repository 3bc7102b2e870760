import {
  DEFAULT_SCRAM_ITERATIONS,
  type ScramMechanism,
  saltedPassword,
  sameKey,
  scramKeys,
  scramMechanisms,
  type UserCredentials,
} from '@barge/core';
import { AuthenticationFailure } from './failure.js';

/**
 * PLAIN (RFC 4616): `authzid NUL authcid NUL passwd`, checked against the user's stored SCRAM
 * credential (the password salted and iterated with the stored salt and count must give the
 * stored key), so one `barge users add` serves both. Only ever offered over TLS. An unknown user
 * costs the same key derivation as a known one.
 */
export async function verifyPlain(
  message: Buffer,
  lookup: (user: string) => UserCredentials | undefined,
  fakeSalt: (user: string) => Buffer,
): Promise<string> {
  const parts = message.toString('utf8').split('\0');
  if (parts.length !== 3) throw new AuthenticationFailure('PLAIN', undefined, 'malformed PLAIN message');
  const [authzid, user, password] = parts as [string, string, string];
  if (user === '') throw new AuthenticationFailure('PLAIN', undefined, 'empty user name');
  if (authzid !== '' && authzid !== user)
    throw new AuthenticationFailure('PLAIN', user, 'authorization identity differs from the user');
  const creds = lookup(user);
  const mechanism: ScramMechanism = scramMechanisms.find((m) => creds?.[m] !== undefined) ?? 'SCRAM-SHA-256';
  const stored = creds?.[mechanism];
  const salted = await saltedPassword(
    mechanism,
    password,
    stored?.salt ?? fakeSalt(user),
    stored?.iterations ?? DEFAULT_SCRAM_ITERATIONS,
  );
  if (!stored) throw new AuthenticationFailure('PLAIN', user, 'unknown user');
  if (!sameKey(scramKeys(mechanism, salted).storedKey, stored.storedKey))
    throw new AuthenticationFailure('PLAIN', user, 'wrong password');
  return user;
}
