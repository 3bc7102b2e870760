import { ErrorCode } from '@barge/core';
import { RequestError } from '../errors.js';

/**
 * A request after which the broker closes the connection (once the error response is written):
 * failed authentication, or SASL messages out of order.
 */
export class ConnectionEndingError extends RequestError {}

/**
 * A failed SASL exchange. The client sees one message whatever went wrong (unknown user, wrong
 * password, tampered proof, replayed nonce), `authentication failed for user "alice" with
 * SCRAM-SHA-256`; `reason` is for the broker's log only. Never holds a password.
 */
export class AuthenticationFailure extends ConnectionEndingError {
  constructor(
    readonly mechanism: string,
    readonly user: string | undefined,
    readonly reason: string,
  ) {
    super(
      ErrorCode.SASL_AUTHENTICATION_FAILED,
      user === undefined
        ? `authentication failed with ${mechanism}`
        : `authentication failed for user ${JSON.stringify(user)} with ${mechanism}`,
    );
  }
}
