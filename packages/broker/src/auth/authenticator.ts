import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import {
  ANONYMOUS,
  ApiKey,
  ErrorCode,
  isScramMechanism,
  NO_USERS,
  type ObjectStorage,
  type Principal,
  parseUsers,
  type SaslMechanism,
  type SecurityConfig,
  scramHmac,
  USERS_META_KEY,
  type Users,
} from '@barge/core';
import type { Logger } from 'pino';
import { RequestError } from '../errors.js';
import type { Handler } from '../handlers/types.js';
import { SecurityDoc } from '../security-doc.js';
import { AuthenticationFailure, ConnectionEndingError } from './failure.js';
import { verifyPlain } from './plain.js';
import { ScramServerSession } from './scram-server.js';

/** What a connection may send before it authenticated. */
export const PRE_AUTHENTICATION_APIS: ReadonlySet<number> = new Set([
  ApiKey.ApiVersions,
  ApiKey.SaslHandshake,
  ApiKey.SaslAuthenticate,
]);

/**
 * A client connection as authentication sees it: the Barge listener's `Connection` and the Kafka
 * listener's `KafkaConnection` both are one, so both run the same SASL exchanges.
 */
export interface SaslPeer {
  readonly socket: Socket;
  readonly log: Logger;
  /** Undefined until the connection authenticated (when authentication is on). */
  principal: Principal | undefined;
  readonly closing: boolean;
}

/** A connection's SASL exchange between SaslHandshake and the end of SaslAuthenticate. */
type Exchange =
  | { mechanism: 'PLAIN'; busy: boolean }
  | { mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; scram: ScramServerSession };

/**
 * Authentication on the client listener (`security.authentication`; `docs/protocol.md`,
 * "Authentication"). When it is on, a new connection has no principal (the router then serves
 * only `PRE_AUTHENTICATION_APIS`) unless `mtls` is enabled and the client presented a verified
 * certificate: then its subject CN is the principal at once. SaslHandshake and SaslAuthenticate
 * run SCRAM-SHA-256/512 or PLAIN (TLS connections only) against the users in storage
 * (`USERS_META_KEY`, re-read every `refreshMs`). A failed exchange is logged without secrets,
 * answered SASL_AUTHENTICATION_FAILED, and the connection closed.
 */
export class Authenticator {
  readonly enabled: boolean;
  readonly mechanisms: readonly SaslMechanism[];
  readonly #mtls: boolean;
  readonly #users: SecurityDoc<Users> | undefined;
  readonly #exchanges = new WeakMap<SaslPeer, Exchange>();
  /** Salts made up for unknown users (see `ScramServerSession`). */
  readonly #fakeSaltKey = randomBytes(32);

  constructor(
    security: SecurityConfig,
    storage: ObjectStorage,
    private readonly log: Logger,
  ) {
    this.enabled = security.authentication.length > 0;
    this.mechanisms = security.authentication.filter((m): m is SaslMechanism => m !== 'mtls');
    this.#mtls = security.authentication.includes('mtls');
    this.#users = this.enabled
      ? new SecurityDoc(storage, USERS_META_KEY, parseUsers, NO_USERS, security.refreshMs, log)
      : undefined;
  }

