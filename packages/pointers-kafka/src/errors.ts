import {
  AuthError,
  BargeError,
  ConfigError,
  GroupRebalanceError,
  InvalidInputError,
  isConnectionBroken,
  NotFoundError,
  PermanentError,
  TransientError,
} from '@barge/core';
import { describeSasl, usesTls } from './security.js';

/** kafkajs protocol error types that mean "this member is no longer part of the current generation". */
const REBALANCE_TYPES = new Set([
  'REBALANCE_IN_PROGRESS',
  'UNKNOWN_MEMBER_ID',
  'ILLEGAL_GENERATION',
  'FENCED_INSTANCE_ID',
]);

const AUTH_TYPES = new Set([
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'DELEGATION_TOKEN_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED',
  'ILLEGAL_SASL_STATE',
  'UNSUPPORTED_SASL_MECHANISM',
]);

const NOT_FOUND_TYPES = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'UNKNOWN_TOPIC_ID']);

const INVALID_INPUT_TYPES = new Set([
  'INVALID_TIMESTAMP',
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TOPIC_EXCEPTION',
]);

const CONFIG_TYPES = new Set([
  'INVALID_REPLICATION_FACTOR',
  'INVALID_PARTITIONS',
  'INVALID_CONFIG',
  'POLICY_VIOLATION',
  'INVALID_REPLICA_ASSIGNMENT',
  'INVALID_SESSION_TIMEOUT',
]);

/** Errors the connection layer raises when a broker cannot be reached or answered too late. */
const CONNECTION_NAMES = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSBrokerNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSStaleTopicMetadataAssignment',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSTimeout',
  'KafkaJSLockTimeout',
]);

/**
 * Node's certificate-verification errors (and `ERR_SSL_*`): the TLS settings on one side are
 * wrong, so retrying cannot help.
 */
const TLS_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

interface KafkaJsLike {
  name?: unknown;
  code?: unknown;
  type?: unknown;
  message?: unknown;
  retriable?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** The error and every `cause` (and aggregated error) under it, outermost first. */
export function errorChain(e: unknown): KafkaJsLike[] {
  const out: KafkaJsLike[] = [];
  const seen = new Set<unknown>();
  const visit = (x: unknown) => {
    if (typeof x !== 'object' || x === null || seen.has(x) || out.length > 20) return;
    seen.add(x);
    const k = x as KafkaJsLike;
    out.push(k);
    if (Array.isArray(k.errors)) for (const inner of k.errors) visit(inner);
    visit(k.cause);
  };
  visit(e);
  return out;
}

/** The Kafka protocol error types (e.g. `REBALANCE_IN_PROGRESS`) anywhere in the error chain. */
export function kafkaErrorTypes(e: unknown): string[] {
  return errorChain(e)
    .map((x) => x.type)
    .filter((t): t is string => typeof t === 'string');
}

export function isRebalanceError(e: unknown): boolean {
  return kafkaErrorTypes(e).some((t) => REBALANCE_TYPES.has(t));
}

export function isUnknownTopicError(e: unknown): boolean {
  return kafkaErrorTypes(e).some((t) => NOT_FOUND_TYPES.has(t));
}

function describe(e: unknown): string {
  const chain = errorChain(e);
  const last = chain[chain.length - 1];
  const first = chain[0];
  const msg = (x: KafkaJsLike | undefined) => (typeof x?.message === 'string' ? x.message : String(x));
  if (first === undefined) return String(e);
  if (last === first || msg(last) === msg(first)) return msg(first);
  return `${msg(first)} (caused by: ${msg(last)})`;
}

/** The TLS error code anywhere in the chain (kafkajs keeps the socket error's code). */
function tlsErrorCode(chain: KafkaJsLike[]): string | undefined {
  const codes = chain.map((x) => x.code).filter((c): c is string => typeof c === 'string');
  return codes.find((c) => TLS_CODES.has(c) || c.startsWith('ERR_SSL_'));
}

/** The adapter's `sasl`/`ssl` settings, to say in errors who authenticated and how (never secrets). */
export type SecurityContext = Parameters<typeof describeSasl>[0];

/**
 * Maps a kafkajs error onto the core error classes, keeping the original as `cause`.
 * `what` says what was being done, e.g. `publish to topic "orders"`; with `security` (the
 * adapter config), authentication and TLS failures name the user and mechanism.
 */
export function mapKafkaError(e: unknown, what: string, security?: SecurityContext): BargeError {
  if (e instanceof BargeError) return e;
  const chain = errorChain(e);
  const types = kafkaErrorTypes(e);
  const names = chain.map((x) => x.name).filter((n): n is string => typeof n === 'string');
  const message = `${what}: ${describe(e)}`;
  const has = (set: Set<string>) => types.some((t) => set.has(t));
  if (has(REBALANCE_TYPES)) return new GroupRebalanceError(message, { cause: e });
  const who = security && describeSasl(security);
  if (names.includes('KafkaJSSASLAuthenticationError') && who !== undefined) {
    return new AuthError(`${what}: Kafka refused SASL authentication (${who}): ${describe(e)}`, { cause: e });
  }
  if (has(AUTH_TYPES) || names.includes('KafkaJSSASLAuthenticationError')) {
    return new AuthError(message, { cause: e });
  }
  const tls = tlsErrorCode(chain);
  if (tls !== undefined) {
    const hint = 'check pointers.ssl (ca or caFile, servername)';
    return new AuthError(`${what}: TLS with Kafka failed (${tls}): ${describe(e)}; ${hint}`, { cause: e });
  }
  // A SASL_SSL listener closes a connection that does not start with a TLS handshake.
  if (security?.sasl && !usesTls(security) && names.includes('KafkaJSConnectionClosedError')) {
    const hint = 'Kafka closed the connection; if the listener uses TLS (SASL_SSL), set pointers.ssl';
    return new TransientError(`${message} (${hint})`, { cause: e });
  }
  if (has(NOT_FOUND_TYPES)) return new NotFoundError(message, { cause: e });
  if (has(INVALID_INPUT_TYPES)) return new InvalidInputError(message, { cause: e });
  if (has(CONFIG_TYPES)) return new ConfigError(message, 'pointers', { cause: e });
  if (names.some((n) => CONNECTION_NAMES.has(n)) || isConnectionBroken(e)) {
    return new TransientError(message, { cause: e });
  }
  if (e instanceof TypeError || e instanceof RangeError || e instanceof SyntaxError) {
    return new PermanentError(message, { cause: e });
  }
  // Any other Kafka error: trust kafkajs's own retriable flag on the innermost protocol error.
  const innermost = [...chain].reverse().find((x) => typeof x.type === 'string') ?? chain[chain.length - 1];
  if (innermost?.retriable === false && typeof innermost.type === 'string') {
    return new PermanentError(message, { cause: e });
  }
  if (names.includes('KafkaJSNonRetriableError') && innermost?.retriable === false) {
    return new PermanentError(message, { cause: e });
  }
  return new TransientError(message, { cause: e });
}
