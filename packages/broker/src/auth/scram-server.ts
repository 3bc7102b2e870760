import {
  DEFAULT_SCRAM_ITERATIONS,
  decodeSaslName,
  parseScramAttributes,
  type ScramCredential,
  type ScramMechanism,
  sameKey,
  scramHash,
  scramHmac,
  scramNonce,
  xorBuffers,
} from '@barge/core';
import { AuthenticationFailure } from './failure.js';

/**
 * The server side of one SCRAM exchange (RFC 5802, no channel binding), as Kafka runs it: the
 * client-first message, answered with the server-first; the client-final, answered with the
 * server-final once the proof checks against the stored key. An unknown user gets a
 * server-first like any other (a salt derived from the name, the default iteration count) and
 * fails only at the proof, so the exchange does not tell whether a user exists.
 */

export type ScramStep = { done: false; message: string } | { done: true; message: string; user: string };

export interface ScramServerOptions {
  /** The user's stored credential for this mechanism, if any. */
  lookup(user: string): ScramCredential | undefined;
  /** Key of the salts made up for unknown users (per broker, random). */
  fakeSaltKey: Buffer;
  /** The server's part of the nonce (tests: the RFC's); default random. */
  serverNonce?: string;
}

/** Printable ASCII except `,` (RFC 5802 `printable`). */
const NONCE_PATTERN = /^[\x21-\x2b\x2d-\x7e]+$/;

type State =
  | { step: 'first' }
  | {
      step: 'final';
      user: string;
      gs2Header: string;
      nonce: string;
      /** client-first-message-bare "," server-first-message */
      authPrefix: string;
      credential: ScramCredential | undefined;
    }
  | { step: 'ended' };

export class ScramServerSession {
  #state: State = { step: 'first' };

  constructor(
    readonly mechanism: ScramMechanism,
    private readonly options: ScramServerOptions,
  ) {}

  /** The user named by the client-first message, once it was read. */
  get user(): string | undefined {
    return this.#state.step === 'final' ? this.#state.user : undefined;
  }

  /** Answers the client's next message; throws `AuthenticationFailure` (the session is then over). */
  step(clientMessage: string): ScramStep {
    const state = this.#state;
    this.#state = { step: 'ended' };
    if (state.step === 'first') return this.#first(clientMessage);
    if (state.step === 'final') return this.#final(state, clientMessage);
    throw new AuthenticationFailure(this.mechanism, undefined, 'message after the exchange ended');
  }

  #first(message: string): ScramStep {
    const fail = (reason: string, user?: string) => new AuthenticationFailure(this.mechanism, user, reason);
    // gs2-header: channel binding flag ("n" or "y"; "p=…" is not supported), optional authzid.
    const m = /^([ny]),(a=[^,]*)?,(.*)$/s.exec(message);
    if (!m) throw fail('malformed client-first message (or channel binding requested)');
    const bare = m[3]!;
    let attrs: [string, string][];
    try {
      attrs = parseScramAttributes(bare);
    } catch {
      throw fail('malformed client-first message');
    }
    if (attrs[0]?.[0] !== 'n' || attrs[1]?.[0] !== 'r') throw fail('malformed client-first message');
    let user: string;
    try {
      user = decodeSaslName(attrs[0][1]);
    } catch {
      throw fail('malformed user name');
    }
    if (user === '') throw fail('empty user name');
    const authzid = m[2] === undefined ? undefined : decodeSaslName(m[2].slice(2));
    if (authzid !== undefined && authzid !== user)
      throw fail('authorization identity differs from the user', user);
    const clientNonce = attrs[1][1];
    if (!NONCE_PATTERN.test(clientNonce)) throw fail('malformed nonce', user);
    const credential = this.options.lookup(user);
    const salt = credential?.salt ?? this.#fakeSalt(user);
    const iterations = credential?.iterations ?? DEFAULT_SCRAM_ITERATIONS;
    const nonce = clientNonce + (this.options.serverNonce ?? scramNonce());
    const serverFirst = `r=${nonce},s=${salt.toString('base64')},i=${iterations}`;
    this.#state = {
      step: 'final',
      user,
      gs2Header: message.slice(0, message.length - bare.length),
      nonce,
      authPrefix: `${bare},${serverFirst}`,
      credential,
    };
    return { done: false, message: serverFirst };
  }

  #final(state: Extract<State, { step: 'final' }>, message: string): ScramStep {
    const fail = (reason: string) => new AuthenticationFailure(this.mechanism, state.user, reason);
    const proofAt = message.lastIndexOf(',p=');
    if (proofAt < 0) throw fail('malformed client-final message');
    const withoutProof = message.slice(0, proofAt);
    let attrs: [string, string][];
    try {
      attrs = parseScramAttributes(withoutProof);
    } catch {
      throw fail('malformed client-final message');
    }
    if (attrs[0]?.[0] !== 'c' || attrs[1]?.[0] !== 'r') throw fail('malformed client-final message');
    if (attrs[0][1] !== Buffer.from(state.gs2Header).toString('base64'))
      throw fail('channel binding mismatch');
    if (attrs[1][1] !== state.nonce) throw fail('nonce mismatch');
    if (!state.credential) throw fail('unknown user');
    const { storedKey, serverKey } = state.credential;
    const authMessage = `${state.authPrefix},${withoutProof}`;
    const proof = Buffer.from(message.slice(proofAt + 3), 'base64');
    const clientSignature = scramHmac(this.mechanism, storedKey, authMessage);
    if (proof.length !== clientSignature.length) throw fail('wrong proof');
    const clientKey = xorBuffers(proof, clientSignature);
    if (!sameKey(scramHash(this.mechanism, clientKey), storedKey)) throw fail('wrong proof');
    const serverSignature = scramHmac(this.mechanism, serverKey, authMessage);
    return { done: true, message: `v=${serverSignature.toString('base64')}`, user: state.user };
  }

  /** A salt for an unknown user: the same for every attempt, so it looks stored. */
  #fakeSalt(user: string): Buffer {
    return scramHmac('SCRAM-SHA-256', this.options.fakeSaltKey, `${this.mechanism}\0${user}`);
  }
}
