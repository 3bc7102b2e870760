import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { InvalidInputError } from './errors.js';

/**
 * SCRAM (RFC 5802, RFC 7677) primitives shared by the client and the broker: key derivation,
 * message attributes and `saslname` escaping. No channel binding (`n,,`), as in Kafka; the
 * password is used as its UTF-8 bytes without SASLprep, as Kafka does, so credentials made for
 * one work with the other.
 */

export const scramMechanisms = ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
export type ScramMechanism = (typeof scramMechanisms)[number];

export function isScramMechanism(m: string): m is ScramMechanism {
  return (scramMechanisms as readonly string[]).includes(m);
}

const DIGESTS: Readonly<Record<ScramMechanism, { hash: 'sha256' | 'sha512'; bytes: number }>> = {
  'SCRAM-SHA-256': { hash: 'sha256', bytes: 32 },
  'SCRAM-SHA-512': { hash: 'sha512', bytes: 64 },
};

/** Iterations of new credentials unless told otherwise (RFC 7677's minimum, Kafka's default). */
export const DEFAULT_SCRAM_ITERATIONS = 4096;
/** Bounds of the iteration count: a client refuses a server that asks for more (a cheap CPU attack). */
export const MIN_SCRAM_ITERATIONS = 4096;
export const MAX_SCRAM_ITERATIONS = 1_000_000;

/** What a broker keeps per user and mechanism: never the password, nor anything that replaces it. */
export interface ScramCredential {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

const pbkdf2Async = promisify(pbkdf2);

/** `Hi(password, salt, i)`: PBKDF2 with the mechanism's HMAC (off the event loop). */
export function saltedPassword(
  mechanism: ScramMechanism,
  password: string,
  salt: Buffer,
  iterations: number,
): Promise<Buffer> {
  const d = DIGESTS[mechanism];
  return pbkdf2Async(Buffer.from(password, 'utf8'), salt, iterations, d.bytes, d.hash);
}

export function scramHmac(mechanism: ScramMechanism, key: Buffer, data: string | Buffer): Buffer {
  return createHmac(DIGESTS[mechanism].hash, key).update(data).digest();
}

export function scramHash(mechanism: ScramMechanism, data: Buffer): Buffer {
  return createHash(DIGESTS[mechanism].hash).update(data).digest();
}

export function xorBuffers(a: Buffer, b: Buffer): Buffer {
  if (a.length !== b.length) throw new InvalidInputError('SCRAM: proof length does not match the digest');
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** Constant-time equality of two keys (false when the lengths differ). */
export function sameKey(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** ClientKey, StoredKey and ServerKey of a salted password. */
export function scramKeys(mechanism: ScramMechanism, salted: Buffer) {
  const clientKey = scramHmac(mechanism, salted, 'Client Key');
  return {
    clientKey,
    storedKey: scramHash(mechanism, clientKey),
    serverKey: scramHmac(mechanism, salted, 'Server Key'),
  };
}

/** A new credential for `password`: a random 32-byte salt unless one is given. */
export async function scramCredential(
  mechanism: ScramMechanism,
  password: string,
  iterations = DEFAULT_SCRAM_ITERATIONS,
  salt: Buffer = randomBytes(32),
): Promise<ScramCredential> {
  checkIterations(iterations);
  const { storedKey, serverKey } = scramKeys(
    mechanism,
    await saltedPassword(mechanism, password, salt, iterations),
  );
  return { salt, iterations, storedKey, serverKey };
}

export function checkIterations(iterations: number): void {
  if (
    !Number.isSafeInteger(iterations) ||
    iterations < MIN_SCRAM_ITERATIONS ||
    iterations > MAX_SCRAM_ITERATIONS
  )
    throw new InvalidInputError(
      `SCRAM iterations must be an integer from ${MIN_SCRAM_ITERATIONS} to ${MAX_SCRAM_ITERATIONS}, got ${iterations}`,
    );
}

/** A fresh nonce: printable, without `,` (base64 of 24 random bytes). */
export function scramNonce(): string {
  return randomBytes(24).toString('base64');
}

/**
 * The `k=v` attributes of a SCRAM message, in order. Throws `InvalidInputError` on anything
 * that is not one letter, `=`, and a value (values may contain `=`, as base64 does).
 */
export function parseScramAttributes(message: string): [string, string][] {
  return message.split(',').map((part) => {
    if (!/^[a-zA-Z]=/.test(part)) throw new InvalidInputError('SCRAM: malformed message');
    return [part[0]!, part.slice(2)];
  });
}

/** `saslname` escaping (RFC 5802 §5.1): `=` as `=3D`, `,` as `=2C`. */
export function encodeSaslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

export function decodeSaslName(s: string): string {
  if (/=(?!2C|3D)/.test(s)) throw new InvalidInputError('SCRAM: malformed user name');
  return s.replace(/=2C/g, ',').replace(/=3D/g, '=');
}