  /** Reads the users (throwing what fails) and keeps re-reading them. */
  async start(): Promise<void> {
    if (!this.#users) return;
    await this.#users.start();
    this.log.info(
      { mechanisms: [...this.mechanisms, ...(this.#mtls ? ['mtls'] : [])], users: this.#users.current.size },
      'authentication on',
    );
  }

  stop(): void {
    this.#users?.stop();
  }

  /** Sets a new connection's principal: ANONYMOUS, its certificate's CN, or none until it authenticates. */
  opened(conn: SaslPeer): void {
    if (!this.enabled) {
      conn.principal = ANONYMOUS;
      return;
    }
    conn.principal = this.#mtls ? certificatePrincipal(conn) : undefined;
    if (conn.principal)
      conn.log.info({ principal: conn.principal.name }, 'authenticated by client certificate');
  }

  /** The SaslHandshake and SaslAuthenticate handlers. */
  handlers(): { [ApiKey.SaslHandshake]: Handler<24>; [ApiKey.SaslAuthenticate]: Handler<25> } {
    return {
      [ApiKey.SaslHandshake]: (conn, body) => this.handshake(conn, body.mechanism),
      [ApiKey.SaslAuthenticate]: (conn, body) => this.authenticate(conn, body.authBytes),
    };
  }

  /**
   * Starts an exchange with `mechanism`: the enabled mechanisms. Throws a `RequestError`
   * (UNSUPPORTED_SASL_MECHANISM, or INVALID_REQUEST when the connection is authenticated or in an
   * exchange; the latter a `ConnectionEndingError`).
   */
  handshake(conn: SaslPeer, mechanism: string): { mechanisms: string[] } {
    if (!this.enabled)
      throw new RequestError(
        ErrorCode.UNSUPPORTED_SASL_MECHANISM,
        'authentication is not enabled on this broker',
      );
    if (conn.principal)
      throw new RequestError(
        ErrorCode.INVALID_REQUEST,
        `the connection is already authenticated as ${JSON.stringify(conn.principal.name)}`,
      );
    if (this.#exchanges.has(conn))
      throw new ConnectionEndingError(
        ErrorCode.INVALID_REQUEST,
        'SaslHandshake during an authentication exchange',
      );
    const enabled = this.mechanisms.join(', ') || 'none (only client certificates)';
    if (!(this.mechanisms as readonly string[]).includes(mechanism))
      throw new RequestError(
        ErrorCode.UNSUPPORTED_SASL_MECHANISM,
        `mechanism ${JSON.stringify(mechanism)} is not enabled on this broker; enabled: ${enabled}`,
      );
    if (mechanism === 'PLAIN') {
      if (!(conn.socket instanceof TLSSocket))
        throw new RequestError(
          ErrorCode.UNSUPPORTED_SASL_MECHANISM,
          'PLAIN is only accepted over TLS; use SCRAM-SHA-256 or SCRAM-SHA-512',
        );
      this.#exchanges.set(conn, { mechanism, busy: false });
    } else if (isScramMechanism(mechanism)) {
      const users = this.#users!;
      const scram = new ScramServerSession(mechanism, {
        lookup: (user) => users.current.get(user)?.[mechanism],
        fakeSaltKey: this.#fakeSaltKey,
      });
      this.#exchanges.set(conn, { mechanism, scram });
    }
    return { mechanisms: [...this.mechanisms] };
  }

  /**
   * The next step of the connection's exchange: the server's token. Throws an
   * `AuthenticationFailure` (logged without secrets) or, out of order, a `ConnectionEndingError`.
   */
  async authenticate(
    conn: SaslPeer,
    authBytes: Buffer,
  ): Promise<{ authBytes: Buffer; sessionLifetimeMs: number }> {
    const exchange = this.#exchanges.get(conn);
    if (!this.enabled || !exchange)
      throw new ConnectionEndingError(
        ErrorCode.INVALID_REQUEST,
        'SaslAuthenticate without a SaslHandshake first',
      );
    try {
      if (exchange.mechanism === 'PLAIN') {
        if (exchange.busy)
          throw new ConnectionEndingError(
            ErrorCode.INVALID_REQUEST,
            'SaslAuthenticate before the previous one was answered',
          );
        exchange.busy = true;
        const users = this.#users!;
        const user = await verifyPlain(
          authBytes,
          (u) => users.current.get(u),
          (u) => scramHmac('SCRAM-SHA-256', this.#fakeSaltKey, `PLAIN\0${u}`),
        );
        this.#authenticated(conn, { name: user, method: 'PLAIN' });
        return { authBytes: Buffer.alloc(0), sessionLifetimeMs: 0 };
      }
      const step = exchange.scram.step(authBytes.toString('utf8'));
      if (step.done) this.#authenticated(conn, { name: step.user, method: exchange.mechanism });
      return { authBytes: Buffer.from(step.message, 'utf8'), sessionLifetimeMs: 0 };
    } catch (e) {
      this.#exchanges.delete(conn);
      if (e instanceof AuthenticationFailure)
        conn.log.warn(
          { user: e.user, mechanism: e.mechanism, reason: e.reason },
          'authentication failed; closing the connection',
        );
      throw e;
    }
  }

  #authenticated(conn: SaslPeer, principal: Principal): void {
    this.#exchanges.delete(conn);
    if (conn.closing) return;
    conn.principal = principal;
    conn.log.info({ principal: principal.name, mechanism: principal.method }, 'authenticated');
  }
}

/** The subject CN of the connection's verified client certificate, if it has one. */
function certificatePrincipal(conn: SaslPeer): Principal | undefined {
  const socket = conn.socket;
  if (!(socket instanceof TLSSocket) || !socket.authorized) return undefined;
  const cn = socket.getPeerCertificate().subject?.CN;
  const name = Array.isArray(cn) ? cn[0] : cn;
  return name ? { name, method: 'mtls' } : undefined;
}
