import { AuthError } from './errors.js';
import {
  checkIterations,
  encodeSaslName,
  parseScramAttributes,
  type ScramMechanism,
  saltedPassword,
  sameKey,
  scramHmac,
  scramKeys,
  scramNonce,
  xorBuffers,
} from './scram.js';

/** No channel binding, no authorization identity: `n,,` (base64 `biws`). */
const GS2_HEADER = 'n,,';

/**
 * The client side of one SCRAM exchange (RFC 5802): `first()`, then `final(serverFirst)`, then
 * `verify(serverFinal)`, which proves the broker holds the user's ServerKey (it knows the
 * credential, not just that the exchange ended). Errors never contain the password.
 */
export class ScramClientSession {
  readonly #bare: string;
  #expectedServerSignature: Buffer | undefined;

  constructor(
    readonly mechanism: ScramMechanism,
    readonly user: string,
    private readonly password: string,
    private readonly nonce: string = scramNonce(),
  ) {
    this.#bare = `n=${encodeSaslName(user)},r=${nonce}`;
  }

  /** The client-first message. */
  first(): string {
    return `${GS2_HEADER}${this.#bare}`;
  }

  /** The client-final message answering the server-first one. */
  async final(serverFirst: string): Promise<string> {
    let attrs: Map<string, string>;
    try {
      attrs = new Map(parseScramAttributes(serverFirst));
    } catch {
      throw this.#error('malformed server-first message');
    }
    const nonce = attrs.get('r');
    const salt = Buffer.from(attrs.get('s') ?? '', 'base64');
    const iterations = Number(attrs.get('i'));
    if (attrs.has('m')) throw this.#error('the broker asks for an unsupported SCRAM extension');
    if (!nonce?.startsWith(this.nonce) || nonce.length === this.nonce.length)
      throw this.#error('the broker did not extend the client nonce');
    if (salt.length === 0) throw this.#error('the broker sent no salt');
    try {
      checkIterations(iterations);
    } catch (e) {
      throw this.#error((e as Error).message);
    }
    const salted = await saltedPassword(this.mechanism, this.password, salt, iterations);
    const { clientKey, storedKey, serverKey } = scramKeys(this.mechanism, salted);
    const withoutProof = `c=${Buffer.from(GS2_HEADER).toString('base64')},r=${nonce}`;
    const authMessage = `${this.#bare},${serverFirst},${withoutProof}`;
    const proof = xorBuffers(clientKey, scramHmac(this.mechanism, storedKey, authMessage));
    this.#expectedServerSignature = scramHmac(this.mechanism, serverKey, authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Checks the server-final message; throws `AuthError` unless it proves the server's key. */
  verify(serverFinal: string): void {
    const expected = this.#expectedServerSignature;
    if (!expected) throw this.#error('server-final message before the client-final one');
    const m = /^v=([A-Za-z0-9+/]+={0,2})(,.*)?$/.exec(serverFinal);
    if (!m || !sameKey(Buffer.from(m[1]!, 'base64'), expected))
      throw this.#error('the broker could not prove it knows the credential (wrong server signature)');
  }

  #error(why: string): AuthError {
    return new AuthError(`${this.mechanism} authentication of user ${JSON.stringify(this.user)}: ${why}`);
  }
}
