import { ErrorCode } from '@barge/core';
import {
  decodeSaslAuthenticateRequest,
  decodeSaslHandshakeRequest,
  encodeSaslAuthenticateResponse,
  encodeSaslHandshakeResponse,
  type SaslAuthenticateRequest,
  type SaslAuthenticateResponse,
  type SaslHandshakeRequest,
  type SaslHandshakeResponse,
} from '@barge/kafka-protocol';
import type { Authenticator } from '../auth/authenticator.js';
import { AuthenticationFailure } from '../auth/failure.js';
import { RequestError } from '../errors.js';
import { type KafkaApi, KafkaError, kafkaApi } from './kafka-api.js';
import type { KafkaListenerAuth } from './kafka-listener.js';

/** What a Kafka connection may send before it authenticated: ApiVersions, SaslHandshake, SaslAuthenticate. */
const PRE_AUTHENTICATION = new Set([18, 17, 36]);

/**
 * Authentication on the Kafka listener (`security.authentication`): the Barge listener's
 * `Authenticator` (the same users, SCRAM server and PLAIN check) behind Kafka's SaslHandshake v1
 * and SaslAuthenticate v0-2. Kafka's legacy flow (SaslHandshake v0, then raw SASL tokens) is not
 * served: every Kafka client since 1.0 uses v1. A connection that sends anything else before it
 * authenticated is closed, as Kafka does; a failed exchange is answered, then closed.
 */
export function kafkaListenerAuth(authenticator: Authenticator): KafkaListenerAuth {
  return {
    opened: (conn) => authenticator.opened(conn),
    refusal: (conn, apiKey, apiName) =>
      conn.principal !== undefined || PRE_AUTHENTICATION.has(apiKey)
        ? undefined
        : `${apiName} before authentication: authenticate (SaslHandshake, SaslAuthenticate) first`,
  };
}

export function saslApis(authenticator: Authenticator): KafkaApi[] {
  return [
    kafkaApi<SaslHandshakeRequest, SaslHandshakeResponse>({
      apiKey: 17,
      name: 'SaslHandshake',
      versions: [1, 1],
      decode: decodeSaslHandshakeRequest,
      encode: encodeSaslHandshakeResponse,
      handle: (req, ctx) => {
        try {
          return { errorCode: KafkaError.NONE, ...authenticator.handshake(ctx.conn, req.mechanism) };
        } catch (e) {
          if (!(e instanceof RequestError)) throw e;
          // Kafka ends the connection after either error; SaslHandshake carries no message, so log it.
          ctx.conn.log.info({ client: ctx.conn.remote, mechanism: req.mechanism }, e.message);
          ctx.conn.endAfterResponses();
          const unsupported = e.errorCode === ErrorCode.UNSUPPORTED_SASL_MECHANISM;
          return {
            errorCode: unsupported ? KafkaError.UNSUPPORTED_SASL_MECHANISM : KafkaError.ILLEGAL_SASL_STATE,
            mechanisms: [...authenticator.mechanisms],
          };
        }
      },
    }),
    kafkaApi<SaslAuthenticateRequest, SaslAuthenticateResponse>({
      apiKey: 36,
      name: 'SaslAuthenticate',
      versions: [0, 2],
      decode: decodeSaslAuthenticateRequest,
      encode: encodeSaslAuthenticateResponse,
      handle: async (req, ctx) => {
        try {
          const step = await authenticator.authenticate(ctx.conn, req.authBytes);
          return {
            errorCode: KafkaError.NONE,
            errorMessage: null,
            authBytes: step.authBytes,
            // No re-authentication (KIP-368): the session lasts as long as the connection.
            sessionLifetimeMs: 0n,
          };
        } catch (e) {
          if (!(e instanceof RequestError)) throw e;
          ctx.conn.endAfterResponses();
          return {
            errorCode:
              e instanceof AuthenticationFailure
                ? KafkaError.SASL_AUTHENTICATION_FAILED
                : KafkaError.ILLEGAL_SASL_STATE,
            errorMessage: e.message,
            authBytes: Buffer.alloc(0),
            sessionLifetimeMs: 0n,
          };
        }
      },
    }),
  ];
}
