import type { AccessControl } from '../auth/access-control.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { BrokerMetrics } from '../metrics.js';
import type { TlsContext } from '../server/tls-context.js';
import { guardApi } from './kafka-acl.js';
import { KAFKA_ACL_RULES } from './kafka-acl-rules.js';
import type { KafkaApi } from './kafka-api.js';
import type { KafkaListenerOptions } from './kafka-listener.js';
import { kafkaListenerAuth, saslApis } from './kafka-sasl.js';

/** The broker's `security` controls, shared with the Barge listener (the same certificate, users and ACLs). */
export interface KafkaSecurity {
  /** `security.tls`; undefined: plain TCP. */
  readonly tls: TlsContext | undefined;
  readonly authenticator: Authenticator;
  /** Undefined when authentication (and so authorization) is off. */
  readonly access: AccessControl | undefined;
  readonly metrics: BrokerMetrics;
}

/**
 * The Kafka listener's TLS and authentication options. TLS uses the broker's `TlsContext`, so a
 * SIGHUP reload swaps the certificate on both listeners; with `mtls` a client certificate
 * authenticates the connection at once.
 */
export function kafkaListenerSecurity(
  security: KafkaSecurity | undefined,
): Pick<KafkaListenerOptions, 'tls' | 'auth'> {
  if (!security) return {};
  return {
    ...(security.tls && { tls: security.tls }),
    ...(security.authenticator.enabled && { auth: kafkaListenerAuth(security.authenticator) }),
  };
}

/**
 * The APIs the listener serves: as given when authentication is off (every connection is
 * ANONYMOUS and may do anything, as before); else with SaslHandshake and SaslAuthenticate, and
 * each API behind its ACL rule (`KAFKA_ACL_RULES`).
 */
export function securedApis(apis: readonly KafkaApi[], security: KafkaSecurity | undefined): KafkaApi[] {
  if (!security?.authenticator.enabled) return [...apis];
  const all = [...apis, ...saslApis(security.authenticator)];
  const access = security.access;
  if (!access) return all;
  return all.map((api) => guardApi(api, KAFKA_ACL_RULES.get(api.apiKey), access, security.metrics));
}
