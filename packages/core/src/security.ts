import { z } from 'zod';
import { sizeSchema } from './adapter-kit.js';

/**
 * The `security` section of the broker config (`docs/security.md`): TLS on the listeners,
 * authentication, ACLs and quotas. Absent = the embedded default: no TLS, anyone who reaches
 * the port is the `ANONYMOUS` principal and may do anything (refused on a non-loopback listener
 * unless `allowAnonymous` is true).
 */

/** SASL mechanisms a client authenticates with (docs/protocol.md, "Authentication"). */
export const saslMechanisms = ['SCRAM-SHA-256', 'SCRAM-SHA-512', 'PLAIN'] as const;
export type SaslMechanism = (typeof saslMechanisms)[number];

/** How a connection's principal was established. `mtls`: the client certificate's subject. */
export type AuthMethod = SaslMechanism | 'mtls' | 'anonymous';

/** Who a connection acts as, once authenticated. */
export interface Principal {
  /** The user name (SCRAM, PLAIN), the certificate subject CN (mTLS), or `ANONYMOUS`. */
  readonly name: string;
  readonly method: AuthMethod;
}

export const ANONYMOUS: Principal = Object.freeze({ name: 'ANONYMOUS', method: 'anonymous' });

const tlsSchema = z.strictObject({
  /** PEM files; reloaded on SIGHUP without dropping connections. */
  cert: z.string().min(1),
  key: z.string().min(1),
  /** CA bundle that client certificates must chain to (mutual TLS). */
  ca: z.string().min(1).optional(),
  /** `none`: no client certificate; `request`: checked when sent; `require`: mutual TLS. */
  clientAuth: z.enum(['none', 'request', 'require']).default('none'),
});

const quotaSchema = z.strictObject({
  produceBytesPerSec: sizeSchema.optional(),
  readBytesPerSec: sizeSchema.optional(),
  connections: z.number().int().min(1).optional(),
  topics: z.number().int().min(0).optional(),
});

export const securitySchema = z
  .strictObject({
    /** Serve clients that do not authenticate (as `ANONYMOUS`) on a non-loopback listener. */
    allowAnonymous: z.boolean().default(false),
    /** TLS on the client listener and the admin endpoint. */
    tls: tlsSchema.optional(),
    /**
     * Mechanisms clients may authenticate with; empty = no authentication (every connection is
     * `ANONYMOUS`, and no ACL is checked). `mtls` takes the principal from the client
     * certificate (needs `tls.clientAuth: require`). `PLAIN` is refused on a listener without TLS.
     */
    authentication: z.array(z.enum([...saslMechanisms, 'mtls'])).default([]),
    /** Principals every ACL check allows. */
    superUsers: z.array(z.string().min(1)).default([]),
    /** How often a broker re-reads users and ACLs from storage (`_meta/security/`). */
    refreshMs: z.number().int().min(100).default(5000),
    /** Per principal; `default` applies to principals without their own entry. */
    quotas: z
      .strictObject({
        default: quotaSchema.prefault({}),
        principals: z.record(z.string().min(1), quotaSchema).default({}),
      })
      .prefault({}),
  })
  .superRefine((s, ctx) => {
    // PLAIN sends the password itself: never over a listener without TLS.
    if (s.authentication.includes('PLAIN') && !s.tls)
      ctx.addIssue({
        code: 'custom',
        path: ['authentication'],
        message: 'PLAIN sends passwords in clear text: it needs security.tls (or use SCRAM-SHA-256/512)',
      });
    if (s.authentication.includes('mtls') && (s.tls?.clientAuth ?? 'none') === 'none')
      ctx.addIssue({
        code: 'custom',
        path: ['authentication'],
        message:
          'mtls takes the principal from the client certificate: it needs security.tls with clientAuth request or require',
      });
  })
  .prefault({});

export type SecurityConfig = z.output<typeof securitySchema>;
export type TlsConfig = z.output<typeof tlsSchema>;
export type QuotaConfig = z.output<typeof quotaSchema>;

/** Storage keys of the security metadata every broker sharing the storage reads. */
export const SECURITY_META_PREFIX = '_meta/security/';
export const USERS_META_KEY = '_meta/security/users.json';
export const ACLS_META_KEY = '_meta/security/acls.json';
