import { z } from 'zod';
import {
  MAX_SCRAM_ITERATIONS,
  MIN_SCRAM_ITERATIONS,
  type ScramCredential,
  type ScramMechanism,
  scramMechanisms,
} from './scram.js';

/**
 * The users SCRAM and PLAIN authenticate against, as stored in `_meta/security/users.json`
 * (`USERS_META_KEY`): per user and mechanism only the salt, the iteration count, StoredKey and
 * ServerKey (RFC 5802), base64. Written by `barge users`, read by every broker sharing the storage.
 *
 *     { "version": 1, "users": { "alice": { "SCRAM-SHA-256": { "salt": "…", "iterations": 4096,
 *       "storedKey": "…", "serverKey": "…" }, "SCRAM-SHA-512": { … } } } }
 */

/** A user's credentials, by mechanism (at least one). */
export type UserCredentials = Partial<Record<ScramMechanism, ScramCredential>>;

/** Users by name. */
export type Users = ReadonlyMap<string, UserCredentials>;

export const NO_USERS: Users = new Map();

/** User names: 1-255 characters, no control characters (they end up in logs and error messages). */
export const USER_NAME_PATTERN = /^[^\p{Cc}]{1,255}$/u;

const base64 = z
  .string()
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64')
  .transform((s) => Buffer.from(s, 'base64'));

const credentialSchema = z.strictObject({
  salt: base64,
  iterations: z.number().int().min(MIN_SCRAM_ITERATIONS).max(MAX_SCRAM_ITERATIONS),
  storedKey: base64,
  serverKey: base64,
});

const usersDocSchema = z.strictObject({
  version: z.literal(1),
  users: z.record(
    z.string().regex(USER_NAME_PATTERN, 'must be 1-255 characters without control characters'),
    z.partialRecord(z.enum(scramMechanisms), credentialSchema),
  ),
});

/** The in-memory users of a parsed `users.json`; throws naming the first invalid field. */
export function parseUsers(json: unknown): Users {
  const r = usersDocSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new Error(`${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return new Map(Object.entries(r.data.users));
}

/** The `users.json` document of `users`. */
export function usersDocument(users: Users): unknown {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, creds] of [...users].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const entry: Record<string, unknown> = {};
    for (const m of scramMechanisms) {
      const c = creds[m];
      if (!c) continue;
      entry[m] = {
        salt: c.salt.toString('base64'),
        iterations: c.iterations,
        storedKey: c.storedKey.toString('base64'),
        serverKey: c.serverKey.toString('base64'),
      };
    }
    out[name] = entry;
  }
  return { version: 1, users: out };
}
