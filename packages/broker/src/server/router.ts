import {
  type AnyRequest,
  ApiKey,
  apiName,
  decodeProduceRequestParts,
  decodeRequest,
  ErrorCode,
  encodeErrorResponse,
  encodeResponse,
  errorMessage,
  isApiKey,
  type ReceivedProduceRequest,
  type RequestHeader,
  type ResponseTypes,
  SUPPORTED_VERSIONS,
  supportedVersionEntries,
} from '@barge/core';
import type { Logger } from 'pino';
import type { AccessControl } from '../auth/access-control.js';
import { PRE_AUTHENTICATION_APIS } from '../auth/authenticator.js';
import { ConnectionEndingError } from '../auth/failure.js';
import { errorCodeOf } from '../errors.js';
import type { ProduceHandler } from '../handlers/produce.js';
import type { Handler, HandlerTable } from '../handlers/types.js';
import type { BrokerMetrics } from '../metrics.js';
import type { QuotaManager } from '../quotas/quota-manager.js';
import type { Connection } from './connection.js';

export interface RouterDeps {
  brokerId: number;
  handlers: HandlerTable;
  produce: ProduceHandler;
  quotas: QuotaManager;
  log: Logger;
  countError(code: ErrorCode): void;
  /** Request latency per api (`barge_request_seconds`). */
  metrics: Pick<BrokerMetrics, 'requestDone'>;
  /** Checks every request against the ACLs; absent when authentication is off. */
  access?: AccessControl;
}

/**
 * Request dispatch: checks the api key and version, decodes the body, and hands it to its
 * handler; turns what goes wrong into error responses (`docs/protocol.md` §7).
 */
export class RequestRouter {
  constructor(private readonly deps: RouterDeps) {}

