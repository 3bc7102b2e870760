import {
  ApiKey,
  ConfigError,
  type RequestTypes,
  type ResponseTypes,
  type SaslMechanism,
  ScramClientSession,
  saslMechanisms,
} from '@barge/core';

/** The client's `sasl` option: authenticate every connection as this user. */
export interface SaslOptions {
  mechanism: SaslMechanism;
  username: string;
  /** Never logged nor put in an error message. */
  password: string;
}

/**
 * Checked SASL settings. The password is a private field: it does not show in `console.log`,
 * `util.inspect` or `JSON.stringify` of the options, nor in any error.
 */
export class SaslCredentials {
  readonly #password: string;

  constructor(
    readonly mechanism: SaslMechanism,
    readonly username: string,
    password: string,
  ) {
    this.#password = password;
  }

  /** A new SCRAM exchange (SCRAM mechanisms only). */
  scram(): ScramClientSession {
    if (this.mechanism === 'PLAIN') throw new Error('PLAIN has no SCRAM exchange');
    return new ScramClientSession(this.mechanism, this.username, this.#password);
  }

  /** The PLAIN message: `NUL username NUL password`. */
  plainMessage(): Buffer {
    return Buffer.from(`\0${this.username}\0${this.#password}`, 'utf8');
  }

  toJSON(): { mechanism: SaslMechanism; username: string } {
    return { mechanism: this.mechanism, username: this.username };
  }
}

/**
 * Checks the `sasl` option of a `who` (`producer`, …), throwing `ConfigError` (never quoting the
 * password); undefined: no authentication. PLAIN needs the `tls` option: it sends the password
 * itself, and the broker refuses it without TLS anyway.
 */
export function resolveSaslOption(
  options: { sasl?: unknown; tls?: unknown },
  who: string,
): SaslCredentials | undefined {
  const v = options.sasl;
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ConfigError(`${who} sasl must be an object { mechanism, username, password }`, 'sasl');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!['mechanism', 'username', 'password'].includes(k))
      throw new ConfigError(`${who} sasl has an unknown option ${JSON.stringify(k)}`, `sasl.${k}`);
  const mechanism = o.mechanism;
  if (typeof mechanism !== 'string' || !(saslMechanisms as readonly string[]).includes(mechanism))
    throw new ConfigError(
      `${who} sasl.mechanism must be one of ${saslMechanisms.join(', ')}`,
      'sasl.mechanism',
    );
  if (typeof o.username !== 'string' || o.username === '')
    throw new ConfigError(`${who} sasl.username must be a non-empty string`, 'sasl.username');
  if (typeof o.password !== 'string' || o.password === '')
    throw new ConfigError(`${who} sasl.password must be a non-empty string`, 'sasl.password');
  if (mechanism === 'PLAIN' && (options.tls === undefined || options.tls === false))
    throw new ConfigError(
      `${who} sasl.mechanism PLAIN sends the password in clear text: it needs the tls option (or use SCRAM-SHA-256/512)`,
      'sasl.mechanism',
    );
  return new SaslCredentials(mechanism as SaslMechanism, o.username, o.password);
}

type Request = <K extends typeof ApiKey.SaslHandshake | typeof ApiKey.SaslAuthenticate>(
  apiKey: K,
  body: RequestTypes[K],
) => Promise<ResponseTypes[K]>;

/**
 * Authenticates a new connection (right after version negotiation, before any other request):
 * SaslHandshake, then the mechanism's SaslAuthenticate round trips. A refusal rejects with the
 * broker's `BrokerResponseError` (SASL_AUTHENTICATION_FAILED, UNSUPPORTED_SASL_MECHANISM: not
 * retryable); a broker that cannot prove it knows the SCRAM credential, with `AuthError`.
 */
export async function authenticate(sasl: SaslCredentials, request: Request): Promise<void> {
  await request(ApiKey.SaslHandshake, { mechanism: sasl.mechanism });
  const send = async (message: string | Buffer) => {
    const authBytes = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
    const res = await request(ApiKey.SaslAuthenticate, { authBytes });
    return res.authBytes.toString('utf8');
  };
  if (sasl.mechanism === 'PLAIN') {
    await send(sasl.plainMessage());
    return;
  }
  const scram = sasl.scram();
  const serverFirst = await send(scram.first());
  const serverFinal = await send(await scram.final(serverFirst));
  scram.verify(serverFinal);
}
