import type { Reader, Writer } from './wire.js';

/**
 * Bodies and codecs of the authentication apis (`docs/protocol.md` §6.20-6.21, "Authentication"):
 * SaslHandshake picks a mechanism, then SaslAuthenticate carries the mechanism's opaque messages
 * until the broker accepts or refuses the client. As in Kafka, the bytes are the mechanism's own
 * (RFC 5802 messages for SCRAM, `authzid NUL user NUL password` for PLAIN, an RFC 7628 client
 * response for a future OAUTHBEARER), so a new mechanism needs no new api.
 */

export interface SaslHandshakeRequest {
  /** The mechanism the client wants, e.g. `SCRAM-SHA-256`. */
  mechanism: string;
}

export interface SaslHandshakeResponse {
  /** The mechanisms the broker has enabled (listed also when the handshake is refused). */
  mechanisms: string[];
}

export interface SaslAuthenticateRequest {
  /** The mechanism's next client message. */
  authBytes: Buffer;
}

export interface SaslAuthenticateResponse {
  /** The mechanism's next server message (empty when the mechanism has none, as PLAIN). */
  authBytes: Buffer;
  /**
   * How long (ms) the authenticated session may last before the client must authenticate again
   * on the same connection; 0 = no limit. Always 0 for SCRAM, PLAIN and mTLS; a token mechanism
   * would set the time left until its token expires.
   */
  sessionLifetimeMs: number;
}

interface Codec<T> {
  write(w: Writer, v: T): void;
  read(r: Reader): T;
}

export const saslHandshakeCodecs: {
  request: Codec<SaslHandshakeRequest>;
  response: Codec<SaslHandshakeResponse>;
} = {
  request: {
    write: (w, v) => void w.str16(v.mechanism, 'mechanism'),
    read: (r) => ({ mechanism: r.str16('mechanism') }),
  },
  response: {
    write: (w, v) => {
      w.u16(v.mechanisms.length, 'mechanisms.count');
      for (const m of v.mechanisms) w.str16(m, 'mechanism');
    },
    read: (r) => {
      const n = r.count('mechanisms', 2, 2);
      const mechanisms: string[] = [];
      for (let i = 0; i < n; i++) mechanisms.push(r.str16('mechanism'));
      return { mechanisms };
    },
  },
};

export const saslAuthenticateCodecs: {
  request: Codec<SaslAuthenticateRequest>;
  response: Codec<SaslAuthenticateResponse>;
} = {
  request: {
    write: (w, v) => void w.bytes32(v.authBytes, 'authBytes'),
    read: (r) => ({ authBytes: r.bytes32('authBytes') }),
  },
  response: {
    write: (w, v) => void w.bytes32(v.authBytes, 'authBytes').u64(v.sessionLifetimeMs, 'sessionLifetimeMs'),
    read: (r) => ({ authBytes: r.bytes32('authBytes'), sessionLifetimeMs: r.u64('sessionLifetimeMs') }),
  },
};