  /** Handles one request frame; never throws. Its latency is observed when it is answered. */
  route(conn: Connection, header: RequestHeader, body: readonly Buffer[]): void {
    const started = performance.now();
    const done = () => this.deps.metrics.requestDone(header.apiKey, (performance.now() - started) / 1000);
    if (this.#dispatch(conn, header, body, done) !== 'pending') done();
  }

  /** Answers the request now, or returns 'pending' when `done` is called once it is answered. */
  #dispatch(
    conn: Connection,
    header: RequestHeader,
    body: readonly Buffer[],
    done: () => void,
  ): 'pending' | undefined {
    const { apiKey, apiVersion, correlationId } = header;
    if (!this.#admit(conn, correlationId)) return;
    if (!isApiKey(apiKey)) {
      conn.problem('unknown api key', { apiKey });
      this.#reply(conn, correlationId, ErrorCode.UNKNOWN_API, `unknown api key ${apiKey}`);
      return;
    }
    const range = SUPPORTED_VERSIONS[apiKey];
    if (apiVersion < range.min || apiVersion > range.max) {
      conn.problem('unsupported api version', { apiKey, apiVersion });
      const message = `api ${apiKey} version ${apiVersion} is not supported (supported: ${range.min}-${range.max})`;
      this.deps.countError(ErrorCode.UNSUPPORTED_VERSION);
      const versions =
        apiKey === ApiKey.ApiVersions
          ? { brokerId: this.deps.brokerId, versions: supportedVersionEntries() }
          : undefined;
      conn.send(encodeErrorResponse(correlationId, ErrorCode.UNSUPPORTED_VERSION, message, versions));
      return;
    }
    if (conn.principal === undefined && !PRE_AUTHENTICATION_APIS.has(apiKey)) {
      const message = `${apiName(apiKey)} needs an authenticated connection: authenticate (SaslHandshake, SaslAuthenticate) first`;
      this.#reply(conn, correlationId, ErrorCode.AUTHENTICATION_REQUIRED, message);
      return;
    }
    if (apiKey === ApiKey.Produce) return this.#produce(conn, header, body, done);
    let req: AnyRequest;
    try {
      req = decodeRequest(header, body.length === 1 ? body[0]! : Buffer.concat(body));
    } catch (e) {
      this.#malformed(conn, correlationId, apiKey, e);
      return;
    }
    if (this.#refused(conn, correlationId, req)) return;
    // Produce went to #produce above.
    const served = req.apiKey as Exclude<ApiKey, typeof ApiKey.Produce>;
    const handler = this.deps.handlers[served] as Handler<ApiKey> | undefined;
    if (!handler) {
      this.#reply(conn, correlationId, ErrorCode.UNKNOWN_API, `api ${apiKey} is not served by this broker`);
      return;
    }
    // Pending until its response is written: the connection stops reading while too many
    // requests are pending or their responses are not read.
    const pending = conn.beginRequest();
    let result: Promise<ResponseTypes[ApiKey]> | ResponseTypes[ApiKey];
    try {
      result = handler(conn, req.body, req.apiVersion, pending);
    } catch (e) {
      this.#replyError(conn, correlationId, apiKey, e);
      pending.end();
      return;
    }
    Promise.resolve(result)
      .then((res) => conn.send(encodeResponse(apiKey, req.apiVersion, correlationId, res as never)))
      .catch((e: unknown) => this.#replyError(conn, correlationId, apiKey, e))
      .finally(() => {
        pending.end();
        done();
      });
    return 'pending';
  }

  /** Produce: decoded with its chunk bytes left as views of the socket's reads (never copied). */
  #produce(
    conn: Connection,
    header: RequestHeader,
    body: readonly Buffer[],
    done: () => void,
  ): 'pending' | undefined {
    const { apiVersion, correlationId } = header;
    let req: ReceivedProduceRequest;
    try {
      req = decodeProduceRequestParts(apiVersion, body);
    } catch (e) {
      this.#malformed(conn, correlationId, ApiKey.Produce, e);
      return;
    }
    if (this.deps.access) {
      // The ACLs look at the topic only, so the chunks are left out of what they are shown.
      const checked: AnyRequest = { apiKey: ApiKey.Produce, apiVersion, body: { ...req, chunks: [] } };
      if (this.#refused(conn, correlationId, checked)) return;
    }
    const acked = conn.awaitAck();
    this.deps.produce.handle(conn, correlationId, apiVersion, req, () => {
      acked();
      done();
    });
    return 'pending';
  }

  #malformed(conn: Connection, correlationId: number, apiKey: number, e: unknown): void {
    conn.problem('malformed request', { apiKey, err: errorMessage(e) });
    // A produce request with acks=0 expects no response; its acks byte cannot be trusted here,
    // so answer anyway: an unexpected error response is harmless to a well-behaved client.
    this.#reply(conn, correlationId, ErrorCode.INVALID_REQUEST, `malformed request: ${errorMessage(e)}`);
  }

  /**
   * The connections quota: a connection counts for its principal from its first request with
   * one (after authentication when that is on); over the quota, that request is answered
   * QUOTA_EXCEEDED and the connection closed.
   */
  #admit(conn: Connection, correlationId: number): boolean {
    const principal = conn.principal?.name;
    const refusal = principal === undefined ? undefined : this.deps.quotas.admitConnection(conn, principal);
    if (refusal === undefined) return true;
    conn.log.warn({ principal }, `connection refused: ${refusal}`);
    conn.fail(ErrorCode.QUOTA_EXCEEDED, refusal, correlationId);
    return false;
  }

  /** Answers AUTHORIZATION_FAILED, before any handler runs, when the principal may not send `req`. */
  #refused(conn: Connection, correlationId: number, req: AnyRequest): boolean {
    const refusal = this.deps.access?.refusal(conn.principal, req, conn.log);
    if (refusal === undefined) return false;
    // A produce request with acks=none expects no response.
    if (req.apiKey === ApiKey.Produce && req.body.acks === 'none')
      this.deps.countError(ErrorCode.AUTHORIZATION_FAILED);
    else this.#reply(conn, correlationId, ErrorCode.AUTHORIZATION_FAILED, refusal);
    return true;
  }

  #replyError(conn: Connection, correlationId: number, apiKey: number, e: unknown): void {
    if (conn.closed) return;
    const code = errorCodeOf(e);
    if (code === ErrorCode.UNKNOWN_SERVER_ERROR) {
      this.deps.log.error({ conn: conn.id, apiKey, err: errorMessage(e) }, 'request failed');
    }
    this.#reply(conn, correlationId, code, errorMessage(e));
    // Failed authentication: answered, then the connection is closed.
    if (e instanceof ConnectionEndingError) conn.close();
  }

  #reply(conn: Connection, correlationId: number, code: ErrorCode, message: string): void {
    this.deps.countError(code);
    conn.send(encodeErrorResponse(correlationId, code, message));
  }
}
