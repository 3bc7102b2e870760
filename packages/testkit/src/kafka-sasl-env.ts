import { readFileSync } from 'node:fs';
import { findServicesEnvFile, parseEnvFile } from './env.js';

/** The SASL_SSL listener of the test Kafka (`scripts/kafka/sasl-ssl.sh`). */
export interface KafkaSaslServiceEnv {
  brokers: string[];
  /** Path of the test CA certificate (PEM) the listener's certificate is signed by. */
  caFile: string;
  /** Its contents. */
  ca: string;
  /** The test user, known to SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN. */
  username: string;
  password: string;
}

const VARS = {
  brokers: 'BARGE_TEST_KAFKA_SASL_BROKERS',
  caFile: 'BARGE_TEST_KAFKA_SASL_CA',
  username: 'BARGE_TEST_KAFKA_SASL_USERNAME',
  password: 'BARGE_TEST_KAFKA_SASL_PASSWORD',
} as const;

/**
 * The test Kafka's SASL_SSL listener, its CA and test user, from `process.env` or `services.env`
 * (as `serviceEnv` finds it); undefined when `BARGE_TEST_KAFKA_SASL_BROKERS` is in neither.
 */
export function kafkaSaslServiceEnv(): KafkaSaslServiceEnv | undefined {
  const file = findServicesEnvFile();
  const fromFile = file === undefined ? {} : parseEnvFile(readFileSync(file, 'utf8'));
  const get = (name: string) => process.env[name] || fromFile[name] || undefined;
  const brokers = get(VARS.brokers);
  if (brokers === undefined) return undefined;
  const caFile = get(VARS.caFile);
  const username = get(VARS.username);
  const password = get(VARS.password);
  if (caFile === undefined || username === undefined || password === undefined) {
    throw new Error(`${VARS.brokers} is set but not ${VARS.caFile}, ${VARS.username} and ${VARS.password}`);
  }
  const list = brokers.split(',').map((s) => s.trim());
  return { brokers: list, caFile, ca: readFileSync(caFile, 'utf8'), username, password };
}
