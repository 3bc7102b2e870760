import type { KafkaSaslServiceEnv } from '@barge/testkit';
import type { KafkaPointerQueueOptions } from '../options.js';
import { testOptions } from './env.js';

/** Test queue options over SASL_SSL: the CA inline, SCRAM-SHA-512 unless `overrides` say otherwise. */
export function saslTestOptions(env: KafkaSaslServiceEnv, overrides: Partial<KafkaPointerQueueOptions> = {}) {
  return testOptions(env.brokers, {
    ssl: { ca: env.ca },
    sasl: { mechanism: 'scram-sha-512', username: env.username, password: env.password },
    ...overrides,
  });
}
